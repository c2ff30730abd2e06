package agents

import (
	"context"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	dynamicfake "k8s.io/client-go/dynamic/fake"
	clocktesting "k8s.io/utils/clock/testing"

	corev1 "k8s.io/api/core/v1"

	"github.com/churn-dev/churn/agents/crds"
	"github.com/churn-dev/churn/internal/cleanup/cleanuptest"
)

func TestSelectNodesPartitions(t *testing.T) {
	all := nodes(1000)
	for _, total := range []int{1, 2, 3, 7} {
		seen := map[string]int{}
		for shard := 0; shard < total; shard++ {
			part := SelectNodes(all, shard, total)
			if total > 1 && (len(part) < 1000/total/2 || len(part) > 2*1000/total) {
				t.Errorf("total %d shard %d: %d nodes, badly balanced", total, shard, len(part))
			}
			for _, n := range part {
				seen[n]++
			}
		}
		if len(seen) != len(all) {
			t.Errorf("total %d: union has %d nodes, want %d", total, len(seen), len(all))
		}
		for n, c := range seen {
			if c != 1 {
				t.Errorf("total %d: node %s in %d shards", total, n, c)
			}
		}
	}
}

func TestMeshSpecsAreConsistent(t *testing.T) {
	for _, name := range Meshes() {
		spec, err := Spec(name)
		if err != nil {
			t.Fatal(err)
		}
		for _, c := range spec.Components {
			clients := map[string]bool{}
			for _, cl := range c.Clients {
				clients[cl.Name] = true
			}
			for _, w := range c.Watches {
				if w.Version == "unknown" {
					t.Errorf("%s/%s: %s.%s not in the CRD manifests", name, c.Name, w.Resource, w.Group)
				}
				if !clients[w.Client] {
					t.Errorf("%s/%s: watch %s uses unknown client %q", name, c.Name, w.Resource, w.Client)
				}
				_, isCRD := crds.Lookup(w.Group, w.Resource, crds.SetCilium, crds.SetIstio, crds.SetGatewayAPI)
				if !w.MetadataOnly && w.Protobuf == isCRD {
					t.Errorf("%s/%s: %s: protobuf=%v for a CRD=%v (built-ins protobuf, CRDs JSON)", name, c.Name, w.Resource, w.Protobuf, isCRD)
				}
			}
			if c.UserAgent == "" || !strings.Contains(c.UserAgent, "/emulated") {
				t.Errorf("%s/%s: user agent %q", name, c.Name, c.UserAgent)
			}
		}
	}
	istio, _ := Spec(MeshIstioAmbient)
	// 8 core + 11 measured on the real istiod + 14 Istio + 10 Gateway API.
	if n := len(istio.Components[0].Watches); n != 8+11+14+10 {
		t.Errorf("istiod watches = %d, want 43", n)
	}
	ces, _ := Spec(MeshCiliumCES)
	for _, w := range ces.Components[0].Watches {
		if w.Resource == "ciliumendpoints" {
			t.Error("cilium-ces agents must not watch ciliumendpoints")
		}
	}
	if _, err := Spec("linkerd"); err == nil {
		t.Error("unknown mesh accepted")
	}
}

func TestRBACRulesCoverWatchesAndWrites(t *testing.T) {
	spec, _ := Spec(MeshCilium)
	rs := rules(spec.Components[0])
	find := func(group, res string) []string {
		for _, r := range rs {
			if r.APIGroups[0] == group && r.Resources[0] == res {
				return r.Verbs
			}
		}
		return nil
	}
	if got := find("cilium.io", "ciliumendpoints"); strings.Join(got, ",") != "create,delete,get,list,patch,watch" {
		t.Errorf("ciliumendpoints verbs = %v", got)
	}
	if got := find("", "pods"); strings.Join(got, ",") != "get,list,watch" {
		t.Errorf("pods verbs = %v", got)
	}
	imp := impersonation(spec.Components[0], "Run 42")
	if imp.UserName != "system:serviceaccount:kube-system:cilium-churn-run-42" || imp.Groups[1] != "system:serviceaccounts:kube-system" {
		t.Errorf("impersonation = %+v", imp)
	}
}

