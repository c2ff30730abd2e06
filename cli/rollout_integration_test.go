package cli

import (
	"context"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/churn-dev/churn/internal/testenv"
	"github.com/churn-dev/churn/results"
)

// A cilium-agent rollout at smoke scale: 5 agents at maxUnavailable 50%
// restart in two waves (3, then 2), each agent once, and each lists every
// CiliumEndpoint again.
func TestIntegrationRunCiliumAgentRollout(t *testing.T) {
	bin := testenv.RequireBinaries(t)
	dir := t.TempDir()
	outDir := filepath.Join(dir, "out")
	code, out := runChurn(t, context.Background(), "run", "--profile", "smoke", "--mesh", "cilium", "--bin-dir", bin,
		"--duration", "50s", "--dir", filepath.Join(dir, "cluster"), "--out", outDir,
		"--rollout", "cilium-agent@10s,maxUnavailable=50%")
	if code != ExitOK && code != ExitSLOBreached {
		t.Fatalf("exit %d, want a completed run (0 or 2)", code)
	}
	r, err := results.Read(outDir)
	if err != nil {
		t.Fatal(err)
	}
	if len(r.Disruptions) != 1 {
		t.Fatalf("disruptions = %+v, want the rollout", r.Disruptions)
	}
	d := r.Disruptions[0]
	if d.Kind != results.DisruptionRollout || d.Error != "" || d.Settings["maxUnavailable"] != "50%" || d.Settings["replicas"] != "5" {
		t.Fatalf("rollout = %+v", d)
	}
	if len(d.Steps) != 2 || len(d.Steps[0].Targets) != 3 || len(d.Steps[1].Targets) != 2 {
		t.Fatalf("steps = %+v, want waves of 3 and 2 agents", d.Steps)
	}
	var restarted []string
	for i, s := range d.Steps {
		restarted = append(restarted, s.Targets...)
		w := s.Rollout
		if s.Ready.IsZero() || w == nil || w.Ready != len(s.Targets) {
			t.Fatalf("wave %d = %+v (rollout %+v), want every agent ready", i+1, s, w)
		}
		if i > 0 && s.Started.Before(d.Steps[i-1].Ready) {
			t.Errorf("wave %d started at %s, before wave %d was ready at %s", i+1, s.Started, i, d.Steps[i-1].Ready)
		}
		// Every informer listed again; the CiliumEndpoint list returned
		// all of the run's endpoints to each agent.
		j := slices.IndexFunc(w.ByResource, func(x results.StartupResource) bool { return x.Resource == "ciliumendpoints" })
		if j < 0 || w.ByResource[j].Count != len(s.Targets) || w.ByResource[j].Items < int64(40*len(s.Targets)) {
			t.Errorf("wave %d ciliumendpoints lists = %+v, want one per agent with every endpoint", i+1, w.ByResource)
		}
		if w.Lists.Count < 10*len(s.Targets) || w.Lists.Bytes == 0 || w.Lists.MaxSeconds <= 0 {
			t.Errorf("wave %d start-up lists = %+v", i+1, w.Lists)
		}
		// The CiliumNode GET and the endpoints' resync GETs.
		if w.Calls < int64(len(s.Targets)) {
			t.Errorf("wave %d: %d other requests, want at least the CiliumNode GETs", i+1, w.Calls)
		}
	}
	slices.Sort(restarted)
	if len(slices.Compact(restarted)) != 5 {
		t.Errorf("restarted %v, want each of the 5 agents once", restarted)
	}
	if !strings.Contains(out, "cilium-agent@10s,maxUnavailable=50%") || !strings.Contains(out, "start-up lists") {
		t.Errorf("summary lacks the rollout's waves")
	}
}
