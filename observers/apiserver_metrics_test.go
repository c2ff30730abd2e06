package observers

import (
	"bytes"
	"context"
	"fmt"
	"math"
	"net/http"
	"net/http/httptest"
	"reflect"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
	"go.uber.org/zap/zaptest"
	"k8s.io/client-go/rest"
	clocktesting "k8s.io/utils/clock/testing"

	"github.com/churn-dev/churn/profiles"
	"github.com/churn-dev/churn/results"
)

// metricsText renders a small kube-apiserver /metrics body. The PATCH
// deployments series is split over two versions to check they are summed.
func metricsText(patch [4]int, patchV2 [4]int, listInf int, codes map[string]int, startTime float64, cpu float64) string {
	var b strings.Builder
	b.WriteString("# HELP apiserver_request_duration_seconds x\n# TYPE apiserver_request_duration_seconds histogram\n")
	hist := func(lbls string, c [4]int) {
		for i, le := range []string{"0.1", "0.5", "1", "+Inf"} {
			fmt.Fprintf(&b, "apiserver_request_duration_seconds_bucket{%s,le=%q} %d\n", lbls, le, c[i])
		}
		fmt.Fprintf(&b, "apiserver_request_duration_seconds_sum{%s} 1\n", lbls)
		fmt.Fprintf(&b, "apiserver_request_duration_seconds_count{%s} %d\n", lbls, c[3])
	}
	hist(`component="apiserver",dry_run="",group="apps",resource="deployments",scope="resource",subresource="",verb="PATCH",version="v1"`, patch)
	hist(`component="apiserver",dry_run="",group="apps",resource="deployments",scope="resource",subresource="",verb="PATCH",version="v2"`, patchV2)
	// Excluded: WATCH and the log subresource, however slow.
	hist(`component="apiserver",dry_run="",group="",resource="pods",scope="cluster",subresource="",verb="WATCH",version="v1"`, [4]int{0, 0, 0, 1000 + listInf})
	hist(`component="apiserver",dry_run="",group="",resource="pods",scope="resource",subresource="log",verb="GET",version="v1"`, [4]int{0, 0, 0, 1000 + listInf})
	// Everything in +Inf: the quantile is the highest finite bound.
	hist(`component="apiserver",dry_run="",group="",resource="pods",scope="cluster",subresource="",verb="LIST",version="v1"`, [4]int{0, 0, 0, listInf})
	b.WriteString("# TYPE apiserver_request_total counter\n")
	for code, n := range codes {
		fmt.Fprintf(&b, "apiserver_request_total{code=%q,resource=\"pods\",verb=\"GET\"} %d\n", code, n)
	}
	// Health checks of a starting server are not API errors.
	fmt.Fprintf(&b, "apiserver_request_total{code=\"500\",resource=\"\",subresource=\"/readyz\",verb=\"GET\"} %d\n", 1000+listInf)
	b.WriteString("# TYPE apiserver_longrunning_requests gauge\n")
	b.WriteString(`apiserver_longrunning_requests{resource="pods",verb="WATCH"} 40` + "\n")
	b.WriteString(`apiserver_longrunning_requests{resource="nodes",verb="WATCH"} 2` + "\n")
	b.WriteString(`apiserver_longrunning_requests{resource="pods",verb="CONNECT"} 7` + "\n")
	b.WriteString("# TYPE apiserver_flowcontrol_current_executing_requests gauge\n")
	b.WriteString(`apiserver_flowcontrol_current_executing_requests{priority_level="workload-low"} 3` + "\n")
	b.WriteString(`apiserver_flowcontrol_current_executing_requests{priority_level="global-default"} 2` + "\n")
	b.WriteString("# TYPE apiserver_current_inflight_requests gauge\n")
	b.WriteString(`apiserver_current_inflight_requests{request_kind="mutating"} 99` + "\n")
	b.WriteString("# TYPE process_resident_memory_bytes gauge\nprocess_resident_memory_bytes 1e+09\n")
	fmt.Fprintf(&b, "# TYPE process_cpu_seconds_total counter\nprocess_cpu_seconds_total %g\n", cpu)
	fmt.Fprintf(&b, "# TYPE process_start_time_seconds gauge\nprocess_start_time_seconds %g\n", startTime)
	return b.String()
}

