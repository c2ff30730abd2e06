package observers

import (
	"context"
	"fmt"
	"math"
	"slices"
	"sync"
	"time"

	"go.uber.org/zap"
	"k8s.io/client-go/rest"

	"github.com/churn-dev/churn/results"
)

// With several API servers behind a load balancer, successive scrapes
// through it would land on different servers and their counters would
// jump. Each server is scraped directly instead; its counters become
// deltas against its own previous scrape (a restart, e.g. a replacement
// during an upgrade, counts from zero), and the deltas are summed into one
// cluster-wide cumulative scrape that the single-server path records as
// if it came from one server that never restarted.

// serverScrape is one API server of several and what apiserver-metrics
// keeps of it.
type serverScrape struct {
	name, url string
	rest      rest.Interface

	// prev is the last successful scrape, reduced to what deltas need;
	// nil before the first.
	prev               *scrape
	attempts, failures int
	lastErr            string
	restarts           int
	versions           []string
	steps              []serverStep
}

// serverStep is one successful scrape of one server: counter increases
// since its previous successful scrape, and gauges as read.
type serverStep struct {
	T                   time.Time
	Requests, Throttled float64
	Watches             float64
}

// mergedCounters are the servers' deltas summed since the first round:
// cumulative and never falling, whatever each server went through.
type mergedCounters struct {
	requests                                map[RequestKey]histogram
	etcd                                    histogram
	requestsTotal, requests429, requests5xx float64
	apfRejected, watchEvents, cpuSeconds    float64
	// firstT is when the first round was taken: a server first seen in a
	// later round whose process started after it counts from zero, not
	// from a baseline.
	firstT    time.Time
	firstDone bool
}

// startServers prepares a client per API server when there are several.
func (o *apiServerMetrics) startServers(env Env) error {
	if len(env.APIServers) == 0 {
		return nil
	}
	if env.Config == nil {
		return fmt.Errorf("%d API servers but no REST config to reach them", len(env.APIServers))
	}
	for _, ep := range env.APIServers {
		rc, err := serverClient(env, ep, o.Name())
		if err != nil {
			return err
		}
		o.servers = append(o.servers, &serverScrape{name: ep.Name, url: ep.URL, rest: rc})
	}
	o.merged = &mergedCounters{requests: map[RequestKey]histogram{}}
	return nil
}

// serverClient is a REST client for one API server's non-resource paths,
// with the run's credentials.
func serverClient(env Env, ep APIServerEndpoint, observer string) (rest.Interface, error) {
	cfg := rest.CopyConfig(env.Config)
	cfg.Host = ep.URL
	rc, err := rawClient(Env{Config: cfg}, observer)
	if err != nil {
		return nil, fmt.Errorf("API server %s: %w", ep.Name, err)
	}
	return rc, nil
}

// serverFetch is one server's answer in a round.
type serverFetch struct {
	sc     *scrape
	format string
	err    error
}

// scrapeServers reads every server's /metrics at once, so a round takes
// at most one timeout, and records them together.
func (o *apiServerMetrics) scrapeServers(ctx context.Context) {
	fetches := make([]serverFetch, len(o.servers))
	var wg sync.WaitGroup
	for i, s := range o.servers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			sc, format, err := o.fetch(ctx, s.rest)
			fetches[i] = serverFetch{sc: sc, format: format, err: err}
		}()
	}
	wg.Wait()
	if ctx.Err() != nil {
		// Cut short by Stop, not failed scrapes.
		return
	}
	o.recordServers(fetches)
}

