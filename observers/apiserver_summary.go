package observers

import (
	"encoding/json"
	"fmt"
	"math"
	"sort"
	"time"

	"github.com/churn-dev/churn/results"
)

// SLO categories of API calls (sig-scalability api_call_latency.md).
const (
	CategoryMutating      = "mutating"
	CategoryReadResource  = "read-resource"
	CategoryReadNamespace = "read-namespace"
	CategoryReadCluster   = "read-cluster"
)

// Categories lists the API call SLO categories in report order.
var Categories = []string{CategoryMutating, CategoryReadResource, CategoryReadNamespace, CategoryReadCluster}

// Series names written by apiserver-metrics.
const (
	SeriesMutatingP99      = "mutating-p99"
	SeriesReadResourceP99  = "read-resource-p99"
	SeriesReadNamespaceP99 = "read-namespace-p99"
	SeriesReadClusterP99   = "read-cluster-p99"
	SeriesRequestRate      = "requests-per-second"
	Series429Rate          = "429-per-second"
	Series5xxRate          = "5xx-per-second"
	SeriesAPFRejectedRate  = "apf-rejected-per-second"
	SeriesInflight         = "inflight"
	SeriesInQueue          = "apf-inqueue"
	SeriesWatches          = "open-watches"
	SeriesWatchEventRate   = "watch-events-per-second"
	SeriesEtcdP99          = "etcd-p99"
	SeriesAPIServerRSS     = "apiserver-rss-bytes"
	SeriesAPIServerCPU     = "apiserver-cpu-cores"
)

// categorySeries maps a category to its p99 series.
var categorySeries = map[string]string{
	CategoryMutating:      SeriesMutatingP99,
	CategoryReadResource:  SeriesReadResourceP99,
	CategoryReadNamespace: SeriesReadNamespaceP99,
	CategoryReadCluster:   SeriesReadClusterP99,
}

func categoryOf(k RequestKey) string {
	switch k.Verb {
	case "POST", "PUT", "PATCH", "DELETE", "DELETECOLLECTION", "APPLY":
		return CategoryMutating
	case "GET", "LIST":
		switch k.Scope {
		case "resource":
			return CategoryReadResource
		case "namespace":
			return CategoryReadNamespace
		case "cluster":
			return CategoryReadCluster
		}
	}
	return ""
}

// APIServerSummary is what apiserver-metrics writes to
// r.Observers["apiserver-metrics"].
type APIServerSummary struct {
	Scrapes       int      `json:"scrapes"`
	FailedScrapes int      `json:"failedScrapes"`
	LastError     string   `json:"lastError,omitempty"`
	Format        string   `json:"format,omitempty"`
	Missing       []string `json:"missingMetrics,omitempty"`
	// Judged is the span the SLO figures cover; windows never reach before
	// its start (ClusterLoader2 skips the first 5 minutes of a test; churn
	// judges the churn phase instead, so setup never counts).
	Judged Span   `json:"judged"`
	Window string `json:"window"`
	// Keys is the worst 5-minute window per (verb, resource, subresource,
	// scope) inside the judged span.
	Keys []KeyLatency `json:"keys,omitempty"`
	// Request counts inside the judged span.
	Requests    float64 `json:"requests"`
	Requests429 float64 `json:"requests429"`
	Requests5xx float64 `json:"requests5xx"`
	APFRejected float64 `json:"apfRejected"`
	// ErrorRatio is (5xx + 429) / requests inside the judged span.
	ErrorRatio       float64      `json:"errorRatio"`
	WorstErrorWindow *RatioWindow `json:"worstErrorWindow,omitempty"`
	EtcdP99          *KeyLatency  `json:"etcdP99,omitempty"`
	PeakInflight     float64      `json:"peakInflight"`
	PeakInQueue      float64      `json:"peakInQueue"`
	PeakWatches      float64      `json:"peakWatches"`
	PeakRSSBytes     float64      `json:"peakRSSBytes"`
	CPUSeconds       float64      `json:"cpuSeconds"`
	Restarts         int          `json:"restarts"`
	// Install holds the same figures over the mesh's install phase
	// (phase "mesh"), when the run had one; never judged.
	Install *results.PhaseFigures `json:"install,omitempty"`
	// Servers are the API servers one by one when there are several
	// behind a load balancer; every figure above is then their sum.
	Servers []ServerScrapes `json:"servers,omitempty"`
	Series  []Series        `json:"series,omitempty"`
}

// KeyLatency is one request key's latency in its worst window.
type KeyLatency struct {
	RequestKey
	Category    string    `json:"category,omitempty"`
	Count       float64   `json:"count"`
	P50         float64   `json:"p50"`
	P90         float64   `json:"p90"`
	P99         float64   `json:"p99"`
	WindowStart time.Time `json:"windowStart"`
	WindowEnd   time.Time `json:"windowEnd"`
}

