package agents

import (
	"context"
	"encoding/json"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"

	"github.com/churn-dev/churn/results"
)

func TestPerNodeComponentsRunOnlyAgents(t *testing.T) {
	srv := newFakeCluster(t)
	cfg := testConfig(t, srv, MeshCilium, nodes(3)...)
	cfg.Components = ComponentsPerNode
	m := startMesh(t, cfg)
	<-m.RolloutDone()
	if got := m.Running(); got["cilium-agent"] != 3 || len(got) != 1 {
		t.Errorf("running = %v, want only 3 cilium-agents", got)
	}
	if got := srv.List(gvrConfigMaps); len(got) != 0 {
		t.Errorf("per-node agents wrote %d configmaps, want no announcement", len(got))
	}
}

func TestCentralComponentsAnnounceAndCollectShards(t *testing.T) {
	srv := newFakeCluster(t)
	cfg := testConfig(t, srv, MeshCilium, nodes(4)...)
	cfg.Components = ComponentsCentral
	m, err := Start(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	<-m.RolloutDone()
	if got := m.Running(); got["cilium-operator"] != 2 || len(got) != 1 {
		t.Errorf("running = %v, want only 2 cilium-operators", got)
	}
	obj, ok := srv.Get(gvrConfigMaps, systemNamespaceName("r1"), AnnouncementName)
	if !ok {
		t.Fatal("no announcement")
	}
	ann := obj.(*corev1.ConfigMap)
	a, err := parseAnnouncement(ann, func(string) map[string]string { return testRunLabels })
	if err != nil {
		t.Fatalf("the run's own announcement does not parse: %v", err)
	}
	if a.mesh != MeshCilium || a.runID != "r1" || a.state != stateRunning || a.rolloutPerSecond != 1000 {
		t.Errorf("announcement = %+v", a)
	}

	// Two shards report, as ServeShard would.
	report := func(sh Shard, nodes []string, writes int64) string {
		b, _ := json.Marshal(shardReport{Shard: sh.String(), State: stateDone, Nodes: nodes, Summary: &results.MeshSummary{
			Name: MeshCilium, RolloutSeconds: float64(writes),
			Components: []results.ComponentSummary{{Name: "cilium-agent", Replicas: len(nodes), EventsReceived: 10 * writes,
				Writes: map[string]int64{"create ciliumnodes": writes},
				Lags:   []results.LagSummary{{Name: LagPodToNodeAgent, Samples: writes, P99: float64(writes), Mean: 1}}}},
		}})
		return string(b)
	}
	ann.Data[Shard{0, 2}.key()] = report(Shard{0, 2}, []string{"a", "b", "c"}, 3)
	ann.Data[Shard{1, 2}.key()] = report(Shard{1, 2}, []string{"d"}, 1)
	if _, err := srv.Update(ann); err != nil {
		t.Fatal(err)
	}

	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	s, err := m.Stop(ctx)
	if err != nil {
		t.Fatal(err)
	}
	obj, _ = srv.Get(gvrConfigMaps, systemNamespaceName("r1"), AnnouncementName)
	if st := obj.(*corev1.ConfigMap).Data[annState]; st != stateStopping {
		t.Errorf("announcement state after Stop = %q, want %q", st, stateStopping)
	}
	if s.PerNodeAgents != AgentsExternal || len(s.Shards) != 2 || s.Shards[0] != (results.ShardSummary{Shard: "0/2", Nodes: 3, Reported: true}) {
		t.Errorf("summary shards = %q %+v", s.PerNodeAgents, s.Shards)
	}
	var agent *results.ComponentSummary
	for i := range s.Components {
		if s.Components[i].Name == "cilium-agent" {
			agent = &s.Components[i]
		}
	}
	if agent == nil {
		t.Fatalf("no merged cilium-agent in %+v", s.Components)
	}
	if agent.Replicas != 4 || agent.EventsReceived != 40 || agent.Writes["create ciliumnodes"] != 4 {
		t.Errorf("merged cilium-agent = %+v", agent)
	}
	if len(agent.Lags) != 1 || agent.Lags[0].Samples != 4 || agent.Lags[0].P99 != 3 {
		t.Errorf("merged lags = %+v", agent.Lags)
	}
	if s.RolloutSeconds != 3 {
		t.Errorf("rollout = %v, want the slowest shard's 3", s.RolloutSeconds)
	}
}

func TestCentralStopWaitsBoundedForMissingShard(t *testing.T) {
	srv := newFakeCluster(t)
	cfg := testConfig(t, srv, MeshCilium, nodes(2)...)
	cfg.Components = ComponentsCentral
	cfg.ShardReportTimeout = time.Millisecond
	m, err := Start(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	obj, _ := srv.Get(gvrConfigMaps, systemNamespaceName("r1"), AnnouncementName)
	ann := obj.(*corev1.ConfigMap)
	// Shard 1/2 registered and never finished; shard 0/2 never came.
	b, _ := json.Marshal(shardReport{Shard: "1/2", State: stateRunning, Nodes: []string{"x"}})
	ann.Data[Shard{1, 2}.key()] = string(b)
	if _, err := srv.Update(ann); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	s, err := m.Stop(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(s.Shards) != 1 || s.Shards[0].Reported {
		t.Errorf("shards = %+v, want 1/2 unreported", s.Shards)
	}
	for _, c := range s.Components {
		if c.Name == "cilium-agent" {
			t.Errorf("an unreported shard's counters were merged: %+v", c)
		}
	}
}
