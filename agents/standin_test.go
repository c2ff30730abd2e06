package agents

import (
	"context"
	"errors"
	"strings"
	"sync"
	"testing"
)

// fakeStandIn records what the mesh asked of it.
type fakeStandIn struct {
	mu       sync.Mutex
	started  []StandInIdentity
	stopped  int
	startErr error
}

func (f *fakeStandIn) Start(_ context.Context, id StandInIdentity) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.started = append(f.started, id)
	return f.startErr
}

func (f *fakeStandIn) Stop(context.Context) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.stopped++
	return nil
}

// A stand-in replaces the emulated istiod: no istiod replica runs, the
// istio-cni agents still do, and the stand-in is started with the mesh's
// namespace and istiod's account, then stopped by Stop.
func TestStandInReplacesIstiod(t *testing.T) {
	srv := newFakeCluster(t)
	cfg := testConfig(t, srv, MeshIstioAmbient, nodes(2)...)
	real := &fakeStandIn{}
	cfg.StandIns = map[string]StandIn{"istiod": real}
	m, err := Start(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	<-m.RolloutDone()
	running := m.Running()
	if running["istiod"] != 0 || running["istio-cni"] != 2 {
		t.Errorf("Running() = %v, want no emulated istiod and 2 istio-cni agents", running)
	}
	if len(real.started) != 1 {
		t.Fatalf("stand-in started %d times, want 1", len(real.started))
	}
	id := real.started[0]
	if id.Namespace != systemNamespaceName("r1") || !strings.HasPrefix(id.ServiceAccount, "istio-system/istiod-") || id.RESTConfig == nil {
		t.Errorf("identity = %+v", id)
	}
	// SkipSetup: no RBAC objects, so no impersonation either.
	if id.RESTConfig.Impersonate.UserName != "" {
		t.Errorf("impersonates %q without RBAC set up", id.RESTConfig.Impersonate.UserName)
	}
	if _, err := m.Stop(context.Background()); err != nil {
		t.Fatal(err)
	}
	if real.stopped != 1 {
		t.Errorf("stand-in stopped %d times, want 1", real.stopped)
	}
}

func TestStandInStartFailureFailsStart(t *testing.T) {
	srv := newFakeCluster(t)
	cfg := testConfig(t, srv, MeshIstioAmbient)
	real := &fakeStandIn{startErr: errors.New("no binary")}
	cfg.StandIns = map[string]StandIn{"istiod": real}
	if _, err := Start(context.Background(), cfg); err == nil || !strings.Contains(err.Error(), "no binary") {
		t.Fatalf("Start() = %v, want the stand-in's error", err)
	}
}

func TestStandInValidation(t *testing.T) {
	srv := newFakeCluster(t)
	for name, tc := range map[string]struct {
		mesh, component string
		want            string
	}{
		"unknown component": {MeshIstioAmbient, "ztunnel", "no such component"},
		"per-node":          {MeshIstioAmbient, "istio-cni", "per-node"},
		"other mesh":        {MeshCilium, "istiod", "no such component"},
	} {
		t.Run(name, func(t *testing.T) {
			cfg := testConfig(t, srv, tc.mesh)
			cfg.StandIns = map[string]StandIn{tc.component: &fakeStandIn{}}
			if _, err := Start(context.Background(), cfg); err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("Start() = %v, want an error containing %q", err, tc.want)
			}
		})
	}
}

// readyStandIn is a fakeStandIn that reports itself ready once started.
type readyStandIn struct{ fakeStandIn }

func (r *readyStandIn) Ready() bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	return len(r.started) > 0
}

// A per-node stand-in replaces the emulated agent on its node only: the
// other nodes keep theirs, the stand-in gets its node and the agent's
// account, counts in the settle conditions, and is stopped by Stop.
func TestNodeStandInReplacesOneNodesAgent(t *testing.T) {
	srv := newFakeCluster(t)
	ns := nodes(3)
	cfg := testConfig(t, srv, MeshCilium, ns...)
	real := &readyStandIn{}
	cfg.NodeStandIns = map[string]map[string]StandIn{"cilium-agent": {ns[1]: real}}
	m, err := Start(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	<-m.RolloutDone()
	if got := m.Running()["cilium-agent"]; got != 2 {
		t.Errorf("%d emulated cilium-agents run, want 2 (one node has the real one)", got)
	}
	eventually(t, "real agent started", func() bool {
		real.mu.Lock()
		defer real.mu.Unlock()
		return len(real.started) == 1
	})
	id := real.started[0]
	if id.Node != ns[1] || !strings.HasPrefix(id.ServiceAccount, "kube-system/cilium-") {
		t.Errorf("identity = %+v, want node %s and the agent's account", id, ns[1])
	}
	var found bool
	for _, c := range m.SettleConditions() {
		switch c.Name {
		case "real cilium-agent ready":
			found = true
			if c.Want != 1 || c.Have != 1 {
				t.Errorf("%s: %d of %d", c.Name, c.Have, c.Want)
			}
		case "cilium-agent started":
			if c.Want != 2 {
				t.Errorf("%s: want %d, want 2 (the emulated ones only)", c.Name, c.Want)
			}
		}
	}
	if !found {
		t.Errorf("no settle condition for the real agents: %+v", m.SettleConditions())
	}
	if _, err := m.Stop(context.Background()); err != nil {
		t.Fatal(err)
	}
	if real.stopped != 1 {
		t.Errorf("stand-in stopped %d times, want 1", real.stopped)
	}
}

// A per-node stand-in that fails to start leaves its node without an
// agent and says so; the run goes on.
func TestNodeStandInFailureIsReported(t *testing.T) {
	srv := newFakeCluster(t)
	ns := nodes(2)
	cfg := testConfig(t, srv, MeshCilium, ns...)
	cfg.NodeStandIns = map[string]map[string]StandIn{"cilium-agent": {ns[0]: &fakeStandIn{startErr: errors.New("no socket")}}}
	m, err := Start(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer m.Stop(context.Background())
	<-m.RolloutDone()
	eventually(t, "failure reported", func() bool { return len(m.StandInFailures()) == 1 })
	if f := m.StandInFailures()[0]; !strings.Contains(f, ns[0]) || !strings.Contains(f, "no socket") {
		t.Errorf("failure = %q, want the node and the error", f)
	}
}

func TestNodeStandInValidation(t *testing.T) {
	srv := newFakeCluster(t)
	for name, tc := range map[string]struct {
		component, node string
		want            string
	}{
		"central component": {"cilium-operator", "kwok-node-0", "not a per-node component"},
		"unknown component": {"ztunnel", "kwok-node-0", "no such component"},
		"unknown node":      {"cilium-agent", "elsewhere", "not one of the run's nodes"},
	} {
		t.Run(name, func(t *testing.T) {
			cfg := testConfig(t, srv, MeshCilium, nodes(1)...)
			cfg.NodeStandIns = map[string]map[string]StandIn{tc.component: {tc.node: &fakeStandIn{}}}
			if _, err := Start(context.Background(), cfg); err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("Start() = %v, want an error containing %q", err, tc.want)
			}
		})
	}
}
