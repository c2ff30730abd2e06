package cli

import (
	"context"
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"

	"go.uber.org/zap/zaptest"

	"github.com/churn-dev/churn/report"
	"github.com/churn-dev/churn/results"
)

// inconclusive marks r as a run whose churn engine fell behind, as the
// runner records it.
func inconclusive(r *results.Result) *results.Result {
	r.Validity = &results.Validity{Valid: false, Checks: []results.ValidityCheck{
		{Name: "kwok-pod-ready-lag-p99", Threshold: "2s", Measured: "400ms", Value: 0.4, Limit: 2, Status: results.ValidityOK},
		{Name: "churn-lag-p99", Threshold: "1s", Measured: "3.2s", Value: 3.2, Limit: 1, Status: results.ValidityBehind},
	}}
	r.Verdict.Inconclusive, r.Verdict.Behind, r.Verdict.Passed = true, []string{"churn-lag-p99"}, false
	r.Verdict.Summary = "INCONCLUSIVE: the simulator fell behind (churn-lag-p99 3.2s > 1s); SLOs: " + r.Verdict.Summary
	return r
}

// withInstall gives r a cilium install phase that settled after 42 s.
func withInstall(r *results.Result, settled bool) *results.Result {
	t0 := time.Date(2026, 3, 1, 9, 0, 0, 0, time.UTC)
	r.Mesh = "cilium"
	r.Install = &results.Install{Mesh: "cilium", Start: t0, End: t0.Add(42 * time.Second), Seconds: 42, Settled: settled,
		SettleTimeoutSeconds: 300, QuietSeconds: 30,
		Conditions: []results.SettleCondition{{Name: "CiliumEndpoints", Want: 50, Have: 50, Met: true, MetAfterSeconds: 40}},
		Figures: &results.PhaseFigures{Requests: 9000, Requests429: 120, APIServerCPUSeconds: 61.5,
			PeakP99: []results.CategoryP99{{Category: "mutating", Key: "POST ciliumendpoints (scope=namespace)", P99: 0.8}}}}
	if !settled {
		r.Install.Conditions[0].Have, r.Install.Conditions[0].Met = 45, false
		r.Install.End, r.Install.Seconds = t0.Add(5*time.Minute), 300
	}
	return r
}

// An inconclusive candidate exits 3 even when it also regressed: its
// figures are not the API server's alone, so neither verdict holds.
func TestCompareInconclusiveCandidateExits3(t *testing.T) {
	base, cand := writeRuns(t, withInstall(compareRun("base", 0.100, 200), true),
		inconclusive(withInstall(compareRun("candidate", 0.200, 300), false)))
	code, out, _, err := runCompare(t, base, cand)
	var ie *InconclusiveError
	if code != ExitInconclusive || !errors.As(err, &ie) || strings.Join(ie.Behind, ",") != "churn-lag-p99" {
		t.Fatalf("exit %d, err %v; want 3 naming churn-lag-p99", code, err)
	}
	for _, want := range []string{
		"candidate: candidate", "INCONCLUSIVE (behind: churn-lag-p99)", "Gate: INCONCLUSIVE",
		"not trusted: regressed beyond 10%: mutating-p99",
		"churn-lag-p99", "BEHIND",
		"Install phase: base settled after 42s; candidate did not settle in 5m0s: CiliumEndpoints 45/50",
		"install 429s", "install peak mutating p99", "install kube-apiserver CPU", "reported, not judged",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q", want)
		}
	}

	_, out, _, _ = runCompare(t, base, cand, "--format", "json")
	var c report.Comparison
	if err := json.Unmarshal([]byte(out), &c); err != nil {
		t.Fatalf("--format json is not JSON: %v", err)
	}
	if !c.Candidate.Inconclusive || c.Base.Inconclusive || len(c.Validity) != 2 || len(c.Install) == 0 ||
		!strings.HasPrefix(c.Candidate.Settle, "did not settle") {
		t.Errorf("JSON: candidate %+v, validity %+v, install %+v", c.Candidate, c.Validity, c.Install)
	}
}

// An inconclusive base warns; the conclusive candidate is judged as ever.
func TestCompareInconclusiveBaseWarns(t *testing.T) {
	base, cand := writeRuns(t, inconclusive(compareRun("base", 0.100, 200)), compareRun("candidate", 0.100, 200))
	code, out, _, err := runCompare(t, base, cand)
	if code != ExitOK || err != nil || !strings.Contains(out, "warning: the base run was inconclusive") {
		t.Errorf("exit %d, err %v; want 0 with a warning", code, err)
	}
}

// The arms' exit status: a failed arm first, then a breach by an arm whose
// simulator kept up, then an inconclusive arm.
func TestArmsOutcome(t *testing.T) {
	pass := report.ArmRun{Name: "none", Run: report.RunInfo{RunID: "a", Passed: true}}
	breached := report.ArmRun{Name: "cilium", Run: report.RunInfo{RunID: "b"}, Breached: []string{"mutating-p99"}}
	behind := report.ArmRun{Name: "istio-ambient", Run: report.RunInfo{RunID: "c", Inconclusive: true, Behind: []string{"churn-lag-p99"}},
		Breached: []string{"max-outage"}}
	failed := report.ArmRun{Name: "cilium-ces", Error: "start local control plane: port in use"}
	for _, tc := range []struct {
		name string
		arms []report.ArmRun
		want int
	}{
		{"all passed", []report.ArmRun{pass, pass}, ExitOK},
		{"inconclusive", []report.ArmRun{pass, behind}, ExitInconclusive},
		{"valid breach wins", []report.ArmRun{breached, behind}, ExitSLOBreached},
		{"failed arm wins", []report.ArmRun{failed, breached, behind}, ExitFailure},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := armsOutcome(report.ArmsComparison{Arms: tc.arms}, nil)
			if got := ExitCode(context.Background(), err, zaptest.NewLogger(t)); got != tc.want {
				t.Errorf("exit %d (%v), want %d", got, err, tc.want)
			}
		})
	}
	// The inconclusive arm's own breach is not reported as one.
	var ie *InconclusiveError
	err := armsOutcome(report.ArmsComparison{Arms: []report.ArmRun{pass, behind}}, nil)
	if !errors.As(err, &ie) || strings.Join(ie.Behind, ",") != "istio-ambient: churn-lag-p99" {
		t.Errorf("err %v, want the inconclusive arm named with its check", err)
	}
}
