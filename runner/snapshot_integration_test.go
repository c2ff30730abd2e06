package runner_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"

	"go.uber.org/zap/zaptest"
	coordinationv1 "k8s.io/api/coordination/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"

	"github.com/churn-dev/churn/churn"
	"github.com/churn-dev/churn/deploy/local"
	"github.com/churn-dev/churn/fakenodes"
	"github.com/churn-dev/churn/internal/testenv"
	"github.com/churn-dev/churn/profiles"
	"github.com/churn-dev/churn/runner"
	"github.com/churn-dev/churn/snapshot"
	"github.com/churn-dev/churn/version"
)

// nodeMonitorGracePeriod is kube-controller-manager's default
// --node-monitor-grace-period: a node whose lease is not renewed within it
// is marked NotReady and its pods NotReady. The warm-started cluster is
// watched for longer than this.
const nodeMonitorGracePeriod = 50 * time.Second

// clusterView is what a test compares between the saved and the restored
// cluster.
type clusterView struct {
	nodes     map[string]bool   // name -> Ready
	pods      map[string]string // namespace/name -> UID
	readyPods int
	// deployments maps namespace/name to "ready/desired" replicas.
	deployments map[string]string
	leaseOwner  map[string]string // node -> lease holder
}

func view(t *testing.T, ctx context.Context, cs kubernetes.Interface, runID string) clusterView {
	t.Helper()
	sel := metav1.ListOptions{LabelSelector: churn.RunSelector(runID)}
	v := clusterView{nodes: map[string]bool{}, pods: map[string]string{}, deployments: map[string]string{}, leaseOwner: map[string]string{}}
	nodes, err := cs.CoreV1().Nodes().List(ctx, sel)
	if err != nil {
		t.Fatal(err)
	}
	for i := range nodes.Items {
		v.nodes[nodes.Items[i].Name] = fakenodes.NodeReady(&nodes.Items[i])
	}
	pods, err := cs.CoreV1().Pods("").List(ctx, sel)
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range pods.Items {
		v.pods[p.Namespace+"/"+p.Name] = string(p.UID)
		if podReady(&p) {
			v.readyPods++
		}
	}
	deployments, err := cs.AppsV1().Deployments("").List(ctx, sel)
	if err != nil {
		t.Fatal(err)
	}
	for _, d := range deployments.Items {
		v.deployments[d.Namespace+"/"+d.Name] = fmt.Sprintf("%d/%d", d.Status.ReadyReplicas, *d.Spec.Replicas)
	}
	leases, err := cs.CoordinationV1().Leases(corev1.NamespaceNodeLease).List(ctx, metav1.ListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	for _, l := range leases.Items {
		v.leaseOwner[l.Name] = holder(&l)
	}
	return v
}

func holder(l *coordinationv1.Lease) string {
	if l.Spec.HolderIdentity == nil {
		return ""
	}
	return *l.Spec.HolderIdentity
}

func podReady(p *corev1.Pod) bool {
	for _, c := range p.Status.Conditions {
		if c.Type == corev1.PodReady {
			return c.Status == corev1.ConditionTrue
		}
	}
	return false
}

// Save a small setup, warm-start it, and check that the restored cluster
// has the same nodes and pods (same UIDs), all Ready, that kwok takes the
// node leases over, that nothing is marked NotReady or evicted once the node
// monitor grace period has passed, and that the snapshot is unchanged and
// no process is left.
func TestIntegrationSnapshotSaveAndWarmStart(t *testing.T) {
	bin := testenv.RequireBinaries(t)
	ctx := context.Background()
	work := t.TempDir()
	logger := zaptest.NewLogger(t)
	p, err := profiles.Load("smoke")
	if err != nil {
		t.Fatal(err)
	}
	p.Nodes.Count = 3

	saveCluster := filepath.Join(work, "save-cluster")
	t.Cleanup(func() { _ = local.Down(context.Background(), saveCluster, false, nil) })
	prep, err := runner.SetUp(ctx, runner.Options{Profile: p, ClusterDir: saveCluster, BinDir: bin, Logger: logger, Progress: testenv.LogWriter(t)})
	if err != nil {
		t.Fatalf("SetUp: %v", err)
	}
	cs := kubernetes.NewForConfigOrDie(prep.Cluster.RESTConfig())
	saved := view(t, ctx, cs, prep.RunID)
	if len(saved.nodes) != 3 || len(saved.pods) != 50 || saved.readyPods != 50 || len(saved.deployments) != 5 {
		t.Fatalf("setup: %d nodes, %d pods, %d Ready; want 3, 50, 50", len(saved.nodes), len(saved.pods), saved.readyPods)
	}

	setup, err := runner.SetupIdentity(ctx, p)
	if err != nil {
		t.Fatal(err)
	}
	bins, err := local.BinaryVersions(ctx, bin, "")
	if err != nil {
		t.Fatal(err)
	}
	versions, err := snapshot.VersionsOf(bins, version.Churn)
	if err != nil {
		t.Fatal(err)
	}
	snapDir := filepath.Join(work, "snapshots", "s")
	m, err := snapshot.Save(ctx, snapshot.SaveInput{
		Dir: snapDir, Name: "s", Cluster: prep.Cluster, Profile: p, Setup: setup, Versions: versions,
		RunID: prep.RunID, RunLabels: prep.Labels, NamePrefix: prep.NamePrefix,
		SetupSummary: prep.Setup, SetupSeconds: prep.Seconds, Logger: logger,
	})
	if err != nil {
		t.Fatalf("Save: %v", err)
	}
	if len(prep.Cluster.Processes()) != 0 {
		t.Errorf("processes left after Save: %v", prep.Cluster.Processes())
	}
	if _, err := os.Stat(saveCluster); !os.IsNotExist(err) {
		t.Errorf("the saved cluster's directory is left: %v", err)
	}
	if m.Objects.Nodes != 3 || m.Objects.Pods != 50 || m.RunID != prep.RunID || m.Sizes.EtcdBytes == 0 || m.Versions.Kubernetes != version.Kubernetes {
		t.Errorf("manifest: %+v", m)
	}
	before := testenv.TreeDigest(t, snapDir)

	warmCluster := filepath.Join(work, "warm-cluster")
	t.Cleanup(func() { _ = local.Down(context.Background(), warmCluster, false, nil) })
	warm, err := runner.SetUp(ctx, runner.Options{Profile: p, FromSnapshot: snapDir, ClusterDir: warmCluster, BinDir: bin, Logger: logger, Progress: testenv.LogWriter(t)})
	if err != nil {
		t.Fatalf("warm start: %v", err)
	}
	defer func() { _ = warm.Cluster.Stop(context.Background(), false) }()
	if warm.RunID != prep.RunID {
		t.Errorf("warm start selects run label %s, want the snapshot's %s", warm.RunID, prep.RunID)
	}
	ws := warm.Setup.WarmStart
	if ws == nil || ws.Snapshot != "s" || ws.RunLabel != prep.RunID || ws.RestoredBytes == 0 || ws.Seconds <= 0 {
		t.Fatalf("warm start record: %+v", ws)
	}
	if warm.Setup.ReadyPods != 50 || warm.Setup.PodsPerSec != 0 {
		t.Errorf("warm setup summary: %+v, want 50 Ready pods and no ramp rate", warm.Setup)
	}
	kcmStarted := time.Now()
	cs = kubernetes.NewForConfigOrDie(warm.Cluster.RESTConfig())
	restored := view(t, ctx, cs, prep.RunID)
	compareViews(t, "right after the warm start", saved, restored)

	// kwok restarted with a new identity: it must take every node lease
	// over (the old holder's leases expire) and keep renewing them, or the
	// node lifecycle controller marks the nodes NotReady and their pods
	// NotReady after the grace period.
	deadline := time.Now().Add(3 * time.Minute)
	for {
		now := view(t, ctx, cs, prep.RunID)
		taken := 0
		for node := range saved.nodes {
			if h := now.leaseOwner[node]; h != "" && h != saved.leaseOwner[node] {
				taken++
			}
		}
		if taken == len(saved.nodes) && time.Since(kcmStarted) > nodeMonitorGracePeriod+10*time.Second {
			compareViews(t, "after the node monitor grace period", saved, now)
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("kwok took over %d of %d node leases (holders %v, saved %v)", taken, len(saved.nodes), now.leaseOwner, saved.leaseOwner)
		}
		time.Sleep(2 * time.Second)
	}

	if err := warm.Cluster.Stop(ctx, false); err != nil {
		t.Fatalf("stop: %v", err)
	}
	if len(warm.Cluster.Processes()) != 0 {
		t.Errorf("processes left: %v", warm.Cluster.Processes())
	}
	if after := testenv.TreeDigest(t, snapDir); after != before {
		t.Errorf("the snapshot changed during the warm start:\nbefore\n%s\nafter\n%s", before, after)
	}
}

func compareViews(t *testing.T, when string, saved, now clusterView) {
	t.Helper()
	for node := range saved.nodes {
		if ready, ok := now.nodes[node]; !ok || !ready {
			t.Errorf("%s: node %s present %v, Ready %v", when, node, ok, ready)
		}
	}
	if len(now.nodes) != len(saved.nodes) {
		t.Errorf("%s: %d nodes, want %d", when, len(now.nodes), len(saved.nodes))
	}
	for name, uid := range saved.pods {
		if now.pods[name] != uid {
			t.Errorf("%s: pod %s has UID %q, saved %q (recreated or evicted)", when, name, now.pods[name], uid)
		}
	}
	if fmt.Sprint(now.deployments) != fmt.Sprint(saved.deployments) {
		t.Errorf("%s: deployments %v, saved %v", when, now.deployments, saved.deployments)
	}
	if len(now.pods) != len(saved.pods) || now.readyPods != len(saved.pods) {
		t.Errorf("%s: %d pods, %d Ready; want %d, all Ready", when, len(now.pods), now.readyPods, len(saved.pods))
	}
}
