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
// CiliumEndpoint again. In the same run the two cilium-operators restart
// one at a time, and the new ones take the lease over.
func TestIntegrationRunCiliumAgentRollout(t *testing.T) {
	r, out := runRollouts(t, "cilium", "cilium-agent@10s,maxUnavailable=50%", "cilium-operator@25s,maxUnavailable=1")
	d := rolloutOf(t, r, "cilium-agent")
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

	// The operators: one wave each, the second only once the first's new
	// operator synced; each lists the agents' CiliumEndpoints again.
	op := rolloutOf(t, r, "cilium-operator")
	if op.Settings["replicas"] != "2" || len(op.Steps) != 2 {
		t.Fatalf("operator rollout = %+v, want 2 waves of 1", op)
	}
	for i, s := range op.Steps {
		w := s.Rollout
		if len(s.Targets) != 1 || s.Ready.IsZero() || w == nil || w.Ready != 1 {
			t.Fatalf("operator wave %d = %+v (rollout %+v), want one operator, ready", i+1, s, w)
		}
		if i > 0 && s.Started.Before(op.Steps[i-1].Ready) {
			t.Errorf("operator wave %d started before wave %d was ready", i+1, i)
		}
		j := slices.IndexFunc(w.ByResource, func(x results.StartupResource) bool { return x.Resource == "ciliumendpoints" })
		if j < 0 || w.ByResource[j].Items < 40 {
			t.Errorf("operator wave %d lists = %+v, want the CiliumEndpoints again", i+1, w.ByResource)
		}
	}
}

// An istio-ambient rollout at smoke scale: the 5 istio-cni agents restart
// 2 at a time (waves of 2, 2, 1), each listing its node's pods again by
// streaming list, and later istiod restarts and re-lists the cluster.
func TestIntegrationRunIstioAmbientRollout(t *testing.T) {
	r, out := runRollouts(t, "istio-ambient", "istio-cni@10s,maxUnavailable=2", "istiod@25s")
	cni := rolloutOf(t, r, "istio-cni")
	if cni.Settings["maxUnavailable"] != "2" || cni.Settings["replicas"] != "5" || len(cni.Steps) != 3 {
		t.Fatalf("istio-cni rollout = %+v, want 5 agents in waves of 2, 2, 1", cni)
	}
	var restarted []string
	for i, s := range cni.Steps {
		restarted = append(restarted, s.Targets...)
		w := s.Rollout
		if s.Ready.IsZero() || w == nil || w.Ready != len(s.Targets) {
			t.Fatalf("istio-cni wave %d = %+v (rollout %+v), want every agent ready", i+1, s, w)
		}
		if i > 0 && s.Started.Before(cni.Steps[i-1].Ready) {
			t.Errorf("istio-cni wave %d started before wave %d was ready", i+1, i)
		}
		// Two informers of the node's pods (the agent's and the repair
		// controller's) and one of namespaces, per agent.
		j := slices.IndexFunc(w.ByResource, func(x results.StartupResource) bool { return x.Resource == "pods" })
		if j < 0 || w.ByResource[j].Count != 2*len(s.Targets) || w.ByResource[j].Items == 0 {
			t.Errorf("istio-cni wave %d pod lists = %+v, want two per agent, with the node's pods", i+1, w.ByResource)
		}
	}
	slices.Sort(restarted)
	if len(slices.Compact(restarted)) != 5 {
		t.Errorf("restarted %v, want each of the 5 agents once", restarted)
	}

	d := rolloutOf(t, r, "istiod")
	if len(d.Steps) != 1 || len(d.Steps[0].Targets) != 1 {
		t.Fatalf("istiod rollout = %+v, want one wave of its one replica", d)
	}
	s := d.Steps[0]
	w := s.Rollout
	if s.Ready.IsZero() || w == nil || w.Ready != 1 {
		t.Fatalf("istiod restart = %+v (rollout %+v), want it ready", s, w)
	}
	// istiod re-lists every pod of the cluster and the other kinds it
	// watches.
	j := slices.IndexFunc(w.ByResource, func(x results.StartupResource) bool { return x.Resource == "pods" })
	if j < 0 || w.ByResource[j].Items < 40 || len(w.ByResource) < 5 {
		t.Errorf("istiod start-up lists = %+v, want every pod and its other kinds", w.ByResource)
	}
	if !strings.Contains(out, "istio-cni@10s,maxUnavailable=2") || !strings.Contains(out, "istiod@25s") {
		t.Errorf("summary lacks the rollouts")
	}
}

// runRollouts runs the smoke profile with mesh for 50 s of churn and the
// rollouts, and returns its results, with one disruption per rollout, and
// its output.
func runRollouts(t *testing.T, mesh string, rollouts ...string) (*results.Result, string) {
	t.Helper()
	bin := testenv.RequireBinaries(t)
	dir := t.TempDir()
	outDir := filepath.Join(dir, "out")
	args := []string{"run", "--profile", "smoke", "--mesh", mesh, "--bin-dir", bin,
		"--duration", "50s", "--dir", filepath.Join(dir, "cluster"), "--out", outDir}
	for _, ro := range rollouts {
		args = append(args, "--rollout", ro)
	}
	code, out := runChurn(t, context.Background(), args...)
	if code != ExitOK && code != ExitSLOBreached {
		t.Fatalf("exit %d, want a completed run (0 or 2)", code)
	}
	r, err := results.Read(outDir)
	if err != nil {
		t.Fatal(err)
	}
	if len(r.Disruptions) != len(rollouts) {
		t.Fatalf("disruptions = %+v, want the %d rollouts", r.Disruptions, len(rollouts))
	}
	return r, out
}

// rolloutOf is the run's rollout of component.
func rolloutOf(t *testing.T, r *results.Result, component string) results.Disruption {
	t.Helper()
	for _, d := range r.Disruptions {
		if d.Kind == results.DisruptionRollout && d.Settings["component"] == component {
			if d.Error != "" {
				t.Fatalf("%s rollout failed: %s", component, d.Error)
			}
			return d
		}
	}
	t.Fatalf("no %s rollout in %+v", component, r.Disruptions)
	return results.Disruption{}
}
