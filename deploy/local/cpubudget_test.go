package local

import (
	"math"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"go.uber.org/zap"
	"go.uber.org/zap/zaptest"
)

func mustResolve(t *testing.T, r CPUBudgetRequest, cpus int) CPUBudget {
	t.Helper()
	b, err := ResolveCPUBudget(r, cpus)
	if err != nil {
		t.Fatalf("ResolveCPUBudget(%+v, %d): %v", r, cpus, err)
	}
	return b
}

// cgroup v1: the quota is on the control-plane group, period first, before
// any process is placed; kwok's group has none; the record says what was
// applied and what it leaves the simulator.
func TestCPUBudgetCgroupV1Quota(t *testing.T) {
	f := newFakeCgroups(t)
	f.mkdir("cpu")
	f.mountinfo("cpu", "unified")
	b := mustResolve(t, CPUBudgetRequest{Setting: "1500m", Millicores: 1500}, 2)
	p := chooseCPUPriority(f.sys(nil), "/x/cluster", b, zaptest.NewLogger(t))
	name := clusterGroupName("/x/cluster")
	if p.info.Mechanism != PriorityCgroupV1 {
		t.Fatalf("chosen %+v", p.info)
	}
	// Set before the first process starts.
	if got := f.read("cpu/" + name + "/control-plane/cpu.cfs_quota_us"); got != "150000" {
		t.Errorf("cpu.cfs_quota_us = %q before any process, want 150000", got)
	}
	if got := f.read("cpu/" + name + "/control-plane/cpu.cfs_period_us"); got != "100000" {
		t.Errorf("cpu.cfs_period_us = %q, want 100000", got)
	}
	want := CPUBudget{Asked: "1500m", Cores: 1.5, AppliedCores: 1.5, Mechanism: BudgetCgroupV1,
		QuotaMicros: 150000, PeriodMicros: 100000, CPUs: 2, SimulatorCores: 0.5}
	if p.info.Budget != want {
		t.Errorf("budget %+v, want %+v", p.info.Budget, want)
	}
	if s := p.info.Budget.String(); !strings.Contains(s, "1.5 of 2 CPUs") || !strings.Contains(s, "keep 0.5") {
		t.Errorf("description %q", s)
	}

	f.setCgroup(101, "1:cpu:/"+name+"/control-plane")
	if got, want := p.place(101, GroupControlPlane), "cpu.shares 4096, quota 1.5 cores (cgroup v1 /"+name+"/control-plane)"; got != want {
		t.Errorf("apiserver priority %q, want %q", got, want)
	}
	f.setCgroup(202, "1:cpu:/"+name+"/simulator")
	if got, want := p.place(202, GroupSimulator), "cpu.shares 512 (cgroup v1 /"+name+"/simulator)"; got != want {
		t.Errorf("kwok priority %q, want %q", got, want)
	}
	if f.exists("cpu/" + name + "/simulator/cpu.cfs_quota_us") {
		t.Error("kwok's group got a quota")
	}
	if f.exists("cpu/" + name + "/cpu.cfs_quota_us") {
		t.Error("the per-cluster parent got a quota: it would cap kwok too")
	}
}

// cgroup v2: cpu.max "QUOTA PERIOD" on the control-plane group.
func TestCPUBudgetCgroupV2Quota(t *testing.T) {
	f := newFakeCgroups(t)
	f.write("unified/cgroup.controllers", "cpuset cpu io memory pids\n")
	f.write("unified/cgroup.subtree_control", "cpu memory\n")
	f.mountinfo("", "unified")
	b := mustResolve(t, CPUBudgetRequest{Auto: true}, 4)
	p := chooseCPUPriority(f.sys(nil), "/x/cluster", b, zaptest.NewLogger(t))
	name := clusterGroupName("/x/cluster")
	if p.info.Mechanism != PriorityCgroupV2 {
		t.Fatalf("chosen %+v", p.info)
	}
	if got := f.read("unified/" + name + "/control-plane/cpu.max"); got != "300000 100000" {
		t.Errorf("cpu.max = %q, want 300000 100000 (auto: 3 of 4 CPUs)", got)
	}
	if b := p.info.Budget; b.Asked != "auto" || b.AppliedCores != 3 || b.Mechanism != BudgetCgroupV2 || b.SimulatorCores != 1 {
		t.Errorf("budget %+v", b)
	}
	f.setCgroup(7, "0::/"+name+"/control-plane")
	if got, want := p.place(7, GroupControlPlane), "cpu.weight 400, quota 3 cores (cgroup v2 /"+name+"/control-plane)"; got != want {
		t.Errorf("priority %q, want %q", got, want)
	}
}

