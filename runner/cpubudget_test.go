package runner

import (
	"reflect"
	"strings"
	"testing"

	"github.com/churn-dev/churn/deploy/local"
	"github.com/churn-dev/churn/profiles"
	"github.com/churn-dev/churn/results"
)

func TestValidateControlPlaneCPUs(t *testing.T) {
	with := func(c profiles.CPUs) profiles.Profile {
		p := profiles.Defaults()
		p.Name = "x"
		p.ControlPlane.CPUs = c
		return p
	}
	for _, tc := range []struct {
		name    string
		o       Options
		wantErr string
	}{
		{"auto, local", Options{Profile: with(profiles.CPUsAuto)}, ""},
		{"off, priority off", Options{Profile: with(profiles.CPUsOff), DisableCPUPriority: true}, ""},
		{"auto, priority off", Options{Profile: with(profiles.CPUsAuto), DisableCPUPriority: true}, ""},
		{"0.5, local", Options{Profile: with("0.5")}, ""},
		{"auto, remote", Options{Profile: with(profiles.CPUsAuto), Kubeconfig: "k.yaml"}, ""},
		{"more than the machine", Options{Profile: with("9999")}, `profile x: controlPlane.cpus "9999": 9999 cores is more than the`},
		{"negative", Options{Profile: with("-1")}, `controlPlane.cpus "-1": must not be negative`},
		{"NaN", Options{Profile: with("NaN")}, `controlPlane.cpus "NaN": not a number`},
		{"too small", Options{Profile: with("0.01")}, `controlPlane.cpus "0.01": below the minimum of 0.1 cores`},
		{"explicit with priority off", Options{Profile: with("0.5"), DisableCPUPriority: true}, `controlPlane.cpus "0.5" conflicts with --cpu-priority=false`},
		{"explicit, kubeconfig", Options{Profile: with("0.5"), Kubeconfig: "k.yaml"}, `controlPlane.cpus "0.5" (or --control-plane-cpus) is the CPU budget of the local control plane churn starts; --kubeconfig k.yaml`},
		{"explicit, in-cluster", Options{Profile: with("0.5"), InCluster: true}, "--in-cluster runs on the machines"},
	} {
		err := ValidateControlPlaneCPUs(tc.o)
		switch {
		case tc.wantErr == "" && err != nil:
			t.Errorf("%s: %v, want nil", tc.name, err)
		case tc.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tc.wantErr)):
			t.Errorf("%s: %v, want an error containing %q", tc.name, err, tc.wantErr)
		}
	}
	// ValidateTarget, which every run calls before it starts anything,
	// applies it.
	if err := ValidateTarget(Options{Profile: with("9999")}); err == nil || !strings.Contains(err.Error(), "controlPlane.cpus") {
		t.Errorf("ValidateTarget = %v, want the budget refused", err)
	}
}

func TestCPUBudgetRequestFromProfile(t *testing.T) {
	for _, tc := range []struct {
		c    profiles.CPUs
		want local.CPUBudgetRequest
	}{
		{"", local.CPUBudgetRequest{Setting: "auto", Auto: true}},
		{profiles.CPUsAuto, local.CPUBudgetRequest{Setting: "auto", Auto: true}},
		{profiles.CPUsOff, local.CPUBudgetRequest{Setting: "off"}},
		{"1500m", local.CPUBudgetRequest{Setting: "1500m", Millicores: 1500}},
	} {
		got, err := CPUBudgetRequest(tc.c)
		if err != nil || got != tc.want {
			t.Errorf("%q: %+v, %v; want %+v", tc.c, got, err, tc.want)
		}
	}
}