func mustParse(t *testing.T, text string, at time.Time) *scrape {
	t.Helper()
	sc, err := parseMetrics([]byte(text), "text/plain; version=0.0.4; charset=utf-8", at)
	if err != nil {
		t.Fatal(err)
	}
	return sc
}

func near(a, b float64) bool { return math.Abs(a-b) < 1e-9 }

func TestParseMetricsGauges(t *testing.T) {
	sc := mustParse(t, metricsText([4]int{1, 2, 3, 4}, [4]int{}, 0, map[string]int{"200": 5}, 1, 2), time.Unix(0, 0))
	if sc.Watches != 42 {
		t.Errorf("open watches = %v, want 42 (WATCH only)", sc.Watches)
	}
	if sc.Inflight != 5 {
		t.Errorf("inflight = %v, want 5 (APF executing preferred over the legacy gauge)", sc.Inflight)
	}
	if sc.RSS != 1e9 || sc.CPUSeconds != 2 || sc.StartTime != 1 {
		t.Errorf("process metrics = %v %v %v", sc.RSS, sc.CPUSeconds, sc.StartTime)
	}
	for k := range sc.Requests {
		if k.Verb == "WATCH" || k.Subresource == "log" {
			t.Errorf("excluded series kept: %s", k)
		}
	}
	if len(sc.Requests) != 2 {
		t.Errorf("kept %d request keys, want 2 (versions merged): %v", len(sc.Requests), sc.Requests)
	}
}

// Hand-computed: between the scrapes PATCH deployments got 100 requests
// (cumulative bucket deltas 50, 90, 100, 100 over le 0.1, 0.5, 1, +Inf):
//
//	p50: rank 50 in the first bucket  -> 0   + 0.1 * 50/50       = 0.1
//	p90: rank 90 in (0.1, 0.5]        -> 0.1 + 0.4 * (90-50)/40  = 0.5
//	p99: rank 99 in (0.5, 1]          -> 0.5 + 0.5 * (99-90)/10  = 0.95
//
// LIST pods (cluster) got 10 requests, all above 1 s -> p99 = 1 (highest
// finite bound). Requests: 1000 more, of which 20 x 429 and 10 x 5xx = 3%.
func TestQuantilesFromTwoScrapes(t *testing.T) {
	t0 := time.Date(2026, 1, 1, 10, 0, 0, 0, time.UTC)
	o := testAPIMetrics(t)
	o.record(mustParse(t, metricsText([4]int{6, 12, 18, 18}, [4]int{4, 8, 12, 12}, 5,
		map[string]int{"200": 1000, "429": 0, "500": 1}, 100, 10), t0), "text", nil)
	// Deltas: v1 +30,+54,+60,+60 and v2 +20,+36,+40,+40 = 50, 90, 100, 100.
	o.record(mustParse(t, metricsText([4]int{36, 66, 78, 78}, [4]int{24, 44, 52, 52}, 15,
		map[string]int{"200": 1970, "429": 20, "500": 11}, 100, 40), t0.Add(time.Minute)), "text", nil)

	s := o.summary([]results.Phase{{Name: ChurnPhase, Start: t0, End: t0.Add(time.Minute)}})
	patch := findKey(t, s.Keys, "PATCH", "deployments")
	if !near(patch.P50, 0.1) || !near(patch.P90, 0.5) || !near(patch.P99, 0.95) {
		t.Errorf("PATCH deployments p50/p90/p99 = %v/%v/%v, want 0.1/0.5/0.95", patch.P50, patch.P90, patch.P99)
	}
	if patch.Count != 100 || patch.Category != CategoryMutating {
		t.Errorf("PATCH count %v category %q, want 100 mutating", patch.Count, patch.Category)
	}
	if !patch.WindowStart.Equal(t0) || !patch.WindowEnd.Equal(t0.Add(time.Minute)) {
		t.Errorf("window = %s..%s, want the two scrapes", patch.WindowStart, patch.WindowEnd)
	}
	list := findKey(t, s.Keys, "LIST", "pods")
	if list.P99 != 1 || list.Category != CategoryReadCluster || list.Count != 10 {
		t.Errorf("LIST pods = %+v, want p99 1 (highest finite bound), read-cluster, 10", list)
	}
	if s.Requests != 1000 || s.Requests429 != 20 || s.Requests5xx != 10 || !near(s.ErrorRatio, 0.03) {
		t.Errorf("requests %v 429 %v 5xx %v ratio %v, want 1000 20 10 0.03", s.Requests, s.Requests429, s.Requests5xx, s.ErrorRatio)
	}
	if s.CPUSeconds != 30 {
		t.Errorf("apiserver CPU seconds = %v, want 30", s.CPUSeconds)
	}
	cpu := FindSeries(s.Series, SeriesAPIServerCPU)
	if cpu == nil || len(cpu.Points) != 1 || !near(cpu.Points[0].V, 0.5) {
		t.Errorf("cpu series = %+v, want one point of 0.5 cores", cpu)
	}
	mut := FindSeries(s.Series, SeriesMutatingP99)
	if mut == nil || len(mut.Points) != 1 || !near(mut.Points[0].V, 0.95) {
		t.Errorf("mutating p99 series = %+v, want one point of 0.95", mut)
	}
}

