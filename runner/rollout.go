package runner

import (
	"cmp"
	"context"
	"fmt"
	"slices"
	"strconv"
	"time"

	"github.com/churn-dev/churn/agents"
	"github.com/churn-dev/churn/disruption"
	"github.com/churn-dev/churn/profiles"
	"github.com/churn-dev/churn/results"
)

// restarter is what a rollout needs of the mesh: agents.Mesh.
type restarter interface {
	Replicas(component string) ([]string, error)
	Restart(ctx context.Context, component string, names []string, stopped func()) ([]agents.Startup, error)
}

// CheckRollouts refuses, before any cluster work, rollouts of per-node
// agents that run in churn agents shards (--agents external): their
// replicas are not this process's to restart.
func CheckRollouts(o Options) error {
	if o.Agents != agents.AgentsExternal {
		return nil
	}
	for _, s := range o.Profile.Disruptions.Rollouts {
		ro, err := profiles.ParseRollout(s)
		if err != nil {
			return fmt.Errorf("--rollout %s: %w", s, err)
		}
		if ro.Component == profiles.RolloutCiliumAgent || ro.Component == profiles.RolloutIstioCNI {
			return fmt.Errorf("--rollout %s: with --agents %s the %s agents run in churn agents shards, which a run cannot restart; use --agents %s",
				s, agents.AgentsExternal, ro.Component, agents.AgentsInternal)
		}
	}
	return nil
}

// rolloutPlans turns disruptions.rollouts into plans over the run's mesh.
func (r *run) rolloutPlans() ([]disruption.Plan, error) {
	specs := r.opts.Profile.Disruptions.Rollouts
	if len(specs) == 0 {
		return nil, nil
	}
	if r.mesh == nil {
		return nil, fmt.Errorf("--rollout %s: the run has no mesh (--mesh)", specs[0])
	}
	var plans []disruption.Plan
	for _, s := range specs {
		ro, err := profiles.ParseRollout(s)
		if err != nil {
			return nil, fmt.Errorf("disruptions.rollouts: %w", err)
		}
		pl, err := rolloutPlan(ro, r.mesh)
		if err != nil {
			return nil, fmt.Errorf("--rollout %s: %w", s, err)
		}
		plans = append(plans, pl)
	}
	return plans, nil
}

// plan is a rollout as a plan of waves: each restarts its agents together
// and ends once they are all ready, so the next wave starts only then, as
// the DaemonSet controller proceeds. The agents are those running when
// churn starts, in the order they started.
func rolloutPlan(ro profiles.RolloutSpec, mesh restarter) (disruption.Plan, error) {
	replicas, err := mesh.Replicas(ro.Component)
	if err != nil {
		return disruption.Plan{}, err
	}
	if len(replicas) == 0 {
		return disruption.Plan{}, fmt.Errorf("no %s is running", ro.Component)
	}
	waves := ro.Waves(replicas)
	pl := disruption.Plan{
		Kind: results.DisruptionRollout,
		Spec: ro.Spec,
		At:   ro.At,
		Settings: map[string]string{
			"component":      ro.Component,
			"maxUnavailable": ro.MaxUnavailableString(),
			"replicas":       strconv.Itoa(len(replicas)),
			"waves":          strconv.Itoa(len(waves)),
		},
	}
	for i, names := range waves {
		pl.Steps = append(pl.Steps, disruption.Step{
			Name:    fmt.Sprintf("wave %d/%d: restart %d %s", i+1, len(waves), len(names), ro.Component),
			Targets: slices.Clone(names),
			Do: func(ctx context.Context, p *disruption.Progress) error {
				startups, err := mesh.Restart(ctx, ro.Component, names, p.Stopped)
				wave := waveRecord(ro.Component, len(names), startups)
				p.Record(func(s *results.DisruptionStep) { s.Rollout = wave })
				if err != nil {
					return err
				}
				p.Ready()
				return nil
			},
		})
	}
	return pl, nil
}

// waveRecord sums one wave's start-ups. Real processes' start-ups carry
// no lists: the audit log counts theirs (countListsAndWatches).
func waveRecord(component string, agentsInWave int, startups []agents.Startup) *results.RolloutWave {
	w := &results.RolloutWave{Component: component, Agents: agentsInWave}
	var ready []time.Duration
	var all []agents.ListCost
	byRes := map[string][]agents.ListCost{}
	for _, s := range startups {
		if s.Real {
			w.Real++
		}
		if s.Ready {
			w.Ready++
			ready = append(ready, s.ReadyAfter)
		}
		w.Calls += s.Calls
		for _, l := range s.Lists {
			all = append(all, l)
			byRes[l.Resource] = append(byRes[l.Resource], l)
		}
	}
	w.ReadyP50Seconds = quantile(ready, 0.5).Seconds()
	w.ReadyMaxSeconds = quantile(ready, 1).Seconds()
	w.Lists = startupRequests(all)
	for res, ls := range byRes {
		w.ByResource = append(w.ByResource, results.StartupResource{Resource: res, StartupRequests: startupRequests(ls)})
	}
	slices.SortFunc(w.ByResource, func(a, b results.StartupResource) int {
		if c := cmp.Compare(b.Bytes, a.Bytes); c != 0 {
			return c
		}
		return cmp.Compare(a.Resource, b.Resource)
	})
	return w
}

func startupRequests(ls []agents.ListCost) results.StartupRequests {
	var out results.StartupRequests
	durs := make([]time.Duration, 0, len(ls))
	for _, l := range ls {
		out.Count++
		out.Bytes += l.Bytes
		out.Items += l.Items
		out.Errors += l.Errors
		out.MaxBytes = max(out.MaxBytes, l.Bytes)
		durs = append(durs, l.Duration)
	}
	out.P50Seconds = quantile(durs, 0.5).Seconds()
	out.P99Seconds = quantile(durs, 0.99).Seconds()
	out.MaxSeconds = quantile(durs, 1).Seconds()
	return out
}

// quantile is the nearest-rank q-quantile of ds (0 when empty).
func quantile(ds []time.Duration, q float64) time.Duration {
	if len(ds) == 0 {
		return 0
	}
	s := slices.Clone(ds)
	slices.Sort(s)
	i := int(q*float64(len(s))+0.999999) - 1
	return s[max(0, min(i, len(s)-1))]
}
