package junit

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/churn-dev/churn/profiles"
	"github.com/churn-dev/churn/report"
	"github.com/churn-dev/churn/results"
)

// run is a run with one SLO of each status; mutating at value.
func run(id string, mutating float64) *results.Result {
	start := time.Date(2026, 12, 3, 12, 0, 0, 0, time.UTC)
	r := &results.Result{
		SchemaVersion: results.SchemaVersion, RunID: id, Profile: profiles.Profile{Name: "smoke"}, Seed: 1,
		Phases: []results.Phase{{Name: "churn", Start: start, End: start.Add(90 * time.Second)}},
		SLOs: []results.SLOResult{
			{Name: "mutating-p99", Unit: "seconds", Threshold: "1s", Limit: 1, Value: mutating, Measured: fmt.Sprintf("%gs", mutating)},
			{Name: "error-ratio", Unit: "ratio", Threshold: "1%", Limit: 0.01, Value: 0.001, Measured: "0.10%", Status: results.SLOPassed, Passed: true},
			{Name: "pod-startup-p99", Unit: "seconds", Threshold: "5s", Measured: "no data", Status: results.SLOSkipped, Reason: "no pods started"},
			{Name: "max-outage", Unit: "seconds", Threshold: "off", Measured: "-", Status: results.SLODisabled, Passed: true},
		},
		Verdict: results.Verdict{Passed: mutating <= 1, Summary: "PASS"},
	}
	s := &r.SLOs[0]
	s.Passed, s.Status = mutating <= 1, results.SLOPassed
	if !s.Passed {
		s.Status, r.Verdict.Breached, r.Verdict.Summary = results.SLOBreached, []string{s.Name}, "FAIL"
	}
	return r
}

func caseNamed(t *testing.T, s Suite, name string) Case {
	t.Helper()
	for _, c := range s.Cases {
		if c.Name == name {
			return c
		}
	}
	t.Fatalf("suite %s has no case %s", s.Name, name)
	return Case{}
}

func TestFromRunBreachAndSkips(t *testing.T) {
	s := FromRun(run("r1", 1.5))
	if s.Tests != 4 || s.Failures != 1 || s.Skipped != 2 || s.Errors != 0 || s.Time != "90.000" {
		t.Fatalf("counts tests=%d failures=%d skipped=%d errors=%d time=%s", s.Tests, s.Failures, s.Skipped, s.Errors, s.Time)
	}
	if c := caseNamed(t, s, "mutating-p99"); c.Failure == nil || c.Failure.Message != "measured 1.5s > threshold 1s" {
		t.Errorf("breach: %+v", c.Failure)
	}
	if c := caseNamed(t, s, "pod-startup-p99"); c.Skipped == nil || !strings.Contains(c.Skipped.Message, "no pods started") {
		t.Errorf("skip: %+v", c.Skipped)
	}
	if c := caseNamed(t, s, "error-ratio"); c.Failure != nil || c.Skipped != nil {
		t.Errorf("pass: %+v", c)
	}
	doc, err := Marshal(s, FromRun(run("r2", 0.2)))
	if err != nil {
		t.Fatal(err)
	}
	checkSchema(t, doc)
	if !strings.Contains(string(doc), `<testsuites name="churn" tests="8" failures="1" errors="0">`) {
		t.Errorf("root totals:\n%s", doc)
	}
}