// After a restart the counters start from zero: the third scrape's counts
// are the increase, not a negative delta.
func TestRestartCountsFromZero(t *testing.T) {
	t0 := time.Date(2026, 1, 1, 10, 0, 0, 0, time.UTC)
	o := testAPIMetrics(t)
	codes := func(n int) map[string]int { return map[string]int{"200": n} }
	o.record(mustParse(t, metricsText([4]int{100, 100, 100, 100}, [4]int{}, 0, codes(5000), 100, 10), t0), "text", nil)
	o.record(mustParse(t, metricsText([4]int{110, 110, 110, 110}, [4]int{}, 0, codes(5100), 100, 11), t0.Add(time.Minute)), "text", nil)
	// Restarted: 10 PATCHes, all in (0.5, 1].
	o.record(mustParse(t, metricsText([4]int{0, 0, 10, 10}, [4]int{}, 0, codes(300), 200, 1), t0.Add(2*time.Minute)), "text", nil)

	s := o.summary([]results.Phase{{Name: ChurnPhase, Start: t0.Add(time.Minute), End: t0.Add(2 * time.Minute)}})
	patch := findKey(t, s.Keys, "PATCH", "deployments")
	// Only the window after churn start counts: 10 requests in (0.5, 1].
	if patch.Count != 10 || !near(patch.P99, 0.5+0.5*9.9/10) {
		t.Errorf("after restart PATCH = count %v p99 %v, want 10 and 0.995", patch.Count, patch.P99)
	}
	if s.Requests != 300 || s.Restarts != 1 {
		t.Errorf("requests %v restarts %d, want 300 and 1", s.Requests, s.Restarts)
	}
}

// The worst window is found among 5-minute sliding windows: a slow minute
// early on is forgotten by windows ending more than 5 minutes later.
func TestWorstWindowSlides(t *testing.T) {
	t0 := time.Date(2026, 1, 1, 10, 0, 0, 0, time.UTC)
	o := testAPIMetrics(t)
	cum := [4]int{}
	codes := map[string]int{"200": 1}
	o.record(mustParse(t, metricsText(cum, [4]int{}, 0, codes, 1, 0), t0), "text", nil)
	for m := 1; m <= 12; m++ {
		if m == 2 {
			// One slow minute: 100 requests in (0.5, 1].
			cum = [4]int{cum[0], cum[1], cum[2] + 100, cum[3] + 100}
		} else {
			// Fast minutes: 100 requests under 0.1 s.
			cum = [4]int{cum[0] + 100, cum[1] + 100, cum[2] + 100, cum[3] + 100}
		}
		o.record(mustParse(t, metricsText(cum, [4]int{}, 0, codes, 1, 0), t0.Add(time.Duration(m)*time.Minute)), "text", nil)
	}
	s := o.summary([]results.Phase{{Name: ChurnPhase, Start: t0, End: t0.Add(12 * time.Minute)}})
	patch := findKey(t, s.Keys, "PATCH", "deployments")
	// Only whole 5-minute windows are judged. Worst: the first, minutes
	// 0..5, 400 fast + 100 slow: rank 495 of 500 lies in (0.5, 1] with 400
	// below: 0.5 + 0.5*95/100 = 0.975. The growing 2-minute window (p99
	// 0.99) is not judged.
	if !near(patch.P99, 0.975) || !patch.WindowStart.Equal(t0) || !patch.WindowEnd.Equal(t0.Add(5*time.Minute)) {
		t.Errorf("worst window p99 %v %s..%s, want 0.975 over the first five minutes", patch.P99, patch.WindowStart, patch.WindowEnd)
	}
	mut := FindSeries(s.Series, SeriesMutatingP99)
	last := mut.Points[len(mut.Points)-1]
	// The last window (minutes 7..12) holds only fast requests: p99 <= 0.1.
	if last.V > 0.1 {
		t.Errorf("last window p99 = %v, want <= 0.1 once the slow minute left the window", last.V)
	}
}

