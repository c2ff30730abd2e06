package observers

import (
	"context"
	"fmt"
	"sync"
	"time"

	"go.uber.org/zap"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/kubernetes/scheme"
	"k8s.io/client-go/rest"

	"github.com/churn-dev/churn/profiles"
	"github.com/churn-dev/churn/results"
)

// Probe names (also the probe label of churn_probe_* metrics).
const (
	ProbeGet           = "get"
	ProbeListNamespace = "list-namespace"
	ProbeListCluster   = "list-cluster"
	ProbeCreate        = "create"
	ProbeDelete        = "delete"
)

// probeCategory maps each probe to the SLO category it samples.
var probeCategory = map[string]string{
	ProbeGet:           CategoryReadResource,
	ProbeListNamespace: CategoryReadNamespace,
	ProbeListCluster:   CategoryReadCluster,
	ProbeCreate:        CategoryMutating,
	ProbeDelete:        CategoryMutating,
}

// probeNames in report order.
var probeNames = []string{ProbeGet, ProbeListNamespace, ProbeListCluster, ProbeCreate, ProbeDelete}

const (
	probeConfigMap   = "churn-probe"
	clusterListLimit = 500
)

// probes makes churn's own API calls once per interval, so a server too
// sick to report on itself is still measured from the client's side.
type probes struct {
	interval      time.Duration
	timeout       time.Duration
	listNamespace string

	env       Env
	client    kubernetes.Interface
	namespace string
	cancel    context.CancelFunc
	wg        sync.WaitGroup

	mu      sync.Mutex
	samples map[string][]probeSample
	created int

	// afterProbe lets tests wait for a probe round instead of sleeping.
	afterProbe func(probe string)
}

// probeSample is one call: its start, latency and error class ("" on
// success). Refused connections carry no latency (HasLatency false).
type probeSample struct {
	T          time.Time
	Latency    time.Duration
	Class      string
	HasLatency bool
}

func newProbes(spec profiles.ObserverSpec) (Observer, error) {
	s, err := newSettings(spec, "timeout", "list-namespace")
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
	return &probes{
		interval: interval, timeout: timeout,
		listNamespace: s.str("list-namespace", ""),
		samples:       map[string][]probeSample{},
	}, nil
}

func (o *probes) Name() string { return ProbesName }

func (o *probes) Start(ctx context.Context, env Env) error {
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
	o.namespace = observerNamespace(env.RunID, "probe")
	if o.listNamespace == "" {
		o.listNamespace = o.namespace
	}
	if err := ensureNamespace(ctx, c, o.namespace, lbls); err != nil {
		return err
	}
	cm := &corev1.ConfigMap{
		ObjectMeta: metav1.ObjectMeta{Name: probeConfigMap, Labels: lbls},
		Data:       map[string]string{"purpose": "target of churn's GET probe"},
	}
	if _, err := c.CoreV1().ConfigMaps(o.namespace).Create(ctx, cm, metav1.CreateOptions{}); err != nil {
		return fmt.Errorf("create probe target configmap: %w", err)
	}
	ctx, o.cancel = context.WithCancel(ctx)
	labels := lbls
	for _, p := range []struct {
		name string
		fn   func(context.Context)
	}{
		{ProbeGet, o.probeGet},
		{ProbeListNamespace, o.probeListNamespace},
		{ProbeListCluster, o.probeListCluster},
		{ProbeCreate, func(ctx context.Context) { o.probeCreateDelete(ctx, labels) }},
	} {
		ticker := env.Clock.NewTicker(o.interval)
		o.wg.Add(1)
		go func() {
			defer o.wg.Done()
			defer ticker.Stop()
			// A probe still running when its tick comes skips that tick:
			// the slow call itself is the sample that matters.
			for {
				select {
				case <-ctx.Done():
					return
				case <-ticker.C():
					p.fn(ctx)
					if o.afterProbe != nil {
						o.afterProbe(p.name)
					}
				}
			}
		}()
	}
	env.Metrics.SetObserverUp(o.Name(), true)
	return nil
}

// call runs one API call with the probe timeout and records it.
func (o *probes) call(ctx context.Context, probe string, fn func(context.Context) error) error {
	cctx, cancel := context.WithTimeout(ctx, o.timeout)
	defer cancel()
	start := o.env.Clock.Now()
	err := fn(cctx)
	latency := o.env.Clock.Since(start)
	if ctx.Err() != nil {
		// Stopping: the call was cut short by us, not by the server.
		return err
	}
	class := classifyError(err)
	o.env.Metrics.ObserveProbe(probe, latency, class)
	o.mu.Lock()
	o.samples[probe] = append(o.samples[probe], probeSample{
		T: start, Latency: latency, Class: class, HasLatency: class != ErrorRefused,
	})
	o.mu.Unlock()
	if err != nil {
		o.env.Logger.Debug("probe failed", zap.String("probe", probe), zap.String("class", class), zap.Error(err))
	}
	return err
}

