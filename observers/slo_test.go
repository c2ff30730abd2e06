package observers

import (
	"math"
	"strings"
	"testing"
	"time"

	"github.com/churn-dev/churn/profiles"
	"github.com/churn-dev/churn/results"
)

// syntheticResult has every observer's summary with known values.
func syntheticResult(t *testing.T) *results.Result {
	t.Helper()
	t0 := time.Date(2026, 1, 1, 12, 0, 0, 0, time.UTC)
	r := &results.Result{Phases: []results.Phase{{Name: ChurnPhase, Start: t0, End: t0.Add(10 * time.Minute)}}}
	api := APIServerSummary{
		Scrapes: 100, Judged: Span{From: t0, To: t0.Add(10 * time.Minute), Label: "churn phase"},
		Keys: []KeyLatency{
			{RequestKey: RequestKey{Verb: "PATCH", Group: "apps", Resource: "deployments", Scope: "resource"}, Category: CategoryMutating, Count: 600, P99: 0.4, WindowStart: t0, WindowEnd: t0.Add(5 * time.Minute)},
			{RequestKey: RequestKey{Verb: "POST", Resource: "pods", Scope: "namespace"}, Category: CategoryMutating, Count: 900, P99: 0.2},
			{RequestKey: RequestKey{Verb: "GET", Resource: "pods", Scope: "resource"}, Category: CategoryReadResource, Count: 50, P99: 0.05},
			{RequestKey: RequestKey{Verb: "LIST", Resource: "pods", Scope: "namespace"}, Category: CategoryReadNamespace, Count: 50, P99: 2},
			{RequestKey: RequestKey{Verb: "LIST", Resource: "pods", Scope: "cluster"}, Category: CategoryReadCluster, Count: 5, P99: 12},
		},
		Requests: 10000, Requests429: 30, Requests5xx: 20, ErrorRatio: 0.005,
	}
	probes := ProbesSummary{Judged: api.Judged, Probes: []ProbeStats{
		{Probe: ProbeGet, Category: CategoryReadResource, Judged: Quantiles{Count: 600}, WorstP99: 0.03},
		{Probe: ProbeListNamespace, Category: CategoryReadNamespace, Judged: Quantiles{Count: 600}, WorstP99: 0.04},
		{Probe: ProbeListCluster, Category: CategoryReadCluster, Judged: Quantiles{Count: 600}, WorstP99: 0.3},
		{Probe: ProbeCreate, Category: CategoryMutating, Judged: Quantiles{Count: 600}, WorstP99: 0.08},
		{Probe: ProbeDelete, Category: CategoryMutating, Judged: Quantiles{Count: 600}, WorstP99: 0.09},
	}}
	pods := PodStartupSummary{Judged: api.Judged, Churn: StartupStats{Observed: Quantiles{Count: 300, P99: 2.5, Max: 3}}}
	for name, v := range map[string]any{APIServerMetricsName: api, ProbesName: probes, PodStartupName: pods} {
		if err := putObserver(r, name, v); err != nil {
			t.Fatal(err)
		}
	}
	r.Availability = &results.Availability{Checks: 600, Outages: []results.Outage{
		{Start: t0.Add(time.Minute), End: t0.Add(time.Minute + 4*time.Second), DurationSeconds: 4},
	}, LongestSeconds: 4, DowntimeSeconds: 4}
	return r
}

func sloMap(slos []results.SLOResult) map[string]results.SLOResult {
	m := map[string]results.SLOResult{}
	for _, s := range slos {
		m[s.Name] = s
	}
	return m
}

func TestEvaluateDefaultsPass(t *testing.T) {
	r := syntheticResult(t)
	slos, err := Evaluate(r, nil)
	if err != nil {
		t.Fatal(err)
	}
	if len(slos) != len(sloDefs) {
		t.Fatalf("%d SLOs, want %d", len(slos), len(sloDefs))
	}
	for _, s := range slos {
		if s.Status != results.SLOPassed || !s.Passed {
			t.Errorf("%s: %s (%s), want passed", s.Name, s.Status, s.Reason)
		}
	}
	m := sloMap(slos)
	mut := m[SLOMutatingP99]
	if mut.Value != 0.4 || mut.Measured != "400ms" || mut.Threshold != "1s" || !strings.Contains(mut.Worst, "PATCH apps/deployments") {
		t.Errorf("mutating-p99 = %+v, want 400ms worst on PATCH apps/deployments", mut)
	}
	if mut.WorstWindowEnd.IsZero() {
		t.Error("mutating-p99 has no worst window")
	}
	if e := m[SLOErrorRatio]; e.Measured != "0.50%" || e.Threshold != "1%" {
		t.Errorf("error-ratio measured %q threshold %q", e.Measured, e.Threshold)
	}
	if o := m[SLOMaxOutage]; o.Value != 4 || o.WorstWindowStart.IsZero() {
		t.Errorf("max-outage = %+v", o)
	}
	v := Verdict(slos)
	if !v.Passed || len(v.Breached) != 0 || !strings.HasPrefix(v.Summary, "PASS") {
		t.Errorf("verdict = %+v, want pass", v)
	}
}

