package cli

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"path/filepath"
	"strings"
	"testing"

	"go.uber.org/zap"
	"go.uber.org/zap/zaptest"

	"github.com/churn-dev/churn/profiles"
	"github.com/churn-dev/churn/report"
	"github.com/churn-dev/churn/results"
)

// compareRun is a passing run: the mutating p99 and pod start-up SLOs,
// kube-apiserver and churn CPU, and the churn accounting.
func compareRun(runID string, mutatingP99, apiCPU float64) *results.Result {
	return &results.Result{
		SchemaVersion: results.SchemaVersion, RunID: runID,
		Profile: profiles.Profile{Name: "10k-pods"}, Seed: 1, Mesh: "istio-ambient",
		SLOs: []results.SLOResult{
			{Name: "mutating-p99", Unit: "seconds", Threshold: "1s", Value: mutatingP99, Limit: 1,
				Measured: "-", Passed: true, Status: results.SLOPassed},
			{Name: "pod-startup-p99", Unit: "seconds", Threshold: "5s", Value: 2, Limit: 5,
				Measured: "2s", Passed: true, Status: results.SLOPassed},
		},
		Processes: []results.ProcessUsage{
			{Name: "churn", Role: "tester", CPUSeconds: 30},
			{Name: "kube-apiserver", Role: "control-plane", CPUSeconds: apiCPU, PeakRSS: 1 << 30},
		},
		Churn:   &results.ChurnSummary{Seed: 1, Planned: 600, Succeeded: 600, LagP99Seconds: 0.1},
		Verdict: results.Verdict{Passed: true, Summary: "PASS"},
	}
}

// writeRuns stores base and candidate as two run directories.
func writeRuns(t *testing.T, base, cand *results.Result) (string, string) {
	t.Helper()
	dir := t.TempDir()
	b, c := filepath.Join(dir, "base"), filepath.Join(dir, "candidate")
	for path, r := range map[string]*results.Result{b: base, c: cand} {
		if err := results.Write(path, r); err != nil {
			t.Fatal(err)
		}
	}
	return b, c
}

// runCompare runs "churn compare" in-process and maps its error to the exit
// status as main does.
func runCompare(t *testing.T, args ...string) (code int, stdout, stderr string, err error) {
	t.Helper()
	cmd := newCompareCommand(zap.NewNop())
	var out, errOut bytes.Buffer
	cmd.SetOut(&out)
	cmd.SetErr(&errOut)
	cmd.SilenceUsage, cmd.SilenceErrors = true, true
	cmd.SetArgs(args)
	err = cmd.ExecuteContext(context.Background())
	code = ExitCode(context.Background(), err, zaptest.NewLogger(t))
	t.Logf("churn compare %s: exit %d, err %v\n%s%s", strings.Join(args, " "), code, err, out.String(), errOut.String())
	return code, out.String(), errOut.String(), err
}

func TestCompareTwentyPercentRegressionExits2(t *testing.T) {
	base, cand := writeRuns(t, compareRun("base", 0.100, 200), compareRun("candidate", 0.120, 240))
	code, out, _, err := runCompare(t, base, cand, "--max-regression", "10%")
	if code != ExitSLOBreached {
		t.Fatalf("exit %d, want %d", code, ExitSLOBreached)
	}
	var regression *RegressionError
	if !errors.As(err, &regression) || len(regression.Breached) > 0 {
		t.Fatalf("error %v, want a RegressionError without breaches", err)
	}
	want := []string{"mutating-p99 100ms -> 120ms (+20.0%)", "kube-apiserver CPU 200.0 CPU s -> 240.0 CPU s (+20.0%)"}
	if strings.Join(regression.Regressed, "|") != strings.Join(want, "|") {
		t.Errorf("regressed %q, want %q", regression.Regressed, want)
	}
	for _, w := range append(want, "REGRESSED", "Gate: FAIL") {
		if !strings.Contains(out, w) {
			t.Errorf("output lacks %q", w)
		}
	}
	// The same pair passes a looser gate.
	if code, _, _, err := runCompare(t, base, cand, "--max-regression", "0.25"); code != ExitOK {
		t.Errorf("--max-regression 0.25: exit %d (%v), want 0", code, err)
	}
}

