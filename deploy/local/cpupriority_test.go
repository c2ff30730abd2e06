package local

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"go.uber.org/zap"
	"go.uber.org/zap/zaptest"
	"go.uber.org/zap/zaptest/observer"
)

// fakeCgroups is a temporary directory standing in for /proc and the
// cgroup mounts. Its rmdir behaves like the kernel's in one respect only:
// a group with child groups cannot be removed (EBUSY). It does not refuse a
// group that lists processes, so a test sees it if the code under test
// removes one.
type fakeCgroups struct {
	t       *testing.T
	root    string
	proc    string
	removed []string
}

func newFakeCgroups(t *testing.T) *fakeCgroups {
	t.Helper()
	root := t.TempDir()
	f := &fakeCgroups{t: t, root: root, proc: filepath.Join(root, "proc")}
	f.mkdir("proc/self")
	return f
}

func (f *fakeCgroups) path(rel string) string { return filepath.Join(f.root, rel) }

func (f *fakeCgroups) mkdir(rel string) string {
	f.t.Helper()
	p := f.path(rel)
	if err := os.MkdirAll(p, 0o755); err != nil {
		f.t.Fatal(err)
	}
	return p
}

func (f *fakeCgroups) write(rel, content string) {
	f.t.Helper()
	if err := os.MkdirAll(filepath.Dir(f.path(rel)), 0o755); err != nil {
		f.t.Fatal(err)
	}
	if err := os.WriteFile(f.path(rel), []byte(content), 0o644); err != nil {
		f.t.Fatal(err)
	}
}

func (f *fakeCgroups) read(rel string) string {
	f.t.Helper()
	b, err := os.ReadFile(f.path(rel))
	if err != nil {
		f.t.Fatal(err)
	}
	return strings.TrimSpace(string(b))
}

func (f *fakeCgroups) exists(rel string) bool {
	_, err := os.Stat(f.path(rel))
	return err == nil
}

// mountinfo writes proc/self/mountinfo with the given mounts (relative to
// root) in the kernel's format.
func (f *fakeCgroups) mountinfo(v1cpu, v2 string) {
	var b strings.Builder
	b.WriteString("22 1 259:1 / / rw,relatime - ext4 /dev/root rw\n")
	b.WriteString("33 31 0:30 / " + f.path("cpuacct") + " rw,relatime - cgroup cgroup rw,cpuacct\n")
	if v1cpu != "" {
		b.WriteString("32 31 0:29 / " + f.path(v1cpu) + " rw,relatime shared:9 - cgroup cgroup rw,cpu\n")
	}
	if v2 != "" {
		b.WriteString("41 31 0:38 / " + f.path(v2) + " rw,relatime - cgroup2 cgroup2 rw,nsdelegate\n")
	}
	f.write("proc/self/mountinfo", b.String())
}

func (f *fakeCgroups) sys(probeNice error) prioSys {
	return prioSys{
		procRoot: f.proc,
		rmdir: func(dir string) error {
			ents, err := os.ReadDir(dir)
			if err != nil {
				return err
			}
			for _, e := range ents {
				if e.IsDir() {
					return &fs.PathError{Op: "rmdir", Path: dir, Err: syscall.EBUSY}
				}
			}
			f.removed = append(f.removed, dir)
			return os.RemoveAll(dir)
		},
		setNice:   func(int, int) error { return errors.New("fake: no setpriority") },
		probeNice: func() error { return probeNice },
	}
}

// setCgroup fakes /proc/<pid>/cgroup as the kernel shows it after placement.
func (f *fakeCgroups) setCgroup(pid int, line string) {
	f.write(fmt.Sprintf("proc/%d/cgroup", pid), line+"\n")
}

func atoiT(t *testing.T, s string) int {
	t.Helper()
	n, err := strconv.Atoi(s)
	if err != nil {
		t.Fatalf("%q is not a number: %v", s, err)
	}
	return n
}

