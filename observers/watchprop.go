package observers

import (
	"context"
	"fmt"
	"strconv"
	"sync"
	"time"

	"go.uber.org/zap"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/watch"
	"k8s.io/client-go/kubernetes"

	"github.com/churn-dev/churn/profiles"
	"github.com/churn-dev/churn/results"
)

const (
	watchConfigMap = "churn-watch"
	// seqAnnotation carries the write's sequence number so the watcher can
	// match an event to the write that caused it.
	seqAnnotation = "churn.dev/seq"
	// lostAfter is how long a write may go unseen before it counts as lost.
	lostAfter = time.Minute
)

// watchPropagation writes one ConfigMap every interval and times how long
// each write takes to arrive on a separate watch: the delay every mesh
// control plane sees between a change and its reaction.
type watchPropagation struct {
	interval time.Duration
	timeout  time.Duration

	env       Env
	client    kubernetes.Interface
	namespace string
	cancel    context.CancelFunc
	wg        sync.WaitGroup

	mu            sync.Mutex
	seq           int64
	pending       map[int64]*propWrite
	delays        []timedValue // from the write's return to arrival
	fromSend      []timedValue // from the write's start to arrival
	writes        int
	writeErrors   int
	received      int
	lost          int
	watchRestarts int

	// afterEvent and afterWrite let tests wait instead of sleeping.
	afterEvent func()
	afterWrite func()
}

type propWrite struct {
	sent, returned, arrived time.Time
}

func newWatchPropagation(spec profiles.ObserverSpec) (Observer, error) {
	s, err := newSettings(spec, "timeout")
	if err != nil {
		return nil, err
	}
	interval, err := s.interval(time.Second)
	if err != nil {
		return nil, err
	}
	timeout, err := s.duration("timeout", 10*time.Second)
	if err != nil {
		return nil, err
	}
	return &watchPropagation{interval: interval, timeout: timeout, pending: map[int64]*propWrite{}}, nil
}

func (o *watchPropagation) Name() string { return WatchPropagationName }

func (o *watchPropagation) Start(ctx context.Context, env Env) error {
	if err := env.validate(); err != nil {
		return err
	}
	c, err := typedClient(env, o.Name())
	if err != nil {
		return err
	}
	lbls, err := runLabels(env.RunLabelSelector)
	if err != nil {
		return err
	}
	o.env, o.client = env, c
	o.namespace = observerNamespace(env.RunID, "watch")
	if err := ensureNamespace(ctx, c, o.namespace, lbls); err != nil {
		return err
	}
	cm := &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{
		Name: watchConfigMap, Labels: lbls, Annotations: map[string]string{seqAnnotation: "0"},
	}}
	created, err := c.CoreV1().ConfigMaps(o.namespace).Create(ctx, cm, metav1.CreateOptions{})
	if err != nil {
		return fmt.Errorf("create watch target configmap: %w", err)
	}
	ctx, o.cancel = context.WithCancel(ctx)
	o.wg.Add(2)
	go func() { defer o.wg.Done(); o.watchLoop(ctx, created.ResourceVersion) }()
	ticker := env.Clock.NewTicker(o.interval)
	go func() {
		defer o.wg.Done()
		defer ticker.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-ticker.C():
				o.write(ctx)
			}
		}
	}()
	env.Metrics.SetObserverUp(o.Name(), true)
	return nil
}

// watchLoop follows the probe ConfigMap until ctx ends.
func (o *watchPropagation) watchLoop(ctx context.Context, rv string) {
	resumingWatch{
		open: func(ctx context.Context, rv string) (watch.Interface, error) {
			return o.client.CoreV1().ConfigMaps(o.namespace).Watch(ctx, metav1.ListOptions{
				FieldSelector:   fields.OneTermEqualSelector("metadata.name", watchConfigMap).String(),
				ResourceVersion: rv,
			})
		},
		fresh: func(ctx context.Context) (string, error) {
			cm, err := o.client.CoreV1().ConfigMaps(o.namespace).Get(ctx, watchConfigMap, metav1.GetOptions{})
			if err != nil {
				return "", err
			}
			return cm.ResourceVersion, nil
		},
		handle: func(ev watch.Event) {
			cm, ok := ev.Object.(*corev1.ConfigMap)
			if !ok || cm.Name != watchConfigMap || (ev.Type != watch.Added && ev.Type != watch.Modified) {
				return
			}
			o.arrived(cm.Annotations[seqAnnotation])
		},
		restarted: func() {
			o.mu.Lock()
			o.watchRestarts++
			o.mu.Unlock()
			o.env.Metrics.ObserverError(o.Name())
		},
		clock:  o.env.Clock,
		logger: o.env.Logger,
	}.run(ctx, rv)
}

func (o *watchPropagation) arrived(seqText string) {
	now := o.env.Clock.Now()
	seq, err := strconv.ParseInt(seqText, 10, 64)
	if err != nil || seq == 0 {
		return
	}
	o.mu.Lock()
	p := o.pending[seq]
	if p == nil {
		// The event beat the write's response.
		p = &propWrite{}
		o.pending[seq] = p
	}
	if p.arrived.IsZero() {
		p.arrived = now
		o.received++
		o.finish(seq, p)
	}
	o.mu.Unlock()
	if o.afterEvent != nil {
		o.afterEvent()
	}
}

