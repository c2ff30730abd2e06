package observers

import (
	"context"
	"sort"
	"sync"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/watch"
	"k8s.io/client-go/kubernetes"

	"github.com/churn-dev/churn/profiles"
	"github.com/churn-dev/churn/results"
)

const (
	// maxPendingPods bounds memory when pods never become Ready.
	maxPendingPods = 500_000
	// maxStartupSamples bounds memory on very long runs.
	maxStartupSamples = 2_000_000
	// startupSeriesBucket groups pods by creation time for the report.
	startupSeriesBucket = 30 * time.Second
)

// podStartup times pods carrying the run label from creation to Ready, as
// seen through a watch (pod_startup_latency.md: "observed via watch").
type podStartup struct {
	env    Env
	client kubernetes.Interface
	cancel context.CancelFunc
	done   chan struct{}

	mu            sync.Mutex
	pending       map[types.UID]time.Time // creationTimestamp of pods not yet Ready
	samples       []startupSample
	droppedPend   int
	droppedSample int
	watchRestarts int

	afterEvent func()
}

// startupSample is one pod. Observed is watch arrival of Ready minus
// creationTimestamp; Transition is the Ready condition's
// lastTransitionTime minus creationTimestamp. Both timestamps have second
// granularity, so Observed overstates by up to 1 s and Transition is
// accurate to +-1 s.
//
// Kubelet is Ready's lastTransitionTime minus PodScheduled's: the
// kubelet's share, which on a local control plane is kwok's reaction to a
// bound pod (the bind's watch delivery to it included); -1 when either
// condition lacks a time.
type startupSample struct {
	Created    time.Time
	Observed   float32
	Transition float32
	Kubelet    float32
}

func newPodStartup(spec profiles.ObserverSpec) (Observer, error) {
	if _, err := newSettings(spec); err != nil {
		return nil, err
	}
	return &podStartup{pending: map[types.UID]time.Time{}}, nil
}

func (o *podStartup) Name() string { return PodStartupName }

func (o *podStartup) Start(ctx context.Context, env Env) error {
	if err := env.validate(); err != nil {
		return err
	}
	c, err := typedClient(env, o.Name())
	if err != nil {
		return err
	}
	o.env, o.client = env, c
	rv, err := o.listRV(ctx)
	if err != nil {
		return err
	}
	ctx, o.cancel = context.WithCancel(ctx)
	o.done = make(chan struct{})
	go func() {
		defer close(o.done)
		o.watchLoop(ctx, rv)
	}()
	env.Metrics.SetObserverUp(o.Name(), true)
	return nil
}

// listRV returns a resourceVersion to watch from: pods that exist already
// are not timed (their creation was not seen).
func (o *podStartup) listRV(ctx context.Context) (string, error) {
	l, err := o.client.CoreV1().Pods(metav1.NamespaceAll).List(ctx, metav1.ListOptions{
		LabelSelector: o.env.RunLabelSelector, Limit: 1,
	})
	if err != nil {
		return "", err
	}
	return l.ResourceVersion, nil
}