// RatioWindow is the 5-minute window with the highest error ratio.
type RatioWindow struct {
	Ratio    float64   `json:"ratio"`
	Errors   float64   `json:"errors"`
	Requests float64   `json:"requests"`
	Start    time.Time `json:"start"`
	End      time.Time `json:"end"`
}

// minRequestsForRatioWindow keeps a near-idle window (2 of 3 requests
// failed) from being reported as the worst.
const minRequestsForRatioWindow = 100

func (o *apiServerMetrics) Summarize(r *results.Result) error {
	o.mu.Lock()
	defer o.mu.Unlock()
	s := o.summary(r.Phases)
	putServers(r, s.Servers)
	return putObserver(r, o.Name(), s)
}

func (o *apiServerMetrics) summary(phases []results.Phase) APIServerSummary {
	s := APIServerSummary{
		Scrapes: o.attempts - o.failures, FailedScrapes: o.failures, LastError: o.lastErr,
		Format: o.format, Window: sloWindow.String(),
	}
	// apiserver_flowcontrol_rejected_requests_total is left out: its series
	// only appear after the first rejection.
	for _, m := range []string{mRequestTotal, mAPFInQueue, mLongRunning, mWatchEvents, mEtcdDuration, mRSS, mCPU} {
		if len(o.scalars) > 0 && !o.seen[m] {
			s.Missing = append(s.Missing, m)
		}
	}
	times := o.requests.times()
	if len(times) == 0 {
		if len(o.servers) > 0 {
			// No server ever answered: their failures still say why.
			s.Servers = o.serverSummaries(time.Time{}, time.Time{})
		}
		return s
	}
	from, to, label := judgedSpan(phases, times[0], times[len(times)-1])
	s.Judged = Span{From: from, To: to, Label: label}
	deltas := o.scalarDeltas()
	s.Restarts = countRestarts(o.scalars)
	if len(o.servers) > 0 {
		s.Servers = o.serverSummaries(from, to)
		for _, ss := range s.Servers {
			s.Restarts += ss.Restarts
		}
	}
	if a, b, ok := stepRange(times, from, to); ok {
		s.Keys = worstPerKey(o.requests, a, b, true)
		if etcd := worstPerKey(o.etcd, a, b, false); len(etcd) > 0 {
			e := etcd[0]
			e.RequestKey = RequestKey{Verb: "etcd"}
			s.EtcdP99 = &e
		}
		sums := sumSteps(deltas, a, b)
		s.Requests, s.Requests429, s.Requests5xx = sums.Requests, sums.Requests429, sums.Requests5xx
		s.APFRejected, s.CPUSeconds = sums.APFRejected, sums.APIServerCPUSeconds
		for i := a; i <= b; i++ {
			g := o.scalars[i]
			s.PeakInflight = math.Max(s.PeakInflight, g.Inflight)
			s.PeakInQueue = math.Max(s.PeakInQueue, g.APFInQueue)
			s.PeakWatches = math.Max(s.PeakWatches, g.Watches)
			s.PeakRSSBytes = math.Max(s.PeakRSSBytes, g.RSS)
		}
		if s.Requests > 0 {
			s.ErrorRatio = (s.Requests429 + s.Requests5xx) / s.Requests
		}
		s.WorstErrorWindow = worstErrorWindow(o.scalars, deltas, a, b)
	}
	if p, ok := phaseNamed(phases, InstallPhase); ok {
		if a, b, ok := stepRange(times, p.Start, p.End); ok {
			s.Install = o.phaseFigures(deltas, a, b)
		}
	}
	s.Series = o.series(deltas)
	if len(o.servers) > 0 {
		s.Series = append(s.Series, o.pooledMutatingSeries())
	}
	return s
}

// InstallPhase is the phase the mesh installs and settles in.
const InstallPhase = "mesh"

func phaseNamed(phases []results.Phase, name string) (results.Phase, bool) {
	for _, p := range phases {
		if p.Name == name && !p.Start.IsZero() && !p.End.IsZero() {
			return p, true
		}
	}
	return results.Phase{}, false
}

// phaseFigures are the worst p99 per SLO category and the request and CPU
// counts over steps [a, b].
func (o *apiServerMetrics) phaseFigures(deltas []scalarStep, a, b int) *results.PhaseFigures {
	f := &results.PhaseFigures{}
	seen := map[string]bool{}
	// worstPerKey sorts by category, then p99 descending: the first key of
	// each category is its worst.
	for _, k := range worstPerKey(o.requests, a, b, true) {
		if seen[k.Category] {
			continue
		}
		seen[k.Category] = true
		f.PeakP99 = append(f.PeakP99, results.CategoryP99{Category: k.Category, Key: k.RequestKey.String(), P99: k.P99})
	}
	sums := sumSteps(deltas, a, b)
	sums.PeakP99 = f.PeakP99
	return &sums
}

