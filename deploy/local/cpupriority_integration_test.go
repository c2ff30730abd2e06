package local

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"go.uber.org/zap/zaptest"
)

// A real small control plane: each process' CPU priority as the OS reports
// it, the control plane's CPU budget as a quota on its cgroup (and none on
// kwok's), a restarted kube-apiserver back in its group under the quota,
// churn itself untouched, and no cgroup left after Stop.
func TestIntegrationCPUPriority(t *testing.T) {
	bin := requireBinaries(t)
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	dir := filepath.Join(t.TempDir(), "cluster")
	ownCgroup, _ := os.ReadFile("/proc/self/cgroup")
	ownNice, err := readNice("/proc", os.Getpid())
	if err != nil {
		t.Fatal(err)
	}

	c, err := Up(ctx, Options{
		Dir: dir, BinDir: bin, Logger: zaptest.NewLogger(t), Progress: testWriter{t},
		RestartAPIServer: true, RestartDelay: 100 * time.Millisecond,
		ControlPlaneCPUs: CPUBudgetRequest{Setting: "auto", Auto: true},
	})
	if err != nil {
		t.Fatalf("Up: %v", err)
	}
	stopped := false
	t.Cleanup(func() {
		if !stopped {
			_ = c.Stop(context.Background(), false)
		}
	})
	info := c.CPUPriority()
	t.Logf("CPU priority: %s", info)
	if s, err := LoadState(dir); err != nil || s.CPUPriority == nil || *s.CPUPriority != info {
		t.Errorf("state records CPU priority %+v (%v), want %+v", s.CPUPriority, err, info)
	}

	procs := c.Processes()
	if len(procs) != 5 {
		t.Fatalf("%d processes, want 5", len(procs))
	}
	for _, p := range procs {
		checkPriorityFromOS(t, info, p)
	}
	checkBudgetFromOS(t, c, info)
	if info.Mechanism == PriorityCgroupV1 {
		if got := readTrimmed(t, filepath.Join(info.Group, "cpu.shares")); got != "4608" {
			t.Errorf("cluster cgroup cpu.shares = %s, want 4608 (the sum of its children)", got)
		}
	}

	// kube-apiserver restarted by the supervisor goes back into its group.
	old := pidOf(t, c, APIServer)
	if err := c.Signal(APIServer, syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	waitEvent(t, c, EventRestarted, 30*time.Second)
	restarted := false
	for _, p := range c.Processes() {
		if p.Name == APIServer && p.PID != old {
			checkPriorityFromOS(t, info, p)
			restarted = true
		}
	}
	if !restarted {
		t.Error("no new kube-apiserver after the restart event")
	}

	if got, _ := os.ReadFile("/proc/self/cgroup"); string(got) != string(ownCgroup) {
		t.Errorf("churn's own cgroups changed:\n%s\nwas\n%s", got, ownCgroup)
	}
	if got, _ := readNice("/proc", os.Getpid()); got != ownNice {
		t.Errorf("churn's own nice changed: %s, was %s", got, ownNice)
	}

	if err := c.Stop(ctx, false); err != nil {
		t.Fatalf("Stop: %v", err)
	}
	stopped = true
	if info.Group != "" {
		if _, err := os.Stat(info.Group); !errors.Is(err, fs.ErrNotExist) {
			t.Errorf("cgroup %s still there after Stop: %v", info.Group, err)
		}
	}
}

func pidOf(t *testing.T, c *Cluster, name string) int {
	t.Helper()
	for _, p := range c.Processes() {
		if p.Name == name {
			return p.PID
		}
	}
	t.Fatalf("no %s running", name)
	return 0
}

func readTrimmed(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Errorf("%v", err)
	}
	return strings.TrimSpace(string(b))
}