// recordServers keeps one round: each server's deltas, and their sum as
// one merged scrape. fetches are in o.servers' order.
func (o *apiServerMetrics) recordServers(fetches []serverFetch) {
	o.mu.Lock()
	defer o.mu.Unlock()
	m := o.merged
	var t time.Time
	var format string
	var gauges scrape
	seen := map[string]bool{}
	ok := 0
	for i, f := range fetches {
		s := o.servers[i]
		o.attempts++
		s.attempts++
		if f.err != nil {
			o.failures++
			s.failures++
			o.lastErr = s.name + ": " + f.err.Error()
			s.lastErr = f.err.Error()
			o.env.Metrics.ObserverError(o.Name())
			o.env.Logger.Debug("scrape kube-apiserver /metrics", zap.String("server", s.name), zap.Error(f.err))
			continue
		}
		sc := f.sc
		if s.prev != nil && !sc.T.After(s.prev.T) {
			// Two scrapes at one instant (a fake clock) add nothing.
			continue
		}
		if !m.firstDone && (m.firstT.IsZero() || sc.T.Before(m.firstT)) {
			m.firstT = sc.T
		}
		ok++
		if sc.T.After(t) {
			t = sc.T
		}
		format = f.format
		for k := range sc.Seen {
			seen[k] = true
		}
		// A server down in a round has no in-flight requests or watches:
		// the gauges sum the servers that answered.
		gauges.APFInQueue += sc.APFInQueue
		gauges.Inflight += sc.Inflight
		gauges.Watches += sc.Watches
		gauges.RSS += sc.RSS
		if sc.Version != "" && !slices.Contains(s.versions, sc.Version) {
			s.versions = append(s.versions, sc.Version)
		}
		d := o.serverDeltas(s, sc)
		s.steps = append(s.steps, serverStep{T: sc.T, Requests: d.RequestsTotal, Throttled: d.Requests429, Watches: sc.Watches})
		s.prev = &scrape{T: sc.T, Requests: sc.Requests, Etcd: sc.Etcd, RequestsTotal: sc.RequestsTotal,
			Requests429: sc.Requests429, Requests5xx: sc.Requests5xx, APFRejected: sc.APFRejected,
			WatchEvents: sc.WatchEvents, CPUSeconds: sc.CPUSeconds, StartTime: sc.StartTime}
	}
	if ok == 0 {
		return
	}
	m.firstDone = true
	if !t.After(o.lastT) {
		return
	}
	// StartTime stays 0: the merged counters never restart.
	merged := &scrape{
		T: t, Requests: make(map[RequestKey]histogram, len(m.requests)), Etcd: m.etcd,
		RequestsTotal: m.requestsTotal, Requests429: m.requests429, Requests5xx: m.requests5xx,
		APFRejected: m.apfRejected, WatchEvents: m.watchEvents, CPUSeconds: m.cpuSeconds,
		APFInQueue: gauges.APFInQueue, Inflight: gauges.Inflight, Watches: gauges.Watches, RSS: gauges.RSS,
		Seen: seen,
	}
	for k, h := range m.requests {
		merged.Requests[k] = h
	}
	o.keep(merged, format)
}

// serverDeltas adds what server s served since its previous scrape to the
// merged counters and returns the scalar increases. A server's first
// scrape is a baseline when its process started before the first round;
// otherwise (it came up during the run) everything it counted is new.
func (o *apiServerMetrics) serverDeltas(s *serverScrape, sc *scrape) scalarStep {
	m := o.merged
	prev := s.prev
	fromZero := false
	switch {
	case prev == nil:
		started := time.Unix(0, int64(sc.StartTime*float64(time.Second)))
		if !m.firstDone || sc.StartTime == 0 || !started.After(m.firstT) {
			return scalarStep{}
		}
		fromZero = true
	case sc.StartTime != 0 && sc.StartTime != prev.StartTime:
		s.restarts++
		fromZero = true
	}
	inc := func(c, p float64) float64 {
		if fromZero || c < p {
			return c
		}
		return c - p
	}
	var p scrape
	if prev != nil {
		p = *prev
	}
	d := scalarStep{
		RequestsTotal: inc(sc.RequestsTotal, p.RequestsTotal),
		Requests429:   inc(sc.Requests429, p.Requests429),
		Requests5xx:   inc(sc.Requests5xx, p.Requests5xx),
		APFRejected:   inc(sc.APFRejected, p.APFRejected),
		WatchEvents:   inc(sc.WatchEvents, p.WatchEvents),
		CPUSeconds:    inc(sc.CPUSeconds, p.CPUSeconds),
	}
	m.requestsTotal += d.RequestsTotal
	m.requests429 += d.Requests429
	m.requests5xx += d.Requests5xx
	m.apfRejected += d.APFRejected
	m.watchEvents += d.WatchEvents
	m.cpuSeconds += d.CPUSeconds
	for k, h := range sc.Requests {
		var ph histogram
		if !fromZero {
			ph = p.Requests[k]
		}
		if inc := histDelta(h, ph); inc != nil {
			m.requests[k] = addInto(m.requests[k], h.upper, inc)
		}
	}
	if sc.Etcd.upper != nil {
		var pe histogram
		if !fromZero {
			pe = p.Etcd
		}
		if inc := histDelta(sc.Etcd, pe); inc != nil {
			m.etcd = addInto(m.etcd, sc.Etcd.upper, inc)
		}
	}
	return d
}