// The verdict says which size of control plane held, and how much the
// budget throttled it during churn.
func TestApplyBudgetVerdict(t *testing.T) {
	enforced := results.CPUBudget{Asked: "auto", Cores: 1.5, AppliedCores: 1.5, CPUs: 2,
		Throttling: []results.PhaseThrottle{{Phase: "setup", Periods: 10, ThrottledPeriods: 5}, {Phase: "churn", Periods: 1000, ThrottledPeriods: 250, ThrottledSeconds: 12.5}}}
	for _, tc := range []struct {
		name   string
		v      results.Verdict
		p      *results.CPUPriority
		want   string
		notes  int
		absent string
	}{
		{"remote", results.Verdict{Passed: true, Summary: "PASS: all 3 judged SLOs held"}, nil, "PASS: all 3 judged SLOs held", 0, "control plane"},
		{"held", results.Verdict{Passed: true, Summary: "PASS: all 3 judged SLOs held"}, &results.CPUPriority{Budget: enforced},
			"PASS: all 3 judged SLOs held; a control plane of 1.5 cores held (throttled in 25% of the churn phase's periods, 12.5s in all)", 0, ""},
		{"did not hold", results.Verdict{Summary: "FAIL: 1 of 3 judged SLOs breached: mutating-p99"}, &results.CPUPriority{Budget: results.CPUBudget{Cores: 1, AppliedCores: 1, CPUs: 2}},
			"FAIL: 1 of 3 judged SLOs breached: mutating-p99; a control plane of 1 core did not hold", 0, "throttled"},
		{"inconclusive", results.Verdict{Inconclusive: true, Summary: "INCONCLUSIVE: ..."}, &results.CPUPriority{Budget: enforced},
			"INCONCLUSIVE: ...; a control plane of 1.5 cores: not judged, the simulator fell behind (throttled in 25% of the churn phase's periods, 12.5s in all)", 0, " held"},
		{"not enforced", results.Verdict{Passed: true, Summary: "PASS"}, &results.CPUPriority{Mechanism: "nice", Budget: results.CPUBudget{Cores: 1.5, CPUs: 2}},
			"PASS; the control plane's CPU budget of 1.5 cores was NOT enforced (CPU priority nice), so kwok and churn had no CPU of their own", 1, ""},
		{"off", results.Verdict{Passed: true, Summary: "PASS"}, &results.CPUPriority{Mechanism: "cgroup-v1", Budget: results.CPUBudget{Asked: "off", CPUs: 2}},
			"PASS; control plane without a CPU budget", 0, ""},
	} {
		r := &results.Result{Verdict: tc.v, Target: results.Target{CPUPriority: tc.p}}
		applyBudgetVerdict(r)
		if r.Verdict.Summary != tc.want {
			t.Errorf("%s: summary\n %q\nwant\n %q", tc.name, r.Verdict.Summary, tc.want)
		}
		if len(r.Verdict.Notes) != tc.notes {
			t.Errorf("%s: notes %v, want %d", tc.name, r.Verdict.Notes, tc.notes)
		}
		if tc.absent != "" && strings.Contains(r.Verdict.Summary, tc.absent) {
			t.Errorf("%s: summary %q contains %q", tc.name, r.Verdict.Summary, tc.absent)
		}
	}
}

func TestCPUPriorityRecordCopiesEveryField(t *testing.T) {
	in := local.CPUPriority{Mechanism: local.PriorityCgroupV2, Group: "/sys/fs/cgroup/churn-0000aaaa", Reason: "v1: none",
		Budget: local.CPUBudget{Asked: "1.5", Cores: 1.5, AppliedCores: 1.5, Mechanism: local.BudgetCgroupV2,
			QuotaMicros: 150000, PeriodMicros: 100000, CPUs: 2, SimulatorCores: 0.5, Reason: "r"}}
	got := cpuPriorityRecord(in)
	want := &results.CPUPriority{Mechanism: in.Mechanism, Group: in.Group, Reason: in.Reason,
		Budget: results.CPUBudget{Asked: "1.5", Cores: 1.5, AppliedCores: 1.5, Mechanism: local.BudgetCgroupV2,
			QuotaMicros: 150000, PeriodMicros: 100000, CPUs: 2, SimulatorCores: 0.5, Reason: "r"}}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("record\n %+v\nwant\n %+v", got, want)
	}
	// A field added to local's record must be copied too (the results'
	// one adds Throttling).
	if l, r := reflect.TypeFor[local.CPUBudget]().NumField(), reflect.TypeFor[results.CPUBudget]().NumField(); l != r-1 {
		t.Errorf("local.CPUBudget has %d fields, results.CPUBudget %d: update cpuPriorityRecord and this test", l, r)
	}
}
