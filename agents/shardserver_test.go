package agents

import (
	"context"
	"encoding/json"
	"fmt"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"go.uber.org/zap/zaptest"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/watch"
	"k8s.io/client-go/kubernetes/fake"
	"k8s.io/client-go/rest"
	clienttesting "k8s.io/client-go/testing"
	clocktesting "k8s.io/utils/clock/testing"

	"github.com/churn-dev/churn/results"
)

// fakeMesh stands in for a started *Mesh.
type fakeMesh struct {
	cfg     Config
	stopped chan struct{}
}

func (f *fakeMesh) Stop(context.Context) (*results.MeshSummary, error) {
	close(f.stopped)
	return &results.MeshSummary{Name: f.cfg.Mesh, Components: []results.ComponentSummary{
		{Name: "cilium-agent", Replicas: len(f.cfg.Nodes), Writes: map[string]int64{"create ciliumnodes": int64(len(f.cfg.Nodes))}},
	}}, nil
}

type shardHarness struct {
	t        *testing.T
	kc       *fake.Clientset
	clock    *clocktesting.FakeClock
	started  chan *fakeMesh
	watching chan struct{}
	done     chan error
}

func runNode(name, runID string) *corev1.Node {
	return &corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: name, Labels: shardTestRunLabels(runID)}}
}

// serveShard runs a shard server over a fake clientset holding objs, with
// a fake mesh starter; it is stopped at the end of the test.
func serveShard(t *testing.T, shard Shard, mesh string, objs ...runtime.Object) *shardHarness {
	t.Helper()
	h := &shardHarness{t: t, kc: fake.NewClientset(objs...), clock: clocktesting.NewFakeClock(time.Now()),
		started: make(chan *fakeMesh, 10), watching: make(chan struct{}), done: make(chan error, 1)}
	var once sync.Once
	// Signal once the announcement watch exists, so later changes reach it.
	h.kc.PrependWatchReactor("configmaps", func(a clienttesting.Action) (bool, watch.Interface, error) {
		w, err := h.kc.Tracker().Watch(a.GetResource(), a.GetNamespace())
		once.Do(func() { close(h.watching) })
		return true, w, err
	})
	s, err := newShardServer(ShardConfig{RESTConfig: &rest.Config{Host: "https://127.0.0.1:1"}, Client: h.kc, Shard: shard,
		Mesh: mesh, RunLabels: shardTestRunLabels, Clock: h.clock, Logger: zaptest.NewLogger(t)})
	if err != nil {
		t.Fatal(err)
	}
	s.start = func(_ context.Context, cfg Config) (meshRunner, error) {
		m := &fakeMesh{cfg: cfg, stopped: make(chan struct{})}
		h.started <- m
		return m, nil
	}
	ctx, cancel := context.WithCancel(context.Background())
	go func() { h.done <- s.serve(ctx) }()
	t.Cleanup(func() {
		cancel()
		if err := <-h.done; err != nil {
			t.Error(err)
		}
	})
	return h
}

// wait bounds a wait for something that must happen; it never asserts
// how fast.
func waitFor[T any](t *testing.T, what string, ch <-chan T) T {
	t.Helper()
	select {
	case v := <-ch:
		return v
	case <-time.After(20 * time.Second):
		t.Fatalf("timed out waiting for %s", what)
	}
	var zero T
	return zero
}

func (h *shardHarness) report(runID string, sh Shard) (shardReport, bool) {
	cm, err := h.kc.CoreV1().ConfigMaps(systemNamespaceName(runID)).Get(context.Background(), AnnouncementName, metav1.GetOptions{})
	if err != nil {
		return shardReport{}, false
	}
	v, ok := cm.Data[sh.key()]
	if !ok {
		return shardReport{}, false
	}
	var r shardReport
	if err := json.Unmarshal([]byte(v), &r); err != nil {
		h.t.Fatalf("report %s: %v", v, err)
	}
	return r, true
}

func TestServeShardRunsItsShareAndReports(t *testing.T) {
	objs := []runtime.Object{testAnnouncement("r1", MeshCilium)}
	var r1Nodes []string
	for i := 0; i < 8; i++ {
		name := fmt.Sprintf("churn-r1-node-%d", i)
		r1Nodes = append(r1Nodes, name)
		objs = append(objs, runNode(name, "r1"))
	}
	decoy := testAnnouncement("r2", MeshCilium)
	decoy.Namespace, decoy.UID = "default", "decoy"
	istio := testAnnouncement("r3", MeshIstioAmbient)
	objs = append(objs, decoy, istio, runNode("churn-r2-node-0", "r2"), runNode("churn-r3-node-0", "r3"),
		&corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: "real-node"}})
	sh := Shard{1, 2}
	h := serveShard(t, sh, MeshCilium, objs...)

	m := waitFor(t, "agents of run r1", h.started)
	sort.Strings(r1Nodes)
	if want := sh.Select(r1Nodes); strings.Join(m.cfg.Nodes, ",") != strings.Join(want, ",") || len(want) == 0 {
		t.Errorf("nodes = %v, want shard %s of run r1's nodes: %v", m.cfg.Nodes, sh, want)
	}
	if m.cfg.Components != ComponentsPerNode || m.cfg.RunID != "r1" || m.cfg.Mesh != MeshCilium ||
		m.cfg.RunLabels["churn.dev/run"] != "r1" || m.cfg.RolloutPerSecond != 5 {
		t.Errorf("mesh config = %+v, want per-node r1 cilium at half the run's rate", m.cfg)
	}
	eventually(t, "registration", func() bool { r, ok := h.report("r1", sh); return ok && r.State == stateRunning })

	waitFor(t, "the announcement watch", h.watching)
	cm := testAnnouncement("r1", MeshCilium)
	cm.Data[annState] = stateStopping
	if _, err := h.kc.CoreV1().ConfigMaps(cm.Namespace).Update(context.Background(), cm, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "agents stopped", m.stopped)
	eventually(t, "final report", func() bool { r, ok := h.report("r1", sh); return ok && r.State == stateDone })
	r, _ := h.report("r1", sh)
	if r.Shard != "1/2" || len(r.Nodes) != len(m.cfg.Nodes) || r.Summary == nil || r.Summary.Components[0].Replicas != len(m.cfg.Nodes) {
		t.Errorf("final report = %+v", r)
	}
	select {
	case other := <-h.started:
		t.Errorf("served a run it must not: %s in %v", other.cfg.RunID, other.cfg.Nodes)
	default:
	}
}

func TestServeShardEndsARunWhoseNodesAreGone(t *testing.T) {
	h := serveShard(t, Shard{0, 1}, "", testAnnouncement("r1", MeshCilium), runNode("n-0", "r1"), runNode("n-1", "r1"))
	m := waitFor(t, "agents of run r1", h.started)
	for _, n := range m.cfg.Nodes {
		if err := h.kc.CoreV1().Nodes().Delete(context.Background(), n, metav1.DeleteOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	// The node check runs on the shard's clock.
	stopped := false
	for !stopped {
		h.clock.Step(DefaultNodeCheckInterval)
		select {
		case <-m.stopped:
			stopped = true
		case <-time.After(10 * time.Millisecond):
		}
	}
	// The announcement is still there, running: the run is not served again.
	h.clock.Step(DefaultNodeCheckInterval)
	select {
	case again := <-h.started:
		t.Errorf("run served again after its nodes went: %v", again.cfg.Nodes)
	case <-time.After(100 * time.Millisecond):
	}
}
