package runner_test

import (
	"context"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"go.uber.org/zap/zaptest"

	"github.com/churn-dev/churn/agents"
	"github.com/churn-dev/churn/internal/testenv"
	"github.com/churn-dev/churn/observers"
	"github.com/churn-dev/churn/profiles"
	"github.com/churn-dev/churn/results"
	"github.com/churn-dev/churn/runner"
)

// settleRun runs the smoke profile (5 nodes, 50 pods) with mesh and the
// given settle bounds, and returns its results.
func settleRun(t *testing.T, mesh string, timeout, quiet time.Duration) *results.Result {
	t.Helper()
	bin := testenv.RequireBinaries(t)
	d := 15 * time.Second
	p, err := profiles.Resolve("smoke", profiles.Overrides{Mesh: &mesh, Duration: &d, SettleTimeout: &timeout}, observers.Known)
	if err != nil {
		t.Fatal(err)
	}
	p.Mesh.SettleQuiet.Duration = quiet
	dir := t.TempDir()
	out, err := runner.Run(context.Background(), runner.Options{
		Profile: p, BinDir: bin, OutDir: filepath.Join(dir, "out"), ClusterDir: filepath.Join(dir, "cluster"),
		Logger: zaptest.NewLogger(t), Progress: testenv.LogWriter(t),
	})
	if err != nil {
		t.Fatalf("run with mesh %s: %v", mesh, err)
	}
	r, err := results.Read(out.OutDir)
	if err != nil {
		t.Fatal(err)
	}
	if r.Validity != nil {
		for _, c := range r.Validity.Checks {
			t.Logf("validity %s: %s (limit %s) %s %s", c.Name, c.Measured, c.Threshold, c.Status, c.Reason)
		}
	}
	t.Logf("verdict: %s", r.Verdict.Summary)
	if r.Install == nil || r.Install.Figures == nil {
		t.Fatalf("mesh %s: no install phase recorded: %+v", mesh, r.Install)
	}
	if f := r.Install.Figures; f.Requests == 0 || f.APIServerCPUSeconds <= 0 || len(f.PeakP99) == 0 {
		t.Errorf("mesh %s: install figures %+v, want the API server's requests, CPU and p99s over the phase", mesh, f)
	}
	if r.Churn == nil || r.Churn.Succeeded == 0 {
		t.Fatalf("mesh %s: churn did not run after the install phase: %+v", mesh, r.Churn)
	}
	return r
}

func condition(t *testing.T, inst *results.Install, name string) results.SettleCondition {
	t.Helper()
	for _, c := range inst.Conditions {
		if c.Name == name {
			return c
		}
	}
	t.Fatalf("no settle condition %q in %+v", name, inst.Conditions)
	return results.SettleCondition{}
}

// Each mesh settles on a small cluster: its watches synced and, before
// churn starts, the objects a settled mesh has, one per node and per pod.
func TestIntegrationMeshSettles(t *testing.T) {
	const nodes, pods = 5, 50
	for _, tc := range []struct {
		mesh string
		want map[string]int64
	}{
		{profiles.MeshCilium, map[string]int64{
			agents.SettleCiliumNodes: nodes, agents.SettleCiliumEndpoints: pods,
			"cilium-agent watches synced": nodes, "cilium-operator watches synced": 2}},
		{profiles.MeshCiliumCES, map[string]int64{
			agents.SettleCiliumEndpoints: pods, agents.SettleEndpointSlices: pods}},
		{profiles.MeshIstioAmbient, map[string]int64{
			agents.SettlePodsEnrolled: pods, "istio-cni watches synced": nodes, "istiod watches synced": 1,
			// The run's namespaces, and the observers' own, labelled too.
			agents.SettleRootCerts: -5}},
	} {
		t.Run(tc.mesh, func(t *testing.T) {
			r := settleRun(t, tc.mesh, 3*time.Minute, 3*time.Second)
			inst := r.Install
			if !inst.Settled {
				t.Fatalf("not settled in 3m: %s", inst.Why())
			}
			// A negative want is a lower bound.
			for name, want := range tc.want {
				c := condition(t, inst, name)
				if want < 0 && c.Want >= -want {
					want = c.Want
				}
				if c.Want != want || c.Have != want || !c.Met {
					t.Errorf("%s: have %d of %d (met %v), want %d of %d", name, c.Have, c.Want, c.Met, want, want)
				}
				if c.MetAfterSeconds > inst.Seconds {
					t.Errorf("%s met after %.1fs, beyond the phase's %.1fs", name, c.MetAfterSeconds, inst.Seconds)
				}
			}
			if inst.Seconds < 3 {
				t.Errorf("settled after %.1fs, less than the 3s without a 429 it had to wait", inst.Seconds)
			}
			for _, n := range r.Verdict.Notes {
				if strings.Contains(n, "settle") {
					t.Errorf("a settled mesh is named in the verdict: %q", n)
				}
			}
			// The phases are in order: churn starts where the install ended.
			var mesh, churnPhase results.Phase
			for _, p := range r.Phases {
				switch p.Name {
				case "mesh":
					mesh = p
				case "churn":
					churnPhase = p
				}
			}
			if churnPhase.Start.Before(mesh.End) || !inst.End.After(inst.Start) {
				t.Errorf("churn started %v before the install phase ended %v", churnPhase.Start, mesh.End)
			}
		})
	}
}

// A mesh that cannot settle in time is reported as such; churn still runs
// and the verdict names it.
func TestIntegrationMeshDoesNotSettle(t *testing.T) {
	// No 429 for an hour is out of reach within 5 s.
	r := settleRun(t, profiles.MeshCilium, 5*time.Second, time.Hour)
	inst := r.Install
	if inst.Settled || inst.Seconds < 5 || inst.Seconds > 60 {
		t.Fatalf("install %+v, want not settled after about 5s", inst)
	}
	if len(r.Verdict.Notes) == 0 || !strings.Contains(r.Verdict.Summary, "did not settle in 5s") ||
		!strings.Contains(r.Verdict.Summary, "no 429 for only") {
		t.Errorf("verdict %q (notes %v) does not name the unsettled mesh", r.Verdict.Summary, r.Verdict.Notes)
	}
}
