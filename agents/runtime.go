package agents

import (
	"context"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"

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
	comp      *component
	id        string // holder identity, e.g. "cilium-agent-kwok-node-3"
	node      string // for per-node components
	clients   map[string]*watch.Client
	behaviour behaviour
	electors  []*elector
	log       *zap.Logger
	// reflectors are written before the replica is published in
	// component.started and only read after.
	reflectors []*watch.Reflector
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
	r := &replica{comp: c, id: id, node: node, clients: map[string]*watch.Client{},
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
func (r *replica) start(ctx context.Context, wg *sync.WaitGroup) {
	c := r.comp
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
		wg.Add(1)
		// With a watch.Mux, an open watch holds no goroutine.
		refl.Start(ctx, wg.Done)
	}
	c.mu.Lock()
	c.replicas++
	c.started = append(c.started, r)
	c.mu.Unlock()
	for _, e := range r.electors {
		wg.Add(1)
		go func() {
			defer wg.Done()
			e.run(ctx)
		}()
	}
	if r.behaviour != nil {
		wg.Add(1)
		go func() {
			defer wg.Done()
			r.behaviour.run(ctx)
		}()
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