// A breached threshold fails the verdict and names the SLO; the profile
// sets one threshold and --slo another, --slo winning over the profile.
func TestEvaluateBreachFromOverrides(t *testing.T) {
	r := syntheticResult(t)
	r.Profile = profiles.Profile{SLOs: map[string]string{SLOReadClusterP99: "10s", SLOMutatingP99: "5s"}}
	flags, err := ParseSLOFlags([]string{"mutating-p99=300ms", "error-ratio=0.1%", "pod-startup-p99=off"})
	if err != nil {
		t.Fatal(err)
	}
	slos, err := Evaluate(r, flags)
	if err != nil {
		t.Fatal(err)
	}
	m := sloMap(slos)
	mut := m[SLOMutatingP99]
	if mut.Passed || mut.Status != results.SLOBreached || mut.Limit != 0.3 {
		t.Errorf("mutating-p99 = %+v, want breached at 300ms", mut)
	}
	if len(mut.Breaches) != 1 || !strings.Contains(mut.Breaches[0], "PATCH apps/deployments") {
		t.Errorf("breaches = %v, want only PATCH deployments (POST pods is 200ms)", mut.Breaches)
	}
	if c := m[SLOReadClusterP99]; c.Passed || c.Limit != 10 {
		t.Errorf("read-cluster-p99 = %+v, want breached at the profile's 10s", c)
	}
	if e := m[SLOErrorRatio]; e.Passed || e.Limit != 0.001 {
		t.Errorf("error-ratio = %+v, want breached at 0.1%%", e)
	}
	if p := m[SLOPodStartupP99]; p.Status != results.SLODisabled || !p.Passed {
		t.Errorf("pod-startup-p99 = %+v, want disabled", p)
	}
	v := Verdict(slos)
	want := []string{SLOMutatingP99, SLOReadClusterP99, SLOErrorRatio}
	if v.Passed || strings.Join(v.Breached, ",") != strings.Join(want, ",") {
		t.Errorf("verdict = %+v, want failed naming %v", v, want)
	}
	if !strings.Contains(v.Summary, "mutating-p99") {
		t.Errorf("summary %q does not name the breach", v.Summary)
	}
}

// Missing signals are skipped with a reason, never passed.
func TestEvaluateSkipsWithoutData(t *testing.T) {
	r := &results.Result{}
	slos, err := Evaluate(r, nil)
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range slos {
		if s.Status != results.SLOSkipped || s.Passed || s.Reason == "" || s.Measured != "no data" {
			t.Errorf("%s = %+v, want skipped with a reason", s.Name, s)
		}
	}
	v := Verdict(slos)
	if !strings.Contains(v.Summary, "no data, not judged") || !strings.Contains(v.Summary, "no SLO judged") {
		t.Errorf("summary %q hides the missing data", v.Summary)
	}
}

func TestOverrideErrors(t *testing.T) {
	bad := []struct {
		flags []string
		want  string
	}{
		{[]string{"mutating-p99"}, "want name=value"},
		{[]string{"mutatin-p99=1s"}, `unknown SLO "mutatin-p99"`},
		{[]string{"mutating-p99=fast"}, "mutating-p99"},
		{[]string{"error-ratio=150%"}, "error-ratio"},
		{[]string{"error-ratio=1s"}, "error-ratio"},
		{[]string{"max-outage=-1s"}, "max-outage"},
	}
	for _, b := range bad {
		_, err := ParseSLOFlags(b.flags)
		if err == nil || !strings.Contains(err.Error(), b.want) {
			t.Errorf("ParseSLOFlags(%v) = %v, want error containing %q", b.flags, err, b.want)
		}
	}
	r := &results.Result{Profile: profiles.Profile{SLOs: map[string]string{"nope": "1s"}}}
	if _, err := Evaluate(r, nil); err == nil || !strings.Contains(err.Error(), `"nope"`) {
		t.Errorf("Evaluate with unknown profile SLO = %v", err)
	}
	// A value just over the limit must not read as equal to it.
	r = syntheticResult(t)
	r.Availability.LongestSeconds = 10.0004
	slos, err := Evaluate(r, nil)
	if err != nil {
		t.Fatal(err)
	}
	if m := sloMap(slos)[SLOMaxOutage]; m.Passed || m.Measured != "10.0004s" {
		t.Errorf("max-outage of 10.0004s = %q passed=%v, want breached and shown as 10.0004s", m.Measured, m.Passed)
	}
	ok, err := ParseSLOFlags([]string{"error-ratio=0.5", "max-outage=0s", "read-cluster-p99=1m"})
	if err != nil || ok["read-cluster-p99"] != "1m" {
		t.Errorf("valid flags rejected: %v", err)
	}
}

