package agents

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"hash/fnv"
	"net/http"
	"sort"
	"strconv"
	"sync"

	"github.com/churn-dev/churn/agents/watch"
)

// Endpoint states the emulated agent writes.
const (
	stateWaitingToRegenerate = "waiting-to-regenerate"
	stateReady               = "ready"
)

// ciliumAgent is cilium-agent's API traffic beyond its informers:
//   - its CiliumNode (GET, then CREATE with an owner reference to the Node)
//     once it has seen its Node;
//   - per run pod on its node that has an IP: a CiliumIdentity for the
//     pod's security labels unless this agent created it or its watch has
//     shown it (so agents racing on a new label set each create it, as
//     real ones do; here everyone computes the same id, so the first
//     CREATE wins and AlreadyExists is normal), then the
//     CiliumEndpoint: GET, CREATE (owner: the pod), and a JSON patch of
//     /status at the next 10 s sync when it changed (regeneration done, a
//     new IP, a new identity after a namespace relabel); on a relabel the
//     new identity is allocated at once, as the real agent resolves it when
//     the labels change;
//   - DELETE of the CiliumEndpoint with a UID precondition when the pod goes.
//
// Like the real agent, it writes no endpoint before its CiliumIdentity
// watch has synced (the real one waits for its identity allocator's
// initial sync), and it adopts what it finds: on a cluster where the mesh
// already ran (a snapshot saved with it), its CiliumNode, the identities
// and each CiliumEndpoint exist, so it GETs each endpoint and leaves one
// whose status already says what it would write (same IP, identity,
// ready) as it is, as the real agent's endpoint sync skips an unchanged
// status; it never re-creates them.
type ciliumAgent struct {
	r    *replica
	mu   sync.Mutex
	wake chan struct{}

	nodeUID      string
	ciliumNode   bool // created (or found)
	pods         map[string]*localPod
	nextEndpoint int
	// allocated are the identities this agent created itself: its
	// allocator remembers its own keys, and learns everyone else's only
	// from its CiliumIdentity watch.
	allocated map[int64]bool
	// relabelled are namespaces whose labels changed since the last sync:
	// their endpoints get their new identity at once, as the real agent
	// resolves it on the label change; the CiliumEndpoint follows at the
	// next 10 s sync.
	relabelled map[string]bool
	// identSynced: the CiliumIdentity watch has listed what exists.
	identSynced bool
}

type localPod struct {
	ns, name, uid string
	ip            string
	labels        string // canonical identity-relevant pod labels
	deleted       bool
	endpointID    int

	// What was last written to the CiliumEndpoint.
	cepUID      string
	created     bool
	cepIP       string
	cepIdentity int64
	cepState    string
}

func newCiliumAgent(r *replica) *ciliumAgent {
	a := &ciliumAgent{r: r, wake: make(chan struct{}, 1), pods: map[string]*localPod{}, nextEndpoint: 100, allocated: map[int64]bool{}, relabelled: map[string]bool{}}
	// Without an identity watch (its CRD not served at the watched
	// version) there is no sync to wait for.
	a.identSynced = true
	for _, w := range r.comp.watches {
		if w.Feed == feedIdentities {
			a.identSynced = false
		}
	}
	return a
}

func (a *ciliumAgent) handler(feed string) watch.Handler {
	switch feed {
	case feedLocalPods:
		return a.onPod
	case feedOwnNode:
		return a.onNode
	case feedNamespaces:
		return a.onNamespace
	case feedIdentities:
		return a.onIdentity
	}
	return nil
}

func (a *ciliumAgent) onIdentity(ev *watch.Event) {
	a.r.comp.mesh.onIdentity(ev)
	if ev.Type != watch.Synced {
		return
	}
	a.mu.Lock()
	a.identSynced = true
	a.mu.Unlock()
	a.poke()
}

func (a *ciliumAgent) poke() {
	select {
	case a.wake <- struct{}{}:
	default:
	}
}

func (a *ciliumAgent) onNode(ev *watch.Event) {
	if ev.Type != watch.Added && ev.Type != watch.Modified {
		return
	}
	a.mu.Lock()
	a.nodeUID = string(ev.Object.UID)
	a.mu.Unlock()
	a.poke()
}