func TestCompareIdenticalExits0(t *testing.T) {
	run := compareRun("run", 0.100, 200)
	base, cand := writeRuns(t, run, run)
	code, out, _, err := runCompare(t, base, filepath.Join(cand, results.FileName))
	if code != ExitOK || err != nil {
		t.Fatalf("exit %d, err %v; want 0", code, err)
	}
	if !strings.Contains(out, "Gate: PASS") || strings.Contains(out, "warning:") {
		t.Errorf("output of identical runs:\n%s", out)
	}
}

func TestCompareCandidateBreachExits2WithinTolerance(t *testing.T) {
	breaching := compareRun("candidate", 0.100, 200)
	s := &breaching.SLOs[1]
	s.Value, s.Measured, s.Passed, s.Status = 5.1, "5.1s", false, results.SLOBreached
	baseRun := compareRun("base", 0.100, 200)
	baseRun.SLOs[1].Value, baseRun.SLOs[1].Measured = 4.9, "4.9s" // within 10%: only the breach fails the gate
	base, cand := writeRuns(t, baseRun, breaching)
	code, _, _, err := runCompare(t, base, cand)
	var regression *RegressionError
	if code != ExitSLOBreached || !errors.As(err, &regression) {
		t.Fatalf("exit %d, err %v; want 2 with a RegressionError", code, err)
	}
	if strings.Join(regression.Breached, ",") != "pod-startup-p99" || len(regression.Regressed) > 0 {
		t.Errorf("breached %v, regressed %v; want only pod-startup-p99 breached", regression.Breached, regression.Regressed)
	}
}

func TestCompareWarnsOnDifferentChurn(t *testing.T) {
	other := compareRun("candidate", 0.100, 200)
	other.Seed = 2
	base, cand := writeRuns(t, compareRun("base", 0.100, 200), other)
	code, out, _, _ := runCompare(t, base, cand)
	if code != ExitOK || !strings.Contains(out, "warning: seeds differ (base 1, candidate 2)") {
		t.Errorf("exit %d, want 0 with a seed warning:\n%s", code, out)
	}
	_, out, errOut, _ := runCompare(t, base, cand, "--format", "json")
	var c report.Comparison
	if err := json.Unmarshal([]byte(out), &c); err != nil {
		t.Fatalf("--format json is not JSON: %v", err)
	}
	if len(c.Warnings) != 1 || !strings.Contains(errOut, "warning: seeds differ") {
		t.Errorf("JSON warnings %v, stderr %q", c.Warnings, errOut)
	}
}

func TestCompareJSONNamesRegressions(t *testing.T) {
	base, cand := writeRuns(t, compareRun("base", 0.100, 200), compareRun("candidate", 0.120, 200))
	code, out, _, _ := runCompare(t, base, cand, "--format", "json")
	var c report.Comparison
	if err := json.Unmarshal([]byte(out), &c); err != nil {
		t.Fatalf("--format json is not JSON: %v\n%s", err, out)
	}
	if code != ExitSLOBreached || len(c.Regressed) != 1 || c.Regressed[0].Name != "mutating-p99" {
		t.Errorf("exit %d, regressed %+v; want 2 and mutating-p99", code, c.Regressed)
	}
}

func TestCompareBadInput(t *testing.T) {
	run := compareRun("run", 0.1, 200)
	base, cand := writeRuns(t, run, run)
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{base, cand, "--max-regression", "lots"}, "--max-regression"},
		{[]string{base, cand, "--max-regression", "10"}, "--max-regression"},
		{[]string{base, cand, "--format", "html"}, "--format"},
		{[]string{base, filepath.Join(cand, "missing")}, "candidate run"},
		{[]string{base}, "accepts 2 arg(s)"},
	} {
		code, _, _, err := runCompare(t, tc.args...)
		if code != ExitFailure || err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%v: exit %d, err %v; want exit 1 naming %q", tc.args, code, err, tc.want)
		}
	}
}
