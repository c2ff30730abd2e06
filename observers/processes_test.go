package observers

import (
	"context"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"strconv"
	"sync/atomic"
	"testing"
	"time"

	"go.uber.org/zap/zaptest"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	clocktesting "k8s.io/utils/clock/testing"

	"github.com/churn-dev/churn/profiles"
	"github.com/churn-dev/churn/results"
)

// writeProc fakes /proc/<pid>/{stat,status} with utime+stime ticks and RSS.
func writeProc(t *testing.T, root string, pid, utime, stime int, rssKB int) {
	t.Helper()
	dir := filepath.Join(root, strconv.Itoa(pid))
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	// A comm with spaces and a ')' must not shift the fields.
	stat := fmt.Sprintf("%d (kube apiserver) x) S 1 1 1 0 -1 4194560 100 0 0 0 %d %d 0 0 20 0 12 0 100 1000 200 18446744073709551615\n", pid, utime, stime)
	status := fmt.Sprintf("Name:\tkube-apiserver\nVmPeak:\t 9999 kB\nVmRSS:\t %d kB\nThreads:\t12\n", rssKB)
	if err := os.WriteFile(filepath.Join(dir, "stat"), []byte(stat), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "status"), []byte(status), 0o644); err != nil {
		t.Fatal(err)
	}
}

func TestParseProc(t *testing.T) {
	root := t.TempDir()
	writeProc(t, root, 42, 250, 50, 2048)
	r, err := readProc(root, 42, time.Now)
	if err != nil {
		t.Fatal(err)
	}
	if r.cpu != 3 || r.rss != 2048*1024 || r.start != 100 {
		t.Errorf("cpu %v rss %v start %v, want 3 s, 2 MiB and tick 100", r.cpu, r.rss, r.start)
	}
	if r.before.IsZero() || r.after.Before(r.before) {
		t.Errorf("read at %v..%v, want a bracket", r.before, r.after)
	}
	if _, _, err := parseStat("42 (x) S 1"); err == nil {
		t.Error("short stat should fail")
	}
	if _, err := readProc(root, 43, time.Now); err == nil {
		t.Error("missing pid should fail")
	}
}

// kube-apiserver uses 1 core for 2 s, restarts under a new PID and uses 0.5
// core; its CPU adds up across PIDs and its peak RSS is kept.
func TestProcessesAcrossRestart(t *testing.T) {
	root := t.TempDir()
	self := os.Getpid()
	writeProc(t, root, self, 100, 0, 1000)
	writeProc(t, root, 500, 1000, 0, 500_000)
	cp := &fakeControlPlane{procs: []Process{{Name: "kube-apiserver", PID: 500}}}
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	clk := clocktesting.NewFakeClock(t0)
	o, err := New(profiles.ObserverSpec{Name: ProcessesName})
	if err != nil {
		t.Fatal(err)
	}
	p := o.(*processes)
	p.procRoot = root
	sampled := make(chan struct{}, 1)
	p.afterSample = func() { sampled <- struct{}{} }
	if err := o.Start(context.Background(), Env{Clock: clk, Logger: zaptest.NewLogger(t), ControlPlane: cp}); err != nil {
		t.Fatal(err)
	}
	<-sampled // t0 baseline
	tick := func(mutate func()) {
		mutate()
		waitFor(t, func() bool { return clk.HasWaiters() })
		clk.Step(2 * time.Second)
		<-sampled
	}
	tick(func() { writeProc(t, root, 500, 1200, 0, 900_000); writeProc(t, root, self, 110, 0, 1000) }) // +2 s CPU
	tick(func() {
		writeProc(t, root, 777, 100, 0, 300_000) // restarted: 1 s CPU since its start
		cp.set([]Process{{Name: "kube-apiserver", PID: 777}})
	})
	if err := o.Stop(context.Background()); err != nil {
		t.Fatal(err)
	}
	<-sampled
	r := &results.Result{}
	if err := o.Summarize(r); err != nil {
		t.Fatal(err)
	}
	if len(r.Processes) != 2 || r.Processes[0].Name != TesterProcess || r.Processes[0].Role != RoleTester {
		t.Fatalf("processes = %+v, want churn first then kube-apiserver", r.Processes)
	}
	api := r.Processes[1]
	if api.CPUSeconds != 3 || api.PeakRSS != 900_000*1024 || api.PeakCores != 1 || len(api.PIDs) != 2 {
		t.Errorf("kube-apiserver = %+v, want 3 CPU s, peak RSS 900000 KiB, peak 1 core, 2 PIDs", api)
	}
	if api.AvgCores != 0.75 {
		t.Errorf("avg cores = %v, want 0.75 (3 s over 4 s)", api.AvgCores)
	}
	if !near(r.Processes[0].CPUSeconds, 0.1) {
		t.Errorf("churn CPU = %v, want 0.1", r.Processes[0].CPUSeconds)
	}
	var s ProcessesSummary
	if _, err := GetObserver(r, ProcessesName, &s); err != nil {
		t.Fatal(err)
	}
	if c := FindSeries(s.Series, SeriesCPUPrefix+"kube-apiserver"); c == nil || len(c.Points) != 2 {
		t.Errorf("cpu series = %+v, want 2 points", c)
	}
}

