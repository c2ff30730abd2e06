package agents

import (
	"context"
	"encoding/json"
	"hash/fnv"
	"net/http"
	"slices"
	"sort"
	"strconv"
	"sync"
	"time"

	"github.com/churn-dev/churn/agents/watch"
)

// heartbeatAnnotation is what Cilium's identity GC marks unused identities
// with before deleting them.
const heartbeatAnnotation = "io.cilium.heartbeat"

// operatorState is the cilium-operator's view of the cluster, fed by both
// replicas' informers (idempotently) and acted on by the leader.
type operatorState struct {
	mu          sync.Mutex
	podsSynced  bool
	cepsSynced  bool
	pods        map[uint64]struct{}
	ceps        map[string]*cepInfo // run CEPs by namespace/name
	identities  map[int64]*identityInfo
	identSynced bool
	// slicesSynced: the CiliumEndpointSlice watch has listed what exists
	// (cilium-ces); cesReady: that and the endpoints are known, and the
	// slices adopted, so endpoint events go to the slice manager.
	slicesSynced bool
	cesReady     bool
}

type cepInfo struct {
	ns, name, uid string
	identity      int64
	ip            string
}

type identityInfo struct {
	uid      string
	raw      []byte    // the object as last seen, to write it back marked
	markedAt time.Time // local time of our heartbeat mark, zero if unmarked
}

func newOperatorState() *operatorState {
	return &operatorState{pods: map[uint64]struct{}{}, ceps: map[string]*cepInfo{}, identities: map[int64]*identityInfo{}}
}

func podHash(ns, name []byte) uint64 {
	h := fnv.New64a()
	_, _ = h.Write(ns)
	_, _ = h.Write([]byte{'/'})
	_, _ = h.Write(name)
	return h.Sum64()
}

// ciliumOperator: identity GC and orphan CiliumEndpoint GC on the leader,
// and, with CiliumEndpointSlices, the slice controller.
type ciliumOperator struct {
	r  *replica
	st *operatorState
}

func newCiliumOperator(r *replica) *ciliumOperator {
	o := &ciliumOperator{r: r, st: r.comp.mesh.shared.op}
	// Without a slice watch (no slices, or their CRD not served at the
	// watched version) there is nothing to adopt.
	if !slices.ContainsFunc(r.comp.watches, func(w WatchDef) bool { return w.Feed == feedSavedSlices }) {
		o.st.mu.Lock()
		o.st.slicesSynced = true
		o.st.mu.Unlock()
	}
	return o
}

func (o *ciliumOperator) handler(feed string) watch.Handler {
	switch feed {
	case feedAllPods:
		return o.onPod
	case feedEndpoints:
		return o.onEndpoint
	case feedIdentities:
		return o.onIdentity
	case feedSavedSlices:
		return o.onSlice
	}
	return nil
}

func (o *ciliumOperator) onPod(ev *watch.Event) {
	st := o.st
	st.mu.Lock()
	defer st.mu.Unlock()
	switch ev.Type {
	case watch.Synced:
		st.podsSynced = true
	case watch.Deleted:
		delete(st.pods, podHash(ev.Object.Namespace, ev.Object.Name))
	default:
		st.pods[podHash(ev.Object.Namespace, ev.Object.Name)] = struct{}{}
	}
}

func (o *ciliumOperator) onEndpoint(ev *watch.Event) {
	sh := o.r.comp.mesh.shared
	if ev.Type == watch.Synced {
		o.st.mu.Lock()
		o.st.cepsSynced = true
		o.st.mu.Unlock()
		o.readySlices()
		return
	}
	if !sh.isRun(ev.Object) {
		return
	}
	key := string(ev.Object.Namespace) + "/" + string(ev.Object.Name)
	o.st.mu.Lock()
	if ev.Type == watch.Deleted {
		delete(o.st.ceps, key)
	} else {
		o.st.ceps[key] = &cepInfo{ns: string(ev.Object.Namespace), name: string(ev.Object.Name), uid: string(ev.Object.UID),
			identity: ev.Object.IdentityID, ip: string(ev.Object.IPv4)}
	}
	ready := o.st.cesReady
	o.st.mu.Unlock()
	// Before the slices are adopted the endpoint waits in st.ceps:
	// readySlices places every endpoint known then.
	if sh.ces != nil && ready {
		if ev.Type == watch.Deleted {
			sh.ces.remove(key)
		} else {
			sh.ces.upsert(key, string(ev.Object.Namespace), string(ev.Object.Name), ev.Object.IdentityID, string(ev.Object.IPv4))
		}
	}
}