func (a *ciliumAgent) onPod(ev *watch.Event) {
	if ev.Type == watch.Synced {
		return
	}
	obj := ev.Object
	if !a.r.comp.mesh.shared.isRun(obj) {
		return
	}
	key := string(obj.Namespace) + "/" + string(obj.Name)
	a.mu.Lock()
	defer a.mu.Unlock()
	p := a.pods[key]
	if ev.Type == watch.Deleted {
		if p != nil {
			p.deleted = true
			a.poke()
		}
		return
	}
	if p == nil || p.uid != string(obj.UID) {
		if p != nil && p.created {
			// Same name, new pod: the old endpoint goes first.
			p.deleted = true
			a.pods[key+"#old"] = p
		}
		a.nextEndpoint++
		p = &localPod{ns: string(obj.Namespace), name: string(obj.Name), uid: string(obj.UID), endpointID: a.nextEndpoint}
		a.pods[key] = p
	}
	p.ip = string(obj.PodIP)
	p.labels = canonicalLabels(obj.Labels)
	a.poke()
}

// onNamespace keeps the shared namespace labels and, when a run
// namespace's labels change, re-examines the local pods there: their
// identity changes.
func (a *ciliumAgent) onNamespace(ev *watch.Event) {
	if ev.Type == watch.Synced {
		a.poke()
		return
	}
	sh := a.r.comp.mesh.shared
	ns := string(ev.Object.Name)
	switch ev.Type {
	case watch.Deleted:
		sh.deleteNamespace(ns)
		return
	}
	if !sh.isRun(ev.Object) {
		return
	}
	// The labels are shared by this process's agents, so only the first
	// to see a change would find it new: every agent rechecks on Modified.
	sh.setNamespaceLabels(ns, canonicalLabels(ev.Object.Labels))
	if ev.Type == watch.Modified {
		a.mu.Lock()
		a.relabelled[ns] = true
		a.mu.Unlock()
		a.poke()
	}
}

func (a *ciliumAgent) run(ctx context.Context) {
	clk := a.r.comp.mesh.clock
	sync := clk.NewTicker(a.r.comp.mesh.cfg.EndpointSyncInterval)
	defer sync.Stop()
	for {
		full := false
		select {
		case <-ctx.Done():
			return
		case <-a.wake:
		case <-sync.C():
			full = true
		}
		a.ensureCiliumNode(ctx)
		a.syncEndpoints(ctx, full)
	}
}

func (a *ciliumAgent) ensureCiliumNode(ctx context.Context) {
	a.mu.Lock()
	uid, done := a.nodeUID, a.ciliumNode
	a.mu.Unlock()
	if done || uid == "" {
		return
	}
	node := a.r.node
	cl := a.r.client()
	path := objectPath("cilium.io", "v2", "ciliumnodes", "", node)
	found, err := a.r.do(ctx, apiCall{client: cl, verb: http.MethodGet, path: path, accept: watch.ContentTypeJSON})
	if err == nil {
		// It exists (a restarted agent's): the real agent writes it back
		// whatever it holds (v1.15 nodediscovery updates after every GET),
		// so a restart costs an UPDATE. Never modify one the run did not
		// write.
		if hasLabels(found, a.r.comp.mesh.cfg.RunLabels) {
			if _, err := a.r.do(ctx, apiCall{client: cl, verb: http.MethodPut, path: path, body: found,
				contentType: watch.ContentTypeJSON, accept: watch.ContentTypeJSON, key: "update ciliumnodes"}); err != nil && !watch.IsConflict(err) {
				a.r.countError(ctx, "update ciliumnode", err)
			}
		}
		a.mu.Lock()
		a.ciliumNode = true
		a.mu.Unlock()
		return
	}
	if !watch.IsNotFound(err) {
		a.r.countError(ctx, "get ciliumnode", err)
		return
	}
	ip := nodeIP(node)
	body := mustJSON(map[string]any{
		"apiVersion": "cilium.io/v2", "kind": "CiliumNode",
		"metadata": map[string]any{
			"name": node, "labels": a.r.comp.mesh.cfg.RunLabels,
			"ownerReferences": []any{map[string]any{"apiVersion": "v1", "kind": "Node", "name": node, "uid": uid}},
		},
		"spec": map[string]any{
			"addresses":  []any{map[string]any{"type": "InternalIP", "ip": ip}, map[string]any{"type": "CiliumInternalIP", "ip": podCIDRBase(node) + ".1"}},
			"health":     map[string]any{"ipv4": podCIDRBase(node) + ".2"},
			"encryption": map[string]any{},
			"ipam":       map[string]any{"podCIDRs": []any{podCIDRBase(node) + ".0/24"}},
		},
	})
	_, err = a.r.do(ctx, apiCall{client: cl, verb: http.MethodPost, path: objectPath("cilium.io", "v2", "ciliumnodes", "", ""),
		body: body, contentType: watch.ContentTypeJSON, accept: watch.ContentTypeJSON, key: "create ciliumnodes"})
	if err != nil && !watch.IsAlreadyExists(err) {
		a.r.countError(ctx, "create ciliumnode", err)
		return
	}
	a.mu.Lock()
	a.ciliumNode = true
	a.mu.Unlock()
}