func TestAgentRolloutIsPaced(t *testing.T) {
	srv := newFakeCluster(t)
	clk := clocktesting.NewFakeClock(time.Now())
	cfg := testConfig(t, srv, MeshCilium, nodes(5)...)
	cfg.Clock = clk
	cfg.RolloutPerSecond = 2 // one every 500ms
	m := startMesh(t, cfg)
	eventually(t, "first agent", func() bool { return m.Running()["cilium-agent"] == 1 })
	if got := m.Running()["cilium-operator"]; got != 2 {
		t.Errorf("operators = %d, want 2 at once", got)
	}
	for want := 2; want <= 5; want++ {
		// Nothing more starts until the clock moves.
		if got := m.Running()["cilium-agent"]; got != want-1 {
			t.Fatalf("agents = %d before the step, want %d", got, want-1)
		}
		// Step only once the rollout waits on its timer.
		eventually(t, "rollout timer", func() bool { return clk.HasWaiters() })
		clk.Step(500 * time.Millisecond)
		eventually(t, "next agent", func() bool { return m.Running()["cilium-agent"] == want })
	}
	select {
	case <-m.RolloutDone():
	case <-time.After(20 * time.Second):
		t.Fatal("rollout not done")
	}
}

func TestCiliumEndpointFollowsPod(t *testing.T) {
	srv := newFakeCluster(t)
	mustCreate(t, srv, runNamespace("ns-1", map[string]string{"team": "a"}), node("kwok-node-0"))
	m := startMesh(t, testConfig(t, srv, MeshCilium, "kwok-node-0"))

	// The agent creates its CiliumNode once it has seen its Node.
	eventually(t, "CiliumNode", func() bool { _, ok := srv.Get(gvrCNodes, "", "kwok-node-0"); return ok })

	pod := runPod("ns-1", "web-1", "kwok-node-0", "10.64.0.7")
	created, err := srv.Create(pod)
	if err != nil {
		t.Fatal(err)
	}
	podUID := created.(*corev1.Pod).UID
	eventually(t, "CiliumEndpoint ready", func() bool {
		obj, ok := srv.Get(gvrCEPs, "ns-1", "web-1")
		if !ok {
			return false
		}
		state, _, _ := unstructured.NestedString(obj.(*unstructured.Unstructured).Object, "status", "state")
		return state == stateReady
	})
	cep, _ := srv.Get(gvrCEPs, "ns-1", "web-1")
	u := cep.(*unstructured.Unstructured)
	owners := u.GetOwnerReferences()
	if len(owners) != 1 || owners[0].Kind != "Pod" || owners[0].UID != podUID {
		t.Errorf("owner references = %+v", owners)
	}
	if u.GetLabels()["churn.dev/run"] != "r1" {
		t.Errorf("CEP labels = %v", u.GetLabels())
	}
	ip, _, _ := unstructured.NestedSlice(u.Object, "status", "networking", "addressing")
	idNum := num(u.Object, "status", "identity", "id")
	if len(ip) != 1 || ip[0].(map[string]any)["ipv4"] != "10.64.0.7" || idNum < minIdentity {
		t.Errorf("status = %v", u.Object["status"])
	}
	// Its identity exists, labelled with the run.
	ids := srv.List(gvrIdentities)
	if len(ids) != 1 || ids[0].(*unstructured.Unstructured).GetName() != itoa(idNum) {
		t.Fatalf("identities = %d, want the CEP's %d", len(ids), idNum)
	}

	// A namespace relabel re-identifies the pod: new identity, CEP patched.
	ns, _ := srv.Get(gvrNamespaces, "", "ns-1")
	nsObj := ns.(*corev1.Namespace)
	nsObj.Labels["team"] = "b"
	if _, err := srv.Update(nsObj); err != nil {
		t.Fatal(err)
	}
	eventually(t, "new identity on the CEP", func() bool {
		obj, _ := srv.Get(gvrCEPs, "ns-1", "web-1")
		got := num(obj.(*unstructured.Unstructured).Object, "status", "identity", "id")
		return got != idNum && got >= minIdentity
	})
	if n := len(srv.List(gvrIdentities)); n != 2 {
		t.Errorf("identities after relabel = %d, want 2", n)
	}

	// The pod goes: the CEP is deleted with a UID precondition.
	if err := srv.Delete(gvrPods, "ns-1", "web-1"); err != nil {
		t.Fatal(err)
	}
	eventually(t, "CEP deleted", func() bool { _, ok := srv.Get(gvrCEPs, "ns-1", "web-1"); return !ok })

	verbs := map[string]int{}
	for _, r := range srv.Requests() {
		if r.Resource == "ciliumendpoints" && r.Verb != "list" && r.Verb != "watch" {
			verbs[r.Verb]++
			if r.UserAgent != "cilium-agent/emulated (linux/amd64) churn" {
				t.Errorf("user agent %q", r.UserAgent)
			}
		}
	}
	if verbs["get"] != 1 || verbs["create"] != 1 || verbs["patch"] < 2 || verbs["delete"] != 1 {
		t.Errorf("CEP calls = %v, want 1 get, 1 create, >=2 patches, 1 delete", verbs)
	}
	// The server deletes before the agent has read its answer and counted
	// the write.
	eventually(t, "CEP delete counted", func() bool {
		return m.Summary().Components[0].Writes["delete ciliumendpoints"] == 1
	})
	sum := m.Summary()
	agent := sum.Components[0]
	if agent.Writes["create ciliumendpoints"] != 1 || agent.Writes["delete ciliumendpoints"] != 1 || agent.Writes["create ciliumidentities"] != 2 {
		t.Errorf("writes = %v", agent.Writes)
	}
	if agent.Lists < 15 || agent.EventsReceived == 0 || agent.BytesReceived == 0 || agent.Informers != 15 {
		t.Errorf("summary = %+v", agent)
	}
}