// A process the run started beside the control plane (the real istiod)
// keeps the role it was listed with.
func TestProcessesKeepsAGivenRole(t *testing.T) {
	root := t.TempDir()
	writeProc(t, root, os.Getpid(), 100, 0, 1000)
	writeProc(t, root, 500, 1000, 0, 500_000)
	writeProc(t, root, 888, 50, 0, 200_000)
	cp := &fakeControlPlane{procs: []Process{{Name: "kube-apiserver", PID: 500}, {Name: "pilot-discovery", PID: 888, Role: RoleMesh}}}
	clk := clocktesting.NewFakeClock(time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC))
	o, err := New(profiles.ObserverSpec{Name: ProcessesName})
	if err != nil {
		t.Fatal(err)
	}
	p := o.(*processes)
	p.procRoot = root
	sampled := make(chan struct{}, 1)
	p.afterSample = func() { sampled <- struct{}{} }
	if err := o.Start(context.Background(), Env{Clock: clk, Logger: zaptest.NewLogger(t), ControlPlane: cp}); err != nil {
		t.Fatal(err)
	}
	<-sampled
	if err := o.Stop(context.Background()); err != nil {
		t.Fatal(err)
	}
	<-sampled
	r := &results.Result{}
	if err := o.Summarize(r); err != nil {
		t.Fatal(err)
	}
	roles := map[string]string{}
	for _, u := range r.Processes {
		roles[u.Name] = u.Role
	}
	if roles["pilot-discovery"] != RoleMesh || roles["kube-apiserver"] != RoleControlPlane || roles[TesterProcess] != RoleTester {
		t.Fatalf("roles = %v, want pilot-discovery mesh, kube-apiserver control-plane, churn tester", roles)
	}
}

// writeProcFile fakes /proc/<pid>/{stat,status} of a process that started
// startTicks after boot and has used cpuTicks. It returns an error instead
// of failing the test so that the sampler's goroutine can call it.
func writeProcFile(root string, pid, cpuTicks, startTicks, rssKB int) error {
	dir := filepath.Join(root, strconv.Itoa(pid))
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	stat := fmt.Sprintf("%d (kube apiserver) x) S 1 1 1 0 -1 4194560 100 0 0 0 %d 0 0 0 20 0 12 0 %d 1000 200 18446744073709551615\n", pid, cpuTicks, startTicks)
	status := fmt.Sprintf("Name:\tkube-apiserver\nVmRSS:\t %d kB\n", rssKB)
	if err := os.WriteFile(filepath.Join(dir, "stat"), []byte(stat), 0o644); err != nil {
		return err
	}
	return os.WriteFile(filepath.Join(dir, "status"), []byte(status), 0o644)
}

// writeCPUs fakes /proc/stat of a machine with n online CPUs.
func writeCPUs(t *testing.T, root string, n int) {
	t.Helper()
	s := "cpu  100 0 100 1000 0 0 0 0 0 0\n"
	for i := range n {
		s += fmt.Sprintf("cpu%d 50 0 50 500 0 0 0 0 0 0\n", i)
	}
	s += "intr 1 2 3\nctxt 42\nbtime 1767225600\n"
	if err := os.WriteFile(filepath.Join(root, "stat"), []byte(s), 0o644); err != nil {
		t.Fatal(err)
	}
}

