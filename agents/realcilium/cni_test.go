package realcilium

import (
	"context"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"go.uber.org/zap/zaptest"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/kubernetes/fake"
)

// fakeAgentAPI serves the agent API calls cilium-cni makes on a unix
// socket and records them.
type fakeAgentAPI struct {
	mu        sync.Mutex
	calls     []string
	endpoints []endpointRequest
	next      int
	// failEndpoints makes PUT /endpoint answer 500.
	failEndpoints bool
}

func startFakeAgentAPI(t *testing.T) (*fakeAgentAPI, string) {
	t.Helper()
	f := &fakeAgentAPI{}
	sock := filepath.Join(t.TempDir(), "cilium.sock")
	l, err := net.Listen("unix", sock)
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: f}
	go srv.Serve(l)
	t.Cleanup(func() { srv.Close() })
	return f, sock
}

func (f *fakeAgentAPI) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.calls = append(f.calls, r.Method+" "+r.URL.Path+"?"+r.URL.RawQuery)
	switch {
	case r.Method == http.MethodGet && r.URL.Path == "/v1/config":
		w.WriteHeader(http.StatusOK)
	case r.Method == http.MethodPost && r.URL.Path == "/v1/ipam":
		f.next++
		w.WriteHeader(http.StatusCreated)
		json.NewEncoder(w).Encode(map[string]any{"address": map[string]string{"ipv4": "10.128.0." + strconv.Itoa(f.next), "ipv4-pool-name": "default"}})
	case r.Method == http.MethodPut && strings.HasPrefix(r.URL.Path, "/v1/endpoint/"):
		if f.failEndpoints {
			http.Error(w, "no identity", http.StatusInternalServerError)
			return
		}
		var req endpointRequest
		body, _ := io.ReadAll(r.Body)
		if err := json.Unmarshal(body, &req); err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		f.endpoints = append(f.endpoints, req)
		w.WriteHeader(http.StatusCreated)
	case r.Method == http.MethodDelete:
		w.WriteHeader(http.StatusOK)
	case r.Method == http.MethodGet && r.URL.Path == "/v1/endpoint":
		var eps []any
		for _, e := range f.endpoints {
			eps = append(eps, map[string]any{"id": 1, "status": map[string]any{"external-identifiers": map[string]any{"container-id": e.ContainerID}}})
		}
		json.NewEncoder(w).Encode(eps)
	default:
		http.NotFound(w, r)
	}
}

func (f *fakeAgentAPI) snapshot() ([]string, []endpointRequest) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]string(nil), f.calls...), append([]endpointRequest(nil), f.endpoints...)
}

func runningPod(name, node, ip string) *corev1.Pod {
	return &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: "ns", UID: types.UID("uid-" + name)},
		Spec:       corev1.PodSpec{NodeName: node},
		Status:     corev1.PodStatus{Phase: corev1.PodRunning, PodIP: ip},
	}
}

