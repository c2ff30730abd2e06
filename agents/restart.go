package agents

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"go.uber.org/zap"

	"github.com/churn-dev/churn/agents/watch"
)

// readyPoll is how often a restart checks whether its replicas are ready:
// a few atomic loads per replica.
const readyPoll = 100 * time.Millisecond

// Replicas returns the names of the running replicas of a component,
// emulated or real (stand-ins' processes), in start order: per-node agents
// as component-NODE in the nodes' rollout order, others as component-N.
// Names stay the same across restarts. A real per-node agent whose first
// start failed is left out: there is nothing of it to restart.
func (m *Mesh) Replicas(component string) ([]string, error) {
	c, reals, err := m.replicasOf(component)
	if err != nil {
		return nil, err
	}
	type named struct{ name, node string }
	var all []named
	if c != nil {
		c.mu.Lock()
		for _, r := range c.started {
			all = append(all, named{r.name, r.node})
		}
		c.mu.Unlock()
	}
	for _, r := range reals {
		all = append(all, named{r.name, r.node})
	}
	if len(reals) > 0 && (c == nil || c.spec.PerNode) {
		// Real and emulated agents started in their nodes' turns.
		order := make(map[string]int, len(m.cfg.Nodes))
		for i, n := range m.cfg.Nodes {
			order[n] = i
		}
		slices.SortStableFunc(all, func(a, b named) int { return order[a.node] - order[b.node] })
	}
	out := make([]string, len(all))
	for i, n := range all {
		out[i] = n.name
	}
	return out, nil
}