func TestFindCgroupMounts(t *testing.T) {
	mi := `22 1 259:1 / / rw,relatime - ext4 /dev/root rw
31 23 0:28 / /sys/fs/cgroup rw,relatime - tmpfs tmpfs rw,mode=755
34 31 0:31 / /sys/fs/cgroup/cpuset rw,relatime - cgroup cgroup rw,cpuset
33 31 0:30 / /sys/fs/cgroup/cpuacct rw,relatime - cgroup cgroup rw,cpuacct
32 31 0:29 /docker/abc /sys/fs/cgroup/cpu\040x rw,relatime shared:9 master:2 - cgroup cgroup rw,cpu,cpuacct
41 31 0:38 / /sys/fs/cgroup/unified rw,relatime - cgroup2 cgroup2 rw
`
	v1, v2 := findCgroupMounts([]byte(mi))
	if v1 == nil || v1.point != "/sys/fs/cgroup/cpu x" || v1.root != "/docker/abc" || v1.v2 {
		t.Errorf("v1 cpu mount = %+v, want /sys/fs/cgroup/cpu x with root /docker/abc (not cpuset or cpuacct alone)", v1)
	}
	if v2 == nil || v2.point != "/sys/fs/cgroup/unified" || !v2.v2 {
		t.Errorf("v2 mount = %+v, want /sys/fs/cgroup/unified", v2)
	}
	v1, v2 = findCgroupMounts([]byte("33 31 0:30 / /sys/fs/cgroup/cpuacct rw - cgroup cgroup rw,cpuacct\nbroken line\n"))
	if v1 != nil || v2 != nil {
		t.Errorf("cpuacct only: got %+v %+v, want none", v1, v2)
	}
}

// cgroup v1: one parent per cluster with the sum of its children's shares,
// the control plane and kwok in their groups, read back from the files.
func TestCPUPriorityCgroupV1Placement(t *testing.T) {
	f := newFakeCgroups(t)
	f.mkdir("cpu")
	f.mountinfo("cpu", "unified")
	p := chooseCPUPriority(f.sys(nil), "/x/cluster", CPUBudget{}, zaptest.NewLogger(t))
	name := clusterGroupName("/x/cluster")
	if !staleGroupRE.MatchString(name) {
		t.Fatalf("group name %q does not match the names the sweep removes", name)
	}
	if p.info.Mechanism != PriorityCgroupV1 || p.info.Group != f.path("cpu/"+name) || p.info.Reason != "" {
		t.Fatalf("chosen %+v, want cgroup v1 in %s", p.info, f.path("cpu/"+name))
	}

	f.setCgroup(101, "1:cpu:/"+name+"/control-plane")
	got := p.place(101, GroupControlPlane)
	if want := "cpu.shares 4096 (cgroup v1 /" + name + "/control-plane)"; got != want {
		t.Errorf("apiserver priority %q, want %q", got, want)
	}
	f.setCgroup(202, "2:cpuacct:/\n1:cpu:/"+name+"/simulator")
	if got, want := p.place(202, GroupSimulator), "cpu.shares 512 (cgroup v1 /"+name+"/simulator)"; got != want {
		t.Errorf("kwok priority %q, want %q", got, want)
	}
	if got := f.read("cpu/" + name + "/control-plane/cgroup.procs"); got != "101" {
		t.Errorf("control-plane cgroup.procs = %q, want 101", got)
	}
	if got := f.read("cpu/" + name + "/simulator/cgroup.procs"); got != "202" {
		t.Errorf("simulator cgroup.procs = %q, want 202", got)
	}

	// Under full contention the root's children are churn's autogroup
	// (1024) and the cluster's parent; the parent splits its share.
	parent := atoiT(t, f.read("cpu/"+name+"/cpu.shares"))
	cp := atoiT(t, f.read("cpu/"+name+"/control-plane/cpu.shares"))
	sim := atoiT(t, f.read("cpu/"+name+"/simulator/cpu.shares"))
	const churn = 1024
	total := float64(parent + churn)
	cpShare := float64(parent) / total * float64(cp) / float64(cp+sim)
	simShare := float64(parent) / total * float64(sim) / float64(cp+sim)
	if math.Abs(cpShare/(churn/total)-4) > 1e-9 || math.Abs((churn/total)/simShare-2) > 1e-9 {
		t.Errorf("parent %d, control plane %d, simulator %d give control plane %.3f : churn %.3f : kwok %.3f, want 4096 : 1024 : 512",
			parent, cp, sim, cpShare, churn/total, simShare)
	}
}

