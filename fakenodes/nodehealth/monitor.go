// Package nodehealth watches the run's fake nodes for the ways a starved
// or buggy simulator lets them fail: a node Lease renewed late, and a node
// whose Ready condition left True. A real kubelet keeps both fresh; when
// kwok does not, the node lifecycle controller taints the node, marks its
// pods not Ready and evicts them, and the run measures the bench instead
// of the API server.
package nodehealth

import (
	"context"
	"fmt"
	"sort"
	"sync"
	"time"

	"go.uber.org/zap"
	coordinationv1 "k8s.io/api/coordination/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/watch"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/cache"
	"k8s.io/utils/clock"
)

// Incident kinds.
const (
	KindNotReady  = "not-ready"
	KindLeaseLate = "lease-late"
)

// Defaults.
const (
	// LeaseNamespace holds the node Leases kwok renews.
	LeaseNamespace = corev1.NamespaceNodeLease
	// DefaultLateAfter is twice the renewal interval of kwok (and kubelet)
	// with a 40 s lease: a quarter of the lease, 10 s. One missed renewal is
	// late; the node lifecycle controller's grace period (50 s) is two
	// more away.
	DefaultLateAfter = 20 * time.Second
	// sweepEvery is how often leases that have not been renewed at all
	// are checked against LateAfter, so a stalled kwok is seen before its
	// next renewal (which may never come).
	sweepEvery = 5 * time.Second
	// syncTimeout bounds the first list of nodes and leases: the check is
	// skipped rather than the run held up.
	syncTimeout = time.Minute
)

// Config is what a Monitor needs.
type Config struct {
	// Client should be a dedicated client: watches here must not queue
	// behind churn's own rate limit.
	Client kubernetes.Interface
	Clock  clock.WithTicker
	Logger *zap.Logger
	// NodeSelector selects the fake nodes to watch (a label selector).
	NodeSelector string
	// LateAfter is the longest gap between two renewals of a node Lease
	// that is not late; DefaultLateAfter when zero.
	LateAfter time.Duration
}

// Incident is one way one node failed. Times are the monitor's clock, the
// lease's renewTime for a renewal that came late.
type Incident struct {
	Node string
	Kind string
	// At is when it began: the Ready condition left True, or the renewal
	// that should have come by LateAfter after the previous one.
	At time.Time
	// Seconds is how long it lasted: not Ready, or the renewal gap; up to
	// the end of monitoring when it never ended.
	Seconds float64
	// Ended is false when the node was still not Ready, or the lease still
	// not renewed, when monitoring stopped.
	Ended bool
	// Reason is the Ready condition's status and reason.
	Reason string
	// void marks a sweep's incident whose renewal turned out to be on
	// time: stamped within LateAfter, only delivered late.
	void bool
}

// Monitor watches nodes and their Leases until Stop.
type Monitor struct {
	cfg    Config
	start  time.Time
	cancel context.CancelFunc
	done   chan struct{}

	mu        sync.Mutex
	nodes     map[string]*nodeState
	leases    map[string]*leaseState
	incidents []Incident
	stopped   time.Time
	// lastClock is the last reading of the clock, with its monotonic
	// part; steps are the jumps of the wall clock past the monotonic one
	// seen since (a paused VM, a clock set). Lease stamps are wall-clock
	// times, so a step looks like a renewal gap that no node had.
	lastClock time.Time
	steps     []ClockStep
}

// ClockStep is a jump of the wall clock ahead of the monotonic clock.
type ClockStep struct {
	At      time.Time
	Seconds float64
}

// minClockStep is the least wall-clock jump recorded: NTP slews by far
// less, a paused VM by seconds.
const minClockStep = time.Second

type nodeState struct {
	ready bool
	// open is the index of the node's ongoing not-ready incident, or -1.
	open int
}

type leaseState struct {
	// renewed is the last renewTime seen; zero until the lease was renewed
	// after the monitor started (a restored snapshot's leases are as old
	// as the save).
	renewed time.Time
	// open is the index of the ongoing lease-late incident, or -1.
	open int
}