// A group swept by a concurrent Up while empty is made again with its
// quota when the next process is placed.
func TestCPUBudgetQuotaSurvivesSweep(t *testing.T) {
	f := newFakeCgroups(t)
	f.mkdir("cpu")
	f.mountinfo("cpu", "")
	sys := f.sys(nil)
	p := chooseCPUPriority(sys, "/x/cluster", mustResolve(t, CPUBudgetRequest{Millicores: 1000}, 2), zaptest.NewLogger(t))
	if err := sys.removeGroupTree(p.dir); err != nil {
		t.Fatal(err)
	}
	name := filepath.Base(p.dir)
	f.setCgroup(303, "1:cpu:/"+name+"/control-plane")
	if got := p.place(303, GroupControlPlane); !strings.Contains(got, "quota 1 cores") {
		t.Errorf("priority after the sweep: %q", got)
	}
	if got := f.read("cpu/" + name + "/control-plane/cpu.cfs_quota_us"); got != "100000" {
		t.Errorf("quota after the sweep %q, want 100000", got)
	}
}

// Without a budget a quota left on a reused group is lifted; a quota the
// kernel refuses leaves the budget recorded as not enforced, and the
// processes are still placed by weight.
func TestCPUBudgetOffLiftsAndFailureIsRecorded(t *testing.T) {
	f := newFakeCgroups(t)
	f.mkdir("cpu")
	f.mountinfo("cpu", "")
	name := clusterGroupName("/x/cluster")
	// A busy group is not swept: it is reused with its old quota.
	f.write("cpu/"+name+"/control-plane/cpu.cfs_quota_us", "50000\n")
	f.write("cpu/"+name+"/simulator/cgroup.procs", "4242\n")
	off := mustResolve(t, CPUBudgetRequest{Setting: "off"}, 2)
	p := chooseCPUPriority(f.sys(nil), "/x/cluster", off, zaptest.NewLogger(t))
	if b := p.info.Budget; b.Enforced() || b.Reason != "off: CPU weights only" || b.Asked != "off" {
		t.Errorf("off budget %+v", b)
	}
	f.setCgroup(5, "1:cpu:/"+name+"/control-plane")
	p.place(5, GroupControlPlane)
	if got := f.read("cpu/" + name + "/control-plane/cpu.cfs_quota_us"); got != "-1" {
		t.Errorf("leftover quota %q, want -1 (lifted)", got)
	}

	// A kernel that refuses the quota: cpu.cfs_quota_us cannot be written.
	g := newFakeCgroups(t)
	g.mkdir("cpu")
	g.mountinfo("cpu", "")
	g.mkdir("cpu/" + name + "/control-plane/cpu.cfs_quota_us")
	g.write("cpu/"+name+"/simulator/cgroup.procs", "4242\n")
	p = chooseCPUPriority(g.sys(nil), "/x/cluster", mustResolve(t, CPUBudgetRequest{Millicores: 1500}, 2), zaptest.NewLogger(t))
	b := p.info.Budget
	if p.info.Mechanism != PriorityCgroupV1 || b.Enforced() || b.Cores != 1.5 || !strings.Contains(b.Reason, "could not set the control-plane cgroup's quota") {
		t.Errorf("refused quota recorded as %+v / %+v", p.info.Mechanism, b)
	}
	if s := b.String(); !strings.HasPrefix(s, "1.5 cores asked, NOT enforced: ") {
		t.Errorf("description %q", s)
	}
	g.setCgroup(6, "1:cpu:/"+name+"/control-plane")
	if got := p.place(6, GroupControlPlane); !strings.HasPrefix(got, "cpu.shares 4096 ") {
		t.Errorf("process not placed by weight: %q", got)
	}
}

// Where only nice (or nothing) works, the budget is recorded as not
// enforced, with the reason, and nothing fails.
func TestCPUBudgetNotEnforcedWithoutCgroups(t *testing.T) {
	f := newFakeCgroups(t)
	f.mountinfo("", "")
	b := mustResolve(t, CPUBudgetRequest{Auto: true}, 2)
	p := chooseCPUPriority(f.sys(nil), "/x/cluster", b, zaptest.NewLogger(t))
	got := p.info.Budget
	if p.info.Mechanism != PriorityNice || got.Enforced() || got.Cores != 1.5 || !strings.Contains(got.Reason, "nice only orders") {
		t.Errorf("nice: %s / %+v", p.info.Mechanism, got)
	}
	p = chooseCPUPriority(f.sys(syscall.EPERM), "/x/cluster", b, zaptest.NewLogger(t))
	if got := p.info.Budget; p.info.Mechanism != PriorityNone || got.Enforced() || !strings.Contains(got.Reason, "no usable cgroup cpu controller") {
		t.Errorf("none: %s / %+v", p.info.Mechanism, got)
	}
	if got := offPlacer(zap.NewNop(), b).info.Budget; got.Enforced() || got.Cores != 0 || !strings.Contains(got.Reason, "CPU priority off") {
		t.Errorf("off placer budget %+v", got)
	}
}