// checkBudgetFromOS reads the control plane's quota from the cgroup files
// and its throttling from cpu.stat, independently of the placer.
func checkBudgetFromOS(t *testing.T, c *Cluster, info CPUPriority) {
	t.Helper()
	b := info.Budget
	wantMilli, _ := AutoCPUBudget(CPUsOnline())
	if info.Mechanism != PriorityCgroupV1 && info.Mechanism != PriorityCgroupV2 || wantMilli == 0 {
		if b.Enforced() {
			t.Errorf("budget %+v enforced with mechanism %s on %d CPUs", b, info.Mechanism, CPUsOnline())
		}
		t.Logf("budget not enforced here: %s", b)
		return
	}
	if !b.Enforced() || b.AppliedCores != float64(wantMilli)/1000 || b.CPUs != CPUsOnline() {
		t.Fatalf("budget %+v, want %dm applied on %d CPUs", b, wantMilli, CPUsOnline())
	}
	cp, sim := filepath.Join(info.Group, GroupControlPlane), filepath.Join(info.Group, GroupSimulator)
	quota := strconv.FormatInt(wantMilli*100, 10)
	if info.Mechanism == PriorityCgroupV1 {
		if got := readTrimmed(t, filepath.Join(cp, "cpu.cfs_quota_us")); got != quota {
			t.Errorf("control-plane cpu.cfs_quota_us = %s, want %s", got, quota)
		}
		if got := readTrimmed(t, filepath.Join(cp, "cpu.cfs_period_us")); got != "100000" {
			t.Errorf("control-plane cpu.cfs_period_us = %s, want 100000", got)
		}
		if got := readTrimmed(t, filepath.Join(sim, "cpu.cfs_quota_us")); got != "-1" {
			t.Errorf("simulator cpu.cfs_quota_us = %s, want -1 (kwok is not capped)", got)
		}
		if got := readTrimmed(t, filepath.Join(info.Group, "cpu.cfs_quota_us")); got != "-1" {
			t.Errorf("cluster cgroup cpu.cfs_quota_us = %s, want -1 (the cap is the control plane's alone)", got)
		}
	} else {
		if got := readTrimmed(t, filepath.Join(cp, "cpu.max")); got != quota+" 100000" {
			t.Errorf("control-plane cpu.max = %q, want %q", got, quota+" 100000")
		}
		if got := readTrimmed(t, filepath.Join(sim, "cpu.max")); !strings.HasPrefix(got, "max ") {
			t.Errorf("simulator cpu.max = %q, want no quota", got)
		}
	}
	// Every control-plane process, and only those, in the capped group.
	ents, err := os.ReadFile(filepath.Join(cp, "cgroup.procs"))
	if err != nil {
		t.Fatal(err)
	}
	inGroup := map[string]bool{}
	for _, f := range strings.Fields(string(ents)) {
		inGroup[f] = true
	}
	for _, p := range c.Processes() {
		if in := inGroup[strconv.Itoa(p.PID)]; in != (p.Group == GroupControlPlane) {
			t.Errorf("%s (pid %d): in the capped group %v, want %v", p.Name, p.PID, in, p.Group == GroupControlPlane)
		}
	}
	if inGroup[strconv.Itoa(os.Getpid())] {
		t.Error("churn itself is in the capped group")
	}
	th, err := c.ControlPlaneThrottle()
	if err != nil {
		t.Fatalf("ControlPlaneThrottle: %v", err)
	}
	if th.Periods == 0 {
		t.Errorf("cpu.stat %+v: no quota period counted although the control plane ran", th)
	}
	t.Logf("budget %s; throttling so far %+v", b, th)
}

// checkPriorityFromOS reads p's priority from /proc and the cgroup files,
// independently of the placer's own read-back, and compares both.
func checkPriorityFromOS(t *testing.T, info CPUPriority, p Process) {
	t.Helper()
	wantGroup := GroupControlPlane
	if p.Name == KWOK {
		wantGroup = GroupSimulator
	}
	if p.Group != wantGroup {
		t.Errorf("%s: group %q, want %q", p.Name, p.Group, wantGroup)
	}
	switch info.Mechanism {
	case PriorityCgroupV1, PriorityCgroupV2:
		v2 := info.Mechanism == PriorityCgroupV2
		file, version, want := "cpu.shares", "v1", map[string]string{GroupControlPlane: "4096", GroupSimulator: "512"}
		if v2 {
			file, version, want = "cpu.weight", "v2", map[string]string{GroupControlPlane: "400", GroupSimulator: "50"}
		}
		path, err := procCgroupPath("/proc", p.PID, v2)
		if err != nil {
			t.Fatalf("%s: %v", p.Name, err)
		}
		rel := "/" + filepath.Base(info.Group) + "/" + wantGroup
		if !strings.HasSuffix(path, rel) {
			t.Errorf("%s (pid %d) is in cgroup %s, want .../%s", p.Name, p.PID, path, rel)
		}
		if got := readTrimmed(t, filepath.Join(info.Group, wantGroup, file)); got != want[wantGroup] {
			t.Errorf("%s: %s = %s, want %s", p.Name, file, got, want[wantGroup])
		}
		quota := ""
		if info.Budget.Enforced() && wantGroup == GroupControlPlane {
			quota = ", quota " + formatCores(info.Budget.AppliedCores) + " cores"
		}
		if w := fmt.Sprintf("%s %s%s (cgroup %s %s)", file, want[wantGroup], quota, version, path); p.Priority != w {
			t.Errorf("%s: reported priority %q, want %q", p.Name, p.Priority, w)
		}
	case PriorityNice:
		want := niceControlPlane
		if wantGroup == GroupSimulator {
			want = niceSimulator
		}
		tids, err := os.ReadDir(fmt.Sprintf("/proc/%d/task", p.PID))
		if err != nil {
			t.Fatal(err)
		}
		for _, e := range tids {
			tid := atoiT(t, e.Name())
			prio, err := syscall.Getpriority(syscall.PRIO_PROCESS, tid)
			if err != nil {
				continue // the thread ended
			}
			// The raw syscall returns 20 - nice. Without CAP_SYS_NICE the
			// control plane stays at 0.
			if got := 20 - prio; got != want && !(want < 0 && got == 0 && os.Geteuid() != 0) {
				t.Errorf("%s thread %d: nice %d, want %d", p.Name, tid, got, want)
			}
		}
	default:
		if !strings.HasPrefix(p.Priority, "none: ") {
			t.Errorf("%s: priority %q with mechanism %s", p.Name, p.Priority, info.Mechanism)
		}
	}
}
