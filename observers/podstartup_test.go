package observers

import (
	"context"
	"testing"
	"time"

	"go.uber.org/zap/zaptest"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/kubernetes/fake"
	clocktesting "k8s.io/utils/clock/testing"

	"github.com/churn-dev/churn/profiles"
	"github.com/churn-dev/churn/results"
)

func TestPodStartupChurnPhaseOnly(t *testing.T) {
	client := fake.NewClientset()
	t0 := time.Date(2026, 1, 1, 12, 0, 0, 0, time.UTC)
	clk := clocktesting.NewFakeClock(t0)
	o, err := New(profiles.ObserverSpec{Name: PodStartupName})
	if err != nil {
		t.Fatal(err)
	}
	ps := o.(*podStartup)
	events := make(chan struct{}, 16)
	ps.afterEvent = func() { events <- struct{}{} }
	ctx := context.Background()
	env := Env{Client: client, Clock: clk, Logger: zaptest.NewLogger(t), RunLabelSelector: "churn.dev/run=x"}
	if err := o.Start(ctx, env); err != nil {
		t.Fatal(err)
	}
	pods := client.CoreV1().Pods("ns1")
	// start creates a pod at the current (second-truncated) time.
	start := func(name string) *corev1.Pod {
		p := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{
			Name: name, Namespace: "ns1", UID: types.UID(name), Labels: map[string]string{"churn.dev/run": "x"},
			CreationTimestamp: metav1.NewTime(clk.Now().Truncate(time.Second)),
		}}
		p, err := pods.Create(ctx, p, metav1.CreateOptions{})
		if err != nil {
			t.Fatal(err)
		}
		<-events
		return p
	}
	ready := func(p *corev1.Pod, after time.Duration) {
		clk.Step(after)
		p.Status.Conditions = []corev1.PodCondition{{
			Type: corev1.PodReady, Status: corev1.ConditionTrue,
			LastTransitionTime: metav1.NewTime(clk.Now().Truncate(time.Second)),
		}}
		if _, err := pods.UpdateStatus(ctx, p, metav1.UpdateOptions{}); err != nil {
			t.Fatal(err)
		}
		<-events
	}
	setup := start("setup-pod") // ramp: slow, not judged
	ready(setup, 20*time.Second)
	churnStart := clk.Now()
	a := start("churn-a")
	ready(a, 3200*time.Millisecond)
	b := start("churn-b")
	ready(b, 800*time.Millisecond)
	gone := start("deleted-before-ready")
	if err := pods.Delete(ctx, gone.Name, metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	<-events
	start("never-ready")
	churnEnd := clk.Now()
	if err := o.Stop(ctx); err != nil {
		t.Fatal(err)
	}
	r := &results.Result{Phases: []results.Phase{{Name: ChurnPhase, Start: churnStart, End: churnEnd}}}
	if err := o.Summarize(r); err != nil {
		t.Fatal(err)
	}
	var s PodStartupSummary
	if _, err := GetObserver(r, PodStartupName, &s); err != nil {
		t.Fatal(err)
	}
	if s.All.Observed.Count != 3 || s.All.Observed.Max != 20 {
		t.Errorf("all pods = %+v, want 3 with max 20s", s.All.Observed)
	}
	// churn-a: created 12:00:20, Ready seen at 12:00:23.2 -> 3.2 s;
	// churn-b: created 12:00:23 (truncated from 23.2), seen at 24.0 -> 1.0 s.
	c := s.Churn.Observed
	if c.Count != 2 || !near32(c.P99, 3.2) || !near32(c.P50, 1.0) {
		t.Errorf("churn pods = %+v, want 2 with p50 1.0 and p99 3.2", c)
	}
	if s.StillPending != 1 {
		t.Errorf("still pending = %d, want 1 (the deleted pod is forgotten)", s.StillPending)
	}
}

func near32(a, b float64) bool { return a-b < 1e-5 && b-a < 1e-5 }
