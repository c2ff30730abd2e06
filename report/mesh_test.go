package report

import (
	"bytes"
	"strings"
	"testing"

	"github.com/churn-dev/churn/results"
)

func TestMeshTableInSummaryAndReport(t *testing.T) {
	r := &results.Result{SchemaVersion: results.SchemaVersion, RunID: "r", Mesh: "cilium",
		MeshStats: &results.MeshSummary{Name: "cilium", RolloutSeconds: 10, Components: []results.ComponentSummary{{
			Name: "cilium-agent", Replicas: 200, EventsReceived: 459590, BytesReceived: 4091598031,
			Lists: 2800, Relists: 3, WatchRestarts: 2858, Throttled429: 406,
			Writes: map[string]int64{"create ciliumnodes": 200, "create ciliumendpoints": 9000},
			LagP50: 0.86, LagP99: 1.22,
		}}}}
	var sum bytes.Buffer
	if err := Summary(&sum, r, ""); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"Mesh cilium", "cilium-agent", "459590", "3.81GiB", "406", "9000 create ciliumendpoints, 200 create ciliumnodes"} {
		if !strings.Contains(sum.String(), want) {
			t.Errorf("summary lacks %q:\n%s", want, sum.String())
		}
	}
	var page bytes.Buffer
	if err := WriteHTML(&page, r); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"Mesh: cilium", "<td>cilium-agent</td>", ">2800<", ">406<"} {
		if !strings.Contains(page.String(), want) {
			t.Errorf("report lacks %q", want)
		}
	}
}

func TestShardsLineNamesShardsThatDidNotReport(t *testing.T) {
	m := &results.MeshSummary{Name: "cilium", PerNodeAgents: "external", Shards: []results.ShardSummary{
		{Shard: "0/2", Nodes: 6, Reported: true}, {Shard: "1/2", Nodes: 6}}}
	got := shardsLine(m)
	want := "Per-node agents: external, 2 shard(s): 0/2 (6 nodes), 1/2 (6 nodes) did not report; the table lacks the counters of 1 shard(s)"
	if got != want {
		t.Fatalf("got  %q\nwant %q", got, want)
	}
	if shardsLine(&results.MeshSummary{Name: "cilium"}) != "" {
		t.Fatal("internal agents got a shards line")
	}
}

// Real components that replaced emulated ones are listed under the mesh
// table, in the summary and the report, with what went wrong if anything.
func TestRealComponentsInSummaryAndReport(t *testing.T) {
	r := &results.Result{SchemaVersion: results.SchemaVersion, RunID: "r", Mesh: "cilium",
		MeshStats: &results.MeshSummary{Name: "cilium", RolloutSeconds: 1,
			Components: []results.ComponentSummary{{Name: "cilium-agent", Replicas: 3}},
			Real: []results.RealComponent{
				{Name: "cilium-operator-generic", Replicas: 2, ReadySeconds: 3.2, Log: "/out/cilium/cilium-operator-generic-0.log"},
				{Name: "cilium-agent", Node: "node-0", ReadySeconds: 2.3, CNIAdds: 10, CNIDeletes: 4, CNIErrors: 1, CNILast: "PUT /endpoint: HTTP 500", Log: "/out/a.log"},
				{Name: "cilium-agent", Node: "node-5", Error: "exited before it was ready"},
			}}}
	var sum bytes.Buffer
	if err := Summary(&sum, r, ""); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{
		"Real components in place of emulated ones",
		"cilium-operator-generic (2 replicas): ready after 3.2s",
		"cilium-agent on node-0: ready after 2.3s; CNI stand-in set up 10 pods, tore down 4, 1 calls failed (last: PUT /endpoint: HTTP 500)",
		"cilium-agent on node-5: did not start: exited before it was ready",
	} {
		if !strings.Contains(sum.String(), want) {
			t.Errorf("summary lacks %q:\n%s", want, sum.String())
		}
	}
	var page bytes.Buffer
	if err := WriteHTML(&page, r); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(page.String(), "<li>  cilium-agent on node-5: did not start") {
		t.Errorf("report lacks the failed real agent")
	}
}