// A concurrent Up may sweep a group of ours while it is empty; a restarted
// process still gets back into its group.
func TestCPUPriorityRecreatesSweptGroup(t *testing.T) {
	f := newFakeCgroups(t)
	f.mkdir("cpu")
	f.mountinfo("cpu", "")
	sys := f.sys(nil)
	p := chooseCPUPriority(sys, "/x/cluster", CPUBudget{}, zaptest.NewLogger(t))
	if p.info.Mechanism != PriorityCgroupV1 {
		t.Fatalf("chosen %+v", p.info)
	}
	if err := sys.removeGroupTree(p.dir); err != nil {
		t.Fatal(err)
	}
	name := filepath.Base(p.dir)
	f.setCgroup(303, "1:cpu:/"+name+"/control-plane")
	if got := p.place(303, GroupControlPlane); !strings.HasPrefix(got, "cpu.shares 4096 ") {
		t.Errorf("priority after the group was swept: %q", got)
	}
	if f.read("cpu/"+name+"/cpu.shares") != "4608" || f.read("cpu/"+name+"/control-plane/cgroup.procs") != "303" {
		t.Error("parent or group not recreated with its shares and the process")
	}
}

// Up removes churn-named cgroups without processes, and nothing else.
func TestCPUPrioritySweepsOnlyEmptyChurnGroups(t *testing.T) {
	f := newFakeCgroups(t)
	f.mkdir("cpu")
	f.mountinfo("cpu", "")
	// Stale: a churn killed with SIGKILL; its processes died with it.
	f.write("cpu/churn-0000aaaa/cpu.shares", "4608")
	f.write("cpu/churn-0000aaaa/cgroup.procs", "")
	f.write("cpu/churn-0000aaaa/control-plane/cgroup.procs", "")
	f.write("cpu/churn-0000aaaa/simulator/cgroup.procs", "")
	f.mkdir("cpu/churn-0000abcd/control-plane") // no files at all
	// A running cluster (churn up): kwok still runs; its empty control-plane
	// group must not go either.
	f.write("cpu/churn-0000bbbb/control-plane/cgroup.procs", "")
	f.write("cpu/churn-0000bbbb/simulator/cgroup.procs", "4242\n")
	// Not named by churn, or not like churn names them.
	for _, d := range []string{"system.slice", "churn-zzzzzzzz", "churn-0000cccc-x", "churn-0000CCCC", "xchurn-0000cccc", "churn-000cccc"} {
		f.mkdir("cpu/" + d)
	}
	f.write("cpu/churn-0000dddd", "a file")
	// Someone else's group inside a churn one: the parent stays.
	f.mkdir("cpu/churn-0000eeee/theirs")

	p := chooseCPUPriority(f.sys(nil), "/x/cluster", CPUBudget{}, zaptest.NewLogger(t))
	if p.info.Mechanism != PriorityCgroupV1 {
		t.Fatalf("chosen %+v", p.info)
	}
	for _, gone := range []string{"churn-0000aaaa", "churn-0000abcd"} {
		if f.exists("cpu/" + gone) {
			t.Errorf("stale %s not removed", gone)
		}
	}
	for _, kept := range []string{
		"churn-0000bbbb/control-plane", "churn-0000bbbb/simulator/cgroup.procs", "system.slice", "churn-zzzzzzzz",
		"churn-0000cccc-x", "churn-0000CCCC", "xchurn-0000cccc", "churn-000cccc", "churn-0000dddd", "churn-0000eeee/theirs",
		filepath.Base(p.dir),
	} {
		if !f.exists("cpu/" + kept) {
			t.Errorf("%s removed", kept)
		}
	}
	for _, r := range f.removed {
		if strings.Contains(r, "bbbb") || strings.Contains(r, "theirs") {
			t.Errorf("rmdir %s", r)
		}
	}
}