func itoa(n int64) string { return formatInt(n) }

// num reads a number from an object decoded from JSON (float64) or built
// in Go (int64).
func num(obj map[string]any, path ...string) int64 {
	v, _, _ := unstructured.NestedFieldNoCopy(obj, path...)
	switch n := v.(type) {
	case int64:
		return n
	case float64:
		return int64(n)
	}
	return 0
}

func formatInt(n int64) string {
	var b []byte
	if n == 0 {
		return "0"
	}
	for n > 0 {
		b = append([]byte{byte('0' + n%10)}, b...)
		n /= 10
	}
	return string(b)
}

func TestOnlyRunPodsGetEndpoints(t *testing.T) {
	srv := newFakeCluster(t)
	other := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "theirs"}}
	mustCreate(t, srv, runNamespace("ns-1", nil), other, node("kwok-node-0"))
	startMesh(t, testConfig(t, srv, MeshCilium, "kwok-node-0"))
	foreign := runPod("theirs", "not-mine", "kwok-node-0", "10.64.0.9")
	foreign.Labels = map[string]string{"app": "x"}
	mustCreate(t, srv, foreign, runPod("ns-1", "mine", "kwok-node-0", "10.64.0.8"))
	eventually(t, "run CEP", func() bool { _, ok := srv.Get(gvrCEPs, "ns-1", "mine"); return ok })
	for _, r := range srv.Requests() {
		if r.Namespace == "theirs" && r.Verb != "list" && r.Verb != "watch" {
			t.Errorf("touched a foreign namespace: %+v", r)
		}
	}
}