func TestHistogramQuantileEdges(t *testing.T) {
	inf := math.Inf(1)
	if v := histogramQuantile(0.99, []float64{1, inf}, []float64{0, 0}); !math.IsNaN(v) {
		t.Errorf("empty histogram = %v, want NaN", v)
	}
	if v := histogramQuantile(0.5, []float64{1, 2, inf}, []float64{0, 10, 10}); !near(v, 1.5) {
		t.Errorf("p50 of 10 in (1,2] = %v, want 1.5", v)
	}
}

func findKey(t *testing.T, keys []KeyLatency, verb, resource string) KeyLatency {
	t.Helper()
	for _, k := range keys {
		if k.Verb == verb && k.Resource == resource {
			return k
		}
	}
	t.Fatalf("no %s %s in %+v", verb, resource, keys)
	return KeyLatency{}
}

func testAPIMetrics(t *testing.T) *apiServerMetrics {
	t.Helper()
	o, err := newAPIServerMetrics(profiles.ObserverSpec{Name: APIServerMetricsName})
	if err != nil {
		t.Fatal(err)
	}
	a := o.(*apiServerMetrics)
	a.env = Env{Logger: zaptest.NewLogger(t), Clock: clocktesting.NewFakeClock(time.Unix(0, 0))}
	return a
}

// The whole path: Start scrapes a served /metrics through a rest.Config,
// ticks of a fake clock drive further scrapes, Summarize writes JSON that
// GetObserver reads back.
func TestAPIServerMetricsEndToEnd(t *testing.T) {
	var n atomic.Int32
	var accept atomic.Value
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/metrics" {
			http.NotFound(w, r)
			return
		}
		accept.Store(r.Header.Get("Accept"))
		i := int(n.Add(1))
		w.Header().Set("Content-Type", "text/plain; version=0.0.4")
		fmt.Fprint(w, metricsText([4]int{10 * i, 10 * i, 10 * i, 10 * i}, [4]int{}, 0, map[string]int{"200": 100 * i}, 1, float64(i)))
	}))
	defer srv.Close()
	clk := clocktesting.NewFakeClock(time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC))
	o, err := New(profiles.ObserverSpec{Name: APIServerMetricsName})
	if err != nil {
		t.Fatal(err)
	}
	env := Env{Config: &rest.Config{Host: srv.URL}, Clock: clk, Logger: zaptest.NewLogger(t), RunID: "t"}
	ctx := context.Background()
	if err := o.Start(ctx, env); err != nil {
		t.Fatal(err)
	}
	waitFor(t, func() bool { return clk.HasWaiters() })
	for i := 0; i < 3; i++ {
		want := n.Load() + 1
		clk.Step(5 * time.Second)
		waitFor(t, func() bool { return n.Load() >= want })
	}
	clk.Step(5 * time.Second)
	if err := o.Stop(ctx); err != nil {
		t.Fatal(err)
	}
	r := &results.Result{}
	if err := o.Summarize(r); err != nil {
		t.Fatal(err)
	}
	var s APIServerSummary
	if found, err := GetObserver(r, APIServerMetricsName, &s); !found || err != nil {
		t.Fatalf("summary found=%v err=%v", found, err)
	}
	if s.Scrapes < 4 || s.FailedScrapes != 0 {
		t.Errorf("scrapes %d failed %d, want >= 4 and 0", s.Scrapes, s.FailedScrapes)
	}
	if !strings.Contains(accept.Load().(string), "application/vnd.google.protobuf") {
		t.Errorf("Accept = %q, want protobuf preferred", accept.Load())
	}
	if s.Judged.Label != "whole run (no churn phase recorded)" {
		t.Errorf("judged = %q", s.Judged.Label)
	}
	if rate := FindSeries(s.Series, SeriesRequestRate); rate == nil || len(rate.Points) == 0 {
		t.Error("no request rate series")
	}
}

