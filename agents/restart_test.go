package agents

import (
	"context"
	"fmt"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	coordinationv1 "k8s.io/api/coordination/v1"

	"github.com/churn-dev/churn/agents/internal/fakeapi"
)

// listsAtZero counts the resourceVersion=0 LISTs of a resource: an
// informer's first list.
func listsAtZero(reqs []fakeapi.RequestRecord, resource string) int {
	n := 0
	for _, r := range reqs {
		q, _ := url.ParseQuery(r.Query)
		if r.Verb == "list" && r.Resource == resource && q.Get("resourceVersion") == "0" {
			n++
		}
	}
	return n
}

func TestRestartCiliumAgents(t *testing.T) {
	srv := newFakeCluster(t)
	names := nodes(4)
	mustCreate(t, srv, runNamespace("ns-1", nil))
	for i, n := range names {
		mustCreate(t, srv, node(n), runPod("ns-1", fmt.Sprintf("web-%d", i), n, fmt.Sprintf("10.64.0.%d", i+10)))
	}
	m := startMesh(t, testConfig(t, srv, MeshCilium, names...))
	eventually(t, "every CiliumEndpoint", func() bool { return len(srv.List(gvrCEPs)) == 4 })
	replicas, err := m.Replicas("cilium-agent")
	if err != nil || len(replicas) != 4 || replicas[0] != "cilium-agent-kwok-node-0" {
		t.Fatalf("Replicas = %v, %v", replicas, err)
	}
	// Every agent up before the restart, so the counts below are the
	// restart's.
	eventually(t, "agents ready", func() bool {
		for _, c := range m.SettleConditions() {
			if !c.Met {
				return false
			}
		}
		return true
	})
	before := srv.Requests()
	stopped := false
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	got, err := m.Restart(ctx, "cilium-agent", replicas[:2], func() { stopped = true })
	if err != nil {
		t.Fatal(err)
	}
	if !stopped || len(got) != 2 {
		t.Fatalf("stopped=%v, startups %d", stopped, len(got))
	}
	after := srv.Requests()[len(before):]
	for _, s := range got {
		if !s.Ready || s.ReadyAfter <= 0 {
			t.Errorf("%s: ready=%v after %s", s.Name, s.Ready, s.ReadyAfter)
		}
		if len(s.Lists) != len(m.components[0].watches) {
			t.Errorf("%s: %d first lists, want one per watch (%d)", s.Name, len(s.Lists), len(m.components[0].watches))
		}
		var ceps *ListCost
		for i := range s.Lists {
			if s.Lists[i].Resource == "ciliumendpoints" {
				ceps = &s.Lists[i]
			}
		}
		if ceps == nil || ceps.Items != 4 || ceps.Bytes == 0 || ceps.Requests != 1 || ceps.Duration <= 0 {
			t.Errorf("%s: ciliumendpoints list = %+v, want all 4 endpoints in one request", s.Name, ceps)
		}
		// Its CiliumNode GET at least; the endpoint resync may follow.
		if s.Calls < 1 {
			t.Errorf("%s: %d calls, want the CiliumNode GET", s.Name, s.Calls)
		}
	}
	// Each restarted agent listed every CiliumEndpoint again from the
	// watch cache, and the others did not.
	if n := listsAtZero(after, "ciliumendpoints"); n != 2 {
		t.Errorf("resourceVersion=0 CEP lists after the restart = %d, want 2", n)
	}
	// Each restarted agent resyncs its endpoint: a GET, and no CREATE
	// (it adopts what it finds).
	gets := func() int {
		n := 0
		for _, r := range srv.Requests()[len(before):] {
			if r.Verb == "get" && r.Resource == "ciliumendpoints" {
				n++
			}
		}
		return n
	}
	eventually(t, "endpoint resync GETs", func() bool { return gets() >= 2 })
	time.Sleep(200 * time.Millisecond)
	if n := gets(); n != 2 {
		t.Errorf("endpoint GETs after the restart = %d, want one per restarted agent's pod (2)", n)
	}
	nodeUpdates := 0
	for _, r := range srv.Requests()[len(before):] {
		if r.Verb == "create" && r.Resource == "ciliumendpoints" {
			t.Errorf("a restarted agent re-created endpoint %s/%s", r.Namespace, r.Name)
		}
		if r.Verb == "update" && r.Resource == "ciliumnodes" {
			nodeUpdates++
		}
	}
	// As the real agent, each writes back the CiliumNode it finds.
	if nodeUpdates != 2 {
		t.Errorf("CiliumNode updates after the restart = %d, want one per restarted agent (2)", nodeUpdates)
	}
	if r := m.Running()["cilium-agent"]; r != 4 {
		t.Errorf("running agents = %d, want 4", r)
	}
	if again, _ := m.Replicas("cilium-agent"); strings.Join(again, ",") != strings.Join(replicas, ",") {
		t.Errorf("replicas after restart = %v, want %v", again, replicas)
	}
	if _, err := m.Restart(ctx, "cilium-agent", []string{"cilium-agent-nowhere"}, nil); err == nil || !strings.Contains(err.Error(), "no replica cilium-agent-nowhere") {
		t.Errorf("unknown replica: %v", err)
	}
	if _, err := m.Restart(ctx, "istiod", nil, nil); err == nil || !strings.Contains(err.Error(), "runs no istiod") {
		t.Errorf("unknown component: %v", err)
	}
}