func TestIstioCNIEnrolsNewPods(t *testing.T) {
	srv := newFakeCluster(t)
	mustCreate(t, srv, runNamespace("ns-1", nil), node("kwok-node-0"))
	startMesh(t, testConfig(t, srv, MeshIstioAmbient, "kwok-node-0"))
	eventually(t, "watches", func() bool { return srv.Count("watch", "pods") >= 3 })
	mustCreate(t, srv, runPod("ns-1", "web-1", "kwok-node-0", "10.64.0.7"))
	eventually(t, "redirection annotation", func() bool {
		obj, _ := srv.Get(gvrPods, "ns-1", "web-1")
		return obj.(*corev1.Pod).Annotations[redirectionAnnotation] == redirectionEnabled
	})
	if srv.Count("get", "pods") != 1 || srv.Count("get", "namespaces") != 1 || srv.Count("patch", "pods/status") != 1 {
		t.Errorf("get pods=%d get namespaces=%d patch=%d, want 1 each",
			srv.Count("get", "pods"), srv.Count("get", "namespaces"), srv.Count("patch", "pods/status"))
	}
	// The repair controller's pods watch runs on its own client: three
	// spec.nodeName pods watches in all (istiod's is status.phase).
	var nodeWatches int
	for _, r := range srv.Requests() {
		if r.Verb == "watch" && r.Resource == "pods" && strings.Contains(r.Query, "spec.nodeName%3Dkwok-node-0") {
			nodeWatches++
		}
	}
	if nodeWatches != 2 {
		t.Errorf("node-scoped pod watches = %d, want 2 (agent and repair controller)", nodeWatches)
	}
}

func TestIstiodWritesRootCertOnlyInRunNamespaces(t *testing.T) {
	srv := newFakeCluster(t)
	mustCreate(t, srv, runNamespace("ns-1", nil), &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "theirs"}})
	m := startMesh(t, testConfig(t, srv, MeshIstioAmbient))
	eventually(t, "root cert", func() bool { _, ok := srv.Get(gvrConfigMaps, "ns-1", rootCertConfigMap); return ok })
	mustCreate(t, srv, runNamespace("ns-2", nil))
	eventually(t, "root cert in a new namespace", func() bool { _, ok := srv.Get(gvrConfigMaps, "ns-2", rootCertConfigMap); return ok })
	if _, ok := srv.Get(gvrConfigMaps, "theirs", rootCertConfigMap); ok {
		t.Error("wrote into a namespace the run does not own")
	}
	// Leader elections: the leases exist and are held by istiod-0.
	eventually(t, "leases", func() bool { return srv.Count("create", "leases") == 6 })
	// istiod syncs each collection with a streaming WATCH, never a LIST.
	var resources []string
	for _, r := range srv.Requests() {
		switch {
		case r.Verb == "list":
			t.Errorf("istiod LISTed %s: it syncs with streaming WATCHes", r.Resource)
		case r.Verb == "watch" && strings.Contains(r.Query, "sendInitialEvents=true"):
			resources = append(resources, r.Resource)
		}
	}
	sort.Strings(resources)
	// 34: the fake serves none of the apps, autoscaling, policy,
	// networking and admissionregistration kinds istiod also watches.
	if len(resources) != 34 {
		t.Errorf("istiod synced %d collections, want 34: %v", len(resources), resources)
	}
	// The count follows the response the fake already stored from.
	eventually(t, "two root-cert writes counted", func() bool { return m.Summary().Components[0].Writes["create configmaps"] == 2 })
	if notes := m.Summary().Notes; !slices.ContainsFunc(notes, func(n string) bool { return strings.HasPrefix(n, "istiod syncs with streaming WATCHes") }) {
		t.Errorf("summary notes %q do not say how istiod syncs", notes)
	}
}