// onSlice adopts the CiliumEndpointSlices that exist when the operator
// starts (a cluster where the mesh already ran), as the real operator
// fills its slice cache from them before it reconciles, so the endpoints
// they hold are not written again. Later events are the operator's own
// writes, already known.
func (o *ciliumOperator) onSlice(ev *watch.Event) {
	ces := o.r.comp.mesh.shared.ces
	if ces == nil {
		return
	}
	if ev.Type == watch.Synced {
		o.st.mu.Lock()
		o.st.slicesSynced = true
		o.st.mu.Unlock()
		o.readySlices()
		return
	}
	if ev.Type == watch.Deleted || !o.r.comp.mesh.shared.isRun(ev.Object) {
		return
	}
	o.st.mu.Lock()
	ready := o.st.cesReady
	o.st.mu.Unlock()
	if !ready {
		ces.adopt(ev.Object.Raw)
	}
}

// readySlices, once the endpoints and the slices are both listed, places
// every known endpoint (an adopted slice that holds it as it is needs no
// write) and drops from the adopted slices the endpoints that no longer
// exist. From then on endpoint events go to the slice manager directly.
// It holds st.mu throughout, so no endpoint event overtakes the replay.
func (o *ciliumOperator) readySlices() {
	ces := o.r.comp.mesh.shared.ces
	if ces == nil {
		return
	}
	st := o.st
	st.mu.Lock()
	defer st.mu.Unlock()
	if st.cesReady || !st.cepsSynced || !st.slicesSynced {
		return
	}
	st.cesReady = true
	known := make(map[string]bool, len(st.ceps))
	for key, c := range st.ceps {
		known[key] = true
		ces.upsert(key, c.ns, c.name, c.identity, c.ip)
	}
	ces.prune(known)
}

func (o *ciliumOperator) onIdentity(ev *watch.Event) {
	o.r.comp.mesh.onIdentity(ev)
	if ev.Type == watch.Synced {
		o.st.mu.Lock()
		o.st.identSynced = true
		o.st.mu.Unlock()
		return
	}
	if !o.r.comp.mesh.shared.isRun(ev.Object) {
		return
	}
	id, err := strconv.ParseInt(string(ev.Object.Name), 10, 64)
	if err != nil {
		return
	}
	o.st.mu.Lock()
	defer o.st.mu.Unlock()
	if ev.Type == watch.Deleted {
		delete(o.st.identities, id)
		return
	}
	info := o.st.identities[id]
	if info == nil {
		info = &identityInfo{}
		o.st.identities[id] = info
	}
	info.uid = string(ev.Object.UID)
	info.raw = append(info.raw[:0], ev.Object.Raw...)
}

// onIdentity keeps the shared set of existing identities.
func (m *Mesh) onIdentity(ev *watch.Event) {
	if ev.Type == watch.Synced || ev.Object == nil {
		return
	}
	id, err := strconv.ParseInt(string(ev.Object.Name), 10, 64)
	if err != nil {
		return
	}
	m.shared.setIdentity(id, ev.Type != watch.Deleted)
}

func (o *ciliumOperator) run(ctx context.Context) {
	clk := o.r.comp.mesh.clock
	cfg := o.r.comp.mesh.cfg
	idGC := clk.NewTicker(cfg.IdentityGCInterval)
	defer idGC.Stop()
	cepGC := clk.NewTicker(cfg.EndpointGCInterval)
	defer cepGC.Stop()
	if ces := o.r.comp.mesh.shared.ces; ces != nil {
		go ces.run(ctx, o.r)
	}
	for {
		select {
		case <-ctx.Done():
			return
		case <-idGC.C():
			if o.r.leading() {
				o.gcIdentities(ctx)
			}
		case <-cepGC.C():
			if o.r.leading() {
				o.gcEndpoints(ctx)
			}
		}
	}
}

