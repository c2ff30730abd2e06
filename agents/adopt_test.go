package agents

import (
	"context"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"github.com/churn-dev/churn/agents/internal/fakeapi"
)

// settled reports whether every settle condition of m is met.
func settled(m *Mesh) bool {
	conds := m.SettleConditions()
	for _, c := range conds {
		if !c.Met {
			return false
		}
	}
	return len(conds) > 0
}

// met reports whether each named condition is reported, met, with
// something to want.
func met(m *Mesh, names ...string) bool {
	for _, name := range names {
		found := false
		for _, c := range m.SettleConditions() {
			if c.Name == name {
				found = c.Met && c.Want > 0
			}
		}
		if !found {
			return false
		}
	}
	return true
}

// stopNow stops a mesh the test is done with (its objects stay).
func stopNow(t *testing.T, m *Mesh) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if _, err := m.Stop(ctx); err != nil {
		t.Fatal(err)
	}
}

// writesSince counts the write requests made after the first n records.
func writesSince(srv *fakeapi.Server, n int) map[string]int {
	out := map[string]int{}
	for _, r := range srv.Requests()[n:] {
		switch r.Verb {
		case "create", "update", "patch", "delete":
			out[r.Verb+" "+r.Resource]++
		}
	}
	return out
}

func getsSince(srv *fakeapi.Server, n int, resource string) int {
	var got int
	for _, r := range srv.Requests()[n:] {
		if r.Verb == "get" && r.Resource == resource {
			got++
		}
	}
	return got
}

