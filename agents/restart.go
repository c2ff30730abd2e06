package agents

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"go.uber.org/zap"

	"github.com/churn-dev/churn/agents/watch"
)

// readyPoll is how often a restart checks whether its replicas are ready:
// a few atomic loads per replica.
const readyPoll = 100 * time.Millisecond

// Replicas returns the names of the running emulated replicas of a
// component, in start order: per-node agents as component-NODE, others as
// component-N. Names stay the same across restarts.
func (m *Mesh) Replicas(component string) ([]string, error) {
	c, err := m.component(component)
	if err != nil {
		return nil, err
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	out := make([]string, 0, len(c.started))
	for _, r := range c.started {
		out = append(out, r.name)
	}
	return out, nil
}

func (m *Mesh) component(name string) (*component, error) {
	for _, c := range m.components {
		if c.spec.Name == name {
			return c, nil
		}
	}
	var running []string
	for _, c := range m.components {
		running = append(running, c.spec.Name)
	}
	if cs, ok := m.spec.component(name); ok {
		switch {
		case m.cfg.standsIn(cs):
			return nil, fmt.Errorf("%s is a real process here, not emulated", name)
		case !m.cfg.Components.runs(cs):
			return nil, fmt.Errorf("%s runs in churn agents shards, not in this process", name)
		}
	}
	return nil, fmt.Errorf("mesh %s runs no emulated %s here (it runs: %s)", m.spec.Name, name, strings.Join(running, ", "))
}

// Startup is what one restarted replica's start-up cost.
type Startup struct {
	// Name is the replica's (see Replicas).
	Name string
	// Ready says it reported ready; ReadyAfter is when, from the restart.
	Ready      bool
	ReadyAfter time.Duration
	// Lists are its informers' first lists, in the component's watch
	// order; a list that had not completed is left out.
	Lists []ListCost
	// Calls are its other requests from its start until Restart returned.
	Calls int64
}

// ListCost is one informer's first list.
type ListCost struct {
	// Resource is the listed collection, e.g. "ciliumendpoints".
	Resource string
	watch.SyncCost
}

// Restart restarts the named replicas of a component together, as the
// pods of one rollout wave: each stops (its watches closed, its caches and
// leases' state dropped), then a fresh one takes its place and makes its
// start-up requests again (the resourceVersion=0 lists or streaming lists
// of every informer, its resyncs, its lease acquisition). A replica of a
// component with leases comes back under a new holder identity, as a new
// pod would, so it takes a lease over only once the old holder's expires.
// stopped, when not nil, is called once every replica has stopped.
// Restart returns when every replica is ready (its watches synced and its
// own start-up work done) or ctx ends, with what each start-up cost.
func (m *Mesh) Restart(ctx context.Context, component string, names []string, stopped func()) ([]Startup, error) {
	c, err := m.component(component)
	if err != nil {
		return nil, err
	}
	if m.ctx == nil || m.ctx.Err() != nil {
		return nil, errors.New("the mesh is not running")
	}
	olds := make([]*replica, 0, len(names))
	c.mu.Lock()
	for _, n := range names {
		i := slices.IndexFunc(c.started, func(r *replica) bool { return r.name == n })
		if i < 0 {
			c.mu.Unlock()
			return nil, fmt.Errorf("%s has no replica %s", component, n)
		}
		olds = append(olds, c.started[i])
	}
	c.mu.Unlock()
	begin := m.clock.Now()
	for _, r := range olds {
		r.cancel()
	}
	for _, r := range olds {
		select {
		case <-r.gone:
		case <-ctx.Done():
			return nil, fmt.Errorf("waiting for %s to stop: %w", r.name, ctx.Err())
		}
	}
	if stopped != nil {
		stopped()
	}
	fresh := make([]*replica, len(olds))
	for i, old := range olds {
		r := c.newReplica(old.name, old.node)
		r.restarts = old.restarts + 1
		if len(c.spec.Leases) > 0 {
			r.id = old.name + "-" + strconv.Itoa(r.restarts)
		}
		r.launch(m.ctx, &m.wg, old)
		fresh[i] = r
	}
	out := make([]Startup, len(fresh))
	for i, r := range fresh {
		out[i].Name = r.name
	}
	tick := m.clock.NewTicker(readyPoll)
	defer tick.Stop()
wait:
	for {
		waiting := 0
		for i, r := range fresh {
			if out[i].Ready {
				continue
			}
			if r.ready() {
				out[i].Ready, out[i].ReadyAfter = true, m.clock.Since(begin)
				continue
			}
			waiting++
		}
		if waiting == 0 {
			break
		}
		select {
		case <-tick.C():
		case <-ctx.Done():
			err = fmt.Errorf("%d of %d %s replicas not ready after %s: %w", waiting, len(fresh), component,
				m.clock.Since(begin).Round(time.Second), ctx.Err())
			break wait
		case <-m.ctx.Done():
			err = errors.New("the mesh stopped during the restart")
			break wait
		}
	}
	for i, r := range fresh {
		out[i].Lists = r.firstLists()
		out[i].Calls = r.calls.Load()
	}
	if err == nil {
		m.log.Info("replicas restarted", zap.String("component", component), zap.Int("replicas", len(fresh)),
			zap.Duration("took", m.clock.Since(begin)))
	}
	return out, err
}

// ready says a started replica has done its start-up: every watch synced
// and, for behaviours with start-up work of their own, that done.
func (r *replica) ready() bool {
	if !r.synced() {
		return false
	}
	if s, ok := r.behaviour.(interface{ startedUp() bool }); ok {
		return s.startedUp()
	}
	return true
}

// firstLists are the costs of the replica's completed first lists.
func (r *replica) firstLists() []ListCost {
	var out []ListCost
	for _, refl := range r.reflectors {
		if cost, ok := refl.FirstSync(); ok {
			out = append(out, ListCost{Resource: refl.Resource(), SyncCost: cost})
		}
	}
	return out
}

// startedUp: a cilium-agent is up once its CiliumNode exists. Its
// endpoint resync (a GET per local endpoint, paced by its client's rate
// limit) goes on after: the real agent's readiness does not wait for it.
func (a *ciliumAgent) startedUp() bool {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.ciliumNode
}
