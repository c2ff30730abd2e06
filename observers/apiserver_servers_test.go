package observers

import (
	"context"
	"encoding/json"
	"fmt"
	"math"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"go.uber.org/zap/zaptest"
	"k8s.io/client-go/rest"
	clocktesting "k8s.io/utils/clock/testing"

	"github.com/churn-dev/churn/profiles"
	"github.com/churn-dev/churn/results"
)

// testServersMetrics is apiserver-metrics set up for servers named names,
// fed by recordServers directly.
func testServersMetrics(t *testing.T, names ...string) *apiServerMetrics {
	t.Helper()
	o := testAPIMetrics(t)
	for _, n := range names {
		o.servers = append(o.servers, &serverScrape{name: n, url: "https://" + n})
	}
	o.merged = &mergedCounters{requests: map[RequestKey]histogram{}}
	return o
}

func ok(sc *scrape) serverFetch { return serverFetch{sc: sc, format: "text"} }

// Two servers; the first is replaced between the second and third rounds
// (its start time changes and its counters start again from zero). The
// merged figures are the sum of each server's own increases: nothing
// negative, nothing counted twice.
func TestServersMergeCountsPerServerDeltas(t *testing.T) {
	t0 := time.Date(2026, 1, 1, 10, 0, 0, 0, time.UTC)
	o := testServersMetrics(t, "kube-apiserver", "kube-apiserver-2")
	codes := func(ok, throttled int) map[string]int { return map[string]int{"200": ok, "429": throttled} }
	at := func(m int) time.Time { return t0.Add(time.Duration(m) * time.Minute) }
	// Round 0: baselines, whatever the servers counted before.
	o.recordServers([]serverFetch{
		ok(mustParse(t, metricsText([4]int{100, 100, 100, 100}, [4]int{}, 0, codes(5000, 0), 100, 10), at(0))),
		ok(mustParse(t, metricsText([4]int{50, 50, 50, 50}, [4]int{}, 0, codes(2000, 7), 100, 5), at(0))),
	})
	// Round 1: +10 fast PATCHes and +100 requests on the first; +20 fast
	// PATCHes, +100 requests of which 10 x 429 on the second.
	o.recordServers([]serverFetch{
		ok(mustParse(t, metricsText([4]int{110, 110, 110, 110}, [4]int{}, 0, codes(5100, 0), 100, 11), at(1))),
		ok(mustParse(t, metricsText([4]int{70, 70, 70, 70}, [4]int{}, 0, codes(2090, 17), 100, 7), at(1))),
	})
	// Round 2: the first was replaced: 10 slow PATCHes, 300 requests since
	// its start. The second: +10 fast PATCHes, +100 requests.
	o.recordServers([]serverFetch{
		ok(mustParse(t, metricsText([4]int{0, 0, 10, 10}, [4]int{}, 0, codes(300, 0), 200, 1), at(2))),
		ok(mustParse(t, metricsText([4]int{80, 80, 80, 80}, [4]int{}, 0, codes(2190, 17), 100, 8), at(2))),
	})

	s := o.summary([]results.Phase{{Name: ChurnPhase, Start: at(0), End: at(2)}})
	patch := findKey(t, s.Keys, "PATCH", "deployments")
	if patch.Count != 50 {
		t.Errorf("PATCH count = %v, want 10+20+10+10 = 50", patch.Count)
	}
	// 40 fast, 10 in (0.5, 1]: rank 49.5 lies in (0.5, 1] with 40 below.
	if want := 0.5 + 0.5*9.5/10; !near(patch.P99, want) {
		t.Errorf("PATCH p99 = %v, want %v", patch.P99, want)
	}
	if s.Requests != 600 || s.Requests429 != 10 {
		t.Errorf("requests %v 429 %v, want 100+100+300+100 = 600 and 10", s.Requests, s.Requests429)
	}
	if s.CPUSeconds != 1+2+1+1 {
		t.Errorf("CPU seconds = %v, want 5", s.CPUSeconds)
	}
	if s.Restarts != 1 {
		t.Errorf("restarts = %d, want 1", s.Restarts)
	}
	if s.PeakWatches != 84 || s.PeakInflight != 10 {
		t.Errorf("peak watches %v inflight %v, want 42+42 and 5+5", s.PeakWatches, s.PeakInflight)
	}
	rate := FindSeries(s.Series, SeriesRequestRate)
	for _, p := range rate.Points {
		if p.V < 0 {
			t.Errorf("negative request rate %v at %s", p.V, p.T)
		}
	}
	if len(rate.Points) != 2 || !near(rate.Points[1].V, 400.0/60) {
		t.Errorf("request rate = %+v, want 2 points, the second 400/60", rate.Points)
	}
	if len(s.Servers) != 2 {
		t.Fatalf("servers = %+v, want 2", s.Servers)
	}
	a, b := s.Servers[0], s.Servers[1]
	if a.Name != "kube-apiserver" || a.Requests != 400 || a.Requests429 != 0 || a.Restarts != 1 || a.PeakWatches != 42 {
		t.Errorf("first server = %+v, want 400 requests, 0 x 429, 1 restart, 42 watches", a)
	}
	if b.Requests != 200 || b.Requests429 != 10 || b.Restarts != 0 {
		t.Errorf("second server = %+v, want 200 requests, 10 x 429, no restart", b)
	}
	pooled := FindSeries(s.Series, SeriesMutatingP99Pooled)
	if pooled == nil || len(pooled.Points) != 2 {
		t.Fatalf("pooled mutating series = %+v, want 2 points", pooled)
	}
	// The last 30 s window holds round 2 only: 10 slow and 10 fast.
	if want := 0.5 + 0.5*(19.8-10)/10; !near(pooled.Points[1].V, want) {
		t.Errorf("pooled p99 at the end = %v, want %v", pooled.Points[1].V, want)
	}

	r := &results.Result{Phases: []results.Phase{{Name: ChurnPhase, Start: at(0), End: at(2)}}}
	if err := o.Summarize(r); err != nil {
		t.Fatal(err)
	}
	if len(r.APIServers) != 2 || r.APIServers[0].Requests != 400 || r.APIServers[1].Throttled != 10 || r.APIServers[0].Restarts != 1 {
		t.Errorf("r.APIServers = %+v", r.APIServers)
	}
}

