package agents

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	"go.uber.org/zap/zaptest"
	authenticationv1 "k8s.io/api/authentication/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"k8s.io/utils/ptr"

	"github.com/churn-dev/churn/deploy/local"
	"github.com/churn-dev/churn/deploy/manifests"
	"github.com/churn-dev/churn/fakenodes"
	"github.com/churn-dev/churn/internal/testenv"
)

// TestIntegrationShardsSplitAgents runs a cilium mesh the way churn run
// --agents external does (setup, operator, announcement), and two shards
// (0/2 and 1/2) as deploy/agents' service account, with only the rights of
// deploy/agents/rbac.yaml plus what the run grants. What the API server
// holds afterwards shows the split: one CiliumNode per node of the run,
// each created by exactly one shard's agent, the shards' node sets
// disjoint and together the whole (unsharded) set.
func TestIntegrationShardsSplitAgents(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	c := testenv.StartCluster(ctx, t, local.Options{})
	cfg := c.RESTConfig()
	kc := kubernetes.NewForConfigOrDie(cfg)
	dyn := dynamic.NewForConfigOrDie(cfg)

	const runID = "shards1"
	runLabels := shardTestRunLabels(runID)
	all, err := fakenodes.Create(ctx, kc, fakenodes.Spec{Count: 12, Prefix: "churn-" + runID + "-node-", Labels: runLabels, QPS: 100}, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	// A node of no run, which no shard may serve.
	if _, err := kc.CoreV1().Nodes().Create(ctx, &corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: "other-node"}}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	shardCfg := shardIdentity(ctx, t, cfg, kc)

	log := zaptest.NewLogger(t)
	run, err := Start(ctx, Config{RESTConfig: cfg, Mesh: MeshCilium, Nodes: all, RunID: runID, RunLabels: runLabels,
		Components: ComponentsCentral, RolloutPerSecond: 100, Logger: log.Named("run")})
	if err != nil {
		t.Fatalf("start the run's mesh: %v", err)
	}
	shardCtx, stopShards := context.WithCancel(ctx)
	defer stopShards()
	served := make(chan error, 2)
	for i := 0; i < 2; i++ {
		go func() {
			served <- ServeShard(shardCtx, ShardConfig{RESTConfig: shardCfg, Shard: Shard{i, 2}, Mesh: MeshCilium,
				RunLabels: shardTestRunLabels, Logger: log.Named(fmt.Sprintf("shard-%d", i))})
		}()
	}

	ciliumNodes := func() []string {
		list, err := dyn.Resource(gvrCNodes).List(ctx, metav1.ListOptions{LabelSelector: labels.Set(runLabels).String()})
		if err != nil {
			return nil
		}
		var names []string
		for _, o := range list.Items {
			names = append(names, o.GetName())
		}
		sort.Strings(names)
		return names
	}
	deadline := time.Now().Add(3 * time.Minute)
	for len(ciliumNodes()) < len(all) {
		if time.Now().After(deadline) {
			t.Fatalf("CiliumNodes = %v, want one per node of %v", ciliumNodes(), all)
		}
		time.Sleep(500 * time.Millisecond)
	}

	sum, err := run.Stop(ctx)
	if err != nil {
		t.Fatal(err)
	}
	// The announcement, as the API server holds it: each shard's report.
	cm, err := kc.CoreV1().ConfigMaps(systemNamespaceName(runID)).Get(ctx, AnnouncementName, metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	stopShards()
	for i := 0; i < 2; i++ {
		if err := <-served; err != nil {
			t.Errorf("ServeShard: %v", err)
		}
	}

	sort.Strings(all)
	if got := ciliumNodes(); strings.Join(got, ",") != strings.Join(all, ",") {
		t.Errorf("CiliumNodes = %v, want exactly the run's nodes %v", got, all)
	}
	owner := map[string]string{}
	for i := 0; i < 2; i++ {
		sh := Shard{i, 2}
		var r shardReport
		if err := json.Unmarshal([]byte(cm.Data[sh.key()]), &r); err != nil {
			t.Fatalf("shard %s report %q: %v", sh, cm.Data[sh.key()], err)
		}
		if r.State != stateDone || r.Summary == nil || len(r.Nodes) == 0 {
			t.Fatalf("shard %s report = %+v, want done with nodes and counters", sh, r)
		}
		for _, n := range r.Nodes {
			if prev, ok := owner[n]; ok {
				t.Errorf("node %s served by shards %s and %s", n, prev, sh)
			}
			owner[n] = sh.String()
		}
		agent := r.Summary.Components[0]
		t.Logf("shard %s: nodes=%d replicas=%d lists=%d events=%d errors=%d writes=%v",
			sh, len(r.Nodes), agent.Replicas, agent.Lists, agent.EventsReceived, agent.Errors, agent.Writes)
		// Each of its agents created its node's CiliumNode: none existed
		// already, so no other shard ran an agent for these nodes.
		if agent.Name != "cilium-agent" || agent.Replicas != len(r.Nodes) || agent.Writes["create ciliumnodes"] != int64(len(r.Nodes)) {
			t.Errorf("shard %s: %s replicas=%d creates=%d, want %d each", sh, agent.Name, agent.Replicas, agent.Writes["create ciliumnodes"], len(r.Nodes))
		}
	}
	if len(owner) != len(all) {
		t.Errorf("shards served %d nodes, want the run's %d", len(owner), len(all))
	}

	// The run's summary: both shards, their counters summed.
	if sum.PerNodeAgents != AgentsExternal || len(sum.Shards) != 2 || !sum.Shards[0].Reported || !sum.Shards[1].Reported ||
		sum.Shards[0].Nodes+sum.Shards[1].Nodes != len(all) {
		t.Errorf("run summary shards = %q %+v", sum.PerNodeAgents, sum.Shards)
	}
	for _, comp := range sum.Components {
		if comp.Name == "cilium-agent" && (comp.Replicas != len(all) || comp.Writes["create ciliumnodes"] != int64(len(all))) {
			t.Errorf("run summary cilium-agent replicas=%d creates=%d, want %d", comp.Replicas, comp.Writes["create ciliumnodes"], len(all))
		}
	}

	if err := Teardown(ctx, cfg, runLabels, log, testenv.LogWriter(t)); err != nil {
		t.Errorf("Teardown: %v", err)
	}
	if _, err := kc.RbacV1().ClusterRoleBindings().Get(ctx, "churn-"+runID+"-agents-shards", metav1.GetOptions{}); err == nil {
		t.Error("the run's grant to the shards outlived its teardown")
	}
}

// shardIdentity installs deploy/agents' ServiceAccount and RBAC (and checks
// its StatefulSet with a server-side dry run) and returns a config that
// authenticates as that account with a token: the shards get only those
// rights.
func shardIdentity(ctx context.Context, t *testing.T, admin *rest.Config, kc kubernetes.Interface) *rest.Config {
	t.Helper()
	if _, err := kc.CoreV1().Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "churn"}}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	objs, err := manifests.Load(filepath.Join(testenv.RepoRoot(t), "deploy", "agents"))
	if err != nil {
		t.Fatal(err)
	}
	ap, err := manifests.NewApplier(admin)
	if err != nil {
		t.Fatal(err)
	}
	for _, o := range objs {
		// No StatefulSet pods on the test cluster: validated only.
		dry := o.GetKind() == "StatefulSet"
		if _, err := ap.Apply(ctx, o, manifests.ApplyOptions{FieldManager: "churn-test", DryRun: dry}); err != nil {
			t.Fatalf("deploy/agents: %v", err)
		}
	}
	ns, name, _ := strings.Cut(DefaultShardServiceAccount, "/")
	tr, err := kc.CoreV1().ServiceAccounts(ns).CreateToken(ctx, name, &authenticationv1.TokenRequest{
		Spec: authenticationv1.TokenRequestSpec{ExpirationSeconds: ptr.To[int64](3600)},
	}, metav1.CreateOptions{})
	if err != nil {
		t.Fatalf("token for %s: %v", DefaultShardServiceAccount, err)
	}
	cfg := rest.AnonymousClientConfig(admin)
	cfg.BearerToken = tr.Status.Token
	return cfg
}