// histDelta is cur's increase over prev, bucket by bucket; all of cur when
// prev is absent, laid out differently or higher in any bucket (a reset).
// nil when nothing changed.
func histDelta(cur, prev histogram) []float64 {
	d := make([]float64, len(cur.counts))
	reset := prev.upper == nil || !sameBounds(cur.upper, prev.upper)
	for i := 0; !reset && i < len(cur.counts); i++ {
		reset = cur.counts[i] < prev.counts[i]
	}
	nonzero := false
	for i, c := range cur.counts {
		if !reset {
			c -= prev.counts[i]
		}
		d[i] = c
		nonzero = nonzero || c != 0
	}
	if !nonzero {
		return nil
	}
	return d
}

// addInto returns acc plus the cumulative increase inc (laid out by upper)
// in a new slice: the histogram store keeps the previous one as its
// baseline. The first layout seen for a key is kept; an increase laid out
// differently (servers of two releases during an upgrade) is re-bucketed
// onto it, each count moved up to the next bound of acc, which can only
// overstate latency.
func addInto(acc histogram, upper, inc []float64) histogram {
	if acc.upper == nil {
		return histogram{upper: upper, counts: inc}
	}
	if !sameBounds(acc.upper, upper) {
		inc = rebucket(upper, inc, acc.upper)
	}
	out := make([]float64, len(acc.counts))
	for i := range out {
		out[i] = acc.counts[i] + inc[i]
	}
	return histogram{upper: acc.upper, counts: out}
}

// rebucket maps cumulative counts by bounds from onto bounds to: the count
// at or below to[j] is the count at the highest bound of from not above
// it. Both layouts end with +Inf, so the total is kept.
func rebucket(from, counts, to []float64) []float64 {
	out := make([]float64, len(to))
	i := -1
	for j, u := range to {
		for i+1 < len(from) && from[i+1] <= u {
			i++
		}
		if i >= 0 {
			out[j] = counts[i]
		}
	}
	return out
}

// ServerScrapes is what apiserver-metrics saw of one API server of several,
// scraped directly.
type ServerScrapes struct {
	Name          string `json:"name"`
	URL           string `json:"url"`
	Scrapes       int    `json:"scrapes"`
	FailedScrapes int    `json:"failedScrapes"`
	LastError     string `json:"lastError,omitempty"`
	// Restarts counts changes of its process start time (a replacement
	// during an upgrade is one).
	Restarts int `json:"restarts"`
	// Versions are the releases it served, in the order seen.
	Versions []string `json:"versions,omitempty"`
	// Requests, Requests429 and PeakWatches are inside the judged span.
	Requests    float64 `json:"requests"`
	Requests429 float64 `json:"requests429"`
	PeakWatches float64 `json:"peakWatches"`
	// Series are its request rate and open watches over the whole run.
	Series []Series `json:"series,omitempty"`
}

// SeriesMutatingP99Pooled is the p99 of all mutating requests pooled over
// the trailing 30 s (not the worst key over 5 minutes): short enough to
// show when latency comes back after a disruption step. Written only with
// several API servers, so a single server's output is unchanged.
const SeriesMutatingP99Pooled = "mutating-p99-30s"