// Stop removes the cluster's groups only once they are empty.
func TestCPUPriorityCleanupWaitsForEmptyGroups(t *testing.T) {
	f := newFakeCgroups(t)
	f.mkdir("cpu")
	f.mountinfo("cpu", "")
	p := chooseCPUPriority(f.sys(nil), "/x/cluster", CPUBudget{}, zaptest.NewLogger(t))
	name := filepath.Base(p.dir)
	p.place(11, GroupControlPlane)
	p.place(12, GroupSimulator)
	if err := p.cleanup(); !errors.Is(err, errGroupBusy) {
		t.Fatalf("cleanup with processes: %v, want errGroupBusy", err)
	}
	if !f.exists("cpu/"+name+"/control-plane") || !f.exists("cpu/"+name+"/simulator") {
		t.Fatal("a group with processes was removed")
	}
	// The processes exit: the kernel empties cgroup.procs.
	f.write("cpu/"+name+"/control-plane/cgroup.procs", "")
	f.write("cpu/"+name+"/simulator/cgroup.procs", "")
	if err := p.cleanup(); err != nil {
		t.Fatalf("cleanup: %v", err)
	}
	if f.exists("cpu/" + name) {
		t.Error("cluster cgroup still there after cleanup")
	}
	if err := p.cleanup(); err != nil {
		t.Errorf("second cleanup: %v", err)
	}
}

// cgroup v2 when v1 has no usable cpu hierarchy: weights relative to 100,
// cpu delegated to the children.
func TestCPUPriorityFallsBackToCgroupV2(t *testing.T) {
	f := newFakeCgroups(t)
	f.write("cpu", "not a directory: mkdir in it fails") // v1 mounted but unusable
	f.write("unified/cgroup.controllers", "cpuset cpu io memory pids\n")
	f.write("unified/cgroup.subtree_control", "cpu memory\n")
	f.mountinfo("cpu", "unified")
	p := chooseCPUPriority(f.sys(nil), "/x/cluster", CPUBudget{}, zaptest.NewLogger(t))
	if p.info.Mechanism != PriorityCgroupV2 || !strings.Contains(p.info.Reason, "cgroup v1 cpu at "+f.path("cpu")) {
		t.Fatalf("chosen %+v, want cgroup v2 saying why not v1", p.info)
	}
	name := filepath.Base(p.dir)
	f.setCgroup(7, "0::/"+name+"/control-plane")
	if got, want := p.place(7, GroupControlPlane), "cpu.weight 400 (cgroup v2 /"+name+"/control-plane)"; got != want {
		t.Errorf("priority %q, want %q", got, want)
	}
	f.setCgroup(8, "0::/"+name+"/simulator")
	if got, want := p.place(8, GroupSimulator), "cpu.weight 50 (cgroup v2 /"+name+"/simulator)"; got != want {
		t.Errorf("priority %q, want %q", got, want)
	}
	if f.read("unified/"+name+"/cpu.weight") != "450" || f.read("unified/"+name+"/cgroup.subtree_control") != "+cpu" {
		t.Error("v2 parent lacks weight 450 or cpu delegation")
	}
}

// Without a cgroup cpu controller: nice, with the reasons; with nice
// unusable too: none, with every reason, and placement never fails.
func TestCPUPriorityFallbackOrderAndNoneReason(t *testing.T) {
	f := newFakeCgroups(t)
	f.write("unified/cgroup.controllers", "cpuset cpu io memory pids\n")
	f.write("unified/cgroup.subtree_control", "memory pids\n") // cpu not delegated
	f.mountinfo("", "unified")
	p := chooseCPUPriority(f.sys(nil), "/x/cluster", CPUBudget{}, zaptest.NewLogger(t))
	if p.info.Mechanism != PriorityNice {
		t.Fatalf("chosen %+v, want nice", p.info)
	}
	for _, want := range []string{"no cgroup v1 cpu hierarchy", "cpu controller not in cgroup.subtree_control"} {
		if !strings.Contains(p.info.Reason, want) {
			t.Errorf("reason %q lacks %q", p.info.Reason, want)
		}
	}
	if ents, _ := os.ReadDir(f.path("unified")); len(ents) != 2 {
		t.Errorf("cgroup v2 without cpu got a group: %v", ents)
	}

	core, logs := observer.New(zap.WarnLevel)
	p = chooseCPUPriority(f.sys(syscall.EPERM), "/x/cluster", CPUBudget{}, zap.New(core))
	if p.info.Mechanism != PriorityNone {
		t.Fatalf("chosen %+v, want none", p.info)
	}
	for _, want := range []string{"no cgroup v1 cpu hierarchy", "cgroup.subtree_control", "nice: operation not permitted"} {
		if !strings.Contains(p.info.Reason, want) {
			t.Errorf("none reason %q lacks %q", p.info.Reason, want)
		}
	}
	if got := p.place(99, GroupControlPlane); got != "none: "+p.info.Reason {
		t.Errorf("priority %q, want none with the reason", got)
	}
	if logs.Len() != 0 {
		t.Errorf("placing with none logged %d warnings; Up logs the one", logs.Len())
	}
	if s := p.info.String(); !strings.HasPrefix(s, "none: ") {
		t.Errorf("description %q", s)
	}
	if got := offPlacer(zap.NewNop(), CPUBudget{}).place(1, GroupSimulator); got != "not changed (CPU priority off)" {
		t.Errorf("off priority %q", got)
	}
}

