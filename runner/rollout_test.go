package runner

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	clocktesting "k8s.io/utils/clock/testing"

	"github.com/churn-dev/churn/agents"
	"github.com/churn-dev/churn/agents/watch"
	"github.com/churn-dev/churn/disruption"
	"github.com/churn-dev/churn/profiles"
	"github.com/churn-dev/churn/results"
)

// fakeMesh stands in for agents.Mesh: Restart records each wave, checks
// that no two overlap, and reports every agent ready with two first lists.
type fakeMesh struct {
	mu       sync.Mutex
	names    []string
	waves    [][]string
	inFlight int
	overlap  bool
	failWave int // 1-based; 0 never
	// real are replicas that are real processes: ready, with no lists
	// or calls seen.
	real map[string]bool
}

func (f *fakeMesh) Replicas(component string) ([]string, error) {
	if component != "cilium-agent" {
		return nil, fmt.Errorf("mesh cilium runs no emulated %s here", component)
	}
	return f.names, nil
}

func (f *fakeMesh) Restart(_ context.Context, _ string, names []string, stopped func()) ([]agents.Startup, error) {
	f.mu.Lock()
	f.inFlight++
	f.overlap = f.overlap || f.inFlight > 1
	f.waves = append(f.waves, append([]string(nil), names...))
	wave := len(f.waves)
	f.mu.Unlock()
	defer func() {
		f.mu.Lock()
		f.inFlight--
		f.mu.Unlock()
	}()
	time.Sleep(time.Millisecond) // let an overlapping wave show
	stopped()
	out := make([]agents.Startup, len(names))
	for i, n := range names {
		if f.real[n] {
			out[i] = agents.Startup{Name: n, Ready: true, ReadyAfter: 5 * time.Second, Real: true}
			continue
		}
		out[i] = agents.Startup{Name: n, Ready: true, ReadyAfter: time.Duration(i+1) * time.Second, Calls: 3, Lists: []agents.ListCost{
			{Resource: "ciliumendpoints", SyncCost: watch.SyncCost{Requests: 1, Bytes: 1000, Items: 10, Duration: time.Duration(i+1) * 100 * time.Millisecond}},
			{Resource: "pods", SyncCost: watch.SyncCost{Requests: 1, Bytes: 50, Items: 1, Duration: 10 * time.Millisecond}},
		}}
	}
	if wave == f.failWave {
		out[len(out)-1].Ready = false
		return out, errors.New("1 of 2 cilium-agent replicas not ready")
	}
	return out, nil
}

func runRollout(t *testing.T, spec string, mesh *fakeMesh) []results.Disruption {
	t.Helper()
	ro, err := profiles.ParseRollout(spec)
	if err != nil {
		t.Fatal(err)
	}
	pl, err := rolloutPlan(ro, mesh)
	if err != nil {
		t.Fatal(err)
	}
	if err := pl.Validate(time.Hour); err != nil {
		t.Fatal(err)
	}
	dr := &disruption.Runner{Plans: []disruption.Plan{pl}, Clock: clocktesting.NewFakeClock(time.Unix(1000, 0))}
	dr.Start(context.Background())
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		mesh.mu.Lock()
		done := (len(mesh.waves) == len(pl.Steps) || (mesh.failWave > 0 && len(mesh.waves) == mesh.failWave)) && mesh.inFlight == 0
		mesh.mu.Unlock()
		if done {
			break
		}
		time.Sleep(time.Millisecond)
	}
	time.Sleep(10 * time.Millisecond)
	return dr.StopAndRecord()
}

func tenAgents() []string {
	var out []string
	for i := range 10 {
		out = append(out, fmt.Sprintf("cilium-agent-kwok-node-%d", i))
	}
	return out
}

func TestRolloutWavesOfMaxUnavailable(t *testing.T) {
	for _, c := range []struct {
		spec  string
		sizes []int
	}{
		{"cilium-agent@0s,maxUnavailable=2", []int{2, 2, 2, 2, 2}},
		{"cilium-agent@0s,maxUnavailable=50%", []int{5, 5}},
	} {
		mesh := &fakeMesh{names: tenAgents()}
		recs := runRollout(t, c.spec, mesh)
		if mesh.overlap {
			t.Errorf("%s: waves overlapped; each must start after the previous is ready", c.spec)
		}
		if len(recs) != 1 || recs[0].Kind != results.DisruptionRollout || recs[0].Error != "" {
			t.Fatalf("%s: records = %+v", c.spec, recs)
		}
		d := recs[0]
		if d.Settings["component"] != "cilium-agent" || d.Settings["waves"] != fmt.Sprint(len(c.sizes)) || d.Settings["replicas"] != "10" {
			t.Errorf("%s: settings = %v", c.spec, d.Settings)
		}
		if len(d.Steps) != len(c.sizes) {
			t.Fatalf("%s: %d steps, want %d", c.spec, len(d.Steps), len(c.sizes))
		}
		restarted := map[string]bool{}
		for i, s := range d.Steps {
			if len(s.Targets) != c.sizes[i] || strings.Join(s.Targets, ",") != strings.Join(mesh.waves[i], ",") {
				t.Errorf("%s: step %d targets %v, restarted %v", c.spec, i+1, s.Targets, mesh.waves[i])
			}
			for _, n := range s.Targets {
				restarted[n] = true
			}
			if s.Stopped.IsZero() || s.Ready.IsZero() || s.Error != "" {
				t.Errorf("%s: step %d = %+v", c.spec, i+1, s)
			}
			w := s.Rollout
			if w == nil {
				t.Fatalf("%s: step %d has no rollout record", c.spec, i+1)
			}
			n := c.sizes[i]
			if w.Agents != n || w.Ready != n || w.Lists.Count != 2*n || w.Lists.Bytes != int64(1050*n) || w.Calls != int64(3*n) {
				t.Errorf("%s: wave %d = %+v", c.spec, i+1, w)
			}
			if w.ReadyMaxSeconds != float64(n) || w.Lists.MaxSeconds != 0.1*float64(n) || w.Lists.MaxBytes != 1000 {
				t.Errorf("%s: wave %d ready max %v, list max %vs %dB", c.spec, i+1, w.ReadyMaxSeconds, w.Lists.MaxSeconds, w.Lists.MaxBytes)
			}
			if len(w.ByResource) != 2 || w.ByResource[0].Resource != "ciliumendpoints" || w.ByResource[0].Items != int64(10*n) {
				t.Errorf("%s: wave %d by resource = %+v", c.spec, i+1, w.ByResource)
			}
		}
		if len(restarted) != 10 {
			t.Errorf("%s: %d agents restarted, want all 10", c.spec, len(restarted))
		}
	}
}