// pooledWindow is the window of SeriesMutatingP99Pooled: six 5 s scrapes.
const pooledWindow = 30 * time.Second

// serverSummaries are the per-server figures inside [from, to]; o.mu is held.
func (o *apiServerMetrics) serverSummaries(from, to time.Time) []ServerScrapes {
	out := make([]ServerScrapes, 0, len(o.servers))
	for _, s := range o.servers {
		ss := ServerScrapes{
			Name: s.name, URL: s.url, Scrapes: s.attempts - s.failures, FailedScrapes: s.failures,
			LastError: s.lastErr, Restarts: s.restarts, Versions: slices.Clone(s.versions),
		}
		times := make([]time.Time, len(s.steps))
		for i, st := range s.steps {
			times[i] = st.T
		}
		if a, b, ok := stepRange(times, from, to); ok {
			for i := a; i <= b; i++ {
				ss.Requests += s.steps[i].Requests
				ss.Requests429 += s.steps[i].Throttled
				ss.PeakWatches = math.Max(ss.PeakWatches, s.steps[i].Watches)
			}
		}
		rate := Series{Name: SeriesRequestRate, Unit: UnitPerSec}
		watches := Series{Name: SeriesWatches, Unit: UnitCount}
		for i, st := range s.steps {
			watches.Points = append(watches.Points, Point{T: st.T, V: st.Watches})
			if i == 0 {
				continue
			}
			if dt := st.T.Sub(s.steps[i-1].T).Seconds(); dt > 0 {
				rate.Points = append(rate.Points, Point{T: st.T, V: st.Requests / dt})
			}
		}
		ss.Series = []Series{rate, watches}
		out = append(out, ss)
	}
	return out
}

// pooledMutatingSeries is SeriesMutatingP99Pooled over the whole run. Keys
// laid out unlike the first mutating key are left out rather than mixed.
func (o *apiServerMetrics) pooledMutatingSeries() Series {
	s := Series{Name: SeriesMutatingP99Pooled, Unit: UnitSeconds}
	n := len(o.requests.steps)
	if n < 2 {
		return s
	}
	o.requests.slide(1, n-1, pooledWindow, false, func(_ int, _, end time.Time, sums map[int32][]float64) {
		var bounds, pooled []float64
		for id, cum := range sums {
			if categoryOf(o.requests.keys[id]) != CategoryMutating {
				continue
			}
			if bounds == nil {
				bounds, pooled = o.requests.bounds[id], make([]float64, len(cum))
			}
			if !sameBounds(bounds, o.requests.bounds[id]) || len(cum) != len(pooled) {
				continue
			}
			for i, c := range cum {
				pooled[i] += c
			}
		}
		if bounds == nil {
			return
		}
		if p := histogramQuantile(0.99, bounds, pooled); !math.IsNaN(p) {
			s.Points = append(s.Points, Point{T: end, V: p})
		}
	})
	return s
}

// putServers copies the per-server figures into r.APIServers.
func putServers(r *results.Result, servers []ServerScrapes) {
	for _, s := range servers {
		in := instanceOf(r, s.Name, s.URL)
		in.Requests, in.Throttled, in.WatchesPeak = s.Requests, s.Requests429, s.PeakWatches
		in.Versions, in.Restarts = s.Versions, s.Restarts
	}
}

// instanceOf finds (or appends) the API server named name in r.APIServers;
// apiserver-metrics and availability each fill their own fields.
func instanceOf(r *results.Result, name, url string) *results.APIServerInstance {
	for i := range r.APIServers {
		if r.APIServers[i].Name == name {
			if r.APIServers[i].URL == "" {
				r.APIServers[i].URL = url
			}
			return &r.APIServers[i]
		}
	}
	r.APIServers = append(r.APIServers, results.APIServerInstance{Name: name, URL: url})
	return &r.APIServers[len(r.APIServers)-1]
}