// Nice goes to every thread, twice (threads started meanwhile).
func TestCPUPriorityNiceEveryThreadTwice(t *testing.T) {
	f := newFakeCgroups(t)
	f.mountinfo("", "")
	for _, tid := range []int{40, 41, 42} {
		f.write(fmt.Sprintf("proc/40/task/%d/stat", tid), fmt.Sprintf("%d (kwok) S 1 1 1 0 -1 0 0 0 0 0 0 0 0 0 30 10 3 0 100 0 0\n", tid))
	}
	sys := f.sys(nil)
	calls := map[int][]int{}
	sys.setNice = func(tid, n int) error { calls[tid] = append(calls[tid], n); return nil }
	p := chooseCPUPriority(sys, "/x/cluster", CPUBudget{}, zaptest.NewLogger(t))
	if p.info.Mechanism != PriorityNice {
		t.Fatalf("chosen %+v", p.info)
	}
	if got := p.place(40, GroupSimulator); got != "nice 10" {
		t.Errorf("read back %q, want nice 10", got)
	}
	for _, tid := range []int{40, 41, 42} {
		if !slices.Equal(calls[tid], []int{10, 10}) {
			t.Errorf("thread %d reniced %v, want twice to 10", tid, calls[tid])
		}
	}
	f.write("proc/40/task/42/stat", "42 (a b) c) S 1 1 1 0 -1 0 0 0 0 0 0 0 0 0 20 0 3 0 100 0 0\n")
	if got, _ := readNice(f.proc, 40); got != "nice 10 (2 threads), 0 (1 thread)" {
		t.Errorf("mixed threads read as %q", got)
	}
}

// The real setpriority on a real multi-threaded child: every thread, read
// back with getpriority.
func TestCPUPriorityNiceRealProcess(t *testing.T) {
	if os.Getenv("CHURN_PRIO_HELPER") == "1" {
		time.Sleep(time.Minute)
		return
	}
	cmd := exec.Command(os.Args[0], "-test.run=^TestCPUPriorityNiceRealProcess$")
	cmd.Env = append(os.Environ(), "CHURN_PRIO_HELPER=1")
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })
	pid := cmd.Process.Pid
	// A Go process has several threads soon after start.
	time.Sleep(200 * time.Millisecond)
	p := &cpuPlacer{sys: realPrioSys(), logger: zaptest.NewLogger(t), info: CPUPriority{Mechanism: PriorityNice}}
	if got := p.place(pid, GroupSimulator); got != "nice 10" {
		t.Errorf("read back %q, want nice 10", got)
	}
	tids, err := os.ReadDir(fmt.Sprintf("/proc/%d/task", pid))
	if err != nil {
		t.Fatal(err)
	}
	if len(tids) < 2 {
		t.Logf("only %d thread(s)", len(tids))
	}
	for _, e := range tids {
		tid := atoiT(t, e.Name())
		prio, err := syscall.Getpriority(syscall.PRIO_PROCESS, tid)
		if err != nil {
			t.Fatal(err)
		}
		// The raw syscall returns 20 - nice.
		if 20-prio != 10 {
			t.Errorf("thread %d has nice %d, want 10", tid, 20-prio)
		}
	}
	// Raising priority needs CAP_SYS_NICE: root here, otherwise a warning
	// and the value stays.
	got := p.place(pid, GroupControlPlane)
	if os.Geteuid() == 0 && got != "nice -5" {
		t.Errorf("as root, control plane read back %q, want nice -5", got)
	}
}