// hasLabels reports whether a JSON object's metadata carries labels.
func hasLabels(body []byte, labels map[string]string) bool {
	var obj struct {
		Metadata struct {
			Labels map[string]string `json:"labels"`
		} `json:"metadata"`
	}
	if json.Unmarshal(body, &obj) != nil {
		return false
	}
	for k, v := range labels {
		if obj.Metadata.Labels[k] != v {
			return false
		}
	}
	return true
}

// endpointWork is a snapshot of one pod taken under the lock.
type endpointWork struct {
	key string
	p   localPod
}

func (a *ciliumAgent) syncEndpoints(ctx context.Context, full bool) {
	a.mu.Lock()
	if !a.identSynced {
		a.mu.Unlock()
		return
	}
	work := make([]endpointWork, 0, len(a.pods))
	var relabelled []localPod
	for k, p := range a.pods {
		switch {
		case p.deleted || !p.created || full:
			work = append(work, endpointWork{key: k, p: *p})
		case a.relabelled[p.ns]:
			relabelled = append(relabelled, *p)
		}
	}
	clear(a.relabelled)
	a.mu.Unlock()
	for _, p := range relabelled {
		a.allocateIdentity(ctx, p)
	}
	sort.Slice(work, func(i, j int) bool { return work[i].key < work[j].key })
	for _, w := range work {
		if ctx.Err() != nil {
			return
		}
		switch {
		case w.p.deleted:
			if a.deleteEndpoint(ctx, &w.p) {
				a.mu.Lock()
				if cur := a.pods[w.key]; cur != nil && cur.deleted {
					delete(a.pods, w.key)
				}
				a.mu.Unlock()
			}
		case w.p.ip == "":
			// No IP yet: the CNI ADD has not finished.
		default:
			a.upsertEndpoint(ctx, w)
		}
	}
}

// allocateIdentity makes sure the identity of a created endpoint's pod
// exists after its namespace's labels changed.
func (a *ciliumAgent) allocateIdentity(ctx context.Context, p localPod) {
	nsLabels, ok := a.r.comp.mesh.shared.namespaceLabels(p.ns)
	if !ok || p.ip == "" {
		return
	}
	a.ensureIdentity(ctx, identityID(p.ns+"\n"+p.labels+"\n"+nsLabels), p.ns, securityLabels(p.ns, p.labels, nsLabels))
}

