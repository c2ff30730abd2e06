package report

import (
	"encoding/json"
	"fmt"
	"math"
	"testing"
	"time"

	"github.com/churn-dev/churn/observers"
	"github.com/churn-dev/churn/profiles"
	"github.com/churn-dev/churn/results"
)

// syntheticResult is a 30-minute run: 5 minutes of setup, 25 of churn, an
// API server crash at 15:00 for 12 s, and every observer's summary.
func syntheticResult(t *testing.T) *results.Result {
	t.Helper()
	t0 := time.Date(2026, 3, 1, 9, 0, 0, 0, time.UTC)
	at := func(d time.Duration) time.Time { return t0.Add(d) }
	churnStart, end := at(5*time.Minute), at(30*time.Minute)
	crash := at(15 * time.Minute)
	r := &results.Result{
		SchemaVersion: results.SchemaVersion, RunID: "20260301-0900-test",
		Profile: profiles.Profile{Name: "smoke"}, Seed: 7,
		Target: results.Target{Kind: "local", Server: "https://127.0.0.1:6443", KubernetesVersion: "v1.37.2"},
		Mesh:   "cilium",
		Phases: []results.Phase{{Name: "setup", Start: t0, End: churnStart}, {Name: observers.ChurnPhase, Start: churnStart, End: end}},
		Setup:  &results.SetupSummary{Nodes: 100, Namespaces: 10, Deployments: 10, TargetPods: 1000, RampSeconds: 240, PodsPerSec: 4.2},
		Churn:  &results.ChurnSummary{},
		MeshStats: &results.MeshSummary{Name: "cilium", Components: []results.ComponentSummary{
			{Name: "cilium-agent", Replicas: 100}, {Name: "cilium-operator", Replicas: 2}}},
	}
	every := func(step time.Duration, f func(time.Duration) float64) []observers.Point {
		var pts []observers.Point
		for d := step; d <= 30*time.Minute; d += step {
			if at(d).After(crash) && at(d).Before(crash.Add(12*time.Second)) {
				continue
			}
			pts = append(pts, observers.Point{T: at(d), V: f(d)})
		}
		return pts
	}
	wave := func(base, amp float64) func(time.Duration) float64 {
		return func(d time.Duration) float64 { return base + amp*(1+math.Sin(d.Minutes()/3)) }
	}
	spike := func(base, peak float64) func(time.Duration) float64 {
		return func(d time.Duration) float64 {
			if d > 15*time.Minute && d < 20*time.Minute {
				return peak
			}
			return base
		}
	}
	s5 := 5 * time.Second
	api := observers.APIServerSummary{
		Scrapes: 360, FailedScrapes: 3, Restarts: 1, Format: "protobuf", Window: "5m0s",
		Judged:   observers.Span{From: churnStart, To: end, Label: "churn phase"},
		Requests: 90000, Requests429: 120, Requests5xx: 30, ErrorRatio: 150.0 / 90000,
		PeakWatches: 420, PeakInflight: 35, PeakRSSBytes: 900 << 20,
		Keys: []observers.KeyLatency{
			{RequestKey: observers.RequestKey{Verb: "PUT", Group: "apps", Resource: "deployments", Subresource: "scale", Scope: "resource"},
				Category: observers.CategoryMutating, Count: 1500, P50: 0.02, P90: 0.3, P99: 1.4, WindowStart: at(14 * time.Minute), WindowEnd: at(19 * time.Minute)},
			{RequestKey: observers.RequestKey{Verb: "GET", Resource: "pods", Scope: "resource"},
				Category: observers.CategoryReadResource, Count: 800, P50: 0.01, P90: 0.05, P99: 0.2, WindowStart: churnStart, WindowEnd: at(10 * time.Minute)},
			{RequestKey: observers.RequestKey{Verb: "LIST", Resource: "pods", Scope: "cluster"},
				Category: observers.CategoryReadCluster, Count: 90, P50: 0.5, P90: 1.2, P99: 3.5, WindowStart: at(15 * time.Minute), WindowEnd: at(20 * time.Minute)},
		},
		Series: []observers.Series{
			{Name: observers.SeriesMutatingP99, Unit: observers.UnitSeconds, Points: every(s5, spike(0.08, 1.4))},
			{Name: observers.SeriesReadResourceP99, Unit: observers.UnitSeconds, Points: every(s5, wave(0.02, 0.02))},
			{Name: observers.SeriesReadNamespaceP99, Unit: observers.UnitSeconds, Points: every(s5, wave(0.05, 0.05))},
			{Name: observers.SeriesReadClusterP99, Unit: observers.UnitSeconds, Points: every(s5, spike(0.4, 3.5))},
			{Name: observers.SeriesEtcdP99, Unit: observers.UnitSeconds, Points: every(s5, wave(0.01, 0.01))},
			{Name: observers.Series429Rate, Unit: observers.UnitPerSec, Points: every(s5, spike(0, 0.4))},
			{Name: observers.Series5xxRate, Unit: observers.UnitPerSec, Points: every(s5, spike(0, 0.1))},
			{Name: observers.SeriesAPFRejectedRate, Unit: observers.UnitPerSec, Points: every(s5, spike(0, 0.3))},
			{Name: observers.SeriesRequestRate, Unit: observers.UnitPerSec, Points: every(s5, wave(50, 10))},
			{Name: observers.SeriesWatchEventRate, Unit: observers.UnitPerSec, Points: every(s5, wave(300, 100))},
			{Name: observers.SeriesInflight, Unit: observers.UnitCount, Points: every(s5, wave(5, 10))},
			{Name: observers.SeriesInQueue, Unit: observers.UnitCount, Points: every(s5, spike(0, 8))},
			{Name: observers.SeriesWatches, Unit: observers.UnitCount, Points: every(s5, wave(380, 20))},
		},
	}
	probes := observers.ProbesSummary{Judged: api.Judged}
	categories := []string{observers.CategoryReadResource, observers.CategoryReadNamespace, observers.CategoryReadCluster, observers.CategoryMutating, observers.CategoryMutating}
	for i, p := range []string{observers.ProbeGet, observers.ProbeListNamespace, observers.ProbeListCluster, observers.ProbeCreate, observers.ProbeDelete} {
		probes.Probes = append(probes.Probes, observers.ProbeStats{Probe: p, Category: categories[i], Calls: 1800,
			Errors: map[string]int{observers.ErrorRefused: 12}, Judged: observers.Quantiles{Count: 1500, P50: 0.01, P99: 0.2, Max: 2}, WorstP99: 0.4})
		probes.Series = append(probes.Series, observers.Series{Name: "probe-" + p, Unit: observers.UnitSeconds,
			Points: every(10*time.Second, wave(0.005*float64(i+1), 0.01))})
	}
	watch := observers.WatchPropagationSummary{Writes: 1800, Received: 1790, Lost: 10,
		Delay:  observers.Quantiles{Count: 1500, P50: 0.004, P99: 0.05, Max: 0.3},
		Series: []observers.Series{{Name: observers.SeriesWatchDelay, Unit: observers.UnitSeconds, Points: every(10*time.Second, wave(0.003, 0.01))}}}
	pods := observers.PodStartupSummary{Judged: api.Judged,
		Churn: observers.StartupStats{Observed: observers.Quantiles{Count: 4000, P50: 1.1, P99: 3.8, Max: 9}},
		Series: []observers.Series{
			{Name: observers.SeriesPodStartupP50, Unit: observers.UnitSeconds, Points: every(30*time.Second, wave(1, 0.2))},
			{Name: observers.SeriesPodStartupP99, Unit: observers.UnitSeconds, Points: every(30*time.Second, spike(2, 6))},
		}}
	procs := observers.ProcessesSummary{Interval: "2s"}
	for _, p := range []struct {
		name      string
		cpu, rss  float64
		role      string
		cpuSecond float64
	}{{"churn", 0.1, 80 << 20, observers.RoleTester, 150}, {"kube-apiserver", 0.9, 1.2 * (1 << 30), observers.RoleControlPlane, 1500},
		{"etcd", 0.3, 300 << 20, observers.RoleControlPlane, 500}} {
		procs.Series = append(procs.Series,
			observers.Series{Name: observers.SeriesCPUPrefix + p.name, Unit: observers.UnitCores, Points: every(2*time.Second, wave(p.cpu, p.cpu/2))},
			observers.Series{Name: observers.SeriesRSSPrefix + p.name, Unit: observers.UnitBytes, Points: every(2*time.Second, wave(p.rss, p.rss/4))})
		r.Processes = append(r.Processes, results.ProcessUsage{Name: p.name, Role: p.role, CPUSeconds: p.cpuSecond,
			PeakRSS: int64(p.rss * 1.5), AvgCores: p.cpuSecond / 1800, PeakCores: p.cpu * 2, PIDs: []int{100}})
	}
	for name, v := range map[string]any{observers.APIServerMetricsName: api, observers.ProbesName: probes,
		observers.WatchPropagationName: watch, observers.PodStartupName: pods, observers.ProcessesName: procs} {
		b, err := json.Marshal(v)
		if err != nil {
			t.Fatal(err)
		}
		if r.Observers == nil {
			r.Observers = map[string]json.RawMessage{}
		}
		r.Observers[name] = b
	}
	r.Availability = &results.Availability{Checks: 1800, FailedChecks: 12, DowntimeSeconds: 12, LongestSeconds: 12,
		Outages: []results.Outage{{Start: crash, End: crash.Add(12 * time.Second), DurationSeconds: 12, Failed: []string{"readyz", "livez"},
			FirstError: `Get "https://127.0.0.1:6443/readyz": dial tcp 127.0.0.1:6443: connect: connection refused`}},
		Events: []results.ProcessEvent{
			{Time: crash, Name: "kube-apiserver", Kind: "oom-killed", ExitCode: 137, Detail: "RSS above the 1.5GiB cap"},
			{Time: crash.Add(time.Second), Name: "kube-apiserver", Kind: "restarted", Detail: "new pid 200"}}}
	for i := 0; i < 1500; i++ {
		s := churnStart.Add(time.Duration(i) * time.Second)
		lag := 5 * time.Millisecond
		if s.After(crash) && s.Before(crash.Add(30*time.Second)) {
			lag = 8 * time.Second
		}
		a := results.Action{Seq: i, Kind: "scale", Target: fmt.Sprintf("ns-%d/app", i%10), Scheduled: s, Start: s.Add(lag),
			End: s.Add(lag + 40*time.Millisecond), From: 100, To: 90 + i%20}
		if s.After(crash) && s.Before(crash.Add(12*time.Second)) {
			a.Error = "connection refused"
		}
		r.Churn.Actions = append(r.Churn.Actions, a)
	}
	r.Churn.Planned, r.Churn.Succeeded, r.Churn.Failed = 1500, 1488, 12
	slos, err := observers.Evaluate(r, nil)
	if err != nil {
		t.Fatal(err)
	}
	r.SLOs, r.Verdict = slos, observers.Verdict(slos)
	return r
}