func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// A pod with a sandbox on the node gets cilium-cni's ADD (an address from
// the agent's IPAM, then the endpoint with the pod's identity fields); a
// pod without an IP yet, or on another node, gets nothing; a deleted pod
// gets DEL (endpoint, then the address back to its pool).
func TestCNIStandInAddsAndDeletes(t *testing.T) {
	api, sock := startFakeAgentAPI(t)
	cs := fake.NewClientset(runningPod("a", "n1", "10.0.0.1"), runningPod("pending", "n1", ""), runningPod("elsewhere", "n2", "10.0.0.2"))
	c, err := startCNI(context.Background(), cs, "n1", newAPIClient(sock), zaptest.NewLogger(t))
	if err != nil {
		t.Fatal(err)
	}
	defer c.stop()
	eventually(t, "ADD of pod a", func() bool { return c.stats().Adds == 1 })
	calls, eps := api.snapshot()
	if len(calls) != 2 || !strings.HasPrefix(calls[0], "POST /v1/ipam?") || !strings.Contains(calls[0], "owner=ns%2Fa") ||
		!strings.HasPrefix(calls[1], "PUT /v1/endpoint/cilium-local:0") {
		t.Fatalf("calls = %q, want POST /ipam for ns/a then PUT /endpoint/cilium-local:0", calls)
	}
	ep := eps[0]
	if ep.K8sNamespace != "ns" || ep.K8sPodName != "a" || ep.K8sUID != "uid-a" || ep.Addressing.IPv4 != "10.128.0.1" ||
		len(ep.ContainerID) != 64 || !ep.SyncBuildEndpoint || len(ep.InterfaceName) > 15 {
		t.Errorf("endpoint request = %+v", ep)
	}

	if err := cs.CoreV1().Pods("ns").Delete(context.Background(), "a", metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	eventually(t, "DEL of pod a", func() bool { return c.stats().Deletes == 1 })
	calls, _ = api.snapshot()
	tail := calls[len(calls)-2:]
	if tail[0] != "DELETE /v1/endpoint/container-id:"+ep.ContainerID+"?" || tail[1] != "DELETE /v1/ipam/10.128.0.1?pool=default" {
		t.Errorf("DEL calls = %q", tail)
	}
	if s := c.stats(); s.Adds != 1 || s.Errors != 0 {
		t.Errorf("stats = %+v, want one ADD (pending and other-node pods skipped) and no errors", s)
	}
}

// An ADD the agent refuses is retried, then counted as failed with its
// error; the address it took is released each time, as cilium-cni does.
func TestCNIStandInCountsFailures(t *testing.T) {
	api, sock := startFakeAgentAPI(t)
	api.failEndpoints = true
	cs := fake.NewClientset(runningPod("a", "n1", "10.0.0.1"))
	c, err := startCNI(context.Background(), cs, "n1", newAPIClient(sock), zaptest.NewLogger(t))
	if err != nil {
		t.Fatal(err)
	}
	defer c.stop()
	eventually(t, "the ADD to be given up", func() bool { return c.stats().Errors == 1 })
	s := c.stats()
	if s.Adds != 0 || !strings.Contains(s.LastError, "HTTP 500") {
		t.Errorf("stats = %+v, want no ADD and the agent's answer as the last error", s)
	}
	calls, _ := api.snapshot()
	var releases int
	for _, call := range calls {
		if strings.HasPrefix(call, "DELETE /v1/ipam/") {
			releases++
		}
	}
	if releases != cniMaxRetries+1 {
		t.Errorf("%d addresses released, want %d (one per attempt): %q", releases, cniMaxRetries+1, calls)
	}
}

func TestAgentAndOperatorFlags(t *testing.T) {
	args := strings.Join(agentArgs("/k", "/d/n1", []int{1, 2}, true), " ")
	for _, want := range []string{"--churn-private-run-dir=/d/n1/run", "--lib-dir=/d/n1/lib", "--k8s-kubeconfig-path=/k",
		"--identity-allocation-mode=crd", "--ipam=kubernetes", "--enable-l7-proxy=false", "--gops-port=1",
		"--agent-health-port=2", "--enable-cilium-endpoint-slice"} {
		if !strings.Contains(args, want) {
			t.Errorf("agent args %q lack %s", args, want)
		}
	}
	if strings.Contains(strings.Join(agentArgs("/k", "/d", []int{1, 2}, false), " "), "endpoint-slice") {
		t.Error("agent args enable CiliumEndpointSlices for the cilium mesh")
	}
	op := &Operator{opts: OperatorOptions{EndpointSlices: true, IdentityGCInterval: time.Minute}}
	oargs := strings.Join(op.args("/k", "churn-mesh-r", []int{10, 11, 12}), " ")
	for _, want := range []string{"--k8s-namespace=churn-mesh-r", "--skip-crd-creation", "--identity-allocation-mode=crd",
		"--operator-api-serve-addr=127.0.0.1:10", "--operator-prometheus-serve-addr=127.0.0.1:11", "--gops-port=12",
		"--enable-cilium-endpoint-slice", "--identity-gc-interval=1m0s"} {
		if !strings.Contains(oargs, want) {
			t.Errorf("operator args %q lack %s", oargs, want)
		}
	}
}

func TestNewRefusesMissingBinaries(t *testing.T) {
	if _, err := NewAgent(AgentOptions{Binary: "/nonexistent/cilium-agent", Dir: t.TempDir()}, "n1"); err == nil || !strings.Contains(err.Error(), "make cilium") {
		t.Errorf("NewAgent = %v, want an error naming make cilium", err)
	}
	if _, err := NewOperator(OperatorOptions{Binary: "/nonexistent/op", Dir: t.TempDir()}); err == nil || !strings.Contains(err.Error(), "make cilium") {
		t.Errorf("NewOperator = %v, want an error naming make cilium", err)
	}
}

// After an agent's restart, the pods whose endpoints it restored stay set
// up; the others are set up again.
func TestCNIStandInAfterARestart(t *testing.T) {
	api, sock := startFakeAgentAPI(t)
	a := newAPIClient(sock)
	kept := runningPod("kept", "n1", "10.0.0.1")
	lost := runningPod("lost", "n1", "10.0.0.2")
	// The agent restored kept's endpoint only.
	api.mu.Lock()
	api.endpoints = []endpointRequest{{ContainerID: containerID(string(kept.UID))}}
	api.mu.Unlock()
	restored, err := a.endpointContainerIDs(context.Background())
	if err != nil || len(restored) != 1 {
		t.Fatalf("endpointContainerIDs = %v, %v", restored, err)
	}
	before := map[string]cniPod{
		"ns/kept": {uid: string(kept.UID), containerID: containerID(string(kept.UID)), ip: "10.128.0.1"},
		"ns/lost": {uid: string(lost.UID), containerID: containerID(string(lost.UID)), ip: "10.128.0.2"},
	}
	pods, again := restoredOnly(before, restored)
	if again != 1 || len(pods) != 1 || pods["ns/kept"].ip != "10.128.0.1" {
		t.Fatalf("restoredOnly = %v, %d again", pods, again)
	}
	cs := fake.NewClientset(kept, lost)
	c, err := resumeCNI(context.Background(), cs, "n1", a, zaptest.NewLogger(t), pods, CNIStats{Adds: 2})
	if err != nil {
		t.Fatal(err)
	}
	defer c.stop()
	eventually(t, "lost set up again", func() bool { return c.stats().Adds == 3 })
	time.Sleep(100 * time.Millisecond)
	_, eps := api.snapshot()
	if len(eps) != 2 || eps[1].K8sPodName != "lost" {
		t.Errorf("endpoints = %+v, want only lost's added again", eps)
	}
}