// A server that does not answer a round (being replaced) adds no gauges
// that round; its next answer's increases cover the round it missed.
func TestServersMissedRound(t *testing.T) {
	t0 := time.Date(2026, 1, 1, 10, 0, 0, 0, time.UTC)
	o := testServersMetrics(t, "a", "b")
	at := func(m int) time.Time { return t0.Add(time.Duration(m) * time.Minute) }
	body := func(n int) string {
		return metricsText([4]int{n, n, n, n}, [4]int{}, 0, map[string]int{"200": 10 * n}, 100, 0)
	}
	down := serverFetch{err: fmt.Errorf("connection refused")}
	o.recordServers([]serverFetch{ok(mustParse(t, body(10), at(0))), ok(mustParse(t, body(10), at(0)))})
	o.recordServers([]serverFetch{ok(mustParse(t, body(20), at(1))), down})
	o.recordServers([]serverFetch{ok(mustParse(t, body(30), at(2))), ok(mustParse(t, body(30), at(2)))})
	s := o.summary([]results.Phase{{Name: ChurnPhase, Start: at(0), End: at(2)}})
	if s.Requests != 200+200 || s.Scrapes != 5 || s.FailedScrapes != 1 {
		t.Errorf("requests %v scrapes %d failed %d, want 400, 5, 1", s.Requests, s.Scrapes, s.FailedScrapes)
	}
	watches := FindSeries(s.Series, SeriesWatches)
	if got := []float64{watches.Points[0].V, watches.Points[1].V, watches.Points[2].V}; got[0] != 84 || got[1] != 42 || got[2] != 84 {
		t.Errorf("open watches = %v, want 84 42 84", got)
	}
	if b := s.Servers[1]; b.FailedScrapes != 1 || b.LastError == "" || b.Requests != 200 {
		t.Errorf("server b = %+v, want 1 failed scrape with its error and 200 requests", b)
	}
}

