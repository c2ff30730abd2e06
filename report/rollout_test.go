package report

import (
	"strings"
	"testing"
	"time"

	"github.com/churn-dev/churn/results"
)

func TestDisruptionRowsShowRolloutWaves(t *testing.T) {
	start := time.Unix(1000, 0)
	wave := &results.RolloutWave{Component: "cilium-agent", Agents: 5, Ready: 5, ReadyP50Seconds: 1.2, ReadyMaxSeconds: 2,
		Lists: results.StartupRequests{Count: 75, Bytes: 3 << 20, Items: 900, P50Seconds: 0.01, P99Seconds: 0.8, MaxSeconds: 1.1},
		ByResource: []results.StartupResource{{Resource: "ciliumendpoints",
			StartupRequests: results.StartupRequests{Count: 5, MaxBytes: 600 << 10, MaxSeconds: 1.1}}},
		Calls: 40}
	rows := disruptionRows([]results.Disruption{{Kind: results.DisruptionRollout, Spec: "cilium-agent@10s,maxUnavailable=50%",
		Settings: map[string]string{"component": "cilium-agent", "maxUnavailable": "50%"},
		Steps: []results.DisruptionStep{{Name: "wave 1/2: restart 5 cilium-agent", Started: start.Add(10 * time.Second),
			Ready: start.Add(12 * time.Second), Ended: start.Add(12 * time.Second), Rollout: wave,
			Impact: &results.StepImpact{Throttled: 3}}}}}, start)
	if len(rows) != 2 {
		t.Fatalf("rows = %+v", rows)
	}
	got := rows[1].Impact
	for _, want := range []string{"5/5 cilium-agent ready (p50 1.2s, max 2s)", "start-up lists 75, 3MiB, 900 objects",
		"p99 800ms max 1.1s", "largest: ciliumendpoints 5 × up to 600KiB", "40 other requests", "429s 3"} {
		if !strings.Contains(got, want) {
			t.Errorf("wave row %q lacks %q", got, want)
		}
	}
	if !strings.Contains(rows[0].Impact, "maxUnavailable 50%") {
		t.Errorf("plan row = %q", rows[0].Impact)
	}
}
