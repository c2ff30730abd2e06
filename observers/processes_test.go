package observers

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"go.uber.org/zap/zaptest"
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
	cpu, rss, err := readProc(root, 42)
	if err != nil {
		t.Fatal(err)
	}
	if cpu != 3 || rss != 2048*1024 {
		t.Errorf("cpu %v rss %v, want 3 s and 2 MiB", cpu, rss)
	}
	if _, err := parseStatCPU("42 (x) S 1"); err == nil {
		t.Error("short stat should fail")
	}
	if _, _, err := readProc(root, 43); err == nil {
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