func TestFromRunInconclusive(t *testing.T) {
	r := run("r1", 1.5)
	r.Verdict = results.Verdict{Inconclusive: true, Behind: []string{"kwok-lag"}}
	r.Validity = &results.Validity{Checks: []results.ValidityCheck{
		{Name: "kwok-lag", Threshold: "5s", Measured: "12s", Status: results.ValidityBehind},
		{Name: "engine-lag", Threshold: "5s", Measured: "1s", Status: results.ValidityOK},
	}}
	s := FromRun(r)
	// Every SLO is skipped, the breach included: it is not the API
	// server's; the check that fell behind is an error.
	if s.Failures != 0 || s.Skipped != 4 || s.Errors != 1 {
		t.Fatalf("failures=%d skipped=%d errors=%d", s.Failures, s.Skipped, s.Errors)
	}
	if c := caseNamed(t, s, "mutating-p99"); !strings.HasPrefix(c.Skipped.Message, "inconclusive: the simulator fell behind (kwok-lag)") ||
		!strings.Contains(c.Skipped.Message, "measured 1.5s, threshold 1s") {
		t.Errorf("skip message %q", c.Skipped.Message)
	}
	if c := caseNamed(t, s, "simulator kwok-lag"); c.Error == nil || !strings.Contains(c.Error.Message, "measured 12s, threshold 5s") {
		t.Errorf("error case %+v", c.Error)
	}
	found := false
	for _, p := range s.Properties {
		found = found || p == Property{Name: "verdict", Value: "inconclusive"}
	}
	if !found {
		t.Errorf("properties %v lack verdict=inconclusive", s.Properties)
	}
	doc, err := Marshal(s)
	if err != nil {
		t.Fatal(err)
	}
	checkSchema(t, doc)
}

func TestFromRepeatsAndComparison(t *testing.T) {
	var base, cand []*results.Result
	for i, v := range []float64{0.10, 0.11, 0.10, 0.09, 0.10} {
		base = append(base, run(fmt.Sprintf("b%d", i), v))
		cand = append(cand, run(fmt.Sprintf("c%d", i), v*2+[]float64{0, 1, 1, 1, 0}[i]))
	}
	rep := report.SummarizeRepeats(cand, []string{"1", "2", "3", "4", "5"})
	rs := FromRepeats(rep)
	if c := caseNamed(t, rs, "mutating-p99"); c.Failure == nil || c.Failure.Text != "3 of 5 runs breached" ||
		!strings.HasPrefix(c.Failure.Message, "measured median 1.18s > threshold 1s") {
		t.Errorf("median breach: %+v", c.Failure)
	}
	cs := FromComparison(report.CompareRuns(base, cand, 0.1))
	if c := caseNamed(t, cs, "SLO mutating-p99"); c.Failure == nil {
		t.Errorf("comparison breach: %+v", c)
	}
	doc, err := Marshal(rs, cs)
	if err != nil {
		t.Fatal(err)
	}
	checkSchema(t, doc)
}

func TestFromRunDisruptions(t *testing.T) {
	r := run("d", 0.2)
	t0 := time.Date(2026, 12, 7, 10, 0, 0, 0, time.UTC)
	r.Disruptions = []results.Disruption{
		{Kind: results.DisruptionUpgrade, Spec: "kubernetes=v1.37.2@3m", Steps: []results.DisruptionStep{
			{Name: "kube-apiserver v1.36.3 -> v1.37.2", Started: t0, Ready: t0.Add(32 * time.Second), Ended: t0.Add(33 * time.Second),
				Impact: &results.StepImpact{OutageSeconds: 0, Throttled: 4, PeakPerSecond: 17}},
		}},
		{Kind: results.DisruptionFault, Spec: "etcd-kill@9m", Error: "not started: the churn phase ended after 5m0s"},
	}
	s := FromRun(r)
	up := caseNamed(t, s, "upgrade kubernetes=v1.37.2@3m")
	if up.Failure != nil || !strings.Contains(up.SystemOut, "ready after 32s, outage 0.0s, 429s 4, LISTs+watches at most 17/s") {
		t.Errorf("upgrade case = %+v", up)
	}
	f := caseNamed(t, s, "fault etcd-kill@9m")
	if f.Failure == nil || f.Failure.Type != "DisruptionIncomplete" || !strings.Contains(f.Failure.Message, "not started") {
		t.Errorf("fault case = %+v", f)
	}
	b, err := Marshal(s)
	if err != nil {
		t.Fatal(err)
	}
	checkSchema(t, b)
}