// Down removes the cgroups its state file names, only churn-named ones,
// only without processes. A plain empty directory is rmdir-able like a
// cgroup, so the real rmdir runs here.
func TestDownRemovesRecordedCgroups(t *testing.T) {
	base := t.TempDir()
	group := filepath.Join(base, "churn-0000ffff")
	for _, d := range []string{GroupControlPlane, GroupSimulator} {
		if err := os.MkdirAll(filepath.Join(group, d), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	dir := t.TempDir()
	s := &State{Version: stateVersion, Dir: dir, CPUPriority: &CPUPriority{Mechanism: PriorityCgroupV1, Group: group}}
	if err := writeState(dir, s); err != nil {
		t.Fatal(err)
	}
	if err := Down(context.Background(), dir, false, zaptest.NewLogger(t)); err != nil {
		t.Fatalf("Down: %v", err)
	}
	if _, err := os.Stat(group); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("cgroup %s still there after Down: %v", group, err)
	}

	// Not named by churn: left alone even though empty.
	other := filepath.Join(base, "payments")
	if err := os.Mkdir(other, 0o755); err != nil {
		t.Fatal(err)
	}
	removeRecordedGroup(&CPUPriority{Mechanism: PriorityCgroupV1, Group: other}, zaptest.NewLogger(t))
	if _, err := os.Stat(other); err != nil {
		t.Errorf("%s removed: %v", other, err)
	}
	// With a process: left alone.
	busy := filepath.Join(base, "churn-0000eeee")
	if err := os.MkdirAll(filepath.Join(busy, GroupSimulator), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(busy, GroupSimulator, "cgroup.procs"), []byte("77\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	removeRecordedGroup(&CPUPriority{Mechanism: PriorityCgroupV1, Group: busy}, zaptest.NewLogger(t))
	if _, err := os.Stat(filepath.Join(busy, GroupSimulator)); err != nil {
		t.Errorf("busy group removed: %v", err)
	}
}

// Up on this machine, with fake binaries: etcd goes into the cluster's
// control-plane cgroup right after it starts, churn stays where it was, and
// the failed Up (etcd never healthy) leaves no cgroup behind.
func TestUpPlacesEtcdAndRemovesCgroupsOnFailure(t *testing.T) {
	mi, err := os.ReadFile("/proc/self/mountinfo")
	if err != nil {
		t.Skip(err)
	}
	v1, _ := findCgroupMounts(mi)
	if v1 == nil || os.Geteuid() != 0 {
		t.Skip("needs root and a cgroup v1 cpu hierarchy")
	}
	ownBefore, err := procCgroupPath("/proc", os.Getpid(), false)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	name := clusterGroupName(dir)
	group := filepath.Join(v1.point, name)
	pidFile := filepath.Join(t.TempDir(), "etcd.pid")
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	done := make(chan error, 1)
	go func() {
		_, err := Up(ctx, Options{Dir: dir, BinDir: fakeBinDir(t, "echo $$ > "+pidFile+"; exec sleep 60"), Logger: zaptest.NewLogger(t)})
		done <- err
	}()
	var pid int
	var path string
	deadline := time.Now().Add(4 * time.Second)
	for time.Now().Before(deadline) {
		if b, err := os.ReadFile(pidFile); err == nil && len(b) > 0 && b[len(b)-1] == '\n' {
			pid = atoiT(t, strings.TrimSpace(string(b)))
			if path, _ = procCgroupPath("/proc", pid, false); strings.HasSuffix(path, "/"+name+"/"+GroupControlPlane) {
				break
			}
		}
		time.Sleep(20 * time.Millisecond)
	}
	if pid == 0 || !strings.HasSuffix(path, "/"+name+"/"+GroupControlPlane) {
		t.Fatalf("fake etcd (pid %d) is in cpu cgroup %q, want .../%s/%s", pid, path, name, GroupControlPlane)
	}
	shares, err := os.ReadFile(filepath.Join(group, GroupControlPlane, "cpu.shares"))
	if err != nil || strings.TrimSpace(string(shares)) != "4096" {
		t.Errorf("control-plane cpu.shares = %q (%v), want 4096", shares, err)
	}
	if own, _ := procCgroupPath("/proc", os.Getpid(), false); own != ownBefore {
		t.Errorf("churn itself moved from %q to %q", ownBefore, own)
	}
	if err := <-done; err == nil {
		t.Fatal("Up succeeded with an etcd that is never healthy")
	}
	if _, err := os.Stat(group); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("cgroup %s left after the failed Up: %v", group, err)
	}
}
