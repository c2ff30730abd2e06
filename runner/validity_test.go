package runner

import (
	"encoding/json"
	"runtime/metrics"
	"strings"
	"testing"

	"github.com/churn-dev/churn/observers"
	"github.com/churn-dev/churn/results"
)

func withObserver(t *testing.T, r *results.Result, name string, v any) {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	if r.Observers == nil {
		r.Observers = map[string]json.RawMessage{}
	}
	r.Observers[name] = b
}

func checkNamed(t *testing.T, v *results.Validity, name string) results.ValidityCheck {
	t.Helper()
	for _, c := range v.Checks {
		if c.Name == name {
			return c
		}
	}
	t.Fatalf("no check %s in %+v", name, v.Checks)
	return results.ValidityCheck{}
}

func TestJudgeValidityKeptUp(t *testing.T) {
	r := &results.Result{Churn: &results.ChurnSummary{Planned: 10, LagP99Seconds: 12, OwnLagP99Seconds: 0.004}}
	withObserver(t, r, observers.PodStartupName, observers.PodStartupSummary{
		Churn: observers.StartupStats{Kubelet: observers.Quantiles{Count: 100, P99: 3}}})
	withObserver(t, r, observers.WatchPropagationName, observers.WatchPropagationSummary{
		Delay: observers.Quantiles{Count: 50, P99: 1.5}})
	v := judgeValidity(r, 0.002, true, nil, runQueueWait{})
	if !v.Valid || len(v.Behind()) != 0 {
		t.Fatalf("valid %v behind %v, want valid: %+v", v.Valid, v.Behind(), v.Checks)
	}
	// 3 s scheduled-to-Ready, 1.5 s of it the API server's watch delay.
	if c := checkNamed(t, v, CheckKWOKPodReady); c.Value != 1.5 || c.Status != results.ValidityOK {
		t.Errorf("kwok check %+v, want 1.5 s ok", c)
	}
	// A 12 s lag that was all waiting on the API server is not churn's.
	if c := checkNamed(t, v, CheckChurnLag); c.Value != 0.004 || c.Status != results.ValidityOK {
		t.Errorf("churn lag check %+v", c)
	}

	r.Verdict = results.Verdict{Passed: false, Breached: []string{"mutating-p99"}, Summary: "FAIL: 1 of 11"}
	r.Validity = v
	applyVerdictQualifiers(r)
	if r.Verdict.Inconclusive || r.Verdict.Summary != "FAIL: 1 of 11" {
		t.Errorf("a kept-up simulator changed the verdict: %+v", r.Verdict)
	}
}

func TestJudgeValidityBehindMakesTheRunInconclusive(t *testing.T) {
	r := &results.Result{Churn: &results.ChurnSummary{Planned: 10, OwnLagP99Seconds: 2.5}}
	withObserver(t, r, observers.PodStartupName, observers.PodStartupSummary{
		Churn: observers.StartupStats{Kubelet: observers.Quantiles{Count: 100, P99: 14}}})
	v := judgeValidity(r, 0.4, true, nil, runQueueWait{})
	behind := strings.Join(v.Behind(), ",")
	if v.Valid || behind != CheckKWOKPodReady+","+CheckChurnLag+","+CheckChurnSched {
		t.Fatalf("behind %q valid %v", behind, v.Valid)
	}
	if c := checkNamed(t, v, CheckKWOKPodReady); !strings.Contains(c.Reason, "no watch delay") || c.Value != 14 {
		t.Errorf("kwok check without watch-propagation: %+v", c)
	}

	r.Validity = v
	r.Verdict = results.Verdict{Passed: true, Summary: "PASS: all 11 judged SLOs held"}
	r.Install = &results.Install{Mesh: "cilium", SettleTimeoutSeconds: 300,
		Conditions: []results.SettleCondition{{Name: "CiliumEndpoints", Want: 50000, Have: 7410}}}
	applyVerdictQualifiers(r)
	vd := r.Verdict
	if !vd.Inconclusive || vd.Passed || len(vd.Behind) != 3 {
		t.Fatalf("verdict %+v, want inconclusive and not passed", vd)
	}
	for _, want := range []string{"INCONCLUSIVE", "kwok-pod-ready-lag-p99 14s > 2s", "PASS: all 11", "did not settle in 5m0s", "CiliumEndpoints 7410/50000"} {
		if !strings.Contains(vd.Summary, want) {
			t.Errorf("summary %q lacks %q", vd.Summary, want)
		}
	}
	if len(vd.Notes) != 1 {
		t.Errorf("notes %v, want the unsettled mesh", vd.Notes)
	}
}

func TestJudgeValiditySkipsWhatWasNotMeasured(t *testing.T) {
	v := judgeValidity(&results.Result{}, 0, false, nil, runQueueWait{})
	if !v.Valid {
		t.Fatalf("nothing measured must not make a run inconclusive: %+v", v.Checks)
	}
	for _, c := range v.Checks {
		if c.Status != results.ValiditySkipped || c.Reason == "" {
			t.Errorf("%s: status %s reason %q, want skipped with a reason", c.Name, c.Status, c.Reason)
		}
	}
}

func TestHistDiffQuantile(t *testing.T) {
	buckets := []float64{0, 0.001, 0.01, 0.1, 1}
	a := &metrics.Float64Histogram{Buckets: buckets, Counts: []uint64{5, 5, 0, 0}}
	b := &metrics.Float64Histogram{Buckets: buckets, Counts: []uint64{5, 103, 0, 2}}
	// Beyond a: 98 observations in [1ms, 10ms) and 2 in [0.1s, 1s).
	if got, ok := histDiffQuantile(a, b, 0.5); !ok || got != 0.01 {
		t.Errorf("p50 %v %v, want 0.01", got, ok)
	}
	if got, ok := histDiffQuantile(a, b, 0.99); !ok || got != 1 {
		t.Errorf("p99 %v %v, want 1", got, ok)
	}
	if _, ok := histDiffQuantile(a, a, 0.99); ok {
		t.Error("no new observations must not give a quantile")
	}
	if s := schedSnapshot(); s == nil || len(s.Buckets) != len(s.Counts)+1 {
		t.Errorf("runtime %s unreadable: %+v", schedLatencyMetric, s)
	}
}