// sumSteps adds up the request counts and CPU of steps [a, b].
func sumSteps(deltas []scalarStep, a, b int) results.PhaseFigures {
	var f results.PhaseFigures
	for i := a; i <= b; i++ {
		d := deltas[i]
		f.Requests += d.RequestsTotal
		f.Requests429 += d.Requests429
		f.Requests5xx += d.Requests5xx
		f.APFRejected += d.APFRejected
		f.APIServerCPUSeconds += d.CPUSeconds
	}
	return f
}

// worstPerKey returns, per series key, the window in steps [a, b] with the
// highest p99, sorted by category then p99 descending. With
// onlyCategorised, keys outside the SLO categories are dropped.
func worstPerKey(st *histStore, a, b int, onlyCategorised bool) []KeyLatency {
	worst := map[int32]*KeyLatency{}
	counts := map[int32]float64{}
	for i := a; i <= b && i < len(st.steps); i++ {
		for _, d := range st.steps[i].deltas {
			counts[d.id] += float64(d.counts[len(d.counts)-1])
		}
	}
	st.slide(a, b, sloWindow, true, func(_ int, start, end time.Time, sums map[int32][]float64) {
		for id, cum := range sums {
			k := st.keys[id]
			cat := categoryOf(k)
			if onlyCategorised && cat == "" {
				continue
			}
			p99 := histogramQuantile(0.99, st.bounds[id], cum)
			if math.IsNaN(p99) {
				continue
			}
			if w := worst[id]; w != nil && w.P99 >= p99 {
				continue
			}
			worst[id] = &KeyLatency{
				RequestKey: k, Category: cat, Count: counts[id],
				P50:         finite(histogramQuantile(0.50, st.bounds[id], cum)),
				P90:         finite(histogramQuantile(0.90, st.bounds[id], cum)),
				P99:         p99,
				WindowStart: start, WindowEnd: end,
			}
		}
	})
	out := make([]KeyLatency, 0, len(worst))
	for _, w := range worst {
		out = append(out, *w)
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].Category != out[j].Category {
			return out[i].Category < out[j].Category
		}
		if out[i].P99 != out[j].P99 {
			return out[i].P99 > out[j].P99
		}
		return out[i].RequestKey.String() < out[j].RequestKey.String()
	})
	return out
}

// scalarDeltas turns cumulative counters into per-scrape increases; a
// restart (or any decrease) counts from zero. Gauges are left as read.
func (o *apiServerMetrics) scalarDeltas() []scalarStep {
	out := make([]scalarStep, len(o.scalars))
	for i, cur := range o.scalars {
		if i == 0 {
			out[i] = scalarStep{T: cur.T}
			continue
		}
		prev := o.scalars[i-1]
		restarted := cur.StartTime != prev.StartTime
		inc := func(c, p float64) float64 {
			if restarted || c < p {
				return c
			}
			return c - p
		}
		out[i] = scalarStep{
			T:             cur.T,
			RequestsTotal: inc(cur.RequestsTotal, prev.RequestsTotal),
			Requests429:   inc(cur.Requests429, prev.Requests429),
			Requests5xx:   inc(cur.Requests5xx, prev.Requests5xx),
			APFRejected:   inc(cur.APFRejected, prev.APFRejected),
			WatchEvents:   inc(cur.WatchEvents, prev.WatchEvents),
			CPUSeconds:    inc(cur.CPUSeconds, prev.CPUSeconds),
		}
	}
	return out
}

func countRestarts(steps []scalarStep) int {
	n := 0
	for i := 1; i < len(steps); i++ {
		if steps[i].StartTime != steps[i-1].StartTime {
			n++
		}
	}
	return n
}

func worstErrorWindow(gauges, deltas []scalarStep, a, b int) *RatioWindow {
	var best *RatioWindow
	var reqs, errs float64
	l := a
	for j := a; j <= b; j++ {
		reqs += deltas[j].RequestsTotal
		errs += deltas[j].Requests429 + deltas[j].Requests5xx
		cut := gauges[j].T.Add(-sloWindow)
		for l < j && !gauges[l].T.After(cut) {
			reqs -= deltas[l].RequestsTotal
			errs -= deltas[l].Requests429 + deltas[l].Requests5xx
			l++
		}
		if reqs < minRequestsForRatioWindow {
			continue
		}
		ratio := errs / reqs
		if best == nil || ratio > best.Ratio {
			start := gauges[l].T
			if l > 0 {
				start = gauges[l-1].T
			}
			best = &RatioWindow{Ratio: ratio, Errors: errs, Requests: reqs, Start: start, End: gauges[j].T}
		}
	}
	return best
}