func TestAutoCPUBudget(t *testing.T) {
	for _, tc := range []struct {
		cpus  int
		milli int64
	}{{1, 0}, {2, 1500}, {3, 2300}, {4, 3000}, {6, 4500}, {8, 6000}, {64, 48000}} {
		got, reason := AutoCPUBudget(tc.cpus)
		if got != tc.milli {
			t.Errorf("%d CPUs: %dm, want %dm", tc.cpus, got, tc.milli)
		}
		if (got == 0) != (reason != "") {
			t.Errorf("%d CPUs: %dm with reason %q", tc.cpus, got, reason)
		}
	}
	b := mustResolve(t, CPUBudgetRequest{Auto: true}, 1)
	if b.Cores != 0 || !strings.Contains(b.Reason, "only 1 CPU online") || b.Asked != "auto" {
		t.Errorf("auto on 1 CPU: %+v", b)
	}
}

func TestResolveCPUBudgetRefusesBadValues(t *testing.T) {
	for _, tc := range []struct {
		r    CPUBudgetRequest
		want string
	}{
		{CPUBudgetRequest{Millicores: -500}, "must not be negative"},
		{CPUBudgetRequest{Millicores: 50}, "below the minimum of 0.1 cores"},
		{CPUBudgetRequest{Setting: "3", Millicores: 3000}, "3 cores is more than the 2 CPUs online"},
	} {
		if _, err := ResolveCPUBudget(tc.r, 2); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%+v: %v, want %q", tc.r, err, tc.want)
		}
	}
	// The whole machine is allowed (nothing left is the user's choice).
	if b := mustResolve(t, CPUBudgetRequest{Millicores: 2000}, 2); b.Cores != 2 || b.Asked != "2" {
		t.Errorf("2 of 2: %+v", b)
	}
}

// Options refuse a bad budget, and an explicit one with priority off,
// before anything starts, naming the value.
func TestOptionsCPUBudget(t *testing.T) {
	n := CPUsOnline()
	for _, tc := range []struct {
		o    Options
		want string
	}{
		{Options{Dir: "x", ControlPlaneCPUs: CPUBudgetRequest{Setting: "1", Millicores: 1000}, DisableCPUPriority: true}, "control-plane CPU budget of 1 needs CPU priority"},
		{Options{Dir: "x", ControlPlaneCPUs: CPUBudgetRequest{Setting: "999", Millicores: 999000}}, "control-plane CPU budget 999: 999 cores is more than the"},
		{Options{Dir: "x", ControlPlaneCPUs: CPUBudgetRequest{Millicores: -1}}, "must not be negative"},
	} {
		if _, err := tc.o.withDefaults(); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%+v: %v, want %q", tc.o.ControlPlaneCPUs, err, tc.want)
		}
	}
	o, err := Options{Dir: "x", ControlPlaneCPUs: CPUBudgetRequest{Auto: true}, DisableCPUPriority: true}.withDefaults()
	if err != nil {
		t.Fatalf("auto with priority off: %v", err)
	}
	if o.budget.CPUs != n || o.budget.Asked != "auto" {
		t.Errorf("resolved %+v", o.budget)
	}
}

func TestReadCPUStat(t *testing.T) {
	dir := t.TempDir()
	v1 := filepath.Join(dir, "v1")
	v2 := filepath.Join(dir, "v2")
	if err := os.WriteFile(v1, []byte("nr_periods 1200\nnr_throttled 300\nthrottled_time 4500000000\nnr_bursts 0\nburst_time 0\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(v2, []byte("usage_usec 100\nuser_usec 60\nsystem_usec 40\nnr_periods 10\nnr_throttled 2\nthrottled_usec 250000\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	got, err := readCPUStat(v1)
	if err != nil || got != (CPUThrottle{Periods: 1200, ThrottledPeriods: 300, ThrottledSeconds: 4.5}) {
		t.Errorf("v1: %+v, %v", got, err)
	}
	got, err = readCPUStat(v2)
	if err != nil || got != (CPUThrottle{Periods: 10, ThrottledPeriods: 2, ThrottledSeconds: 0.25}) {
		t.Errorf("v2: %+v, %v", got, err)
	}
	if err := os.WriteFile(v2, []byte("usage_usec 100\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := readCPUStat(v2); err == nil {
		t.Error("a cpu.stat without bandwidth accounting read as throttling")
	}
	d := CPUThrottle{Periods: 1500, ThrottledPeriods: 350, ThrottledSeconds: 5}.Sub(CPUThrottle{Periods: 1200, ThrottledPeriods: 300, ThrottledSeconds: 4.5})
	if d.Periods != 300 || d.ThrottledPeriods != 50 || math.Abs(d.ThrottledSeconds-0.5) > 1e-9 {
		t.Errorf("Sub = %+v", d)
	}
	// A group made again counts from zero.
	if d := (CPUThrottle{Periods: 5}).Sub(CPUThrottle{Periods: 100}); d.Periods != 5 {
		t.Errorf("Sub after reset = %+v", d)
	}
}