func TestOperatorGarbageCollects(t *testing.T) {
	srv := newFakeCluster(t)
	mustCreate(t, srv, runNamespace("ns-1", nil))
	orphan := &unstructured.Unstructured{Object: map[string]any{
		"apiVersion": "cilium.io/v2", "kind": "CiliumEndpoint",
		"metadata": map[string]any{"name": "gone-pod", "namespace": "ns-1", "labels": map[string]any{"churn.dev/run": "r1"}},
		"status":   map[string]any{"identity": map[string]any{"id": int64(1000)}},
	}}
	foreignCEP := orphan.DeepCopy()
	foreignCEP.SetName("not-ours")
	foreignCEP.SetLabels(nil)
	unused := &unstructured.Unstructured{Object: map[string]any{
		"apiVersion": "cilium.io/v2", "kind": "CiliumIdentity",
		"metadata":        map[string]any{"name": "4242", "labels": map[string]any{"churn.dev/run": "r1"}},
		"security-labels": map[string]any{"k8s:app": "x"},
	}}
	used := unused.DeepCopy()
	used.SetName("1000")
	mustCreate(t, srv, []runtime.Object{orphan, foreignCEP, unused, used}...)

	clk := clocktesting.NewFakeClock(time.Now())
	cfg := testConfig(t, srv, MeshCilium)
	cfg.Clock = clk
	startMesh(t, cfg)
	// Let both operators sync and one take the lease.
	eventually(t, "leader", func() bool {
		_, ok := srv.Get(gvrLeases, systemNamespaceName("r1"), "cilium-operator-resource-lock")
		// A watch opens only after its list was handed over: once both
		// operators watch, the initial state is in.
		return ok && srv.Count("watch", "ciliumidentities") >= 2 && srv.Count("watch", "ciliumendpoints") >= 2 &&
			srv.Count("watch", "pods") >= 2
	})

	// stepUntil moves the fake clock one period at a time until cond
	// holds: a period fires the GC tickers of whichever operator leads.
	stepUntil := func(what string, period time.Duration, cond func() bool) {
		t.Helper()
		eventually(t, what, func() bool {
			if cond() {
				return true
			}
			clk.Step(period)
			time.Sleep(20 * time.Millisecond)
			return cond()
		})
	}
	// Orphan CEP GC (5 min): only the run's orphan goes.
	stepUntil("orphan CEP deleted", DefaultEndpointGCInterval, func() bool { _, ok := srv.Get(gvrCEPs, "ns-1", "gone-pod"); return !ok })
	if _, ok := srv.Get(gvrCEPs, "ns-1", "not-ours"); !ok {
		t.Error("deleted a CEP without the run label")
	}
	// Identity GC (15 min): an unused identity is first marked with the
	// heartbeat annotation, and deleted after the heartbeat timeout.
	marked := func(name string) bool {
		obj, ok := srv.Get(gvrIdentities, "", name)
		return ok && obj.(*unstructured.Unstructured).GetAnnotations()[heartbeatAnnotation] != ""
	}
	stepUntil("identity marked", DefaultIdentityGCInterval, func() bool { return marked("4242") })
	stepUntil("identity deleted", DefaultIdentityGCInterval, func() bool { _, ok := srv.Get(gvrIdentities, "", "4242"); return !ok })
	if srv.Count("update", "ciliumidentities") == 0 || srv.Count("delete", "ciliumidentities") == 0 {
		t.Errorf("identity GC calls: update=%d delete=%d", srv.Count("update", "ciliumidentities"), srv.Count("delete", "ciliumidentities"))
	}
}

func TestOperatorBatchesEndpointSlices(t *testing.T) {
	srv := newFakeCluster(t)
	mustCreate(t, srv, runNamespace("ns-1", nil), node("kwok-node-0"))
	m := startMesh(t, testConfig(t, srv, MeshCiliumCES, "kwok-node-0"))
	for i := 0; i < 5; i++ {
		mustCreate(t, srv, runPod("ns-1", "web-"+formatInt(int64(i)), "kwok-node-0", "10.64.0."+formatInt(int64(10+i))))
	}
	eventually(t, "one slice with 5 endpoints", func() bool {
		slices := srv.List(gvrCES)
		if len(slices) != 1 {
			return false
		}
		eps, _, _ := unstructured.NestedSlice(slices[0].(*unstructured.Unstructured).Object, "endpoints")
		ns, _, _ := unstructured.NestedString(slices[0].(*unstructured.Unstructured).Object, "namespace")
		return len(eps) == 5 && ns == "ns-1"
	})
	// Agents watch slices, not endpoints.
	for _, r := range srv.Requests() {
		if r.Resource == "ciliumendpoints" && (r.Verb == "watch" || r.Verb == "list") && strings.HasPrefix(r.UserAgent, "cilium-agent/") {
			t.Fatal("cilium-ces agent watched ciliumendpoints")
		}
	}
	if srv.Count("watch", "ciliumendpointslices") < 3 {
		t.Errorf("slice watches = %d, want agent + 2 operators", srv.Count("watch", "ciliumendpointslices"))
	}
	_ = m
}

