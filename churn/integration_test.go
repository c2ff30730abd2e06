package churn

import (
	"context"
	"testing"
	"time"

	"github.com/churn-dev/churn/internal/testenv"

	"go.uber.org/zap/zaptest"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"

	"github.com/churn-dev/churn/deploy/local"
	"github.com/churn-dev/churn/fakenodes"
	"github.com/churn-dev/churn/profiles"
	"github.com/churn-dev/churn/results"
)

// TestIntegrationSmokeOnLocalControlPlane runs the smoke profile's shape,
// with 20 s of churn, against a real local control plane with KWOK nodes:
// every replica becomes Ready, at least 90% of the scale actions succeed,
// and after teardown no object with the run label is left.
func TestIntegrationSmokeOnLocalControlPlane(t *testing.T) {
	if testing.Short() {
		t.Skip("skipping the local control-plane test in -short mode")
	}
	bin := testenv.RequireBinaries(t)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	logger := zaptest.NewLogger(t)
	progress := testenv.LogWriter(t)

	cluster := testenv.StartCluster(ctx, t, local.Options{BinDir: bin, Logger: logger, Progress: progress})
	cfg := cluster.RESTConfig()
	cfg.QPS, cfg.Burst = 200, 400 // client-go's default 5 QPS would pace the test, not the engine
	client, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		t.Fatal(err)
	}

	p, err := profiles.Load("smoke")
	if err != nil {
		t.Fatal(err)
	}
	p.Churn.Duration.Duration = 20 * time.Second
	const runID, prefix = "it-smoke", "churn-it"
	selector := RunSelector(runID)

	if _, err := fakenodes.Create(ctx, client, fakenodes.Spec{
		Count: p.Nodes.Count, Prefix: prefix + "-node-", Labels: RunLabels(runID), QPS: 100,
	}, progress); err != nil {
		t.Fatalf("create fake nodes: %v", err)
	}
	if err := fakenodes.WaitReady(ctx, client, selector, p.Nodes.Count, progress); err != nil {
		t.Fatalf("fake nodes: %v", err)
	}

	eng, err := New(Config{Client: client, Logger: logger, Profile: p, RunID: runID, Prefix: prefix, Progress: progress})
	if err != nil {
		t.Fatal(err)
	}
	if err := eng.Setup(ctx); err != nil {
		t.Fatalf("Setup: %v", err)
	}
	setupSummary, err := eng.WaitReady(ctx)
	if err != nil {
		t.Fatalf("WaitReady: %v", err)
	}
	if setupSummary.ReadyPods != 50 || setupSummary.TargetPods != 50 {
		t.Errorf("ramp ended with %d/%d pods Ready", setupSummary.ReadyPods, setupSummary.TargetPods)
	}
	t.Logf("ramp: %.1fs, %.1f pods/s", setupSummary.RampSeconds, setupSummary.PodsPerSec)

	s, err := eng.Run(ctx)
	if err != nil {
		t.Fatalf("Run: %v", err)
	}
	if s.Scale.Planned != 20 || s.Scale.Succeeded < 18 {
		t.Errorf("scale actions: %+v, want at least 18 of 20 succeeded; errors %v", s.Scale, s.Errors)
	}
	if s.Relabel.Planned != 1 || s.Relabel.Succeeded != 1 {
		t.Errorf("relabel actions: %+v", s.Relabel)
	}
	t.Logf("churn: %d/%d ok, lag p99 %.3fs, latency p99 %.3fs, %.2f actions/s, %.2f pod changes/s",
		s.Succeeded, s.Planned, s.LagP99Seconds, s.LatencyP99Seconds, s.ActionsPerSecond, s.PodChangesPerSecond)
	for _, a := range s.Actions {
		if a.Kind == results.ActionScale && !a.OK() {
			t.Logf("failed action %d: %s %s", a.Seq, a.Result, a.Error)
		}
	}

	if err := Teardown(ctx, client, runID, progress); err != nil {
		t.Fatalf("Teardown: %v", err)
	}
	if err := fakenodes.Delete(ctx, client, selector, nil); err != nil {
		t.Fatalf("delete fake nodes: %v", err)
	}
	opts := metav1.ListOptions{LabelSelector: selector}
	left := map[string]int{}
	if l, err := client.CoreV1().Namespaces().List(ctx, opts); err == nil {
		left["namespaces"] = len(l.Items)
	} else {
		t.Fatal(err)
	}
	if l, err := client.AppsV1().Deployments("").List(ctx, opts); err == nil {
		left["deployments"] = len(l.Items)
	} else {
		t.Fatal(err)
	}
	if l, err := client.CoreV1().Services("").List(ctx, opts); err == nil {
		left["services"] = len(l.Items)
	} else {
		t.Fatal(err)
	}
	if l, err := client.CoreV1().Pods("").List(ctx, opts); err == nil {
		left["pods"] = len(l.Items)
	} else {
		t.Fatal(err)
	}
	if l, err := client.CoreV1().Nodes().List(ctx, opts); err == nil {
		left["nodes"] = len(l.Items)
	} else {
		t.Fatal(err)
	}
	for kind, n := range left {
		if n != 0 {
			t.Errorf("%d %s with %s left after teardown", n, kind, selector)
		}
	}
}