// protoDelimited re-encodes a text body as the length-delimited protobuf
// that churn asks kube-apiserver for.
func protoDelimited(t testing.TB, text string) []byte {
	t.Helper()
	parser := expfmt.NewTextParser(model.UTF8Validation)
	families, err := parser.TextToMetricFamilies(strings.NewReader(text))
	if err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	enc := expfmt.NewEncoder(&buf, expfmt.NewFormat(expfmt.TypeProtoDelim))
	for _, mf := range families {
		if err := enc.Encode(mf); err != nil {
			t.Fatal(err)
		}
	}
	return buf.Bytes()
}

// The protobuf path skips families churn does not read without decoding
// them, and yields what the text path does.
func TestParseMetricsProtobufSkipsOtherFamilies(t *testing.T) {
	text := metricsText([4]int{1, 2, 3, 4}, [4]int{5, 6, 7, 8}, 3, map[string]int{"200": 5, "429": 2}, 1, 2) +
		"# TYPE apiserver_watch_events_sizes histogram\n" +
		`apiserver_watch_events_sizes_bucket{resource="pods",le="+Inf"} 9` + "\n" +
		`apiserver_watch_events_sizes_sum{resource="pods"} 9` + "\n" +
		`apiserver_watch_events_sizes_count{resource="pods"} 9` + "\n" +
		"# TYPE workqueue_depth gauge\nworkqueue_depth{name=\"x\"} 4\n"
	want := mustParse(t, text, time.Unix(0, 0))
	got, err := parseMetrics(protoDelimited(t, text), string(expfmt.NewFormat(expfmt.TypeProtoDelim)), time.Unix(0, 0))
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("protobuf scrape differs from text scrape:\n got %+v\nwant %+v", got, want)
	}
	if got.Seen["workqueue_depth"] || got.Seen["apiserver_watch_events_sizes"] {
		t.Errorf("unread families marked seen: %v", got.Seen)
	}
}

func TestParseMetricsProtobufRejectsTruncatedBody(t *testing.T) {
	body := protoDelimited(t, metricsText([4]int{1, 2, 3, 4}, [4]int{}, 0, nil, 1, 2))
	_, err := parseMetrics(body[:len(body)-3], string(expfmt.NewFormat(expfmt.TypeProtoDelim)), time.Unix(0, 0))
	if err == nil || !strings.Contains(err.Error(), "decode /metrics") {
		t.Fatalf("truncated body: err = %v, want a decode error", err)
	}
}

// A series whose buckets are out of order (or whose counts fall) would give
// histogramQuantile, which searches the counts, a quantile from nowhere: it
// is skipped, and well-formed series of the same scrape are kept.
func TestParseMetricsSkipsMalformedHistograms(t *testing.T) {
	text := "# TYPE apiserver_request_duration_seconds histogram\n" +
		`apiserver_request_duration_seconds_bucket{verb="GET",resource="pods",scope="resource",le="1"} 3` + "\n" +
		`apiserver_request_duration_seconds_bucket{verb="GET",resource="pods",scope="resource",le="0.5"} 2` + "\n" +
		`apiserver_request_duration_seconds_bucket{verb="GET",resource="pods",scope="resource",le="+Inf"} 4` + "\n" +
		`apiserver_request_duration_seconds_count{verb="GET",resource="pods",scope="resource"} 4` + "\n" +
		`apiserver_request_duration_seconds_bucket{verb="LIST",resource="pods",scope="cluster",le="0.5"} 5` + "\n" +
		`apiserver_request_duration_seconds_bucket{verb="LIST",resource="pods",scope="cluster",le="1"} 2` + "\n" +
		`apiserver_request_duration_seconds_count{verb="LIST",resource="pods",scope="cluster"} 5` + "\n" +
		`apiserver_request_duration_seconds_bucket{verb="POST",resource="pods",scope="resource",le="0.5"} 1` + "\n" +
		`apiserver_request_duration_seconds_bucket{verb="POST",resource="pods",scope="resource",le="1"} 2` + "\n" +
		`apiserver_request_duration_seconds_count{verb="POST",resource="pods",scope="resource"} 2` + "\n"
	sc := mustParse(t, text, time.Unix(0, 0))
	if len(sc.Requests) != 1 {
		t.Fatalf("kept %v, want only the well-formed POST series", sc.Requests)
	}
	if h, ok := sc.Requests[RequestKey{Verb: "POST", Resource: "pods", Scope: "resource"}]; !ok || len(h.upper) != 3 {
		t.Errorf("POST series = %+v", h)
	}
}
