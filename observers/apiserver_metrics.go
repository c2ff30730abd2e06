package observers

import (
	"context"
	"fmt"
	"sync"
	"time"

	"go.uber.org/zap"
	"k8s.io/client-go/rest"

	"github.com/churn-dev/churn/profiles"
)

// apiServerMetrics scrapes kube-apiserver /metrics through the run's
// credentials (so it works for local and remote clusters alike) and keeps
// latency histograms as deltas for the SLO windows.
type apiServerMetrics struct {
	interval time.Duration
	timeout  time.Duration

	env    Env
	rest   rest.Interface
	cancel context.CancelFunc
	done   chan struct{}

	mu       sync.Mutex
	requests *histStore
	etcd     *histStore
	scalars  []scalarStep
	attempts int
	failures int
	lastErr  string
	format   string
	seen     map[string]bool
	lastT    time.Time
	started  bool
	stopped  bool

	// servers are the API servers scraped one by one when there are
	// several behind a load balancer (Env.APIServers); merged holds their
	// per-server deltas summed. Both are empty with one API server.
	servers []*serverScrape
	merged  *mergedCounters
}

// scalarStep is one scrape's counters and gauges.
type scalarStep struct {
	T                                       time.Time
	RequestsTotal, Requests429, Requests5xx float64
	APFRejected, APFInQueue, Inflight       float64
	Watches, WatchEvents, RSS, CPUSeconds   float64
	StartTime                               float64
}

func newAPIServerMetrics(spec profiles.ObserverSpec) (Observer, error) {
	s, err := newSettings(spec, "timeout")
	if err != nil {
		return nil, err
	}
	interval, err := s.interval(5 * time.Second)
	if err != nil {
		return nil, err
	}
	timeout, err := s.duration("timeout", 10*time.Second)
	if err != nil {
		return nil, err
	}
	return &apiServerMetrics{
		interval: interval, timeout: timeout,
		requests: newHistStore(), etcd: newHistStore(), seen: map[string]bool{},
	}, nil
}

func (o *apiServerMetrics) Name() string { return APIServerMetricsName }

func (o *apiServerMetrics) Start(ctx context.Context, env Env) error {
	if err := env.validate(); err != nil {
		return err
	}
	rc, err := rawClient(env, o.Name())
	if err != nil {
		return err
	}
	o.env, o.rest = env, rc
	if err := o.startServers(env); err != nil {
		return err
	}
	ctx, o.cancel = context.WithCancel(ctx)
	o.done = make(chan struct{})
	o.started = true
	// The first scrape is the baseline; take it before returning so the
	// setup phase is covered from its start.
	o.scrapeOnce(ctx)
	go o.loop(ctx)
	env.Metrics.SetObserverUp(o.Name(), true)
	return nil
}

func (o *apiServerMetrics) loop(ctx context.Context) {
	defer close(o.done)
	t := o.env.Clock.NewTicker(o.interval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C():
			o.scrapeOnce(ctx)
		}
	}
}

func (o *apiServerMetrics) Stop(ctx context.Context) error {
	if !o.started || o.stopped {
		return nil
	}
	o.stopped = true
	o.cancel()
	<-o.done
	// A last scrape so the final interval of the churn phase is covered.
	o.scrapeOnce(ctx)
	o.env.Metrics.SetObserverUp(o.Name(), false)
	return nil
}

func (o *apiServerMetrics) scrapeOnce(ctx context.Context) {
	if len(o.servers) > 0 {
		o.scrapeServers(ctx)
		return
	}
	sc, format, err := o.fetch(ctx, o.rest)
	if err != nil && ctx.Err() != nil {
		// Cut short by Stop, not a failed scrape.
		return
	}
	o.record(sc, format, err)
}

// record keeps one scrape (or its failure).
func (o *apiServerMetrics) record(sc *scrape, format string, err error) {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.attempts++
	if err != nil {
		o.failures++
		o.lastErr = err.Error()
		o.env.Metrics.ObserverError(o.Name())
		o.env.Logger.Debug("scrape kube-apiserver /metrics", zap.Error(err))
		return
	}
	o.keep(sc, format)
}

// keep adds one successful scrape (or several servers' merged) to the
// series; o.mu is held.
func (o *apiServerMetrics) keep(sc *scrape, format string) {
	o.format = format
	if !sc.T.After(o.lastT) {
		// Two scrapes at one instant (a fake clock) add nothing.
		return
	}
	o.lastT = sc.T
	restarted := len(o.scalars) > 0 && sc.StartTime != 0 && sc.StartTime != o.scalars[len(o.scalars)-1].StartTime
	o.requests.add(sc.T, sc.Requests, restarted)
	etcd := map[RequestKey]histogram{}
	if sc.Etcd.upper != nil {
		etcd[RequestKey{Verb: "etcd"}] = sc.Etcd
	}
	o.etcd.add(sc.T, etcd, restarted)
	o.scalars = append(o.scalars, scalarStep{
		T: sc.T, RequestsTotal: sc.RequestsTotal, Requests429: sc.Requests429, Requests5xx: sc.Requests5xx,
		APFRejected: sc.APFRejected, APFInQueue: sc.APFInQueue, Inflight: sc.Inflight,
		Watches: sc.Watches, WatchEvents: sc.WatchEvents, RSS: sc.RSS, CPUSeconds: sc.CPUSeconds,
		StartTime: sc.StartTime,
	})
	for k := range sc.Seen {
		o.seen[k] = true
	}
}

// fetch reads /metrics once. The time stamp is taken when the response
// arrives, the instant the counters were read at.
func (o *apiServerMetrics) fetch(ctx context.Context, rc rest.Interface) (*scrape, string, error) {
	ctx, cancel := context.WithTimeout(ctx, o.timeout)
	defer cancel()
	var contentType string
	body, err := rc.Get().AbsPath("/metrics").
		SetHeader("Accept", metricsAccept).
		MaxRetries(0).
		Do(ctx).
		ContentType(&contentType).
		Raw()
	if err != nil {
		return nil, "", fmt.Errorf("GET /metrics: %w", err)
	}
	sc, err := parseMetrics(body, contentType, o.env.Clock.Now())
	if err != nil {
		return nil, "", err
	}
	return sc, contentType, nil
}