// series builds the report's time series over the whole run: per category
// the p99 of its worst key over the trailing 5 minutes, rates per second
// between scrapes, and gauges as read.
func (o *apiServerMetrics) series(deltas []scalarStep) []Series {
	cat := map[string]*Series{}
	var out []Series
	for _, c := range Categories {
		cat[c] = &Series{Name: categorySeries[c], Unit: UnitSeconds}
	}
	etcd := Series{Name: SeriesEtcdP99, Unit: UnitSeconds}
	n := len(o.requests.steps)
	if n > 1 {
		o.requests.slide(1, n-1, sloWindow, false, func(_ int, _, end time.Time, sums map[int32][]float64) {
			worst := map[string]float64{}
			for id, cum := range sums {
				c := categoryOf(o.requests.keys[id])
				if c == "" {
					continue
				}
				if p := histogramQuantile(0.99, o.requests.bounds[id], cum); !math.IsNaN(p) && p > worst[c] {
					worst[c] = p
				}
			}
			for c, v := range worst {
				cat[c].Points = append(cat[c].Points, Point{T: end, V: v})
			}
		})
	}
	if m := len(o.etcd.steps); m > 1 {
		o.etcd.slide(1, m-1, sloWindow, false, func(_ int, _, end time.Time, sums map[int32][]float64) {
			for id, cum := range sums {
				if p := histogramQuantile(0.99, o.etcd.bounds[id], cum); !math.IsNaN(p) {
					etcd.Points = append(etcd.Points, Point{T: end, V: p})
				}
			}
		})
	}
	for _, c := range Categories {
		out = append(out, *cat[c])
	}
	out = append(out, etcd)
	rate := func(name string, f func(scalarStep) float64) Series {
		s := Series{Name: name, Unit: UnitPerSec}
		for i := 1; i < len(deltas); i++ {
			dt := deltas[i].T.Sub(o.scalars[i-1].T).Seconds()
			if dt > 0 {
				s.Points = append(s.Points, Point{T: deltas[i].T, V: f(deltas[i]) / dt})
			}
		}
		return s
	}
	gauge := func(name, unit string, f func(scalarStep) float64) Series {
		s := Series{Name: name, Unit: unit}
		for _, g := range o.scalars {
			s.Points = append(s.Points, Point{T: g.T, V: f(g)})
		}
		return s
	}
	cpu := rate(SeriesAPIServerCPU, func(d scalarStep) float64 { return d.CPUSeconds })
	cpu.Unit = UnitCores
	out = append(out,
		rate(SeriesRequestRate, func(d scalarStep) float64 { return d.RequestsTotal }),
		rate(Series429Rate, func(d scalarStep) float64 { return d.Requests429 }),
		rate(Series5xxRate, func(d scalarStep) float64 { return d.Requests5xx }),
		rate(SeriesAPFRejectedRate, func(d scalarStep) float64 { return d.APFRejected }),
		rate(SeriesWatchEventRate, func(d scalarStep) float64 { return d.WatchEvents }),
		gauge(SeriesInflight, UnitCount, func(g scalarStep) float64 { return g.Inflight }),
		gauge(SeriesInQueue, UnitCount, func(g scalarStep) float64 { return g.APFInQueue }),
		gauge(SeriesWatches, UnitCount, func(g scalarStep) float64 { return g.Watches }),
		gauge(SeriesAPIServerRSS, UnitBytes, func(g scalarStep) float64 { return g.RSS }),
		cpu,
	)
	return out
}

// putObserver stores an observer's summary as JSON in r.Observers.
func putObserver(r *results.Result, name string, v any) error {
	b, err := json.Marshal(v)
	if err != nil {
		return fmt.Errorf("encode %s summary: %w", name, err)
	}
	if r.Observers == nil {
		r.Observers = map[string]json.RawMessage{}
	}
	r.Observers[name] = b
	return nil
}

// GetObserver decodes an observer's summary from r.Observers into v;
// found is false when the observer did not run.
func GetObserver(r *results.Result, name string, v any) (found bool, err error) {
	raw, ok := r.Observers[name]
	if !ok || len(raw) == 0 {
		return false, nil
	}
	if err := json.Unmarshal(raw, v); err != nil {
		return true, fmt.Errorf("decode %s summary: %w", name, err)
	}
	return true, nil
}