func (o *probes) probeGet(ctx context.Context) {
	_ = o.call(ctx, ProbeGet, func(ctx context.Context) error {
		_, err := o.client.CoreV1().ConfigMaps(o.namespace).Get(ctx, probeConfigMap, metav1.GetOptions{})
		return err
	})
}

func (o *probes) probeListNamespace(ctx context.Context) {
	_ = o.call(ctx, ProbeListNamespace, func(ctx context.Context) error {
		_, err := o.client.CoreV1().Pods(o.listNamespace).List(ctx, metav1.ListOptions{})
		return err
	})
}

func (o *probes) probeListCluster(ctx context.Context) {
	_ = o.call(ctx, ProbeListCluster, func(ctx context.Context) error {
		// The same request as a typed List, but the body is read and not
		// decoded: 500 pods are about 18 ms of churn's CPU per call, which
		// is client work the probe does not measure.
		if rc, ok := o.client.CoreV1().RESTClient().(*rest.RESTClient); ok && rc != nil {
			return rc.Get().Resource("pods").
				VersionedParams(&metav1.ListOptions{Limit: clusterListLimit}, scheme.ParameterCodec).
				Do(ctx).Error()
		}
		// A fake clientset has no REST client.
		_, err := o.client.CoreV1().Pods(metav1.NamespaceAll).List(ctx, metav1.ListOptions{Limit: clusterListLimit})
		return err
	})
}

func (o *probes) probeCreateDelete(ctx context.Context, lbls map[string]string) {
	o.mu.Lock()
	o.created++
	name := fmt.Sprintf("%s-%d", probeConfigMap, o.created)
	o.mu.Unlock()
	err := o.call(ctx, ProbeCreate, func(ctx context.Context) error {
		cm := &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: name, Labels: lbls}}
		_, err := o.client.CoreV1().ConfigMaps(o.namespace).Create(ctx, cm, metav1.CreateOptions{})
		return err
	})
	if err != nil {
		return
	}
	_ = o.call(ctx, ProbeDelete, func(ctx context.Context) error {
		return o.client.CoreV1().ConfigMaps(o.namespace).Delete(ctx, name, metav1.DeleteOptions{})
	})
}

func (o *probes) Stop(ctx context.Context) error {
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

// ProbesSummary is what probes writes to r.Observers["probes"].
type ProbesSummary struct {
	Namespace string       `json:"namespace"`
	Interval  string       `json:"interval"`
	Timeout   string       `json:"timeout"`
	Judged    Span         `json:"judged"`
	Probes    []ProbeStats `json:"probes"`
	// Series holds each probe's latency per call, in seconds.
	Series []Series `json:"series,omitempty"`
}

// ProbeStats summarises one probe.
type ProbeStats struct {
	Probe    string `json:"probe"`
	Category string `json:"category"`
	Calls    int    `json:"calls"`
	// Errors counts failed calls by class over the whole run.
	Errors map[string]int `json:"errors,omitempty"`
	// Judged is latency inside the judged span, All over the whole run.
	Judged Quantiles `json:"judged"`
	All    Quantiles `json:"all"`
	// WorstP99 is the highest p99 of any 5-minute window in the judged span.
	WorstP99         float64   `json:"worstP99"`
	WorstWindowStart time.Time `json:"worstWindowStart,omitzero"`
	WorstWindowEnd   time.Time `json:"worstWindowEnd,omitzero"`
}

func (o *probes) Summarize(r *results.Result) error {
	o.mu.Lock()
	defer o.mu.Unlock()
	s := ProbesSummary{Namespace: o.namespace, Interval: o.interval.String(), Timeout: o.timeout.String()}
	var first, last time.Time
	for _, ss := range o.samples {
		for _, x := range ss {
			if first.IsZero() || x.T.Before(first) {
				first = x.T
			}
			if x.T.After(last) {
				last = x.T
			}
		}
	}
	from, to, label := judgedSpan(r.Phases, first, last)
	s.Judged = Span{From: from, To: to, Label: label}
	for _, name := range probeNames {
		ss := o.samples[name]
		st := ProbeStats{Probe: name, Category: probeCategory[name], Calls: len(ss)}
		var all, judged []float64
		var timed []timedValue
		series := Series{Name: "probe-" + name, Unit: UnitSeconds}
		for _, x := range ss {
			if x.Class != "" {
				if st.Errors == nil {
					st.Errors = map[string]int{}
				}
				st.Errors[x.Class]++
			}
			if !x.HasLatency {
				continue
			}
			v := x.Latency.Seconds()
			all = append(all, v)
			series.Points = append(series.Points, Point{T: x.T, V: v})
			timed = append(timed, timedValue{T: x.T, V: v})
			if !x.T.Before(from) && !x.T.After(to) {
				judged = append(judged, v)
			}
		}
		st.All, st.Judged = quantilesOf(all), quantilesOf(judged)
		if w := worstWindowQuantile(timed, 0.99, sloWindow, from, to); w.Found {
			st.WorstP99, st.WorstWindowStart, st.WorstWindowEnd = w.Value, w.Start, w.End
		}
		s.Probes = append(s.Probes, st)
		s.Series = append(s.Series, series)
	}
	return putObserver(r, o.Name(), s)
}
