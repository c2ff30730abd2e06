package agents

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"sync"

	"go.uber.org/zap"
	rbacv1 "k8s.io/api/rbac/v1"
	"k8s.io/client-go/rest"
)

// A StandIn is a real process that runs in place of an emulated component
// (the real istiod for the emulated one). The mesh sets everything up as
// for the emulation (CRDs, its namespace, the component's account and
// RBAC), starts the stand-in instead of the component's replicas, and stops
// it in Stop.
type StandIn interface {
	// Start starts the process and returns once it is serving or failed.
	Start(ctx context.Context, id StandInIdentity) error
	// Stop ends the process.
	Stop(ctx context.Context) error
}

// StandInIdentity is what a stand-in needs to act as the component.
type StandInIdentity struct {
	// RESTConfig reaches the API server as the component's account (the
	// impersonation the emulation would use, unless impersonation is off).
	RESTConfig *rest.Config
	// Namespace is the mesh's system namespace (leases, the component's
	// own objects).
	Namespace string
	// ServiceAccount is the component's account, "namespace/name".
	ServiceAccount string
	// Node is the node a per-node stand-in runs for ("" otherwise).
	Node string
}

// StandInRules is implemented by stand-ins whose real process needs more
// RBAC than the emulation's requests imply: the rules are added to the
// component's role, so the real process is not refused what it would be
// granted in a real install.
type StandInRules interface {
	Rules() []rbacv1.PolicyRule
}

// StandInReady is implemented by stand-ins that report readiness after a
// Start that returns early (per-node stand-ins start in the background).
type StandInReady interface {
	Ready() bool
}

// StandInRestarter is implemented by stand-ins whose processes a rollout
// restarts (Mesh.Restart). A process stops as a deleted pod's container
// does (SIGTERM, then up to its grace period) and starts again as the
// replacement pod would: the same node and account, and whatever holder
// identity the program picks for itself at start.
type StandInRestarter interface {
	// Replicas is how many processes the stand-in runs (1 per node for a
	// per-node stand-in).
	Replicas() int
	// StopReplica stops process i and returns once it has exited.
	StopReplica(ctx context.Context, i int) error
	// StartReplica starts process i again after StopReplica and returns
	// once it is ready (what Start waits for) or failed.
	StartReplica(ctx context.Context, i int) error
}

// realReplica is one process of a started stand-in, named as an emulated
// replica would be (component-N, or component-NODE per node), so a
// rollout treats real and emulated replicas alike.
type realReplica struct {
	name    string
	node    string
	standIn StandIn
	index   int
	// failed: its first start failed, so there is nothing to restart.
	failed bool
}

// addReal records a started stand-in's processes for rollouts.
func (m *Mesh) addReal(component string, r ...*realReplica) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.reals == nil {
		m.reals = map[string][]*realReplica{}
	}
	m.reals[component] = append(m.reals[component], r...)
}

// realsOf are the recorded processes of a component's stand-ins.
func (m *Mesh) realsOf(component string) []*realReplica {
	m.mu.Lock()
	defer m.mu.Unlock()
	var out []*realReplica
	for _, r := range m.reals[component] {
		if !r.failed {
			out = append(out, r)
		}
	}
	return out
}

// validateStandIns checks that every stand-in names a fixed-replica
// component of the mesh (per-node agents have no stand-ins).
func (c *Config) validateStandIns(spec *MeshSpec) error {
	var errs []error
	for name, s := range c.StandIns {
		cs, ok := spec.component(name)
		switch {
		case s == nil:
			errs = append(errs, fmt.Errorf("agents: StandIns[%s] is nil", name))
		case !ok:
			errs = append(errs, fmt.Errorf("agents: StandIns[%s]: mesh %s has no such component", name, spec.Name))
		case cs.PerNode:
			errs = append(errs, fmt.Errorf("agents: StandIns[%s]: per-node components cannot be replaced", name))
		}
	}
	for name, byNode := range c.NodeStandIns {
		cs, ok := spec.component(name)
		switch {
		case !ok:
			errs = append(errs, fmt.Errorf("agents: NodeStandIns[%s]: mesh %s has no such component", name, spec.Name))
			continue
		case !cs.PerNode:
			errs = append(errs, fmt.Errorf("agents: NodeStandIns[%s]: not a per-node component (use StandIns)", name))
			continue
		}
		nodes := map[string]bool{}
		for _, n := range c.Nodes {
			nodes[n] = true
		}
		for node, s := range byNode {
			switch {
			case s == nil:
				errs = append(errs, fmt.Errorf("agents: NodeStandIns[%s][%s] is nil", name, node))
			case !nodes[node]:
				errs = append(errs, fmt.Errorf("agents: NodeStandIns[%s][%s]: not one of the run's nodes", name, node))
			}
		}
	}
	return errors.Join(errs...)
}