func TestRegistry(t *testing.T) {
	for _, n := range Names() {
		if !Known(n) {
			t.Errorf("%s not known", n)
		}
		if _, err := New(profiles.ObserverSpec{Name: n}); err != nil {
			t.Errorf("New(%s): %v", n, err)
		}
	}
	_, err := New(profiles.ObserverSpec{Name: "prometheus"})
	if err == nil || !strings.Contains(err.Error(), `"prometheus"`) || !strings.Contains(err.Error(), "apiserver-metrics") {
		t.Errorf("unknown observer error = %v, want it to name the observer and the known ones", err)
	}
	_, err = New(profiles.ObserverSpec{Name: ProbesName, Settings: map[string]string{"timeuot": "1s"}})
	if err == nil || !strings.Contains(err.Error(), "timeuot") {
		t.Errorf("unknown setting error = %v", err)
	}
	_, err = New(profiles.ObserverSpec{Name: ProbesName, Settings: map[string]string{"timeout": "soon"}})
	if err == nil || !strings.Contains(err.Error(), "timeout") {
		t.Errorf("bad setting error = %v", err)
	}
	_, err = NewSet([]profiles.ObserverSpec{{Name: ProbesName}, {Name: ProbesName}})
	if err == nil || !IsObserverError(err) {
		t.Errorf("duplicate observer error = %v, want an ObserverError", err)
	}
}

// The largest duration --slo accepts is shown as itself, not wrapped to a
// negative one by the float conversion.
func TestFormatSecondsAtTheLargestDuration(t *testing.T) {
	max := time.Duration(math.MaxInt64)
	if got, want := FormatSeconds(max.Seconds()), max.Round(time.Second).String(); got != want {
		t.Errorf("FormatSeconds(max) = %q, want %q", got, want)
	}
	if got := FormatSeconds(3 * 3600); got != "3h0m0s" {
		t.Errorf("FormatSeconds(3h) = %q", got)
	}
}

// Churn that added replicas while no pod became Ready is a breach of the
// start-up SLO, not a skip: a control plane that creates no pod would
// otherwise pass by having nothing to measure.
func TestPodStartupBreachedWhenScaleUpsStartNoPod(t *testing.T) {
	r := syntheticResult(t)
	var api APIServerSummary
	if _, err := GetObserver(r, APIServerMetricsName, &api); err != nil {
		t.Fatal(err)
	}
	end := api.Judged.To
	if err := putObserver(r, PodStartupName, PodStartupSummary{Judged: api.Judged}); err != nil {
		t.Fatal(err)
	}
	scale := func(from, to int, ended time.Time, result string) results.Action {
		return results.Action{Kind: results.ActionScale, From: from, To: to, End: ended, Result: result}
	}
	for _, c := range []struct {
		name    string
		actions []results.Action
		status  string
		value   float64
	}{
		{"scale-ups", []results.Action{
			scale(50, 48, end.Add(-50*time.Second), results.ResultOK),
			scale(48, 55, end.Add(-40*time.Second), results.ResultOK),
			scale(55, 60, end.Add(-10*time.Second), results.ResultOK),
			scale(10, 90, end.Add(-55*time.Second), "error"),
		}, results.SLOBreached, 40},
		{"only scale-downs", []results.Action{scale(50, 48, end.Add(-50*time.Second), results.ResultOK)}, results.SLOSkipped, 0},
		{"no churn", nil, results.SLOSkipped, 0},
	} {
		r.Churn = &results.ChurnSummary{Actions: c.actions}
		slos, err := Evaluate(r, nil)
		if err != nil {
			t.Fatal(err)
		}
		got := sloMap(slos)[SLOPodStartupP99]
		if got.Status != c.status || got.Value != c.value {
			t.Errorf("%s: pod-startup = %s %v (%s), want %s %v", c.name, got.Status, got.Value, got.Reason, c.status, c.value)
		}
		if c.status == results.SLOBreached && !strings.Contains(got.Reason, "added 12 replicas") {
			t.Errorf("%s: reason %q does not say what was expected", c.name, got.Reason)
		}
	}
}