// watchLoop follows the run's pods until ctx ends.
func (o *podStartup) watchLoop(ctx context.Context, rv string) {
	resumingWatch{
		open: func(ctx context.Context, rv string) (watch.Interface, error) {
			return o.client.CoreV1().Pods(metav1.NamespaceAll).Watch(ctx, metav1.ListOptions{
				LabelSelector: o.env.RunLabelSelector, ResourceVersion: rv, AllowWatchBookmarks: true,
			})
		},
		fresh: o.listRV,
		handle: func(ev watch.Event) {
			if pod, ok := ev.Object.(*corev1.Pod); ok && ev.Type != watch.Bookmark {
				o.observe(ev.Type, pod)
			}
			if o.afterEvent != nil {
				o.afterEvent()
			}
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

func (o *podStartup) observe(t watch.EventType, pod *corev1.Pod) {
	now := o.env.Clock.Now()
	o.mu.Lock()
	defer o.mu.Unlock()
	if t == watch.Deleted {
		delete(o.pending, pod.UID)
		return
	}
	ready, transition := podReady(pod)
	created := pod.CreationTimestamp.Time
	if !ready {
		if t == watch.Added {
			if len(o.pending) >= maxPendingPods {
				o.droppedPend++
				return
			}
			o.pending[pod.UID] = created
		}
		return
	}
	if _, ok := o.pending[pod.UID]; !ok {
		// Ready before we saw it pending (or already timed): not ours to time.
		return
	}
	delete(o.pending, pod.UID)
	if len(o.samples) >= maxStartupSamples {
		o.droppedSample++
		return
	}
	s := startupSample{Created: created, Observed: float32(max(now.Sub(created), 0).Seconds()), Kubelet: -1}
	if !transition.IsZero() {
		s.Transition = float32(max(transition.Sub(created), 0).Seconds())
		if scheduled := podScheduled(pod); !scheduled.IsZero() {
			s.Kubelet = float32(max(transition.Sub(scheduled), 0).Seconds())
		}
	}
	o.samples = append(o.samples, s)
}

func podReady(pod *corev1.Pod) (bool, time.Time) {
	for _, c := range pod.Status.Conditions {
		if c.Type == corev1.PodReady {
			return c.Status == corev1.ConditionTrue, c.LastTransitionTime.Time
		}
	}
	return false, time.Time{}
}

// podScheduled is when the scheduler bound the pod, as the PodScheduled
// condition says.
func podScheduled(pod *corev1.Pod) time.Time {
	for _, c := range pod.Status.Conditions {
		if c.Type == corev1.PodScheduled && c.Status == corev1.ConditionTrue {
			return c.LastTransitionTime.Time
		}
	}
	return time.Time{}
}

func (o *podStartup) Stop(context.Context) error {
	if o.cancel == nil {
		return nil
	}
	o.cancel()
	<-o.done
	o.env.Metrics.SetObserverUp(o.Name(), false)
	return nil
}

// PodStartupSummary is what pod-startup writes to r.Observers["pod-startup"].
type PodStartupSummary struct {
	Judged Span `json:"judged"`
	// Churn covers pods created inside the judged span (the churn phase);
	// All covers every timed pod, the setup ramp included.
	Churn           StartupStats `json:"churn"`
	All             StartupStats `json:"all"`
	StillPending    int          `json:"stillPending"`
	DroppedPending  int          `json:"droppedPending,omitempty"`
	DroppedSamples  int          `json:"droppedSamples,omitempty"`
	WatchRestarts   int          `json:"watchRestarts"`
	TimestampsNote  string       `json:"timestampsNote"`
	Series          []Series     `json:"series,omitempty"`
	WorstP99        float64      `json:"worstP99"`
	WorstWindowFrom time.Time    `json:"worstWindowStart,omitzero"`
	WorstWindowTo   time.Time    `json:"worstWindowEnd,omitzero"`
}

// StartupStats are creation-to-Ready latencies in seconds, and Kubelet
// the scheduled-to-Ready part of them (see startupSample).
type StartupStats struct {
	Observed   Quantiles `json:"observed"`
	Transition Quantiles `json:"transition"`
	Kubelet    Quantiles `json:"kubelet"`
}

// Series names written by pod-startup (per 30 s of creation time).
const (
	SeriesPodStartupP50 = "pod-startup-p50"
	SeriesPodStartupP99 = "pod-startup-p99"
)

func (o *podStartup) Summarize(r *results.Result) error {
	o.mu.Lock()
	defer o.mu.Unlock()
	samples := append([]startupSample(nil), o.samples...)
	sort.Slice(samples, func(i, j int) bool { return samples[i].Created.Before(samples[j].Created) })
	s := PodStartupSummary{
		StillPending: len(o.pending), DroppedPending: o.droppedPend, DroppedSamples: o.droppedSample,
		WatchRestarts:  o.watchRestarts,
		TimestampsNote: "creationTimestamp and lastTransitionTime have 1 s granularity: observed latency overstates by up to 1 s",
	}
	var first, last time.Time
	if n := len(samples); n > 0 {
		first, last = samples[0].Created, samples[n-1].Created
	}
	from, to, label := judgedSpan(r.Phases, first, last)
	s.Judged = Span{From: from, To: to, Label: label}
	var allObs, allTr, allKub, churnObs, churnTr, churnKub []float64
	timed := make([]timedValue, 0, len(samples))
	for _, x := range samples {
		allObs = append(allObs, float64(x.Observed))
		allTr = append(allTr, float64(x.Transition))
		if x.Kubelet >= 0 {
			allKub = append(allKub, float64(x.Kubelet))
		}
		timed = append(timed, timedValue{T: x.Created, V: float64(x.Observed)})
		if !x.Created.Before(from) && !x.Created.After(to) {
			churnObs = append(churnObs, float64(x.Observed))
			churnTr = append(churnTr, float64(x.Transition))
			if x.Kubelet >= 0 {
				churnKub = append(churnKub, float64(x.Kubelet))
			}
		}
	}
	s.All = StartupStats{Observed: quantilesOf(allObs), Transition: quantilesOf(allTr), Kubelet: quantilesOf(allKub)}
	s.Churn = StartupStats{Observed: quantilesOf(churnObs), Transition: quantilesOf(churnTr), Kubelet: quantilesOf(churnKub)}
	if w := worstWindowQuantile(timed, 0.99, sloWindow, from, to); w.Found {
		s.WorstP99, s.WorstWindowFrom, s.WorstWindowTo = w.Value, w.Start, w.End
	}
	s.Series = startupSeries(timed)
	return putObserver(r, o.Name(), s)
}

// startupSeries buckets pods by creation time; timed must be sorted.
func startupSeries(timed []timedValue) []Series {
	p50 := Series{Name: SeriesPodStartupP50, Unit: UnitSeconds}
	p99 := Series{Name: SeriesPodStartupP99, Unit: UnitSeconds}
	for i := 0; i < len(timed); {
		bucket := timed[i].T.Truncate(startupSeriesBucket)
		var vals []float64
		for ; i < len(timed) && timed[i].T.Truncate(startupSeriesBucket).Equal(bucket); i++ {
			vals = append(vals, timed[i].V)
		}
		q := quantilesOf(vals)
		t := bucket.Add(startupSeriesBucket / 2)
		p50.Points = append(p50.Points, Point{T: t, V: q.P50})
		p99.Points = append(p99.Points, Point{T: t, V: q.P99})
	}
	return []Series{p50, p99}
}
