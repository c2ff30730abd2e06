package runner

import (
	"context"
	"fmt"
	"time"

	"go.uber.org/zap"

	"github.com/churn-dev/churn/results"
)

const (
	// settlePoll is how often the mesh's settle conditions are read: they
	// are counters in this process, so a poll costs nothing on the wire.
	settlePoll = 2 * time.Second
	// settleProgressEvery spaces the progress lines while the mesh settles.
	settleProgressEvery = 15 * time.Second
)

// settleMesh waits, inside the mesh phase, until the mesh has settled or
// mesh.settleTimeout has passed since start, and records the install
// phase. A mesh that does not settle is recorded as such and churn still
// starts: the storm that follows is part of what the run shows.
func (r *run) settleMesh(ctx context.Context, start time.Time) error {
	spec := r.opts.Profile.Mesh
	timeout, quiet := spec.SettleTimeout.Duration, spec.SettleQuiet.Duration
	inst := &results.Install{Mesh: spec.Name, Start: start,
		SettleTimeoutSeconds: timeout.Seconds(), QuietSeconds: quiet.Seconds()}
	r.res.Install = inst
	firstMet := map[string]float64{}
	var lastThrottled int64
	lastThrottleAt := start
	sample := func(now time.Time) (conds []results.SettleCondition, settled bool, sinceThrottle time.Duration) {
		conds = r.mesh.SettleConditions()
		allMet := true
		for i := range conds {
			c := &conds[i]
			if c.Met {
				if _, ok := firstMet[c.Name]; !ok {
					firstMet[c.Name] = now.Sub(start).Seconds()
				}
				c.MetAfterSeconds = firstMet[c.Name]
			} else {
				allMet = false
			}
		}
		if n := throttled(r.mesh.Summary()); n != lastThrottled {
			lastThrottled, lastThrottleAt = n, now
		}
		sinceThrottle = now.Sub(lastThrottleAt)
		return conds, allMet && sinceThrottle >= quiet, sinceThrottle
	}
	finish := func(conds []results.SettleCondition, settled bool) {
		inst.End = r.clk.Now()
		inst.Seconds = inst.End.Sub(start).Seconds()
		inst.Conditions, inst.Settled = conds, settled
		inst.Throttled429 = lastThrottled
		inst.QuietAtEndSeconds = inst.End.Sub(lastThrottleAt).Seconds()
		inst.Writes = meshWrites(r.mesh.Summary())
	}

	if timeout == 0 {
		conds, settled, _ := sample(r.clk.Now())
		finish(conds, settled)
		fmt.Fprintf(r.progress(), "mesh: not waiting for it to settle (mesh.settleTimeout 0): %s\n", inst.Why())
		return nil
	}
	fmt.Fprintf(r.progress(), "mesh: waiting up to %s for %s to settle (watches synced, its objects written, no 429 for %s)\n",
		timeout, spec.Name, quiet)
	deadline := start.Add(timeout)
	tick := r.clk.NewTicker(settlePoll)
	defer tick.Stop()
	nextProgress := start.Add(settleProgressEvery)
	for {
		now := r.clk.Now()
		conds, settled, sinceThrottle := sample(now)
		switch {
		case settled:
			finish(conds, true)
			fmt.Fprintf(r.progress(), "mesh: settled after %s\n", now.Sub(start).Round(time.Second))
			r.log.Info("mesh settled", zap.Duration("took", now.Sub(start)))
			return nil
		case !now.Before(deadline):
			finish(conds, false)
			why := inst.Why()
			fmt.Fprintf(r.progress(), "mesh: did not settle in %s (%s); churn starts anyway\n", timeout, why)
			r.log.Warn("mesh did not settle", zap.Duration("timeout", timeout), zap.String("unmet", why))
			return nil
		case !now.Before(nextProgress):
			nextProgress = nextProgress.Add(settleProgressEvery)
			line := results.DescribeUnmet(conds)
			if line == "" {
				line = "all conditions met"
			}
			if lastThrottled > 0 && sinceThrottle < quiet {
				line += fmt.Sprintf("; %d 429s so far, last %s ago", lastThrottled, sinceThrottle.Round(time.Second))
			}
			fmt.Fprintf(r.progress(), "mesh: settling %s: %s\n", now.Sub(start).Round(time.Second), line)
		}
		select {
		case <-ctx.Done():
			conds, _, _ := sample(r.clk.Now())
			finish(conds, false)
			return context.Cause(ctx)
		case <-tick.C():
		}
	}
}

// throttled is the 429s the mesh's components have seen so far.
func throttled(s *results.MeshSummary) int64 {
	var n int64
	if s == nil {
		return 0
	}
	for _, c := range s.Components {
		n += c.Throttled429
	}
	return n
}

// installFigures completes the install phase with the observers' figures
// over its span, once they have summarised.
func (r *run) installFigures(apiserver *results.PhaseFigures) {
	inst := r.res.Install
	if inst == nil {
		return
	}
	f := &results.PhaseFigures{}
	if apiserver != nil {
		*f = *apiserver
	}
	if a := r.res.Availability; a != nil {
		for _, o := range a.Outages {
			from, to := maxTime(o.Start, inst.Start), minTime(o.End, inst.End)
			if to.Before(from) {
				continue
			}
			f.Outages++
			f.DowntimeSeconds += to.Sub(from).Seconds()
		}
	}
	inst.Figures = f
}

func maxTime(a, b time.Time) time.Time {
	if a.After(b) {
		return a
	}
	return b
}

func minTime(a, b time.Time) time.Time {
	if a.Before(b) {
		return a
	}
	return b
}
