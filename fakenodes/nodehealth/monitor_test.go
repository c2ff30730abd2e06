package nodehealth

import (
	"context"
	"testing"
	"time"

	"go.uber.org/zap"
	coordinationv1 "k8s.io/api/coordination/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes/fake"
	clocktesting "k8s.io/utils/clock/testing"
)

var t0 = time.Date(2026, 12, 7, 10, 0, 0, 0, time.UTC)

func node(name string, ready corev1.ConditionStatus) *corev1.Node {
	return &corev1.Node{
		ObjectMeta: metav1.ObjectMeta{Name: name, Labels: map[string]string{"type": "kwok"}},
		Status: corev1.NodeStatus{Conditions: []corev1.NodeCondition{
			{Type: corev1.NodeReady, Status: ready, Reason: "KubeletReady"},
		}},
	}
}

func lease(name string, renewed time.Time) *coordinationv1.Lease {
	return &coordinationv1.Lease{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: LeaseNamespace},
		Spec:       coordinationv1.LeaseSpec{RenewTime: &metav1.MicroTime{Time: renewed}},
	}
}

type fixture struct {
	t   *testing.T
	ctx context.Context
	cs  *fake.Clientset
	clk *clocktesting.FakeClock
	m   *Monitor
}

func start(t *testing.T, objs ...any) *fixture {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	t.Cleanup(cancel)
	cs := fake.NewClientset()
	for _, o := range objs {
		var err error
		switch o := o.(type) {
		case *corev1.Node:
			_, err = cs.CoreV1().Nodes().Create(ctx, o, metav1.CreateOptions{})
		case *coordinationv1.Lease:
			_, err = cs.CoordinationV1().Leases(LeaseNamespace).Create(ctx, o, metav1.CreateOptions{})
		}
		if err != nil {
			t.Fatal(err)
		}
	}
	clk := clocktesting.NewFakeClock(t0)
	m, err := Start(ctx, Config{Client: cs, Clock: clk, NodeSelector: "type=kwok"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(m.Stop)
	return &fixture{t: t, ctx: ctx, cs: cs, clk: clk, m: m}
}

func (f *fixture) setNode(n *corev1.Node) {
	f.t.Helper()
	if _, err := f.cs.CoreV1().Nodes().Update(f.ctx, n, metav1.UpdateOptions{}); err != nil {
		f.t.Fatal(err)
	}
}

func (f *fixture) renew(name string, at time.Time) {
	f.t.Helper()
	if _, err := f.cs.CoordinationV1().Leases(LeaseNamespace).Update(f.ctx, lease(name, at), metav1.UpdateOptions{}); err != nil {
		f.t.Fatal(err)
	}
}

// settle waits until the monitor has handled what the fake API server
// sent: the informers deliver asynchronously.
func (f *fixture) settle(cond func() bool) {
	f.t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			f.t.Fatalf("monitor did not see the change; incidents %+v", f.m.Incidents())
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func (f *fixture) leaseSeen(name string, at time.Time) func() bool {
	return func() bool {
		f.m.mu.Lock()
		defer f.m.mu.Unlock()
		s := f.m.leases[name]
		return s != nil && s.renewed.Equal(at)
	}
}

func TestNodeLeavingReadyIsAnIncidentUntilItReturns(t *testing.T) {
	f := start(t, node("n1", corev1.ConditionTrue), node("n2", corev1.ConditionTrue))
	f.clk.Step(3 * time.Minute)
	f.setNode(node("n1", corev1.ConditionUnknown))
	f.settle(func() bool { return len(f.m.Incidents()) == 1 })
	f.clk.Step(41 * time.Second)
	f.setNode(node("n1", corev1.ConditionTrue))
	f.settle(func() bool { in := f.m.Incidents(); return len(in) == 1 && in[0].Ended })

	in := f.m.Incidents()[0]
	if in.Node != "n1" || in.Kind != KindNotReady || !in.At.Equal(t0.Add(3*time.Minute)) || in.Seconds != 41 {
		t.Errorf("incident = %+v, want n1 not-ready at +3m for 41 s", in)
	}
	if in.Reason != "Ready=Unknown (KubeletReady)" {
		t.Errorf("reason = %q", in.Reason)
	}
	if got := f.m.Nodes(); got != 2 {
		t.Errorf("Nodes() = %d, want 2", got)
	}
}

func TestNewNodeBecomingReadyIsNoIncident(t *testing.T) {
	f := start(t)
	if _, err := f.cs.CoreV1().Nodes().Create(f.ctx, node("n1", corev1.ConditionFalse), metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	f.settle(func() bool { return f.m.Nodes() == 1 })
	f.setNode(node("n1", corev1.ConditionTrue))
	f.setNode(node("n1", corev1.ConditionTrue))
	f.settle(func() bool { f.m.mu.Lock(); defer f.m.mu.Unlock(); return f.m.nodes["n1"].ready })
	if in := f.m.Incidents(); len(in) != 0 {
		t.Errorf("incidents = %+v, want none", in)
	}
}

func TestStillNotReadyAtStopLastsUntilStop(t *testing.T) {
	f := start(t, node("n1", corev1.ConditionTrue))
	f.setNode(node("n1", corev1.ConditionFalse))
	f.settle(func() bool { return len(f.m.Incidents()) == 1 })
	f.clk.Step(90 * time.Second)
	f.m.Stop()
	f.clk.Step(time.Hour)
	in := f.m.Incidents()[0]
	if in.Ended || in.Seconds != 90 {
		t.Errorf("incident = %+v, want open, 90 s", in)
	}
}

func TestLateRenewalIsAnIncident(t *testing.T) {
	f := start(t, node("n1", corev1.ConditionTrue), lease("n1", t0))
	for _, at := range []time.Duration{10 * time.Second, 20 * time.Second, 29 * time.Second} {
		f.renew("n1", t0.Add(at))
		f.settle(f.leaseSeen("n1", t0.Add(at)))
	}
	if in := f.m.Incidents(); len(in) != 0 {
		t.Fatalf("renewals 9-10 s apart: incidents %+v, want none", in)
	}
	f.renew("n1", t0.Add(63*time.Second))
	f.settle(func() bool { return len(f.m.Incidents()) == 1 })
	in := f.m.Incidents()[0]
	if in.Kind != KindLeaseLate || in.Seconds != 34 || !in.Ended || !in.At.Equal(t0.Add(49*time.Second)) {
		t.Errorf("incident = %+v, want lease-late of 34 s, due at +49 s", in)
	}
}

func TestSnapshotOldLeaseIsNoBaseline(t *testing.T) {
	// A restored snapshot's lease was last renewed just before the save,
	// and the cluster was down until the restore.
	f := start(t, node("n1", corev1.ConditionTrue), lease("n1", t0.Add(-5*time.Second)))
	f.renew("n1", t0.Add(30*time.Second))
	f.settle(f.leaseSeen("n1", t0.Add(30*time.Second)))
	if in := f.m.Incidents(); len(in) != 0 {
		t.Errorf("first renewal after a restore: incidents %+v, want none", in)
	}
}

func TestSweepCountsALeaseNeverRenewed(t *testing.T) {
	f := start(t, node("n1", corev1.ConditionTrue), lease("n1", t0.Add(-9*time.Second)))
	f.renew("n1", t0)
	f.settle(f.leaseSeen("n1", t0))
	f.clk.Step(19 * time.Second)
	f.m.sweep(f.clk.Now())
	if in := f.m.Incidents(); len(in) != 0 {
		t.Fatalf("19 s after a renewal: incidents %+v, want none", in)
	}
	f.clk.Step(11 * time.Second)
	f.m.sweep(f.clk.Now())
	f.m.sweep(f.clk.Now())
	in := f.m.Incidents()
	if len(in) != 1 || in[0].Ended || in[0].Seconds != 10 || !in[0].At.Equal(t0.Add(20*time.Second)) {
		t.Fatalf("30 s without renewal: incidents %+v, want one open since +20 s", in)
	}
	// The late renewal closes it with the whole gap.
	f.renew("n1", t0.Add(45*time.Second))
	f.settle(func() bool { in := f.m.Incidents(); return len(in) == 1 && in[0].Ended })
	if got := f.m.Incidents()[0].Seconds; got != 45 {
		t.Errorf("gap = %v s, want 45", got)
	}
}

func TestLeasesOfOtherNodesAreIgnored(t *testing.T) {
	f := start(t, node("n1", corev1.ConditionTrue), lease("real-node", t0))
	f.renew("real-node", t0.Add(time.Minute))
	f.settle(f.leaseSeen("real-node", t0.Add(time.Minute)))
	if in := f.m.Incidents(); len(in) != 0 {
		t.Errorf("a lease of a node not selected: incidents %+v, want none", in)
	}
}

func TestRenewalDeliveredLateIsNoIncident(t *testing.T) {
	f := start(t, node("n1", corev1.ConditionTrue), lease("n1", t0.Add(-9*time.Second)))
	f.renew("n1", t0)
	f.settle(f.leaseSeen("n1", t0))
	// The next renewal, stamped 10 s later, reaches the monitor only
	// after 25 s: the sweep counts it overdue meanwhile.
	f.clk.Step(25 * time.Second)
	f.m.sweep(f.clk.Now())
	if in := f.m.Incidents(); len(in) != 1 || in[0].Ended {
		t.Fatalf("overdue: incidents %+v, want one open", in)
	}
	f.renew("n1", t0.Add(10*time.Second))
	f.settle(f.leaseSeen("n1", t0.Add(10*time.Second)))
	if in := f.m.Incidents(); len(in) != 0 {
		t.Errorf("a renewal stamped on time: incidents %+v, want none", in)
	}
}

func TestWallClockStepIsNoLateLease(t *testing.T) {
	f := start(t, node("n1", corev1.ConditionTrue), lease("n1", t0.Add(-9*time.Second)))
	f.renew("n1", t0)
	f.settle(f.leaseSeen("n1", t0))
	// The VM was paused: the wall clock jumped 21 s while kwok kept its
	// 10 s rhythm.
	f.m.mu.Lock()
	f.m.recordStepLocked(t0.Add(5*time.Second), 21*time.Second)
	f.m.mu.Unlock()
	f.renew("n1", t0.Add(31*time.Second))
	f.settle(f.leaseSeen("n1", t0.Add(31*time.Second)))
	if in := f.m.Incidents(); len(in) != 0 {
		t.Errorf("a 31 s gap across a 21 s clock step: incidents %+v, want none", in)
	}
	if st := f.m.ClockSteps(); len(st) != 1 || st[0].Seconds != 21 {
		t.Errorf("steps %+v", st)
	}
	// A real 25 s gap after it still counts.
	f.renew("n1", t0.Add(56*time.Second))
	f.settle(func() bool { return len(f.m.Incidents()) == 1 })
}

func TestNoClockStepWithoutAJump(t *testing.T) {
	m := &Monitor{cfg: Config{Logger: zap.NewNop()}}
	now := time.Now()
	m.noteClockLocked(now)
	m.noteClockLocked(now.Add(7 * time.Second))
	if len(m.steps) != 0 {
		t.Errorf("steps %+v from a steady clock", m.steps)
	}
}