// listingControlPlane runs onList each time the sampler lists the
// processes, which is after the old sampler had read its clock and before
// it read /proc: the place where an overloaded machine stalls it.
type listingControlPlane struct {
	fakeControlPlane
	onList func()
}

func (c *listingControlPlane) Processes() []Process {
	c.onList()
	return c.fakeControlPlane.Processes()
}

// startProcesses starts a processes observer sampling every interval over
// the fake /proc at root; the channel receives one value per sweep.
func startProcesses(t *testing.T, root string, interval time.Duration, clk *clocktesting.FakeClock, cp ControlPlane) (Observer, chan struct{}) {
	t.Helper()
	o, err := New(profiles.ObserverSpec{Name: ProcessesName, Interval: metav1.Duration{Duration: interval}})
	if err != nil {
		t.Fatal(err)
	}
	p := o.(*processes)
	p.procRoot = root
	sampled := make(chan struct{}, 1)
	p.afterSample = func() { sampled <- struct{}{} }
	if err := o.Start(context.Background(), Env{Clock: clk, Logger: zaptest.NewLogger(t), ControlPlane: cp}); err != nil {
		t.Fatal(err)
	}
	<-sampled // the baseline sweep
	return o, sampled
}

// stopProcesses stops o, waits for its last sweep and summarizes it.
func stopProcesses(t *testing.T, o Observer, sampled chan struct{}) (map[string]results.ProcessUsage, ProcessesSummary) {
	t.Helper()
	if err := o.Stop(context.Background()); err != nil {
		t.Fatal(err)
	}
	<-sampled
	r := &results.Result{}
	if err := o.Summarize(r); err != nil {
		t.Fatal(err)
	}
	got := map[string]results.ProcessUsage{}
	for _, u := range r.Processes {
		got[u.Name] = u
	}
	var s ProcessesSummary
	if _, err := GetObserver(r, ProcessesName, &s); err != nil {
		t.Fatal(err)
	}
	return got, s
}

// checkCores fails when a process' peak is off its true rate or any point
// of its CPU series is more than the machine's cpus can do.
func checkCores(t *testing.T, got map[string]results.ProcessUsage, s ProcessesSummary, name string, want float64, cpus int) {
	t.Helper()
	u, ok := got[name]
	if !ok {
		t.Fatalf("no %s in %v", name, got)
	}
	if math.Abs(u.PeakCores-want) > 0.02 || u.PeakCores > float64(cpus) {
		t.Errorf("%s peak cores = %.2f, want %.2f (it burns %.2f cores of %d CPUs)", name, u.PeakCores, want, want, cpus)
	}
	c := FindSeries(s.Series, SeriesCPUPrefix+name)
	if c == nil {
		t.Fatalf("no CPU series of %s", name)
	}
	for _, p := range c.Points {
		if p.V > float64(cpus) {
			t.Errorf("%s at %s: %.2f cores on a %d-CPU machine", name, p.T.Format(time.RFC3339Nano), p.V, cpus)
		}
	}
}