// A server whose first answer comes after the first round and whose
// process started after it counts everything it served; one that was
// already up is a baseline.
func TestServersLateServer(t *testing.T) {
	t0 := time.Date(2026, 1, 1, 10, 0, 0, 0, time.UTC)
	o := testServersMetrics(t, "a", "b", "c")
	at := func(m int) time.Time { return t0.Add(time.Duration(m) * time.Minute) }
	body := func(n int, start time.Time) string {
		return metricsText([4]int{n, n, n, n}, [4]int{}, 0, map[string]int{"200": n}, float64(start.Unix()), 0)
	}
	down := serverFetch{err: fmt.Errorf("connection refused")}
	o.recordServers([]serverFetch{ok(mustParse(t, body(10, t0.Add(-time.Hour)), at(0))), down, down})
	o.recordServers([]serverFetch{
		ok(mustParse(t, body(20, t0.Add(-time.Hour)), at(1))),
		ok(mustParse(t, body(5, at(0).Add(30*time.Second)), at(1))), // started during the run
		ok(mustParse(t, body(1000, t0.Add(-time.Hour)), at(1))),     // was up, unreachable at first
	})
	s := o.summary(nil)
	if s.Requests != 10+5 {
		t.Errorf("requests = %v, want 10 (a) + 5 (b since its start) + 0 (c's baseline)", s.Requests)
	}
}

func TestRebucketOntoFirstLayout(t *testing.T) {
	inf := math.Inf(1)
	// Counts at 0.05, 0.1, 0.5, 2, +Inf onto 0.1, 1, +Inf.
	got := rebucket([]float64{0.05, 0.1, 0.5, 2, inf}, []float64{1, 3, 6, 8, 9}, []float64{0.1, 1, inf})
	if want := []float64{3, 6, 9}; fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("rebucket = %v, want %v", got, want)
	}
	acc := histogram{upper: []float64{0.1, 1, inf}, counts: []float64{1, 1, 1}}
	sum := addInto(acc, []float64{0.5, inf}, []float64{2, 4})
	if fmt.Sprint(sum.counts) != "[1 3 5]" || fmt.Sprint(acc.counts) != "[1 1 1]" {
		t.Errorf("addInto = %v (acc now %v), want [1 3 5] and acc untouched", sum.counts, acc.counts)
	}
}

