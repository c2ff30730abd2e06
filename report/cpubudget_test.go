package report

import (
	"bytes"
	"strings"
	"testing"

	"github.com/churn-dev/churn/results"
)

// The summary, the report and a comparison show the control plane's CPU
// budget: applied, with its throttling per phase; asked but not enforced,
// with the reason; none; and nothing for a remote target.
func TestBudgetShown(t *testing.T) {
	enforced := &results.CPUPriority{Mechanism: "cgroup-v1", Budget: results.CPUBudget{
		Asked: "auto", Cores: 1.5, AppliedCores: 1.5, Mechanism: "cgroup v1 cpu.cfs_quota_us", QuotaMicros: 150000, PeriodMicros: 100000,
		CPUs: 2, SimulatorCores: 0.5, Throttling: []results.PhaseThrottle{
			{Phase: "target", Periods: 0},
			{Phase: "setup", Periods: 100, ThrottledPeriods: 10, ThrottledSeconds: 1.5},
			{Phase: "churn", Periods: 1000, ThrottledPeriods: 400, ThrottledSeconds: 41.2},
		}}}
	for _, tc := range []struct {
		name      string
		p         *results.CPUPriority
		summary   string
		short     string
		htmlParts []string
	}{
		{"enforced", enforced,
			"Control plane CPU budget: 1.5 of 2 cores (cgroup v1 cpu.cfs_quota_us, 150000 per 100000 µs; asked auto); kwok and churn keep 0.5; throttled: setup 10% of periods (1.5s), churn 40% (41.2s)\n",
			"1.5 of 2 cores",
			[]string{"<span>control-plane CPU budget 1.5 of 2 cores</span>", "<p>Control-plane CPU budget: 1.5 of 2 cores (cgroup v1 cpu.cfs_quota_us"}},
		{"not enforced", &results.CPUPriority{Mechanism: "nice", Budget: results.CPUBudget{Asked: "1.5", Cores: 1.5, CPUs: 2, Reason: "no usable cgroup cpu controller"}},
			"Control plane CPU budget: 1.5 cores asked, NOT ENFORCED: no usable cgroup cpu controller\n",
			"1.5 cores, not enforced",
			[]string{"control-plane CPU budget 1.5 cores, not enforced"}},
		{"off", &results.CPUPriority{Mechanism: "cgroup-v1", Budget: results.CPUBudget{Asked: "off", CPUs: 2, Reason: "off: CPU weights only"}},
			"Control plane CPU budget: none (off: CPU weights only)\n",
			"none (off)",
			[]string{"control-plane CPU budget none (off)"}},
		{"remote", nil, "", "", nil},
	} {
		r := &results.Result{RunID: "r1", Target: results.Target{Kind: "local", CPUPriority: tc.p}}
		var sum bytes.Buffer
		if err := Summary(&sum, r, ""); err != nil {
			t.Fatal(err)
		}
		if tc.summary != "" && !strings.Contains(sum.String(), tc.summary) {
			t.Errorf("%s: summary lacks %q:\n%s", tc.name, tc.summary, sum.String())
		}
		if tc.summary == "" && strings.Contains(sum.String(), "CPU budget") {
			t.Errorf("%s: summary shows a budget:\n%s", tc.name, sum.String())
		}
		var html bytes.Buffer
		if err := WriteHTML(&html, r); err != nil {
			t.Fatal(err)
		}
		for _, want := range tc.htmlParts {
			if !strings.Contains(html.String(), want) {
				t.Errorf("%s: report lacks %q", tc.name, want)
			}
		}
		if tc.p == nil && strings.Contains(html.String(), "CPU budget") {
			t.Errorf("%s: report shows a budget", tc.name)
		}
		info := runInfo(r)
		if info.CPUBudget != tc.short {
			t.Errorf("%s: comparison budget %q, want %q", tc.name, info.CPUBudget, tc.short)
		}
		if d := describeRun(info); tc.short != "" && !strings.Contains(d, "control-plane CPU budget "+tc.short) {
			t.Errorf("%s: run described as %q", tc.name, d)
		}
	}
	// The arms of churn compare show theirs next to their verdicts.
	var b bytes.Buffer
	c := ArmsComparison{Arms: []ArmRun{{Name: "none", Run: RunInfo{RunID: "a", Passed: true, CPUBudget: "1.5 of 2 cores"}}}}
	if err := WriteArms(&b, c); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(b.String(), "PASS · control plane 1.5 of 2 cores") {
		t.Errorf("arms text lacks the budget:\n%s", b.String())
	}
}

// Two runs with different budgets compare, with a warning.
func TestPlanWarnsOfDifferentBudgets(t *testing.T) {
	base := &results.Result{RunID: "a", Target: results.Target{Kind: "local", CPUPriority: &results.CPUPriority{Budget: results.CPUBudget{Cores: 1.5, AppliedCores: 1.5, CPUs: 2}}}}
	cand := &results.Result{RunID: "b", Target: results.Target{Kind: "local", CPUPriority: &results.CPUPriority{Budget: results.CPUBudget{Cores: 1, AppliedCores: 1, CPUs: 2}}}}
	w := strings.Join(planWarnings(base, cand), "\n")
	if !strings.Contains(w, "control-plane CPU budgets differ (base 1.5 of 2 cores, candidate 1 of 2 cores)") {
		t.Errorf("warnings %q", w)
	}
	if w := strings.Join(planWarnings(base, base), "\n"); strings.Contains(w, "budget") {
		t.Errorf("same budget warned: %q", w)
	}
}