// Start lists and watches the nodes and node Leases and returns once both
// caches are synced.
func Start(ctx context.Context, cfg Config) (*Monitor, error) {
	if cfg.Client == nil || cfg.Clock == nil {
		return nil, fmt.Errorf("nodehealth: Client and Clock are required")
	}
	if cfg.Logger == nil {
		cfg.Logger = zap.NewNop()
	}
	if cfg.LateAfter <= 0 {
		cfg.LateAfter = DefaultLateAfter
	}
	// One small read of each first: a refused or failing list says so at
	// once, where an informer would retry it forever.
	if _, err := cfg.Client.CoreV1().Nodes().List(ctx, metav1.ListOptions{LabelSelector: cfg.NodeSelector, Limit: 1}); err != nil {
		return nil, fmt.Errorf("nodehealth: list nodes: %w", err)
	}
	if _, err := cfg.Client.CoordinationV1().Leases(LeaseNamespace).List(ctx, metav1.ListOptions{Limit: 1}); err != nil {
		return nil, fmt.Errorf("nodehealth: list leases in %s: %w", LeaseNamespace, err)
	}
	ctx, cancel := context.WithCancel(ctx)
	m := &Monitor{
		cfg: cfg, start: cfg.Clock.Now(), cancel: cancel, done: make(chan struct{}),
		nodes: map[string]*nodeState{}, leases: map[string]*leaseState{},
	}
	nodes := cache.NewSharedIndexInformer(cache.ToListWatcherWithWatchListSemantics(&cache.ListWatch{
		ListWithContextFunc: func(ctx context.Context, o metav1.ListOptions) (runtime.Object, error) {
			o.LabelSelector = cfg.NodeSelector
			return cfg.Client.CoreV1().Nodes().List(ctx, o)
		},
		WatchFuncWithContext: func(ctx context.Context, o metav1.ListOptions) (watch.Interface, error) {
			o.LabelSelector = cfg.NodeSelector
			return cfg.Client.CoreV1().Nodes().Watch(ctx, o)
		},
	}, cfg.Client), &corev1.Node{}, 0, cache.Indexers{})
	leases := cache.NewSharedIndexInformer(cache.ToListWatcherWithWatchListSemantics(&cache.ListWatch{
		ListWithContextFunc: func(ctx context.Context, o metav1.ListOptions) (runtime.Object, error) {
			return cfg.Client.CoordinationV1().Leases(LeaseNamespace).List(ctx, o)
		},
		WatchFuncWithContext: func(ctx context.Context, o metav1.ListOptions) (watch.Interface, error) {
			return cfg.Client.CoordinationV1().Leases(LeaseNamespace).Watch(ctx, o)
		},
	}, cfg.Client), &coordinationv1.Lease{}, 0, cache.Indexers{})
	// Only a name and a time or two matter: keep the caches small at
	// 1,000 nodes.
	if err := nodes.SetTransform(slimNode); err != nil {
		cancel()
		return nil, fmt.Errorf("nodehealth: node transform: %w", err)
	}
	if err := leases.SetTransform(slimLease); err != nil {
		cancel()
		return nil, fmt.Errorf("nodehealth: lease transform: %w", err)
	}
	if _, err := nodes.AddEventHandler(cache.ResourceEventHandlerFuncs{
		AddFunc:    func(o any) { m.onNode(o) },
		UpdateFunc: func(_, o any) { m.onNode(o) },
	}); err != nil {
		cancel()
		return nil, fmt.Errorf("nodehealth: node handler: %w", err)
	}
	if _, err := leases.AddEventHandler(cache.ResourceEventHandlerDetailedFuncs{
		AddFunc:    func(o any, initial bool) { m.onLease(o, initial) },
		UpdateFunc: func(_, o any) { m.onLease(o, false) },
	}); err != nil {
		cancel()
		return nil, fmt.Errorf("nodehealth: lease handler: %w", err)
	}
	var wg sync.WaitGroup
	wg.Add(3)
	go func() { defer wg.Done(); nodes.RunWithContext(ctx) }()
	go func() { defer wg.Done(); leases.RunWithContext(ctx) }()
	go func() { defer wg.Done(); m.sweepLoop(ctx) }()
	go func() { wg.Wait(); close(m.done) }()
	syncCtx, syncDone := context.WithTimeout(ctx, syncTimeout)
	defer syncDone()
	if !cache.WaitForCacheSync(syncCtx.Done(), nodes.HasSynced, leases.HasSynced) {
		cancel()
		<-m.done
		return nil, fmt.Errorf("nodehealth: nodes and node leases did not sync within %s: %w", syncTimeout, context.Cause(syncCtx))
	}
	return m, nil
}