// gcEndpoints deletes run CiliumEndpoints whose pod no longer exists.
func (o *ciliumOperator) gcEndpoints(ctx context.Context) {
	st := o.st
	st.mu.Lock()
	if !st.podsSynced || !st.cepsSynced {
		st.mu.Unlock()
		return
	}
	var orphans []cepInfo
	for _, c := range st.ceps {
		if _, ok := st.pods[podHash([]byte(c.ns), []byte(c.name))]; !ok {
			orphans = append(orphans, *c)
		}
	}
	st.mu.Unlock()
	sort.Slice(orphans, func(i, j int) bool { return orphans[i].ns+orphans[i].name < orphans[j].ns+orphans[j].name })
	for _, c := range orphans {
		body := mustJSON(map[string]any{"kind": "DeleteOptions", "apiVersion": "v1", "preconditions": map[string]any{"uid": c.uid}})
		_, err := o.r.do(ctx, apiCall{client: o.r.client(), verb: http.MethodDelete, path: objectPath("cilium.io", "v2", "ciliumendpoints", c.ns, c.name),
			body: body, contentType: watch.ContentTypeJSON, accept: watch.ContentTypeJSON, key: "delete ciliumendpoints"})
		if err != nil && !watch.IsNotFound(err) && !watch.IsConflict(err) {
			o.r.countError(ctx, "gc ciliumendpoint", err)
		}
	}
}

// gcIdentities marks run identities no CiliumEndpoint uses (an UPDATE with
// the heartbeat annotation) and deletes those that stayed unused for the
// heartbeat timeout, as Cilium's CRD identity GC does.
func (o *ciliumOperator) gcIdentities(ctx context.Context) {
	st := o.st
	now := o.r.comp.mesh.clock.Now()
	timeout := o.r.comp.mesh.cfg.IdentityHeartbeatTimeout
	type job struct {
		id     int64
		uid    string
		raw    []byte
		delete bool
	}
	var jobs []job
	st.mu.Lock()
	if !st.cepsSynced || !st.identSynced {
		st.mu.Unlock()
		return
	}
	used := map[int64]bool{}
	for _, c := range st.ceps {
		used[c.identity] = true
	}
	for id, info := range st.identities {
		switch {
		case used[id]:
			info.markedAt = time.Time{}
		case info.markedAt.IsZero():
			jobs = append(jobs, job{id: id, uid: info.uid, raw: append([]byte(nil), info.raw...)})
		case now.Sub(info.markedAt) >= timeout:
			jobs = append(jobs, job{id: id, uid: info.uid, delete: true})
		}
	}
	st.mu.Unlock()
	sort.Slice(jobs, func(i, j int) bool { return jobs[i].id < jobs[j].id })
	for _, j := range jobs {
		path := objectPath("cilium.io", "v2", "ciliumidentities", "", strconv.FormatInt(j.id, 10))
		if j.delete {
			body := mustJSON(map[string]any{"kind": "DeleteOptions", "apiVersion": "v1", "preconditions": map[string]any{"uid": j.uid}})
			_, err := o.r.do(ctx, apiCall{client: o.r.client(), verb: http.MethodDelete, path: path, body: body,
				contentType: watch.ContentTypeJSON, accept: watch.ContentTypeJSON, key: "delete ciliumidentities"})
			if err != nil && !watch.IsNotFound(err) && !watch.IsConflict(err) {
				o.r.countError(ctx, "gc ciliumidentity", err)
			}
			continue
		}
		body, ok := markIdentity(j.raw, now)
		if !ok {
			continue
		}
		_, err := o.r.do(ctx, apiCall{client: o.r.client(), verb: http.MethodPut, path: path, body: body,
			contentType: watch.ContentTypeJSON, accept: watch.ContentTypeJSON, key: "update ciliumidentities"})
		switch {
		case err == nil:
			st.mu.Lock()
			if info := st.identities[j.id]; info != nil {
				info.markedAt = now
			}
			st.mu.Unlock()
		case watch.IsNotFound(err), watch.IsConflict(err):
		default:
			o.r.countError(ctx, "mark ciliumidentity", err)
		}
	}
}

// markIdentity adds the heartbeat annotation to an identity's JSON.
func markIdentity(raw []byte, now time.Time) ([]byte, bool) {
	var obj map[string]any
	if len(raw) == 0 || json.Unmarshal(raw, &obj) != nil {
		return nil, false
	}
	md, _ := obj["metadata"].(map[string]any)
	if md == nil {
		return nil, false
	}
	ann, _ := md["annotations"].(map[string]any)
	if ann == nil {
		ann = map[string]any{}
	}
	ann[heartbeatAnnotation] = now.UTC().Format(time.RFC3339Nano)
	md["annotations"] = ann
	b, err := json.Marshal(obj)
	return b, err == nil
}
