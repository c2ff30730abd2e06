package agents

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"
)

// eventLog is what the real replicas of a test and the rollout did, in
// order.
type eventLog struct {
	mu     sync.Mutex
	events []string
}

func (l *eventLog) add(e string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.events = append(l.events, e)
}

func (l *eventLog) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return strings.Join(l.events, " ")
}

// restartableStandIn is a stand-in of replicas processes that records
// each process' stops and starts in log under its name.
type restartableStandIn struct {
	readyStandIn
	name     string
	replicas int
	log      *eventLog
	// startAgainErr fails every StartReplica.
	startAgainErr error
	// startDelay is how long a StartReplica takes to be ready.
	startDelay time.Duration
}

var _ StandInRestarter = (*restartableStandIn)(nil)

func (r *restartableStandIn) Replicas() int { return r.replicas }

func (r *restartableStandIn) StopReplica(_ context.Context, i int) error {
	r.log.add(fmt.Sprintf("stop:%s/%d", r.name, i))
	return nil
}

func (r *restartableStandIn) StartReplica(ctx context.Context, i int) error {
	select {
	case <-time.After(r.startDelay):
	case <-ctx.Done():
		return ctx.Err()
	}
	r.log.add(fmt.Sprintf("start:%s/%d", r.name, i))
	return r.startAgainErr
}

// A cilium-agent rollout over real and emulated agents: the replicas are
// listed in their nodes' order whatever runs them, a wave stops the real
// process and the emulated replica before calling stopped and starts them
// after, and the real one's start-up is marked real, ready, without lists.
func TestRestartRealAndEmulatedAgents(t *testing.T) {
	srv := newFakeCluster(t)
	ns := nodes(3)
	mustCreate(t, srv, runNamespace("ns-1", nil))
	for _, n := range ns {
		mustCreate(t, srv, node(n))
	}
	cfg := testConfig(t, srv, MeshCilium, ns...)
	log := &eventLog{}
	real := &restartableStandIn{name: "agent", replicas: 1, log: log, startDelay: 50 * time.Millisecond}
	cfg.NodeStandIns = map[string]map[string]StandIn{"cilium-agent": {ns[1]: real}}
	m := startMesh(t, cfg)
	<-m.RolloutDone()
	replicas, err := m.Replicas("cilium-agent")
	want := []string{"cilium-agent-" + ns[0], "cilium-agent-" + ns[1], "cilium-agent-" + ns[2]}
	if err != nil || strings.Join(replicas, ",") != strings.Join(want, ",") {
		t.Fatalf("Replicas = %v, %v; want %v (the nodes' order, the real one among them)", replicas, err, want)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	got, err := m.Restart(ctx, "cilium-agent", replicas[:2], func() { log.add("stopped") })
	if err != nil {
		t.Fatal(err)
	}
	if s := log.String(); s != "stop:agent/0 stopped start:agent/0" {
		t.Errorf("events = %q, want the real agent stopped, then the wave's stopped, then its start", s)
	}
	if len(got) != 2 || got[0].Name != want[0] || got[1].Name != want[1] {
		t.Fatalf("startups = %+v, want one per name in order", got)
	}
	if got[0].Real || !got[0].Ready || len(got[0].Lists) == 0 {
		t.Errorf("emulated start-up = %+v, want ready with its lists", got[0])
	}
	if r := got[1]; !r.Real || !r.Ready || r.ReadyAfter < 50*time.Millisecond || len(r.Lists) != 0 || r.Calls != 0 {
		t.Errorf("real start-up = %+v, want real, ready after its start, no lists or calls seen from here", r)
	}
}

// The real operator's processes restart one wave at a time, each named as
// an emulated replica would be.
func TestRestartRealOperatorInWaves(t *testing.T) {
	srv := newFakeCluster(t)
	cfg := testConfig(t, srv, MeshCilium, nodes(1)...)
	log := &eventLog{}
	cfg.StandIns = map[string]StandIn{"cilium-operator": &restartableStandIn{name: "operator", replicas: 2, log: log}}
	m := startMesh(t, cfg)
	replicas, err := m.Replicas("cilium-operator")
	if err != nil || strings.Join(replicas, ",") != "cilium-operator-0,cilium-operator-1" {
		t.Fatalf("Replicas = %v, %v", replicas, err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	for _, r := range replicas {
		got, err := m.Restart(ctx, "cilium-operator", []string{r}, func() { log.add("stopped") })
		if err != nil || len(got) != 1 || !got[0].Ready || !got[0].Real {
			t.Fatalf("Restart(%s) = %+v, %v", r, got, err)
		}
	}
	want := "stop:operator/0 stopped start:operator/0 stop:operator/1 stopped start:operator/1"
	if s := log.String(); s != want {
		t.Errorf("events = %q, want %q", s, want)
	}
}

// A real process that does not start again fails the wave (the rollout
// stops there), is reported, and is no longer a replica to restart.
func TestRestartRealStartFailure(t *testing.T) {
	srv := newFakeCluster(t)
	cfg := testConfig(t, srv, MeshIstioAmbient)
	cfg.StandIns = map[string]StandIn{"istiod": &restartableStandIn{name: "istiod", replicas: 1, log: &eventLog{},
		startAgainErr: errors.New("port in use")}}
	m := startMesh(t, cfg)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	got, err := m.Restart(ctx, "istiod", []string{"istiod-0"}, nil)
	if err == nil || !strings.Contains(err.Error(), "real istiod-0 did not start again") || !strings.Contains(err.Error(), "port in use") {
		t.Fatalf("Restart = %v, want the start failure", err)
	}
	if len(got) != 1 || got[0].Ready {
		t.Errorf("startups = %+v, want istiod-0 not ready", got)
	}
	if f := m.StandInFailures(); len(f) != 1 || !strings.Contains(f[0], "port in use") {
		t.Errorf("StandInFailures = %v", f)
	}
	if _, err := m.Replicas("istiod"); err == nil || !strings.Contains(err.Error(), "real istiod is not running") {
		t.Errorf("Replicas after the failure: %v", err)
	}
}

// A stand-in that cannot restart its process is refused by name.
func TestRestartRefusesAStandInWithoutRestarts(t *testing.T) {
	srv := newFakeCluster(t)
	cfg := testConfig(t, srv, MeshIstioAmbient)
	cfg.StandIns = map[string]StandIn{"istiod": &fakeStandIn{}}
	m := startMesh(t, cfg)
	replicas, err := m.Replicas("istiod")
	if err != nil || strings.Join(replicas, ",") != "istiod-0" {
		t.Fatalf("Replicas = %v, %v", replicas, err)
	}
	if _, err := m.Restart(context.Background(), "istiod", replicas, nil); err == nil || !strings.Contains(err.Error(), "cannot restart") {
		t.Errorf("Restart = %v, want a refusal", err)
	}
}
