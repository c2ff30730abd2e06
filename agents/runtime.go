package agents

import (
	"context"
	"net/http"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"go.uber.org/zap"

	"github.com/churn-dev/churn/agents/watch"
)

// component is the running state of one component kind: its spec, the
// counters all replicas add to, and the HTTP client they share.
type component struct {
	spec    ComponentSpec
	mesh    *Mesh
	stats   *watch.Stats
	gets    atomic.Int64
	http    *http.Client
	mux     *watch.Mux // nil: watches over net/http
	baseURL string
	// watches are the spec's watches minus those of unserved CRDs.
	watches []WatchDef

	mu       sync.Mutex
	replicas int
	// started are the replicas started so far, for settle checks.
	started []*replica
}

// replica is one emulated process (one pod of the component).
type replica struct {
	comp *component
	// name is the replica's place, e.g. "cilium-agent-kwok-node-3" or
	// "istiod-0", kept across restarts; id its holder identity, the name
	// until a restart of a component with leases gives it a new one.
	name      string
	id        string
	restarts  int
	node      string // for per-node components
	clients   map[string]*watch.Client
	behaviour behaviour
	electors  []*elector
	log       *zap.Logger
	// reflectors are written before the replica is published in
	// component.started and only read after.
	reflectors []*watch.Reflector

	// Lifetime, for restarts (restart.go): cancel stops the replica; live
	// counts its running reflectors and goroutines plus one held by
	// launch; gone closes, and the mesh's WaitGroup is released, when it
	// reaches zero. A counter rather than a goroutine per replica keeps a
	// thousand idle agents as cheap as before.
	cancel    context.CancelFunc
	live      atomic.Int64
	gone      chan struct{}
	wg        *sync.WaitGroup
	startedAt time.Time
	// calls counts the requests the replica made beyond its watches.
	calls atomic.Int64
}

// behaviour is the code side of a component: handlers for its watch feeds
// and its own background work (writes, timers).
type behaviour interface {
	// handler returns the handler of a feed, or nil.
	handler(feed string) watch.Handler
	// run does the background work until ctx ends.
	run(ctx context.Context)
}

// newReplica builds a replica and its clients; start runs it.
func (c *component) newReplica(id, node string) *replica {
	r := &replica{comp: c, name: id, id: id, node: node, clients: map[string]*watch.Client{},
		log: c.mesh.log.With(zap.String("component", c.spec.Name), zap.String("replica", id))}
	for _, cs := range c.spec.Clients {
		r.clients[cs.Name] = watch.NewClient(watch.ClientConfig{
			HTTPClient: c.http, BaseURL: c.baseURL, UserAgent: c.spec.UserAgent,
			QPS: cs.QPS, Burst: cs.Burst, Clock: c.mesh.clock, Stats: c.stats, Mux: c.mux,
		})
	}
	r.behaviour = newBehaviour(c.spec.Behaviour, r)
	for _, ls := range c.spec.Leases {
		r.electors = append(r.electors, newElector(r, ls))
	}
	return r
}

// client returns the replica's main client ("kube").
func (r *replica) client() *watch.Client { return r.clients["kube"] }

// leading reports whether the replica may do gated work: it holds every
// lease that gates work (or it has none).
func (r *replica) leading() bool {
	for _, e := range r.electors {
		if e.spec.Gates && !e.isLeader() {
			return false
		}
	}
	return true
}

// start launches the replica's reflectors, electors and behaviour.
func (r *replica) start(ctx context.Context, wg *sync.WaitGroup) { r.launch(ctx, wg, nil) }

// launch runs the replica until ctx ends or it is stopped; with old set it
// takes old's place among the component's started replicas (a restart).
func (r *replica) launch(ctx context.Context, wg *sync.WaitGroup, old *replica) {
	c := r.comp
	ctx, r.cancel = context.WithCancel(ctx)
	r.gone, r.wg, r.startedAt = make(chan struct{}), wg, c.mesh.clock.Now()
	r.live.Store(1)
	wg.Add(1)
	for _, wd := range c.watches {
		spec := watch.WatchSpec{
			Group: wd.Group, Version: wd.Version, Resource: wd.Resource, Namespace: wd.Namespace,
			LabelSelector: r.template(wd.LabelSelector), FieldSelector: r.template(wd.FieldSelector),
			Protobuf: wd.Protobuf, MetadataOnly: wd.MetadataOnly, Fields: wd.Fields, Lag: wd.Lag, LagFrom: wd.LagFrom,
			StreamingList: c.spec.StreamingList,
		}
		var h watch.Handler
		if wd.Feed != feedNone && r.behaviour != nil {
			h = r.behaviour.handler(wd.Feed)
		}
		refl := watch.NewReflector(r.clients[wd.Client], spec, h, r.log)
		r.reflectors = append(r.reflectors, refl)
		r.live.Add(1)
		// With a watch.Mux, an open watch holds no goroutine.
		refl.Start(ctx, r.release)
	}
	c.mu.Lock()
	if i := slices.Index(c.started, old); old != nil && i >= 0 {
		c.started[i] = r
	} else {
		c.replicas++
		c.started = append(c.started, r)
	}
	c.mu.Unlock()
	for _, e := range r.electors {
		r.live.Add(1)
		go func() {
			defer r.release()
			e.run(ctx)
		}()
	}
	if r.behaviour != nil {
		r.live.Add(1)
		go func() {
			defer r.release()
			r.behaviour.run(ctx)
		}()
	}
	r.release()
}

// release ends one of the replica's holds; the last one marks it gone.
func (r *replica) release() {
	if r.live.Add(-1) == 0 {
		close(r.gone)
		r.wg.Done()
	}
}

func (r *replica) template(s string) string {
	return strings.ReplaceAll(s, "{{node}}", r.node)
}

func newBehaviour(kind string, r *replica) behaviour {
	switch kind {
	case behaviourIstiod:
		return newIstiod(r)
	case behaviourIstioCNI:
		return newIstioCNI(r)
	case behaviourCiliumAgent:
		return newCiliumAgent(r)
	case behaviourCiliumOperator:
		return newCiliumOperator(r)
	}
	return nil
}