func (a *ciliumAgent) upsertEndpoint(ctx context.Context, w endpointWork) {
	sh := a.r.comp.mesh.shared
	nsLabels, ok := sh.namespaceLabels(w.p.ns)
	if !ok {
		return // namespace not seen yet
	}
	labels := securityLabels(w.p.ns, w.p.labels, nsLabels)
	id := identityID(w.p.ns + "\n" + w.p.labels + "\n" + nsLabels)
	if !a.ensureIdentity(ctx, id, w.p.ns, labels) {
		return
	}
	state := stateWaitingToRegenerate
	if w.p.created {
		state = stateReady // regenerated since the last sync
		if w.p.cepIP == w.p.ip && w.p.cepIdentity == id && w.p.cepState == state {
			return
		}
	}
	cl := a.r.client()
	path := objectPath("cilium.io", "v2", "ciliumendpoints", w.p.ns, w.p.name)
	var uid string
	if !w.p.created {
		// A restarted agent would find its endpoint; a new one finds none.
		body, err := a.r.do(ctx, apiCall{client: cl, verb: http.MethodGet, path: path, accept: watch.ContentTypeJSON})
		switch {
		case err == nil:
			found := skimEndpoint(body)
			uid = found.uid
			if found.endpointID > 0 {
				// The endpoint keeps its id across agent restarts.
				w.p.endpointID = found.endpointID
			}
			if found.ownerUID == w.p.uid && found.ip == w.p.ip && found.identity == id && found.state == stateReady {
				a.adopt(w, found.uid, id)
				return
			}
		case !watch.IsNotFound(err):
			a.r.countError(ctx, "get ciliumendpoint", err)
			return
		}
	}
	status := a.endpointStatus(&w.p, id, labels, state)
	if !w.p.created && uid == "" {
		body := mustJSON(map[string]any{
			"apiVersion": "cilium.io/v2", "kind": "CiliumEndpoint",
			"metadata": map[string]any{
				"name": w.p.name, "namespace": w.p.ns, "labels": a.r.comp.mesh.cfg.RunLabels,
				"ownerReferences": []any{map[string]any{"apiVersion": "v1", "kind": "Pod", "name": w.p.name, "uid": w.p.uid}},
			},
			"status": status,
		})
		resp, err := a.r.do(ctx, apiCall{client: cl, verb: http.MethodPost, path: objectPath("cilium.io", "v2", "ciliumendpoints", w.p.ns, ""),
			body: body, contentType: watch.ContentTypeJSON, accept: watch.ContentTypeJSON, key: "create ciliumendpoints"})
		if err != nil {
			if !watch.IsAlreadyExists(err) && !watch.IsNotFound(err) {
				a.r.countError(ctx, "create ciliumendpoint", err)
			}
			return
		}
		uid, _ = skimMeta(resp)
	} else {
		patch := mustJSON([]any{map[string]any{"op": "replace", "path": "/status", "value": status}})
		if _, err := a.r.do(ctx, apiCall{client: cl, verb: http.MethodPatch, path: path, body: patch,
			contentType: watch.ContentTypeJSONPatch, accept: watch.ContentTypeJSON, key: "patch ciliumendpoints"}); err != nil {
			if watch.IsNotFound(err) {
				// Deleted under us (its pod went): forget it.
				a.mu.Lock()
				if cur := a.pods[w.key]; cur != nil && cur.uid == w.p.uid {
					cur.created = false
				}
				a.mu.Unlock()
				return
			}
			a.r.countError(ctx, "patch ciliumendpoint", err)
			return
		}
		if uid == "" {
			uid = w.p.cepUID
		}
	}
	a.mu.Lock()
	if cur := a.pods[w.key]; cur != nil && cur.uid == w.p.uid {
		cur.created, cur.cepUID, cur.cepIP, cur.cepIdentity, cur.cepState = true, uid, w.p.ip, id, state
	}
	a.mu.Unlock()
}

// adopt takes an existing CiliumEndpoint whose status is what this agent
// would write, with no write.
func (a *ciliumAgent) adopt(w endpointWork, uid string, id int64) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if cur := a.pods[w.key]; cur != nil && cur.uid == w.p.uid {
		cur.created, cur.cepUID, cur.cepIP, cur.cepIdentity, cur.cepState = true, uid, w.p.ip, id, stateReady
		cur.endpointID = w.p.endpointID
	}
}

// foundEndpoint is what an agent reads of an existing CiliumEndpoint.
type foundEndpoint struct {
	uid, ownerUID string
	endpointID    int
	identity      int64
	ip, state     string
}

// skimEndpoint reads an existing CiliumEndpoint's JSON; fields it cannot
// read stay zero, which never matches what an agent would write.
func skimEndpoint(body []byte) foundEndpoint {
	var cep struct {
		Metadata struct {
			UID             string `json:"uid"`
			OwnerReferences []struct {
				Kind string `json:"kind"`
				UID  string `json:"uid"`
			} `json:"ownerReferences"`
		} `json:"metadata"`
		Status struct {
			ID       int `json:"id"`
			Identity struct {
				ID int64 `json:"id"`
			} `json:"identity"`
			Networking struct {
				Addressing []struct {
					IPv4 string `json:"ipv4"`
				} `json:"addressing"`
			} `json:"networking"`
			State string `json:"state"`
		} `json:"status"`
	}
	if json.Unmarshal(body, &cep) != nil {
		return foundEndpoint{}
	}
	f := foundEndpoint{uid: cep.Metadata.UID, endpointID: cep.Status.ID, identity: cep.Status.Identity.ID, state: cep.Status.State}
	for _, o := range cep.Metadata.OwnerReferences {
		if o.Kind == "Pod" {
			f.ownerUID = o.UID
		}
	}
	if len(cep.Status.Networking.Addressing) > 0 {
		f.ip = cep.Status.Networking.Addressing[0].IPv4
	}
	return f
}