// replicasOf finds a component's emulated part (nil if it has none here)
// and its stand-ins' processes.
func (m *Mesh) replicasOf(name string) (*component, []*realReplica, error) {
	reals := m.realsOf(name)
	for _, c := range m.components {
		if c.spec.Name == name {
			return c, reals, nil
		}
	}
	if len(reals) > 0 {
		return nil, reals, nil
	}
	var running []string
	for _, c := range m.components {
		running = append(running, c.spec.Name)
	}
	if cs, ok := m.spec.component(name); ok {
		switch {
		case !m.cfg.Components.runs(cs):
			return nil, nil, fmt.Errorf("%s runs in churn agents shards, not in this process", name)
		case m.cfg.standsIn(cs):
			return nil, nil, fmt.Errorf("the real %s is not running (see the mesh's stand-in failures)", name)
		}
	}
	return nil, nil, fmt.Errorf("mesh %s runs no %s here (it runs: %s)", m.spec.Name, name, strings.Join(running, ", "))
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
	// Real says it is a real process (a stand-in): its requests are not
	// seen from inside, so Lists and Calls stay empty; the API servers'
	// audit logs count them.
	Real bool
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
// A real replica (a stand-in's process) is stopped and started again as a
// process (StandInRestarter), and is ready when its stand-in says so.
// stopped, when not nil, is called once every replica has stopped.
// Restart returns when every replica is ready (its watches synced and its
// own start-up work done) or ctx ends, with what each start-up cost.
func (m *Mesh) Restart(ctx context.Context, component string, names []string, stopped func()) ([]Startup, error) {
	c, reals, err := m.replicasOf(component)
	if err != nil {
		return nil, err
	}
	if m.ctx == nil || m.ctx.Err() != nil {
		return nil, errors.New("the mesh is not running")
	}
	// Each name is an emulated replica or a real one, in names' order.
	var started []*replica
	if c != nil {
		c.mu.Lock()
		started = slices.Clone(c.started)
		c.mu.Unlock()
	}
	var olds []*replica
	var realOlds []*realReplica
	kinds := make([]bool, len(names)) // true: real
	for k, n := range names {
		if i := slices.IndexFunc(started, func(r *replica) bool { return r.name == n }); i >= 0 {
			olds = append(olds, started[i])
			continue
		}
		i := slices.IndexFunc(reals, func(r *realReplica) bool { return r.name == n })
		if i < 0 {
			return nil, fmt.Errorf("%s has no replica %s", component, n)
		}
		if _, ok := reals[i].standIn.(StandInRestarter); !ok {
			return nil, fmt.Errorf("%s is a real process that churn cannot restart", n)
		}
		realOlds = append(realOlds, reals[i])
		kinds[k] = true
	}
	begin := m.clock.Now()
	for _, r := range olds {
		r.cancel()
	}
	// Real processes stop in parallel, each waiting out its grace period
	// as the kubelet does for a deleted pod.
	stopErrs := make([]error, len(realOlds))
	var stopping sync.WaitGroup
	for i, r := range realOlds {
		stopping.Add(1)
		go func() {
			defer stopping.Done()
			if err := r.standIn.(StandInRestarter).StopReplica(ctx, r.index); err != nil {
				stopErrs[i] = fmt.Errorf("stopping real %s: %w", r.name, err)
			}
		}()
	}
	for _, r := range olds {
		select {
		case <-r.gone:
		case <-ctx.Done():
			return nil, fmt.Errorf("waiting for %s to stop: %w", r.name, ctx.Err())
		}
	}
	stopping.Wait()
	if err := errors.Join(stopErrs...); err != nil {
		return nil, err
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
	realStarts := make([]realStart, len(realOlds))
	for i, r := range realOlds {
		realStarts[i].done = make(chan struct{})
		go func() {
			defer close(realStarts[i].done)
			err := r.standIn.(StandInRestarter).StartReplica(ctx, r.index)
			realStarts[i].after, realStarts[i].err = m.clock.Since(begin), err
		}()
	}
	// out follows names' order.
	out := make([]Startup, len(names))
	emulatedAt, realAt := make([]int, 0, len(olds)), make([]int, 0, len(realOlds))
	for k, n := range names {
		out[k].Name, out[k].Real = n, kinds[k]
		if kinds[k] {
			realAt = append(realAt, k)
		} else {
			emulatedAt = append(emulatedAt, k)
		}
	}
	tick := m.clock.NewTicker(readyPoll)
	defer tick.Stop()
	var startErrs []error
	settled := make([]bool, len(realOlds))
wait:
	for {
		waiting := 0
		for i, r := range fresh {
			s := &out[emulatedAt[i]]
			if s.Ready {
				continue
			}
			if r.ready() {
				s.Ready, s.ReadyAfter = true, m.clock.Since(begin)
				continue
			}
			waiting++
		}
		for i := range realStarts {
			if settled[i] {
				continue
			}
			select {
			case <-realStarts[i].done:
				settled[i] = true
				if err := realStarts[i].err; err != nil {
					startErrs = append(startErrs, m.realStartFailed(component, realOlds[i], err))
					continue
				}
				out[realAt[i]].Ready, out[realAt[i]].ReadyAfter = true, realStarts[i].after
			default:
				waiting++
			}
		}
		if waiting == 0 {
			break
		}
		select {
		case <-tick.C():
		case <-ctx.Done():
			err = fmt.Errorf("%d of %d %s replicas not ready after %s: %w", waiting, len(names), component,
				m.clock.Since(begin).Round(time.Second), ctx.Err())
			break wait
		case <-m.ctx.Done():
			err = errors.New("the mesh stopped during the restart")
			break wait
		}
	}
	for i, r := range fresh {
		out[emulatedAt[i]].Lists = r.firstLists()
		out[emulatedAt[i]].Calls = r.calls.Load()
	}
	if err == nil {
		err = errors.Join(startErrs...)
	}
	if err == nil {
		m.log.Info("replicas restarted", zap.String("component", component), zap.Int("replicas", len(names)),
			zap.Int("real", len(realOlds)), zap.Duration("took", m.clock.Since(begin)))
	}
	return out, err
}

// realStart is the outcome of a real replica's start: done closes once
// after and err are set.
type realStart struct {
	done  chan struct{}
	after time.Duration
	err   error
}

// realStartFailed records a real replica that did not come back: the
// rollout stops there, as a DaemonSet rollout stalls on a pod that is not
// ready, and the mesh's summary lists it.
func (m *Mesh) realStartFailed(component string, r *realReplica, err error) error {
	err = fmt.Errorf("real %s did not start again: %w", r.name, err)
	m.log.Error("a restarted real component did not start", zap.String("component", component),
		zap.String("replica", r.name), zap.Error(err))
	m.mu.Lock()
	m.standInFailures = append(m.standInFailures, err.Error())
	r.failed = true
	m.mu.Unlock()
	return err
}

// component is the emulated part of a component running here.
func (m *Mesh) component(name string) (*component, error) {
	c, _, err := m.replicasOf(name)
	if err == nil && c == nil {
		err = fmt.Errorf("%s runs only as a real process here", name)
	}
	return c, err
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