// On an overloaded 2-CPU machine kube-apiserver burns 1.5 cores and etcd
// 0.5. One sweep of the 1 s sampler stalls for 30 s after it read the clock
// and before it read /proc; the tick that came due meanwhile then starts the
// next sweep at once, and the final sweep follows the one before it by
// 250 µs, across which each /proc counter steps by one 10 ms tick. The peak
// stays the true rate: CPU time over the time between the two reads,
// never over the sampler's interval or a window too short for a 10 ms tick.
func TestProcessesPeakWhenSamplerStalls(t *testing.T) {
	const cpus = 2
	root := t.TempDir()
	writeCPUs(t, root, cpus)
	self := os.Getpid()
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	clk := clocktesting.NewFakeClock(t0)
	rates := map[int]float64{500: 1.5, 600: 0.5, self: 0}
	var stall atomic.Int64
	cp := &listingControlPlane{fakeControlPlane: fakeControlPlane{procs: []Process{
		{Name: "kube-apiserver", PID: 500}, {Name: "etcd", PID: 600},
	}}}
	cp.onList = func() {
		if d := time.Duration(stall.Swap(0)); d > 0 {
			clk.Step(d)
		}
		// The counters are whole ticks, each just short of the next one.
		elapsed := clk.Since(t0).Seconds()
		for pid, rate := range rates {
			if err := writeProcFile(root, pid, int(rate*clockTicks*elapsed+0.99), 100, 1000); err != nil {
				t.Errorf("fake /proc: %v", err)
			}
		}
	}
	o, sampled := startProcesses(t, root, time.Second, clk, cp)
	waitFor(t, clk.HasWaiters)
	clk.Step(time.Second)
	<-sampled
	stall.Store(int64(30 * time.Second))
	clk.Step(time.Second)
	<-sampled // the stalled sweep
	<-sampled // the tick that came due while it stalled
	clk.Step(250 * time.Microsecond)
	got, s := stopProcesses(t, o, sampled)

	checkCores(t, got, s, "kube-apiserver", 1.5, cpus)
	checkCores(t, got, s, "etcd", 0.5, cpus)
	if api := got["kube-apiserver"]; !near(api.CPUSeconds, 48.01) || math.Abs(api.AvgCores-1.5) > 0.01 {
		t.Errorf("kube-apiserver CPU %v s, avg %.3f cores; want 48.01 s, 1.5 cores", api.CPUSeconds, api.AvgCores)
	}
}

// kube-apiserver restarts under the PID it had before: its counter starts
// again from zero. The new process' CPU counts, the old one's is kept, and
// the restart is no spike.
func TestProcessesCounterGoesDown(t *testing.T) {
	const cpus = 2
	root := t.TempDir()
	writeCPUs(t, root, cpus)
	if err := writeProcFile(root, os.Getpid(), 0, 100, 1000); err != nil {
		t.Fatal(err)
	}
	write := func(ticks, start int) {
		t.Helper()
		if err := writeProcFile(root, 500, ticks, start, 1000); err != nil {
			t.Fatal(err)
		}
	}
	write(1000, 100)
	cp := &fakeControlPlane{procs: []Process{{Name: "kube-apiserver", PID: 500}}}
	clk := clocktesting.NewFakeClock(time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC))
	o, sampled := startProcesses(t, root, 2*time.Second, clk, cp)
	tick := func(ticks, start int) {
		write(ticks, start)
		waitFor(t, clk.HasWaiters)
		clk.Step(2 * time.Second)
		<-sampled
	}
	tick(1200, 100)   // 1 core
	tick(50, 90_000)  // restarted, same PID: 0.5 s since its start
	tick(250, 90_000) // 1 core
	got, s := stopProcesses(t, o, sampled)

	checkCores(t, got, s, "kube-apiserver", 1, cpus)
	api := got["kube-apiserver"]
	if !near(api.CPUSeconds, 4.5) {
		t.Errorf("kube-apiserver CPU = %v s, want 4.5 (2 + 0.5 after the restart + 2)", api.CPUSeconds)
	}
	if len(api.PIDs) != 2 {
		t.Errorf("PIDs = %v, want 500 twice: two processes", api.PIDs)
	}
}

// A process that burns both CPUs of the machine for 0.5 s shows a 101-tick
// step when its counter crosses a tick boundary: 2.02 cores, more than the
// machine has. The peak is what is possible, 2.
func TestProcessesPeakNeverExceedsTheMachine(t *testing.T) {
	const cpus = 2
	root := t.TempDir()
	writeCPUs(t, root, cpus)
	if err := writeProcFile(root, os.Getpid(), 0, 100, 1000); err != nil {
		t.Fatal(err)
	}
	if err := writeProcFile(root, 500, 0, 100, 1000); err != nil {
		t.Fatal(err)
	}
	cp := &fakeControlPlane{procs: []Process{{Name: "kube-apiserver", PID: 500}}}
	clk := clocktesting.NewFakeClock(time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC))
	o, sampled := startProcesses(t, root, time.Second, clk, cp)
	if err := writeProcFile(root, 500, 101, 100, 1000); err != nil {
		t.Fatal(err)
	}
	waitFor(t, clk.HasWaiters)
	clk.Step(500 * time.Millisecond)
	got, s := stopProcesses(t, o, sampled)
	checkCores(t, got, s, "kube-apiserver", 2, cpus)
}
