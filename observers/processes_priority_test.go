package observers

import (
	"context"
	"os"
	"testing"
	"time"

	"go.uber.org/zap/zaptest"
	clocktesting "k8s.io/utils/clock/testing"

	"github.com/churn-dev/churn/profiles"
	"github.com/churn-dev/churn/results"
)

// prioritisedControlPlane also reports CPU priorities, as the runner's
// wrapper of a local cluster does.
type prioritisedControlPlane struct {
	fakeControlPlane
	prios map[string]string
}

func (p *prioritisedControlPlane) ProcessPriorities() map[string]string { return p.prios }

// Each process' priority reaches results.ProcessUsage; churn's own is
// "not changed"; kwok keeps the simulator role it is listed with.
func TestProcessesRecordPriority(t *testing.T) {
	root := t.TempDir()
	writeProc(t, root, os.Getpid(), 100, 0, 1000)
	writeProc(t, root, 500, 1000, 0, 500_000)
	writeProc(t, root, 600, 300, 0, 100_000)
	cp := &prioritisedControlPlane{
		fakeControlPlane: fakeControlPlane{procs: []Process{{Name: "kube-apiserver", PID: 500}, {Name: "kwok", PID: 600, Role: RoleSimulator}}},
		prios: map[string]string{
			"kube-apiserver": "cpu.shares 4096 (cgroup v1 /churn-ab12cd34/control-plane)",
			"kwok":           "cpu.shares 512 (cgroup v1 /churn-ab12cd34/simulator)",
		},
	}
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
	got := map[string]results.ProcessUsage{}
	for _, u := range r.Processes {
		got[u.Name] = u
	}
	if u := got[TesterProcess]; u.Priority != PriorityNotChanged || u.Role != RoleTester {
		t.Errorf("churn = %+v, want priority %q", u, PriorityNotChanged)
	}
	if u := got["kube-apiserver"]; u.Priority != cp.prios["kube-apiserver"] || u.Role != RoleControlPlane {
		t.Errorf("kube-apiserver = %+v", u)
	}
	if u := got["kwok"]; u.Priority != cp.prios["kwok"] || u.Role != RoleSimulator {
		t.Errorf("kwok = %+v, want role simulator and its priority", u)
	}
}
