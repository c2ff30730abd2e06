package agents

import (
	"context"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/kubernetes/fake"
)

func shardTestRunLabels(runID string) map[string]string {
	return map[string]string{"churn.dev/run": runID, "app.kubernetes.io/managed-by": "churn"}
}

// testAnnouncement is what a run with ID runID announces for mesh.
func testAnnouncement(runID, mesh string) *corev1.ConfigMap {
	cm := newAnnouncement(Config{Mesh: mesh, RunID: runID, RunLabels: shardTestRunLabels(runID), RolloutPerSecond: 10},
		systemNamespaceName(runID))
	cm.UID = types.UID("uid-" + cm.Namespace)
	return cm
}

func TestParseAnnouncementRefusesWhatARunDidNotWrite(t *testing.T) {
	if a, err := parseAnnouncement(testAnnouncement("r1", MeshCilium), shardTestRunLabels); err != nil || a.runID != "r1" || a.rolloutPerSecond != 10 {
		t.Fatalf("a run's announcement: %+v, %v", a, err)
	}
	for name, tc := range map[string]struct {
		edit    func(*corev1.ConfigMap)
		wantErr string
	}{
		"other namespace":   {func(c *corev1.ConfigMap) { c.Namespace = "default" }, "announces in namespace churn-mesh-r1 only"},
		"no run label":      {func(c *corev1.ConfigMap) { delete(c.Labels, "churn.dev/run") }, "does not carry run label churn.dev/run=r1"},
		"other run's label": {func(c *corev1.ConfigMap) { c.Labels["churn.dev/run"] = "r2" }, "does not carry run label"},
		"no managed-by":     {func(c *corev1.ConfigMap) { delete(c.Labels, "app.kubernetes.io/managed-by") }, "app.kubernetes.io/managed-by=churn"},
		"no agents mark":    {func(c *corev1.ConfigMap) { delete(c.Labels, LabelAgents) }, "not an announcement"},
		"other name":        {func(c *corev1.ConfigMap) { c.Name = "x" }, "not an announcement"},
		"no run":            {func(c *corev1.ConfigMap) { delete(c.Data, annRun) }, `no "run"`},
		"mesh none":         {func(c *corev1.ConfigMap) { c.Data[annMesh] = MeshNone }, "no per-node agents"},
		"unknown mesh":      {func(c *corev1.ConfigMap) { c.Data[annMesh] = "linkerd" }, "no per-node agents"},
		"bad state":         {func(c *corev1.ConfigMap) { c.Data[annState] = "paused" }, "unknown state"},
		"bad rate":          {func(c *corev1.ConfigMap) { c.Data[annRollout] = "fast" }, "is not a rate"},
	} {
		cm := testAnnouncement("r1", MeshCilium)
		tc.edit(cm)
		if _, err := parseAnnouncement(cm, shardTestRunLabels); err == nil || !strings.Contains(err.Error(), tc.wantErr) {
			t.Errorf("%s: error = %v, want %q", name, err, tc.wantErr)
		}
	}
	noLabels := func(string) map[string]string { return nil }
	if _, err := parseAnnouncement(testAnnouncement("r1", MeshCilium), noLabels); err == nil {
		t.Error("empty run labels accepted: a shard would select every node")
	}
}

func TestGrantShardsAllowsOnlyThisRunsPerNodeAccounts(t *testing.T) {
	kc := fake.NewClientset()
	spec, _ := Spec(MeshIstioAmbient)
	cfg := Config{RunID: "r1", RunLabels: shardTestRunLabels("r1"), ShardServiceAccount: "churn/churn-agents"}
	if err := grantShards(context.Background(), kc, spec, cfg); err != nil {
		t.Fatal(err)
	}
	role, err := kc.RbacV1().ClusterRoles().Get(context.Background(), "churn-r1-agents-shards", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if role.Labels["churn.dev/run"] != "r1" {
		t.Errorf("role labels = %v: teardown would miss it", role.Labels)
	}
	got := map[string]string{}
	for _, r := range role.Rules {
		if strings.Join(r.Verbs, ",") != "impersonate" || len(r.APIGroups) != 1 || r.APIGroups[0] != "" {
			t.Errorf("rule %+v grants more than core impersonation", r)
		}
		got[strings.Join(r.Resources, ",")] = strings.Join(r.ResourceNames, ",")
	}
	// istiod is central: only istio-cni's account, never istiod's.
	if got["serviceaccounts"] != "istio-cni-churn-r1" {
		t.Errorf("serviceaccounts = %q, want only istio-cni-churn-r1", got["serviceaccounts"])
	}
	if got["groups"] != "system:serviceaccounts,system:serviceaccounts:istio-system,system:authenticated" {
		t.Errorf("groups = %q", got["groups"])
	}
	b, err := kc.RbacV1().ClusterRoleBindings().Get(context.Background(), "churn-r1-agents-shards", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if s := b.Subjects; len(s) != 1 || s[0].Kind != "ServiceAccount" || s[0].Namespace != "churn" || s[0].Name != "churn-agents" {
		t.Errorf("subjects = %+v", s)
	}
}

func TestAllDone(t *testing.T) {
	r := func(sh, state string) shardReport { return shardReport{Shard: sh, State: state} }
	for name, tc := range map[string]struct {
		reports map[string]shardReport
		want    bool
	}{
		"none registered": {map[string]shardReport{}, true},
		"all done":        {map[string]shardReport{"shard-0-of-2": r("0/2", stateDone), "shard-1-of-2": r("1/2", stateDone)}, true},
		"one running":     {map[string]shardReport{"shard-0-of-2": r("0/2", stateDone), "shard-1-of-2": r("1/2", stateRunning)}, false},
		"one never came":  {map[string]shardReport{"shard-1-of-2": r("1/2", stateDone)}, false},
	} {
		if got := allDone(tc.reports); got != tc.want {
			t.Errorf("%s: allDone = %v, want %v", name, got, tc.want)
		}
	}
}