func TestTeardownDeletesOnlyRunObjects(t *testing.T) {
	scheme := runtime.NewScheme()
	listKinds := map[schema.GroupVersionResource]string{crds.CRDResource: "CustomResourceDefinitionList",
		{Version: "v1", Resource: "namespaces"}: "NamespaceList"}
	for _, gvr := range teardownResources {
		listKinds[gvr] = "List"
	}
	mk := func(apiVersion, kind, ns, name string, labels map[string]any) *unstructured.Unstructured {
		md := map[string]any{"name": name}
		if ns != "" {
			md["namespace"] = ns
		}
		if labels != nil {
			md["labels"] = labels
		}
		return &unstructured.Unstructured{Object: map[string]any{"apiVersion": apiVersion, "kind": kind, "metadata": md}}
	}
	run := map[string]any{"churn.dev/run": "r1"}
	otherRun := map[string]any{"churn.dev/run": "r2"}
	objs := []runtime.Object{
		mk("cilium.io/v2", "CiliumIdentity", "", "300", run),
		mk("cilium.io/v2", "CiliumIdentity", "", "301", otherRun),
		mk("cilium.io/v2", "CiliumIdentity", "", "302", nil),
		mk("cilium.io/v2", "CiliumEndpoint", "ns-1", "web-1", run),
		mk("cilium.io/v2", "CiliumEndpoint", "ns-9", "theirs", nil),
		mk("cilium.io/v2", "CiliumNode", "", "kwok-node-0", run),
		mk("v1", "Namespace", "", "churn-mesh-r1", map[string]any{"churn.dev/run": "r1", meshSystemLabel: "true"}),
		mk("v1", "Namespace", "", "ns-1", run), // a workload namespace: the lead's to delete
		mk("apiextensions.k8s.io/v1", "CustomResourceDefinition", "", "ciliumnodes.cilium.io", run),
		mk("apiextensions.k8s.io/v1", "CustomResourceDefinition", "", "gateways.gateway.networking.k8s.io", nil),
	}
	dyn := dynamicfake.NewSimpleDynamicClientWithCustomListKinds(scheme, listKinds, objs...)
	cleanuptest.ServeDeleteCollection(dyn, map[string]bool{"namespaces": true})
	if err := teardown(context.Background(), dyn, testRunLabels, nil, nil); err != nil {
		t.Fatal(err)
	}
	exists := func(gvr schema.GroupVersionResource, ns, name string) bool {
		_, err := dyn.Resource(gvr).Namespace(ns).Get(context.Background(), name, metav1.GetOptions{})
		return err == nil
	}
	for _, c := range []struct {
		gvr      schema.GroupVersionResource
		ns, name string
		want     bool
	}{
		{gvrIdentities, "", "300", false}, {gvrIdentities, "", "301", true}, {gvrIdentities, "", "302", true},
		{gvrCEPs, "ns-1", "web-1", false}, {gvrCEPs, "ns-9", "theirs", true}, {gvrCNodes, "", "kwok-node-0", false},
		{gvrNamespaces, "", "churn-mesh-r1", false}, {gvrNamespaces, "", "ns-1", true},
		{crds.CRDResource, "", "ciliumnodes.cilium.io", false}, {crds.CRDResource, "", "gateways.gateway.networking.k8s.io", true},
	} {
		if got := exists(c.gvr, c.ns, c.name); got != c.want {
			t.Errorf("%s %s/%s exists=%v, want %v", c.gvr.Resource, c.ns, c.name, got, c.want)
		}
	}
	if err := teardown(context.Background(), dyn, nil, nil, nil); err == nil {
		t.Error("teardown with empty labels must refuse")
	}
}