func (a *ciliumAgent) endpointStatus(p *localPod, id int64, labels []string, state string) map[string]any {
	containerID := sha256.Sum256([]byte(p.uid))
	return map[string]any{
		"id":         p.endpointID,
		"encryption": map[string]any{},
		"external-identifiers": map[string]any{
			"container-id": hex.EncodeToString(containerID[:]), "k8s-namespace": p.ns, "k8s-pod-name": p.name,
			"pod-name": p.ns + "/" + p.name, "cni-attachment-id": hex.EncodeToString(containerID[:8]) + ":eth0",
		},
		"identity":   map[string]any{"id": id, "labels": labels},
		"networking": map[string]any{"addressing": []any{map[string]any{"ipv4": p.ip}}, "node": nodeIP(a.r.node)},
		"state":      state,
	}
}

// ensureIdentity makes sure a CiliumIdentity exists for id; it reports
// whether the endpoint may reference it.
func (a *ciliumAgent) ensureIdentity(ctx context.Context, id int64, ns string, labels []string) bool {
	sh := a.r.comp.mesh.shared
	a.mu.Lock()
	own := a.allocated[id]
	a.mu.Unlock()
	if own || sh.identityKnown(id) {
		return true
	}
	sec := map[string]string{}
	for _, l := range labels {
		k, v, _ := cutLabel(l)
		sec[k] = v
	}
	meta := map[string]string{"io.kubernetes.pod.namespace": ns}
	for k, v := range a.r.comp.mesh.cfg.RunLabels {
		meta[k] = v
	}
	body := mustJSON(map[string]any{
		"apiVersion": "cilium.io/v2", "kind": "CiliumIdentity",
		"metadata":        map[string]any{"name": strconv.FormatInt(id, 10), "labels": meta},
		"security-labels": sec,
	})
	_, err := a.r.do(ctx, apiCall{client: a.r.client(), verb: http.MethodPost, path: objectPath("cilium.io", "v2", "ciliumidentities", "", ""),
		body: body, contentType: watch.ContentTypeJSON, accept: watch.ContentTypeJSON, key: "create ciliumidentities"})
	switch {
	case watch.IsAlreadyExists(err):
		// Another agent's create won: the identity exists.
		sh.setIdentity(id, true)
	case err != nil:
		a.r.countError(ctx, "create ciliumidentity", err)
		return false
	}
	// Other agents learn of it from their watches, as real ones do; until
	// then they create it too (a real agent would allocate another id for
	// the same labels; here the same id conflicts).
	a.mu.Lock()
	a.allocated[id] = true
	a.mu.Unlock()
	return true
}

func (a *ciliumAgent) deleteEndpoint(ctx context.Context, p *localPod) bool {
	if !p.created {
		return true
	}
	body := mustJSON(map[string]any{"kind": "DeleteOptions", "apiVersion": "v1", "preconditions": map[string]any{"uid": p.cepUID}})
	_, err := a.r.do(ctx, apiCall{client: a.r.client(), verb: http.MethodDelete, path: objectPath("cilium.io", "v2", "ciliumendpoints", p.ns, p.name),
		body: body, contentType: watch.ContentTypeJSON, accept: watch.ContentTypeJSON, key: "delete ciliumendpoints"})
	switch {
	case err == nil, watch.IsNotFound(err), watch.IsConflict(err):
		// Gone (garbage collected through its owner) or replaced: done.
		return true
	}
	a.r.countError(ctx, "delete ciliumendpoint", err)
	return false
}

// cutLabel splits "k8s:key=value" into "k8s:key" and "value".
func cutLabel(l string) (string, string, bool) {
	for i := 0; i < len(l); i++ {
		if l[i] == '=' {
			return l[:i], l[i+1:], true
		}
	}
	return l, "", false
}

// nodeIP is a stable fake InternalIP for a node name.
func nodeIP(node string) string {
	h := fnv.New32a()
	_, _ = h.Write([]byte(node))
	v := h.Sum32()
	return fmt.Sprintf("10.255.%d.%d", (v>>8)&0xff, v&0xff|1)
}

func podCIDRBase(node string) string {
	h := fnv.New32a()
	_, _ = h.Write([]byte(node))
	v := h.Sum32()
	return fmt.Sprintf("10.%d.%d", 64+(v>>8)&0x3f, v&0xff)
}