func slimNode(o any) (any, error) {
	n, ok := o.(*corev1.Node)
	if !ok {
		return o, nil
	}
	out := &corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: n.Name, ResourceVersion: n.ResourceVersion}}
	for _, c := range n.Status.Conditions {
		if c.Type == corev1.NodeReady {
			out.Status.Conditions = []corev1.NodeCondition{{Type: c.Type, Status: c.Status, Reason: c.Reason}}
		}
	}
	return out, nil
}

func slimLease(o any) (any, error) {
	l, ok := o.(*coordinationv1.Lease)
	if !ok {
		return o, nil
	}
	return &coordinationv1.Lease{
		ObjectMeta: metav1.ObjectMeta{Name: l.Name, ResourceVersion: l.ResourceVersion},
		Spec:       coordinationv1.LeaseSpec{RenewTime: l.Spec.RenewTime},
	}, nil
}

func (m *Monitor) onNode(o any) {
	n, ok := o.(*corev1.Node)
	if !ok {
		return
	}
	ready, reason := false, "no Ready condition"
	for _, c := range n.Status.Conditions {
		if c.Type == corev1.NodeReady {
			ready = c.Status == corev1.ConditionTrue
			reason = fmt.Sprintf("Ready=%s", c.Status)
			if c.Reason != "" {
				reason += " (" + c.Reason + ")"
			}
		}
	}
	now := m.cfg.Clock.Now()
	m.mu.Lock()
	defer m.mu.Unlock()
	s, seen := m.nodes[n.Name]
	if !seen {
		// A new node is not Ready until kwok initialises it; only leaving
		// Ready is an incident.
		m.nodes[n.Name] = &nodeState{ready: ready, open: -1}
		return
	}
	switch {
	case s.ready && !ready:
		s.open = len(m.incidents)
		m.incidents = append(m.incidents, Incident{Node: n.Name, Kind: KindNotReady, At: now, Reason: reason})
		m.cfg.Logger.Warn("fake node went not Ready", zap.String("node", n.Name), zap.String("condition", reason))
	case !s.ready && ready && s.open >= 0:
		in := &m.incidents[s.open]
		in.Seconds, in.Ended = now.Sub(in.At).Seconds(), true
		s.open = -1
	}
	s.ready = ready
}

// onLease takes a renewal. initial marks a lease of the first list: its
// renewTime is no baseline, since after a restore it may date from before
// the snapshot was saved, with the cluster down in between.
func (m *Monitor) onLease(o any, initial bool) {
	l, ok := o.(*coordinationv1.Lease)
	if !ok || l.Spec.RenewTime == nil {
		return
	}
	renewed := l.Spec.RenewTime.Time
	m.mu.Lock()
	defer m.mu.Unlock()
	s, seen := m.leases[l.Name]
	if !seen {
		s = &leaseState{open: -1}
		m.leases[l.Name] = s
	}
	m.noteClockLocked(m.cfg.Clock.Now())
	if initial || !renewed.After(s.renewed) {
		return
	}
	if !s.renewed.IsZero() {
		gap := renewed.Sub(s.renewed) - m.steppedLocked(s.renewed, renewed)
		switch {
		case s.open >= 0:
			// The sweep judged by when renewals reach churn; the
			// renewal's own stamp says whether kwok was late, or only
			// the API server's watch (or churn) slow to deliver it.
			in := &m.incidents[s.open]
			in.Seconds, in.Ended, in.void = gap.Seconds(), true, gap <= m.cfg.LateAfter
			s.open = -1
		case gap > m.cfg.LateAfter:
			m.incidents = append(m.incidents, Incident{Node: l.Name, Kind: KindLeaseLate,
				At: s.renewed.Add(m.cfg.LateAfter), Seconds: gap.Seconds(), Ended: true})
		}
	}
	s.renewed = renewed
}

