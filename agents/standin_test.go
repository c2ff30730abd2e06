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