// The whole path with two served /metrics: each server is scraped at its
// own address with the run's credentials, the second is replaced after two
// scrapes (counters reset, a new release), and the per-server figures
// reach r.APIServers.
func TestAPIServerMetricsTwoServersEndToEnd(t *testing.T) {
	var lbHits atomic.Int32
	lb := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		lbHits.Add(1)
		http.Error(w, "the load balancer must not be scraped", http.StatusTeapot)
	}))
	defer lb.Close()
	serve := func(second bool, n *atomic.Int32) *httptest.Server {
		return httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if r.URL.Path != "/metrics" || r.Header.Get("Authorization") != "Bearer t0ken" {
				http.Error(w, "no", http.StatusUnauthorized)
				return
			}
			i := int(n.Add(1))
			start, version, c := 100.0, "v1.36.3", i
			if second && i > 2 {
				start, version, c = 200, "v1.37.2", i-2
			}
			w.Header().Set("Content-Type", "text/plain; version=0.0.4")
			fmt.Fprint(w, metricsText([4]int{10 * c, 10 * c, 10 * c, 10 * c}, [4]int{}, 0, map[string]int{"200": 100 * c}, start, float64(c)))
			fmt.Fprintf(w, "# TYPE kubernetes_build_info gauge\nkubernetes_build_info{git_version=%q,major=\"1\"} 1\n", version)
		}))
	}
	var n1, n2 atomic.Int32
	s1, s2 := serve(false, &n1), serve(true, &n2)
	defer s1.Close()
	defer s2.Close()

	clk := clocktesting.NewFakeClock(time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC))
	o, err := New(profiles.ObserverSpec{Name: APIServerMetricsName})
	if err != nil {
		t.Fatal(err)
	}
	env := Env{
		Config: &rest.Config{Host: lb.URL, BearerToken: "t0ken"}, Clock: clk, Logger: zaptest.NewLogger(t), RunID: "t",
		APIServers: []APIServerEndpoint{{Name: "kube-apiserver", URL: s1.URL}, {Name: "kube-apiserver-2", URL: s2.URL}},
	}
	ctx := context.Background()
	if err := o.Start(ctx, env); err != nil {
		t.Fatal(err)
	}
	waitFor(t, func() bool { return clk.HasWaiters() })
	// Each round is recorded before the clock moves on, so every scrape of
	// a round is stamped with the round's instant.
	m := o.(*apiServerMetrics)
	for i := 0; i < 3; i++ {
		clk.Step(5 * time.Second)
		waitFor(t, func() bool {
			m.mu.Lock()
			defer m.mu.Unlock()
			return m.attempts == 2*(i+2)
		})
	}
	if err := o.Stop(ctx); err != nil {
		t.Fatal(err)
	}
	r := &results.Result{}
	if err := o.Summarize(r); err != nil {
		t.Fatal(err)
	}
	if lbHits.Load() != 0 {
		t.Errorf("the load balancer was scraped %d times", lbHits.Load())
	}
	var s APIServerSummary
	if found, err := GetObserver(r, APIServerMetricsName, &s); !found || err != nil {
		t.Fatalf("summary found=%v err=%v", found, err)
	}
	if s.FailedScrapes != 0 || len(s.Servers) != 2 {
		t.Fatalf("failed %d (%s), servers %+v", s.FailedScrapes, s.LastError, s.Servers)
	}
	if len(r.APIServers) != 2 {
		t.Fatalf("r.APIServers = %+v", r.APIServers)
	}
	first, second := r.APIServers[0], r.APIServers[1]
	if first.Restarts != 0 || strings.Join(first.Versions, ",") != "v1.36.3" {
		t.Errorf("first server = %+v, want no restart, v1.36.3", first)
	}
	if second.Restarts != 1 || strings.Join(second.Versions, ",") != "v1.36.3,v1.37.2" {
		t.Errorf("second server = %+v, want 1 restart, v1.36.3 then v1.37.2", second)
	}
	// The baseline and three ticks (Stop's scrape falls on the last tick's
	// instant and adds nothing); each tick adds 100 requests per server:
	// the replaced server's first scrape counts from zero (100), not 300.
	if want := float64(100 * 2 * 3); s.Requests != want || first.Requests != want/2 || second.Requests != want/2 {
		t.Errorf("requests %v (per server %v + %v), want %v", s.Requests, first.Requests, second.Requests, want)
	}
	b, err := json.Marshal(r.APIServers)
	if err != nil || !strings.Contains(string(b), `"versions":["v1.36.3","v1.37.2"]`) {
		t.Errorf("APIServers JSON = %s (%v)", b, err)
	}
}

// With one API server nothing of the per-server path shows: no servers,
// no pooled series, no r.APIServers.
func TestOneServerWritesNoPerServerFigures(t *testing.T) {
	t0 := time.Date(2026, 1, 1, 10, 0, 0, 0, time.UTC)
	o := testAPIMetrics(t)
	o.record(mustParse(t, metricsText([4]int{1, 1, 1, 1}, [4]int{}, 0, map[string]int{"200": 1}, 100, 1), t0), "text", nil)
	o.record(mustParse(t, metricsText([4]int{9, 9, 9, 9}, [4]int{}, 0, map[string]int{"200": 9}, 100, 2), t0.Add(time.Minute)), "text", nil)
	r := &results.Result{}
	if err := o.Summarize(r); err != nil {
		t.Fatal(err)
	}
	raw := string(r.Observers[APIServerMetricsName])
	if strings.Contains(raw, `"servers"`) || strings.Contains(raw, SeriesMutatingP99Pooled) || r.APIServers != nil {
		t.Errorf("one API server wrote per-server figures: %s %+v", raw, r.APIServers)
	}
}