// sweepLoop opens an incident for every lease overdue now, so a renewal
// that never comes is counted too.
func (m *Monitor) sweepLoop(ctx context.Context) {
	t := m.cfg.Clock.NewTicker(sweepEvery)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C():
			m.sweep(m.cfg.Clock.Now())
		}
	}
}

func (m *Monitor) sweep(now time.Time) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.noteClockLocked(now)
	for name, s := range m.leases {
		if s.open >= 0 || s.renewed.IsZero() || now.Sub(s.renewed) <= m.cfg.LateAfter {
			continue
		}
		s.open = len(m.incidents)
		m.incidents = append(m.incidents, Incident{Node: name, Kind: KindLeaseLate, At: s.renewed.Add(m.cfg.LateAfter)})
		// Debug: a slow watch makes many of these, most voided on delivery.
		m.cfg.Logger.Debug("fake node lease not renewed", zap.String("node", name), zap.Duration("since", now.Sub(s.renewed)))
	}
}

// Stop ends the watches; Incidents stays readable.
func (m *Monitor) Stop() {
	m.mu.Lock()
	if m.stopped.IsZero() {
		m.stopped = m.cfg.Clock.Now()
	}
	m.mu.Unlock()
	m.cancel()
	<-m.done
}

// Incidents are the incidents of the fake nodes, by start time; an
// incident still open lasts until now (or Stop).
func (m *Monitor) Incidents() []Incident {
	m.mu.Lock()
	defer m.mu.Unlock()
	end := m.stopped
	if end.IsZero() {
		end = m.cfg.Clock.Now()
	}
	var out []Incident
	for _, in := range m.incidents {
		// Leases of nodes that are not the run's fake nodes (a real
		// cluster's own) are none of the simulator's business.
		if _, ours := m.nodes[in.Node]; !ours || in.void {
			continue
		}
		if !in.Ended {
			in.Seconds = end.Sub(in.At).Seconds()
		}
		out = append(out, in)
	}
	sort.SliceStable(out, func(i, j int) bool { return out[i].At.Before(out[j].At) })
	return out
}

// Nodes is how many fake nodes the monitor has seen.
func (m *Monitor) Nodes() int {
	m.mu.Lock()
	defer m.mu.Unlock()
	return len(m.nodes)
}

// LateAfter is the renewal gap beyond which a lease counts as late.
func (m *Monitor) LateAfter() time.Duration { return m.cfg.LateAfter }

// noteClockLocked records a step of the wall clock since the last reading.
// Readings without a monotonic part (fake clocks) never step.
func (m *Monitor) noteClockLocked(now time.Time) {
	if !m.lastClock.IsZero() {
		if jump := now.Round(0).Sub(m.lastClock.Round(0)) - now.Sub(m.lastClock); jump >= minClockStep {
			m.recordStepLocked(now, jump)
		}
	}
	m.lastClock = now
}

func (m *Monitor) recordStepLocked(at time.Time, jump time.Duration) {
	m.steps = append(m.steps, ClockStep{At: at.Round(0), Seconds: jump.Seconds()})
	m.cfg.Logger.Warn("wall clock jumped ahead of the monotonic clock (a paused VM?); lease gaps across it are corrected",
		zap.Duration("jump", jump), zap.Time("at", at))
}

// steppedLocked is how far the wall clock jumped between two lease
// stamps: the part of their gap no node lived through. A step is seen when
// the monitor next reads the clock, up to sweepEvery after it happened.
func (m *Monitor) steppedLocked(from, to time.Time) time.Duration {
	var d time.Duration
	for _, st := range m.steps {
		if st.At.After(from) && !st.At.After(to.Add(sweepEvery)) {
			d += time.Duration(st.Seconds * float64(time.Second))
		}
	}
	return d
}

// ClockSteps are the wall-clock jumps seen while monitoring.
func (m *Monitor) ClockSteps() []ClockStep {
	m.mu.Lock()
	defer m.mu.Unlock()
	return append([]ClockStep(nil), m.steps...)
}