// standInRules are the extra RBAC rules the stand-ins of a component need.
func (c *Config) standInRules(name string) []rbacv1.PolicyRule {
	var all []StandIn
	if s := c.StandIns[name]; s != nil {
		all = append(all, s)
	}
	for _, s := range c.NodeStandIns[name] {
		all = append(all, s)
		break // every node's stand-in of a component is the same program
	}
	var out []rbacv1.PolicyRule
	for _, s := range all {
		if r, ok := s.(StandInRules); ok {
			out = append(out, r.Rules()...)
		}
	}
	return out
}

func (s *MeshSpec) component(name string) (ComponentSpec, bool) {
	for _, cs := range s.Components {
		if cs.Name == name {
			return cs, true
		}
	}
	return ComponentSpec{}, false
}

// standsIn reports whether a real process replaces the component.
func (c *Config) standsIn(cs ComponentSpec) bool { return c.StandIns[cs.Name] != nil }

// startStandIns starts the stand-ins of the components this process runs,
// in name order; the started ones are recorded for Stop.
func (m *Mesh) startStandIns(ctx context.Context) error {
	names := make([]string, 0, len(m.cfg.StandIns))
	for name := range m.cfg.StandIns {
		names = append(names, name)
	}
	sort.Strings(names)
	for _, name := range names {
		cs, _ := m.spec.component(name)
		if !m.cfg.Components.runs(cs) {
			continue
		}
		cfg := rest.CopyConfig(m.cfg.RESTConfig)
		if !m.cfg.DisableImpersonation && !m.cfg.SkipSetup {
			cfg.Impersonate = impersonation(cs, m.cfg.RunID)
		}
		ns, sa := serviceAccount(cs, m.cfg.RunID)
		id := StandInIdentity{RESTConfig: cfg, Namespace: m.systemNamespace, ServiceAccount: ns + "/" + sa}
		m.log.Info("starting the real component in place of its emulation", zap.String("component", name))
		if err := m.cfg.StandIns[name].Start(ctx, id); err != nil {
			return fmt.Errorf("start real %s: %w", name, err)
		}
		m.mu.Lock()
		m.standIns = append(m.standIns, m.cfg.StandIns[name])
		m.mu.Unlock()
		n := 1
		if r, ok := m.cfg.StandIns[name].(StandInRestarter); ok {
			n = r.Replicas()
		}
		for i := range n {
			m.addReal(name, &realReplica{name: fmt.Sprintf("%s-%d", name, i), standIn: m.cfg.StandIns[name], index: i})
		}
	}
	return nil
}

// startNodeStandIn starts the real process of a per-node component for
// node in the background, so a slow start does not hold the rollout; it
// is recorded at once, so Stop stops it whatever state it reached.
func (m *Mesh) startNodeStandIn(cs ComponentSpec, node string, s StandIn) {
	cfg := rest.CopyConfig(m.cfg.RESTConfig)
	if !m.cfg.DisableImpersonation && !m.cfg.SkipSetup {
		cfg.Impersonate = impersonation(cs, m.cfg.RunID)
	}
	ns, sa := serviceAccount(cs, m.cfg.RunID)
	id := StandInIdentity{RESTConfig: cfg, Namespace: m.systemNamespace, ServiceAccount: ns + "/" + sa, Node: node}
	real := &realReplica{name: cs.Name + "-" + node, node: node, standIn: s}
	m.mu.Lock()
	m.standIns = append(m.standIns, s)
	m.mu.Unlock()
	m.addReal(cs.Name, real)
	m.wg.Add(1)
	go func() {
		defer m.wg.Done()
		if err := s.Start(m.ctx, id); err != nil && m.ctx.Err() == nil {
			m.log.Error("the real component did not start; its node has no agent", zap.String("component", cs.Name),
				zap.String("node", node), zap.Error(err))
			m.mu.Lock()
			m.standInFailures = append(m.standInFailures, fmt.Sprintf("real %s on %s: %v", cs.Name, node, err))
			real.failed = true
			m.mu.Unlock()
		}
	}()
}

// nodeStandInsReady counts the per-node stand-ins of a component that
// report themselves ready.
func (m *Mesh) nodeStandInsReady(name string) int {
	ready := 0
	for _, s := range m.cfg.NodeStandIns[name] {
		if r, ok := s.(StandInReady); ok && r.Ready() {
			ready++
		}
	}
	return ready
}

// StandInFailures are the stand-ins that failed to start, one line each.
func (m *Mesh) StandInFailures() []string {
	m.mu.Lock()
	defer m.mu.Unlock()
	return append([]string(nil), m.standInFailures...)
}

// stopStandIns stops the started stand-ins, in parallel (each may wait
// out its process's grace period).
func (m *Mesh) stopStandIns(ctx context.Context) error {
	m.mu.Lock()
	standIns := m.standIns
	m.standIns = nil
	m.mu.Unlock()
	errs := make([]error, len(standIns))
	var wg sync.WaitGroup
	for i, s := range standIns {
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs[i] = s.Stop(ctx)
		}()
	}
	wg.Wait()
	return errors.Join(errs...)
}
