package agents

import (
	"github.com/churn-dev/churn/results"
)

// Settle conditions a mesh reports beyond each component's start and sync.
const (
	SettleCiliumNodes     = "CiliumNodes"
	SettleCiliumEndpoints = "CiliumEndpoints"
	SettleIdentities      = "CiliumIdentities"
	SettleEndpointSlices  = "CiliumEndpointSlices in slices"
	SettlePodsEnrolled    = "pods enrolled (istio-cni)"
	SettleRootCerts       = "istio-ca-root-cert ConfigMaps"
	SettleExternalAgents  = "per-node agents (churn agents shards)"
)

// settleAcc sums conditions over replicas, in the order first added.
type settleAcc struct {
	order  []string
	conds  map[string]*results.SettleCondition
	idWant map[int64]bool // identity id -> known to exist
}

func newSettleAcc() *settleAcc {
	return &settleAcc{conds: map[string]*results.SettleCondition{}, idWant: map[int64]bool{}}
}

func (a *settleAcc) add(name string, want, have int64) {
	c, ok := a.conds[name]
	if !ok {
		c = &results.SettleCondition{Name: name}
		a.conds[name] = c
		a.order = append(a.order, name)
	}
	c.Want += want
	c.Have += have
}

func (a *settleAcc) list() []results.SettleCondition {
	out := make([]results.SettleCondition, 0, len(a.order))
	for _, n := range a.order {
		c := *a.conds[n]
		c.Met = c.Have >= c.Want
		out = append(out, c)
	}
	return out
}

// settler is a behaviour with steady-state work of its own to finish:
// objects to write for what its watches show.
type settler interface {
	settle(acc *settleAcc)
}

// SettleConditions says how far the mesh is from its steady state, as this
// process sees it: every component's replicas started, each replica's
// watches all synced (first list or streaming sync done), and what the
// components write for the cluster as it stands written (a CiliumNode per
// node, a CiliumEndpoint per pod with an IP, an identity per label set,
// every endpoint in a written slice, every pod enrolled, a root-cert
// ConfigMap per namespace). Agents run by churn agents shards are not seen
// from here; their condition says so and counts as met.
func (m *Mesh) SettleConditions() []results.SettleCondition {
	acc := newSettleAcc()
	for _, c := range m.components {
		want := int64(c.spec.Replicas)
		if c.spec.PerNode {
			want = int64(len(m.cfg.Nodes) - len(m.cfg.NodeStandIns[c.spec.Name]))
			if real := len(m.cfg.NodeStandIns[c.spec.Name]); real > 0 {
				acc.add("real "+c.spec.Name+" ready", int64(real), int64(m.nodeStandInsReady(c.spec.Name)))
			}
		}
		c.mu.Lock()
		started := append([]*replica(nil), c.started...)
		c.mu.Unlock()
		acc.add(c.spec.Name+" started", want, int64(len(started)))
		var synced int64
		for _, r := range started {
			if r.synced() {
				synced++
			}
		}
		acc.add(c.spec.Name+" watches synced", want, synced)
		for _, r := range started {
			if s, ok := r.behaviour.(settler); ok {
				s.settle(acc)
			}
		}
	}
	if len(acc.idWant) > 0 {
		var have int64
		for _, known := range acc.idWant {
			if known {
				have++
			}
		}
		acc.add(SettleIdentities, int64(len(acc.idWant)), have)
	}
	if m.shared.ces != nil && m.runsOperator() {
		want, have := m.shared.ces.settled()
		acc.add(SettleEndpointSlices, want, have)
	}
	out := acc.list()
	if m.external != nil {
		out = append(out, results.SettleCondition{Name: SettleExternalAgents, Met: true,
			Detail: "run in other processes; their progress is not seen by the run"})
	}
	return out
}

// runsOperator: the CES writer (cilium-operator) runs in this process.
func (m *Mesh) runsOperator() bool {
	for _, c := range m.components {
		if c.spec.Behaviour == behaviourCiliumOperator {
			return true
		}
	}
	return false
}

// synced: every watch of the replica has completed its first list.
func (r *replica) synced() bool {
	for _, refl := range r.reflectors {
		if !refl.Synced() {
			return false
		}
	}
	return true
}

func (a *ciliumAgent) settle(acc *settleAcc) {
	sh := a.r.comp.mesh.shared
	a.mu.Lock()
	defer a.mu.Unlock()
	var node int64
	if a.ciliumNode {
		node = 1
	}
	acc.add(SettleCiliumNodes, 1, node)
	var want, have int64
	for _, p := range a.pods {
		if p.deleted || p.ip == "" {
			continue
		}
		want++
		if p.created && p.cepIP == p.ip {
			have++
		}
		if nsLabels, ok := sh.namespaceLabels(p.ns); ok {
			id := identityID(p.ns + "\n" + p.labels + "\n" + nsLabels)
			acc.idWant[id] = acc.idWant[id] || sh.identityKnown(id)
		}
	}
	acc.add(SettleCiliumEndpoints, want, have)
}

func (c *istioCNI) settle(acc *settleAcc) {
	c.mu.Lock()
	defer c.mu.Unlock()
	var have int64
	for uid := range c.known {
		if c.enrolled[uid] {
			have++
		}
	}
	acc.add(SettlePodsEnrolled, int64(len(c.known)), have)
}

func (d *istiod) settle(acc *settleAcc) {
	if !d.r.leading() {
		return // only the leader writes them
	}
	missing := int64(len(d.missing()))
	d.mu.Lock()
	want := int64(len(d.runNS))
	synced := d.nsSynced && d.cmSynced
	d.mu.Unlock()
	if !synced {
		acc.add(SettleRootCerts, want, 0)
		return
	}
	acc.add(SettleRootCerts, want, want-missing)
}

// settled counts the endpoints placed in slices (want) and those in slices
// already written with nothing queued (have).
func (m *cesManager) settled() (want, have int64) {
	m.mu.Lock()
	defer m.mu.Unlock()
	for name, s := range m.slices {
		want += int64(len(s.endpoints))
		if _, queued := m.queued[name]; s.created && !queued {
			have += int64(len(s.endpoints))
		}
	}
	return want, have
}