// A cilium mesh started where it already ran (a snapshot saved with it)
// finds its CiliumNode, identities and CiliumEndpoints: the agents list
// and watch as at any start, GET each endpoint and leave it as it is,
// creating nothing, and the mesh settles.
func TestCiliumAgentsAdoptTheObjectsOfAMeshThatRan(t *testing.T) {
	srv := newFakeCluster(t)
	mustCreate(t, srv, runNamespace("ns-1", map[string]string{"team": "a"}), node("kwok-node-0"),
		runPod("ns-1", "web-1", "kwok-node-0", "10.64.0.7"), runPod("ns-1", "web-2", "kwok-node-0", "10.64.0.8"))
	cfg := testConfig(t, srv, MeshCilium, "kwok-node-0")

	first, err := Start(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	eventually(t, "first mesh settled with ready endpoints", func() bool {
		for _, name := range []string{"web-1", "web-2"} {
			obj, ok := srv.Get(gvrCEPs, "ns-1", name)
			if !ok {
				return false
			}
			if state, _, _ := unstructured.NestedString(obj.(*unstructured.Unstructured).Object, "status", "state"); state != stateReady {
				return false
			}
		}
		return settled(first)
	})
	stopNow(t, first)
	if w := first.Summary().Components[0].Writes; w["create ciliumendpoints"] != 2 || w["create ciliumnodes"] != 1 {
		t.Fatalf("the first mesh wrote %v, want the endpoints and the CiliumNode created", w)
	}
	before := len(srv.Requests())

	// Until its identity watch has listed what exists, an agent writes no
	// endpoint, as the real one waits for its identity cache: it would
	// otherwise try to create identities that exist.
	srv.Inject(fakeapi.Fault{Verb: "list", Resource: "ciliumidentities", Code: 500, Reason: metav1.StatusReasonInternalError})
	second := startMesh(t, cfg)
	time.Sleep(10 * cfg.EndpointSyncInterval)
	if w := writesSince(srv, before); w["create ciliumidentities"] != 0 || w["patch ciliumendpoints"] != 0 {
		t.Errorf("before the identities were listed the agent wrote %v, want nothing", w)
	}
	srv.ClearFaults()
	eventually(t, "second mesh settled", func() bool { return settled(second) })
	// Several endpoint syncs (50 ms each) pass: an adopted endpoint must
	// stay unwritten at the periodic sync too.
	time.Sleep(10 * cfg.EndpointSyncInterval)

	writes := writesSince(srv, before)
	for _, w := range []string{"create ciliumendpoints", "patch ciliumendpoints", "create ciliumnodes", "create ciliumidentities", "delete ciliumendpoints"} {
		if writes[w] != 0 {
			t.Errorf("second mesh sent %d %q requests, want none: it adopts what exists (all writes: %v)", writes[w], w, writes)
		}
	}
	if got := getsSince(srv, before, "ciliumendpoints"); got != 2 {
		t.Errorf("second mesh GET %d CiliumEndpoints, want 2 (one per local pod, as a restarted agent)", got)
	}
	if got := getsSince(srv, before, "ciliumnodes"); got != 1 {
		t.Errorf("second mesh GET %d CiliumNodes, want its own once", got)
	}
	for _, c := range second.Summary().Components {
		if c.Name == "cilium-agent" && (c.Writes["create ciliumendpoints"] != 0 || c.Writes["patch ciliumendpoints"] != 0 || c.Lists == 0) {
			t.Errorf("cilium-agent summary: writes %v, lists %d; want no endpoint writes and its start-up lists", c.Writes, c.Lists)
		}
	}

	// Adopted endpoints are the agent's own: a changed pod is written.
	obj, _ := srv.Get(gvrPods, "ns-1", "web-1")
	if err := srv.Delete(gvrPods, "ns-1", "web-1"); err != nil || obj == nil {
		t.Fatal(err)
	}
	eventually(t, "adopted endpoint deleted with its pod", func() bool { _, ok := srv.Get(gvrCEPs, "ns-1", "web-1"); return !ok })
}

// An endpoint found with another status (not yet ready, another IP) is
// updated, never re-created.
func TestCiliumAgentUpdatesAnExistingEndpointThatDiffers(t *testing.T) {
	srv := newFakeCluster(t)
	mustCreate(t, srv, runNamespace("ns-1", nil), node("kwok-node-0"), runPod("ns-1", "web-1", "kwok-node-0", "10.64.0.7"))
	cfg := testConfig(t, srv, MeshCilium, "kwok-node-0")
	first, err := Start(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	eventually(t, "first mesh settled", func() bool { return settled(first) })
	stopNow(t, first)
	obj, _ := srv.Get(gvrPods, "ns-1", "web-1")
	p := obj.(*corev1.Pod).DeepCopy()
	p.Status.PodIP = "10.64.0.9"
	if _, err := srv.Update(p); err != nil {
		t.Fatal(err)
	}
	before := len(srv.Requests())
	second := startMesh(t, cfg)
	eventually(t, "endpoint follows the new IP", func() bool {
		obj, ok := srv.Get(gvrCEPs, "ns-1", "web-1")
		if !ok {
			return false
		}
		addr, _, _ := unstructured.NestedSlice(obj.(*unstructured.Unstructured).Object, "status", "networking", "addressing")
		return len(addr) == 1 && addr[0].(map[string]any)["ipv4"] == "10.64.0.9"
	})
	eventually(t, "second mesh settled", func() bool { return settled(second) })
	writes := writesSince(srv, before)
	if writes["create ciliumendpoints"] != 0 || writes["patch ciliumendpoints"] == 0 {
		t.Errorf("writes %v, want the existing endpoint patched and none created", writes)
	}
}

// istio-ambient started where it already ran finds every pod enrolled and
// every root-cert ConfigMap: it writes neither again.
func TestIstioAmbientAdoptsTheObjectsOfAMeshThatRan(t *testing.T) {
	srv := newFakeCluster(t)
	mustCreate(t, srv, runNamespace("ns-1", nil), node("kwok-node-0"), runPod("ns-1", "web-1", "kwok-node-0", "10.64.0.7"))
	cfg := testConfig(t, srv, MeshIstioAmbient, "kwok-node-0")
	first, err := Start(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	// The fake serves none of istiod's apps, policy, networking and
	// admission kinds, so its watches never all sync: wait for what it
	// writes.
	ambient := []string{SettlePodsEnrolled, SettleRootCerts}
	eventually(t, "first mesh wrote its objects", func() bool { return met(first, ambient...) })
	stopNow(t, first)
	if w := writesSince(srv, 0); w["create configmaps"] != 1 || w["patch pods/status"] != 1 {
		t.Fatalf("first mesh wrote %v, want one root cert and one enrolment", w)
	}
	before := len(srv.Requests())
	second := startMesh(t, cfg)
	eventually(t, "second mesh found its objects", func() bool { return met(second, ambient...) })
	time.Sleep(200 * time.Millisecond)
	if w := writesSince(srv, before); w["create configmaps"] != 0 || w["patch pods/status"] != 0 {
		t.Errorf("second mesh wrote %v, want no root cert and no enrolment again", w)
	}
}

// cilium-ces started where it already ran: the operator adopts the
// CiliumEndpointSlices it finds (as the real one fills its slice cache
// from them) and writes none again while nothing changed; an endpoint
// that changed meanwhile is written into its slice.
func TestOperatorAdoptsTheSlicesOfAMeshThatRan(t *testing.T) {
	srv := newFakeCluster(t)
	mustCreate(t, srv, runNamespace("ns-1", nil), node("kwok-node-0"))
	for i := 0; i < 5; i++ {
		mustCreate(t, srv, runPod("ns-1", "web-"+formatInt(int64(i)), "kwok-node-0", "10.64.0."+formatInt(int64(10+i))))
	}
	cfg := testConfig(t, srv, MeshCiliumCES, "kwok-node-0")
	first, err := Start(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	eventually(t, "first mesh settled with one slice of 5", func() bool {
		slices := srv.List(gvrCES)
		if len(slices) != 1 {
			return false
		}
		eps, _, _ := unstructured.NestedSlice(slices[0].(*unstructured.Unstructured).Object, "endpoints")
		return len(eps) == 5 && settled(first)
	})
	stopNow(t, first)
	before := len(srv.Requests())

	second := startMesh(t, cfg)
	eventually(t, "second mesh settled", func() bool { return settled(second) })
	// Longer than the slice controller's 500 ms batching delay.
	time.Sleep(2 * cesSyncDelay)
	if w := writesSince(srv, before); w["create ciliumendpointslices"]+w["update ciliumendpointslices"]+w["delete ciliumendpointslices"] != 0 {
		t.Errorf("second mesh wrote slices %v, want none: it adopts the saved one", w)
	}

	// The adopted slice is the operator's own: a new pod's endpoint joins it.
	before = len(srv.Requests())
	mustCreate(t, srv, runPod("ns-1", "web-9", "kwok-node-0", "10.64.0.99"))
	eventually(t, "the new endpoint in the adopted slice", func() bool {
		slices := srv.List(gvrCES)
		if len(slices) != 1 {
			return false
		}
		eps, _, _ := unstructured.NestedSlice(slices[0].(*unstructured.Unstructured).Object, "endpoints")
		return len(eps) == 6
	})
	if w := writesSince(srv, before); w["create ciliumendpointslices"] != 0 || w["update ciliumendpointslices"] == 0 {
		t.Errorf("writes for a new endpoint %v, want the adopted slice updated, none created", w)
	}
}