// finish records a write once both its response and its event are in.
func (o *watchPropagation) finish(seq int64, p *propWrite) {
	if p.returned.IsZero() || p.arrived.IsZero() {
		return
	}
	// The event may arrive before the response: that is zero delay.
	d := max(p.arrived.Sub(p.returned), 0)
	o.delays = append(o.delays, timedValue{T: p.sent, V: d.Seconds()})
	o.fromSend = append(o.fromSend, timedValue{T: p.sent, V: max(p.arrived.Sub(p.sent), 0).Seconds()})
	delete(o.pending, seq)
}

func (o *watchPropagation) write(ctx context.Context) {
	o.mu.Lock()
	o.seq++
	seq := o.seq
	sent := o.env.Clock.Now()
	o.writes++
	o.expireLocked(sent)
	o.mu.Unlock()

	patch := fmt.Appendf(nil, `{"metadata":{"annotations":{%q:%q,"churn.dev/written":%q}}}`,
		seqAnnotation, strconv.FormatInt(seq, 10), sent.UTC().Format(time.RFC3339Nano))
	cctx, cancel := context.WithTimeout(ctx, o.timeout)
	_, err := o.client.CoreV1().ConfigMaps(o.namespace).Patch(cctx, watchConfigMap, types.MergePatchType, patch, metav1.PatchOptions{})
	cancel()
	returned := o.env.Clock.Now()

	o.mu.Lock()
	p := o.pending[seq]
	if p == nil {
		p = &propWrite{}
		o.pending[seq] = p
	}
	p.sent = sent
	if err != nil {
		if ctx.Err() == nil {
			o.writeErrors++
		}
		delete(o.pending, seq)
	} else {
		p.returned = returned
		o.finish(seq, p)
	}
	o.mu.Unlock()
	if err != nil && ctx.Err() == nil {
		o.env.Metrics.ObserverError(o.Name())
		o.env.Logger.Debug("watch-propagation write", zap.Error(err))
	}
	if o.afterWrite != nil {
		o.afterWrite()
	}
}

// expireLocked counts writes unseen for lostAfter as lost (a broken watch
// that resumed too late to replay them).
func (o *watchPropagation) expireLocked(now time.Time) {
	for seq, p := range o.pending {
		if !p.sent.IsZero() && now.Sub(p.sent) > lostAfter {
			o.lost++
			delete(o.pending, seq)
		}
	}
}

func (o *watchPropagation) Stop(ctx context.Context) error {
	if o.cancel == nil {
		return nil
	}
	o.cancel()
	o.wg.Wait()
	o.env.Metrics.SetObserverUp(o.Name(), false)
	dctx, cancel := context.WithTimeout(ctx, o.timeout)
	defer cancel()
	return deleteNamespace(dctx, o.client, o.namespace)
}

// WatchPropagationSummary is what watch-propagation writes to
// r.Observers["watch-propagation"].
type WatchPropagationSummary struct {
	Namespace     string `json:"namespace"`
	Writes        int    `json:"writes"`
	WriteErrors   int    `json:"writeErrors"`
	Received      int    `json:"received"`
	Lost          int    `json:"lost"`
	Pending       int    `json:"pending"`
	WatchRestarts int    `json:"watchRestarts"`
	Judged        Span   `json:"judged"`
	// Delay is from the write's response to the event's arrival (0 when the
	// event came first); FromSend is from the write's start.
	Delay            Quantiles `json:"delay"`
	DelayAll         Quantiles `json:"delayAll"`
	FromSend         Quantiles `json:"fromSend"`
	WorstP99         float64   `json:"worstP99"`
	WorstWindowStart time.Time `json:"worstWindowStart,omitzero"`
	WorstWindowEnd   time.Time `json:"worstWindowEnd,omitzero"`
	Series           []Series  `json:"series,omitempty"`
}

// SeriesWatchDelay is the per-write propagation delay series.
const SeriesWatchDelay = "watch-delay"

func (o *watchPropagation) Summarize(r *results.Result) error {
	o.mu.Lock()
	defer o.mu.Unlock()
	s := WatchPropagationSummary{
		Namespace: o.namespace, Writes: o.writes, WriteErrors: o.writeErrors, Received: o.received,
		Lost: o.lost, Pending: len(o.pending), WatchRestarts: o.watchRestarts,
	}
	series := Series{Name: SeriesWatchDelay, Unit: UnitSeconds}
	var first, last time.Time
	if n := len(o.delays); n > 0 {
		first, last = o.delays[0].T, o.delays[n-1].T
	}
	from, to, label := judgedSpan(r.Phases, first, last)
	s.Judged = Span{From: from, To: to, Label: label}
	var all, judged, sendJudged []float64
	for i, d := range o.delays {
		all = append(all, d.V)
		series.Points = append(series.Points, Point{T: d.T, V: d.V})
		if !d.T.Before(from) && !d.T.After(to) {
			judged = append(judged, d.V)
			sendJudged = append(sendJudged, o.fromSend[i].V)
		}
	}
	s.DelayAll, s.Delay, s.FromSend = quantilesOf(all), quantilesOf(judged), quantilesOf(sendJudged)
	sorted := append([]timedValue(nil), o.delays...)
	sortTimed(sorted)
	if w := worstWindowQuantile(sorted, 0.99, sloWindow, from, to); w.Found {
		s.WorstP99, s.WorstWindowStart, s.WorstWindowEnd = w.Value, w.Start, w.End
	}
	s.Series = []Series{series}
	return putObserver(r, o.Name(), s)
}