func TestRolloutStopsAtAWaveNotReady(t *testing.T) {
	mesh := &fakeMesh{names: tenAgents(), failWave: 2}
	recs := runRollout(t, "cilium-agent@0s,maxUnavailable=2", mesh)
	d := recs[0]
	if len(d.Steps) != 2 || !strings.Contains(d.Error, "step 2/5") || !strings.Contains(d.Error, "not ready") {
		t.Fatalf("record = %+v", d)
	}
	if w := d.Steps[1].Rollout; w == nil || w.Agents != 2 || w.Ready != 1 || !d.Steps[1].Ready.IsZero() {
		t.Errorf("failed wave = %+v (ready %v)", w, d.Steps[1].Ready)
	}
}

func TestRolloutPlanRefusesAComponentNotRunning(t *testing.T) {
	ro, err := profiles.ParseRollout("istiod@1m")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := rolloutPlan(ro, &fakeMesh{names: tenAgents()}); err == nil || !strings.Contains(err.Error(), "runs no emulated istiod") {
		t.Errorf("plan = %v", err)
	}
	ro, _ = profiles.ParseRollout("cilium-agent@1m")
	if _, err := rolloutPlan(ro, &fakeMesh{}); err == nil || !strings.Contains(err.Error(), "no cilium-agent is running") {
		t.Errorf("plan without agents = %v", err)
	}
}

func TestCheckRolloutsRefusesShardedAgents(t *testing.T) {
	o := Options{Agents: agents.AgentsExternal}
	o.Profile.Disruptions.Rollouts = []string{"cilium-operator@1m", "cilium-agent@2m"}
	if err := CheckRollouts(o); err == nil || !strings.Contains(err.Error(), "--rollout cilium-agent@2m") || !strings.Contains(err.Error(), "--agents external") {
		t.Errorf("CheckRollouts = %v", err)
	}
	o.Profile.Disruptions.Rollouts = o.Profile.Disruptions.Rollouts[:1]
	if err := CheckRollouts(o); err != nil {
		t.Errorf("operator rollout with sharded agents: %v", err)
	}
	o.Agents = agents.AgentsInternal
	o.Profile.Disruptions.Rollouts = []string{"cilium-agent@2m"}
	if err := CheckRollouts(o); err != nil {
		t.Errorf("internal agents: %v", err)
	}
}

// A wave of real and emulated agents: both count as restarted and ready;
// the lists and calls are the emulated agents' (the real ones' are in the
// audit log).
func TestRolloutWaveWithRealAgents(t *testing.T) {
	names := tenAgents()
	mesh := &fakeMesh{names: names, real: map[string]bool{names[1]: true, names[3]: true}}
	recs := runRollout(t, "cilium-agent@0s,maxUnavailable=50%", mesh)
	if len(recs) != 1 || recs[0].Error != "" || len(recs[0].Steps) != 2 {
		t.Fatalf("records = %+v", recs)
	}
	w := recs[0].Steps[0].Rollout
	if w == nil || w.Agents != 5 || w.Ready != 5 || w.Real != 2 || w.Lists.Count != 2*3 || w.Calls != 3*3 || w.ReadyMaxSeconds != 5 {
		t.Errorf("wave 1 = %+v, want 5 agents ready, 2 real, the 3 emulated ones' lists and calls", w)
	}
	if w := recs[0].Steps[1].Rollout; w == nil || w.Real != 0 || w.Agents != 5 {
		t.Errorf("wave 2 = %+v, want no real agent", w)
	}
}

// The audit log names real and emulated components alike, so a step's
// LISTs and WATCHes by client count both.
func TestClientOfRealAndEmulatedComponents(t *testing.T) {
	for ua, want := range map[string]string{
		"cilium-agent/1.15.19 churn":                              "cilium-agent",
		"cilium-agent/emulated (linux/amd64) churn":               "cilium-agent",
		"cilium-operator-generic/1.15.19 churn":                   "cilium-operator-generic",
		"cilium-operator-generic/emulated (linux/amd64) churn":    "cilium-operator-generic",
		"pilot-discovery/1.28.0 (linux/amd64) kubernetes/abc":     "pilot-discovery",
		"pilot-discovery/emulated (linux/amd64) churn":            "pilot-discovery",
		"churn-cni-standin (kubelet's CNI calls to cilium-agent)": "churn-cni-standin",
	} {
		if got := clientOf(ua); got != want {
			t.Errorf("clientOf(%q) = %q, want %q", ua, got, want)
		}
	}
}
