package observers

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/churn-dev/churn/internal/testenv"

	"go.uber.org/zap/zaptest"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/utils/clock"
	"k8s.io/utils/ptr"

	"github.com/churn-dev/churn/deploy/local"
	"github.com/churn-dev/churn/fakenodes"
	"github.com/churn-dev/churn/results"
)

// localPlane adapts *local.Cluster to ControlPlane (the lead's run wiring
// does the same).
type localPlane struct {
	c      *local.Cluster
	events chan ProcessEvent
}

func newLocalPlane(c *local.Cluster) *localPlane {
	p := &localPlane{c: c, events: make(chan ProcessEvent, 64)}
	go func() {
		defer close(p.events)
		for ev := range c.Events() {
			p.events <- ProcessEvent{Time: ev.Time, Name: ev.Name, Kind: ev.Kind, ExitCode: ev.ExitCode, Detail: ev.Detail}
		}
	}()
	return p
}

func (p *localPlane) Processes() []Process {
	var out []Process
	for _, pr := range p.c.Processes() {
		out = append(out, Process{Name: pr.Name, PID: pr.PID})
	}
	return out
}

func (p *localPlane) Events() <-chan ProcessEvent { return p.events }

// TestIntegrationObserversOnLocalControlPlane runs every observer against a
// real kube-apiserver v1.37.2 with a small churn and a killed API server,
// and checks the metric families churn reads really exist there.
// CHURN_IT_OUT=dir keeps the results.json for inspection.
func TestIntegrationObserversOnLocalControlPlane(t *testing.T) {
	if testing.Short() {
		t.Skip("integration test skipped in -short mode")
	}
	bin := testenv.RequireBinaries(t)
	if _, err := local.CheckBinaries(bin); err != nil {
		if os.Getenv("CHURN_REQUIRE_BINARIES") == "1" {
			t.Fatalf("CHURN_REQUIRE_BINARIES=1: %v", err)
		}
		t.Skipf("skipping: control-plane binaries missing: %v (set CHURN_REQUIRE_BINARIES=1 to fail instead)", err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 6*time.Minute)
	defer cancel()
	logger := zaptest.NewLogger(t)
	c := testenv.StartCluster(ctx, t, local.Options{BinDir: bin, Logger: logger, RestartAPIServer: true})
	cs, err := kubernetes.NewForConfig(c.RESTConfig())
	if err != nil {
		t.Fatal(err)
	}
	r := &results.Result{SchemaVersion: results.SchemaVersion, RunID: "it-obs"}
	env := Env{
		Client: cs, Config: c.RESTConfig(), Clock: clock.RealClock{}, Logger: logger,
		RunID: r.RunID, RunLabelSelector: "churn.dev/run=it-obs", ControlPlane: newLocalPlane(c),
	}
	specs := DefaultSpecs()
	for i := range specs {
		if specs[i].Name == APIServerMetricsName {
			specs[i].Interval = metav1.Duration{Duration: 2 * time.Second}
		}
	}
	set, err := NewSet(specs)
	if err != nil {
		t.Fatal(err)
	}
	if err := set.Start(ctx, env); err != nil {
		t.Fatal(err)
	}
	setupStart := time.Now()
	if _, err := fakenodes.Create(ctx, cs, fakenodes.Spec{Count: 3, QPS: 50}, nil); err != nil {
		t.Fatal(err)
	}
	if err := fakenodes.WaitReady(ctx, cs, fakenodes.LabelSelector, 3, nil); err != nil {
		t.Fatal(err)
	}
	deploy := runLabelledDeployment(t, ctx, cs)
	r.Phases = append(r.Phases, results.Phase{Name: "setup", Start: setupStart, End: time.Now()})

	churnStart := time.Now()
	scale := func(n int32) {
		s, err := cs.AppsV1().Deployments("default").GetScale(ctx, deploy, metav1.GetOptions{})
		if err != nil {
			t.Logf("get scale: %v", err)
			return
		}
		s.Spec.Replicas = n
		if _, err := cs.AppsV1().Deployments("default").UpdateScale(ctx, deploy, s, metav1.UpdateOptions{}); err != nil {
			t.Logf("scale: %v", err)
		}
	}
	for i, n := range []int32{8, 3, 10, 4, 9} {
		scale(n)
		time.Sleep(3 * time.Second)
		if i == 2 {
			if err := c.Signal(local.APIServer, syscall.SIGKILL); err != nil {
				t.Fatal(err)
			}
			waitServing(t, ctx, cs)
		}
	}
	time.Sleep(5 * time.Second)
	r.Phases = append(r.Phases, results.Phase{Name: ChurnPhase, Start: churnStart, End: time.Now()})

	if err := set.Stop(ctx); err != nil {
		t.Fatal(err)
	}
	if err := set.Summarize(r); err != nil {
		t.Fatal(err)
	}
	slos, err := Evaluate(r, nil)
	if err != nil {
		t.Fatal(err)
	}
	r.SLOs, r.Verdict = slos, Verdict(slos)
	if out := os.Getenv("CHURN_IT_OUT"); out != "" {
		if err := results.Write(out, r); err != nil {
			t.Fatal(err)
		}
		if raw, err := cs.Discovery().RESTClient().Get().AbsPath("/metrics").DoRaw(ctx); err == nil {
			_ = os.WriteFile(filepath.Join(out, "apiserver-metrics.txt"), raw, 0o644)
		}
	}
	for _, s := range slos {
		t.Logf("SLO %-26s %-9s threshold %-6s measured %-8s %s %s", s.Name, s.Status, s.Threshold, s.Measured, s.Worst, s.Reason)
	}

	var api APIServerSummary
	mustGet(t, r, APIServerMetricsName, &api)
	if len(api.Missing) > 0 {
		t.Errorf("metric families missing from kube-apiserver /metrics: %v", api.Missing)
	}
	if api.Restarts != 1 || api.Scrapes < 10 || !strings.Contains(api.Format, "protobuf") {
		t.Errorf("scrapes %d failed %d restarts %d format %q, want >= 10 scrapes, 1 restart, protobuf", api.Scrapes, api.FailedScrapes, api.Restarts, api.Format)
	}
	categories := map[string]bool{}
	for _, k := range api.Keys {
		categories[k.Category] = true
	}
	if !categories[CategoryMutating] || !categories[CategoryReadResource] {
		t.Errorf("categories seen in the churn phase = %v, want mutating and read-resource", categories)
	}
	if api.EtcdP99 == nil || api.PeakWatches == 0 || api.PeakRSSBytes == 0 {
		t.Errorf("etcd p99 %v, peak watches %v, peak RSS %v: want all present", api.EtcdP99, api.PeakWatches, api.PeakRSSBytes)
	}
	a := r.Availability
	if a == nil || len(a.Outages) == 0 {
		t.Fatalf("availability = %+v, want the kill recorded as an outage", a)
	}
	kinds := map[string]bool{}
	for _, ev := range a.Events {
		kinds[ev.Kind] = true
	}
	if !kinds[local.EventExited] || !kinds[local.EventRestarted] {
		t.Errorf("process events = %+v, want exited and restarted", a.Events)
	}
	procs := map[string]results.ProcessUsage{}
	for _, p := range r.Processes {
		procs[p.Name] = p
	}
	for _, n := range []string{TesterProcess, local.APIServer, "etcd"} {
		if procs[n].CPUSeconds <= 0 || procs[n].PeakRSS <= 0 {
			t.Errorf("process %s = %+v, want CPU and RSS", n, procs[n])
		}
	}
	if len(procs[local.APIServer].PIDs) != 2 {
		t.Errorf("kube-apiserver PIDs = %v, want 2 (restart)", procs[local.APIServer].PIDs)
	}
	var pods PodStartupSummary
	mustGet(t, r, PodStartupName, &pods)
	if pods.Churn.Observed.Count == 0 {
		t.Errorf("pod-startup timed no churn pod: %+v", pods)
	}
	var wp WatchPropagationSummary
	mustGet(t, r, WatchPropagationName, &wp)
	if wp.Received == 0 {
		t.Errorf("watch-propagation received nothing: %+v", wp)
	}
	if m := sloMap(slos)[SLOMaxOutage]; m.Status != results.SLOBreached && a.LongestSeconds > 10 {
		t.Errorf("max-outage = %+v with a %vs outage", m, a.LongestSeconds)
	}
	b, _ := json.MarshalIndent(struct {
		Availability *results.Availability
		Processes    []results.ProcessUsage
	}{r.Availability, r.Processes}, "", "  ")
	t.Logf("%s", b)
}

func mustGet(t *testing.T, r *results.Result, name string, v any) {
	t.Helper()
	found, err := GetObserver(r, name, v)
	if !found || err != nil {
		t.Fatalf("%s summary found=%v err=%v", name, found, err)
	}
}

func waitServing(t *testing.T, ctx context.Context, cs kubernetes.Interface) {
	t.Helper()
	time.Sleep(2 * time.Second)
	deadline := time.Now().Add(time.Minute)
	for {
		if _, err := cs.CoreV1().Namespaces().Get(ctx, "default", metav1.GetOptions{}); err == nil {
			return
		}
		if time.Now().After(deadline) {
			t.Fatal("kube-apiserver did not come back")
		}
		time.Sleep(500 * time.Millisecond)
	}
}

func runLabelledDeployment(t *testing.T, ctx context.Context, cs kubernetes.Interface) string {
	t.Helper()
	lbls := map[string]string{"app": "obs-it", "churn.dev/run": "it-obs"}
	d := &appsv1.Deployment{
		ObjectMeta: metav1.ObjectMeta{Name: "obs-it", Namespace: "default", Labels: lbls},
		Spec: appsv1.DeploymentSpec{
			Replicas: ptr.To[int32](5),
			Selector: &metav1.LabelSelector{MatchLabels: lbls},
			Template: corev1.PodTemplateSpec{
				ObjectMeta: metav1.ObjectMeta{Labels: lbls},
				Spec: corev1.PodSpec{
					NodeSelector: fakenodes.NodeSelector(),
					Tolerations:  []corev1.Toleration{fakenodes.Toleration()},
					Containers:   []corev1.Container{{Name: "app", Image: "fake.invalid/app:1"}},
				},
			},
		},
	}
	if _, err := cs.AppsV1().Deployments("default").Create(ctx, d, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	return d.Name
}