func TestRestartTakesLeaseOver(t *testing.T) {
	srv := newFakeCluster(t)
	mustCreate(t, srv, runNamespace("ns-1", nil))
	m := startMesh(t, testConfig(t, srv, MeshCilium))
	const lease = "cilium-operator-resource-lock"
	holder := func() string {
		obj, ok := srv.Get(gvrLeases, systemNamespaceName("r1"), lease)
		if !ok || obj.(*coordinationv1.Lease).Spec.HolderIdentity == nil {
			return ""
		}
		return *obj.(*coordinationv1.Lease).Spec.HolderIdentity
	}
	eventually(t, "an operator leads", func() bool { return holder() != "" })
	leader := holder()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	before := len(srv.Requests())
	got, err := m.Restart(ctx, "cilium-operator", []string{leader}, nil)
	if err != nil || len(got) != 1 || !got[0].Ready || got[0].Name != leader {
		t.Fatalf("Restart = %+v, %v", got, err)
	}
	if n := listsAtZero(srv.Requests()[before:], "ciliumidentities"); n != 1 {
		t.Errorf("resourceVersion=0 identity lists after the restart = %d, want 1", n)
	}
	// The restarted operator is another holder, as a new pod is: it asks
	// for the lease and may take it only once the old holder's expires.
	if got[0].Calls == 0 {
		t.Error("the restarted operator made no lease request")
	}
	c, _ := m.component("cilium-operator")
	c.mu.Lock()
	var ids []string
	for _, r := range c.started {
		ids = append(ids, r.id)
	}
	c.mu.Unlock()
	if !slices.Contains(ids, leader+"-1") {
		t.Errorf("identities after the restart = %v, want %s-1 among them", ids, leader)
	}
	if h := holder(); h == leader+"-1" {
		t.Errorf("the restarted operator holds the lease at once; the old holder's lease had not expired")
	}
}

func TestRestartIstioCNIStreamsItsListsAgain(t *testing.T) {
	srv := newFakeCluster(t)
	names := nodes(2)
	mustCreate(t, srv, runNamespace("ns-1", nil))
	for i, n := range names {
		mustCreate(t, srv, node(n), runPod("ns-1", fmt.Sprintf("web-%d", i), n, fmt.Sprintf("10.64.0.%d", i+10)))
	}
	cfg := testConfig(t, srv, MeshIstioAmbient, names...)
	m := startMesh(t, cfg)
	eventually(t, "istio-cni agents synced", func() bool {
		c, err := m.component("istio-cni")
		if err != nil {
			return false
		}
		c.mu.Lock()
		defer c.mu.Unlock()
		return len(c.started) == 2 && c.started[0].synced() && c.started[1].synced()
	})
	before := len(srv.Requests())
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	got, err := m.Restart(ctx, "istio-cni", []string{"istio-cni-" + names[1]}, nil)
	if err != nil || len(got) != 1 || !got[0].Ready || len(got[0].Lists) != 3 {
		t.Fatalf("Restart = %+v, %v; want ready with its three informers listed", got, err)
	}
	streams := 0
	for _, r := range srv.Requests()[before:] {
		q, _ := url.ParseQuery(r.Query)
		// istiod may still be starting its own informers on a busy machine.
		if !strings.HasPrefix(r.UserAgent, "istio-cni/") {
			continue
		}
		if r.Verb == "watch" && q.Get("sendInitialEvents") == "true" {
			streams++
			if r.Resource == "pods" && q.Get("fieldSelector") != "spec.nodeName="+names[1] {
				t.Errorf("restarted agent's pod watch selects %q", q.Get("fieldSelector"))
			}
		}
	}
	if streams != 3 {
		t.Errorf("streaming lists after the restart = %d, want the agent's 3 informers", streams)
	}
	for _, l := range got[0].Lists {
		if l.Resource == "pods" && l.Items != 1 {
			t.Errorf("restarted agent's pod list = %+v, want its node's one pod", l)
		}
	}
}
