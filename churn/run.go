package churn

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"go.uber.org/zap"

	"github.com/churn-dev/churn/results"
)

// churnProgressEvery spaces progress lines during the churn phase, in plan
// time.
const churnProgressEvery = 30 * time.Second

// Run executes the churn phase: the plan's actions on the absolute grid
// from now, for the profile's duration (see the package comment for the
// pacing policy). It always returns the summary of what happened, also when
// it returns an error: the context's cause when interrupted, or an error if
// not a single action succeeded.
func (e *Engine) Run(ctx context.Context) (*results.ChurnSummary, error) {
	c := e.profile.Churn
	plan := e.Plan()
	p := pacer{clock: e.clock, start: e.clock.Now()}
	end := p.at(c.Duration.Duration)

	actions := make([]results.Action, len(plan.Steps))
	for i, st := range plan.Steps {
		actions[i] = e.describe(st, p.at(st.Offset))
	}
	e.log.Info("churn phase starting",
		zap.Int64("seed", plan.Seed),
		zap.Int("actions", len(plan.Steps)),
		zap.Duration("duration", c.Duration.Duration),
		zap.Int("maxInFlight", c.MaxInFlight))

	var (
		slots    = make(chan struct{}, c.MaxInFlight)
		wg       sync.WaitGroup
		live     liveCounts
		stopErr  error
		stopWhy  = "the churn phase ended while it waited for a free slot"
		next     = 0
		progress = p.at(churnProgressEvery)
		// full tracks when every slot was held by an action in flight:
		// the API server's share of the lag of every action due meanwhile.
		full = &slotsFull{max: c.MaxInFlight}
	)
	for ; next < len(plan.Steps); next++ {
		scheduled := actions[next].Scheduled
		if !scheduled.Before(progress) {
			e.printf("churn: %s", live.line(next, len(plan.Steps)))
			progress = progress.Add(churnProgressEvery)
		}
		if err := p.waitUntil(ctx, scheduled); err != nil {
			stopErr, stopWhy = err, "the run was interrupted"
			break
		}
		select {
		case slots <- struct{}{}:
		case <-ctx.Done():
			stopErr, stopWhy = context.Cause(ctx), "the run was interrupted"
		}
		if stopErr != nil {
			break
		}
		start := e.clock.Now()
		actions[next].OwnLagSeconds = full.ownLag(scheduled, start).Seconds()
		if !start.Before(end) {
			<-slots
			break
		}
		full.acquire(start)
		wg.Add(1)
		go func(a *results.Action, st Step) {
			defer wg.Done()
			defer func() {
				full.release(e.clock.Now())
				<-slots
			}()
			e.execute(ctx, st, a, start)
			live.add(*a)
			e.report(*a)
		}(&actions[next], plan.Steps[next])
	}
	for i := next; i < len(actions); i++ {
		actions[i].Error = "not started: " + stopWhy
		e.report(actions[i])
	}
	if stopErr == nil {
		// The phase lasts its full duration even when the last action is
		// due before the end, so observers see a whole period of churn.
		if err := p.waitUntil(ctx, end); err != nil {
			stopErr = err
		}
	}
	wg.Wait()

	s := summarize(plan.Seed, c.MaxInFlight, p.start, end, e.clock.Now(), actions)
	e.printf("churn: done: %d/%d actions succeeded, %d failed, %d not started; lag p50 %.3fs p99 %.3fs; %.2f actions/s, %.2f pod changes/s",
		s.Succeeded, s.Planned, s.Failed, s.NotStarted, s.LagP50Seconds, s.LagP99Seconds, s.ActionsPerSecond, s.PodChangesPerSecond)
	e.log.Info("churn phase done",
		zap.Int("planned", s.Planned), zap.Int("succeeded", s.Succeeded), zap.Int("failed", s.Failed),
		zap.Int("notStarted", s.NotStarted), zap.Any("errors", s.Errors))
	switch {
	case stopErr != nil:
		return s, fmt.Errorf("churn phase stopped after %d of %d actions: %w", next, len(actions), stopErr)
	case s.Planned > 0 && s.Succeeded == 0:
		return s, errors.New("churn phase: no action succeeded; " + firstError(actions))
	}
	return s, nil
}

// slotsFull records the spans when every slot was held by an action in
// flight. An action due in such a span could not start however punctual
// churn was: that part of its lag is the API server's.
type slotsFull struct {
	mu    sync.Mutex
	max   int
	held  int
	from  time.Time
	spans []span
}

type span struct{ from, to time.Time }

func (f *slotsFull) acquire(now time.Time) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.held++
	if f.held == f.max {
		f.from = now
	}
}

func (f *slotsFull) release(now time.Time) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.held == f.max && now.After(f.from) {
		f.spans = append(f.spans, span{f.from, now})
	}
	f.held--
}

// ownLag is start - scheduled minus the time in [scheduled, start] when
// every slot was full. Spans that ended before scheduled are dropped:
// later actions are scheduled later still.
func (f *slotsFull) ownLag(scheduled, start time.Time) time.Duration {
	f.mu.Lock()
	defer f.mu.Unlock()
	for len(f.spans) > 0 && f.spans[0].to.Before(scheduled) {
		f.spans = f.spans[1:]
	}
	lag := start.Sub(scheduled)
	for _, s := range f.spans {
		a, b := s.from, s.to
		if a.Before(scheduled) {
			a = scheduled
		}
		if b.After(start) {
			b = start
		}
		if b.After(a) {
			lag -= b.Sub(a)
		}
	}
	return max(lag, 0)
}

// describe is an action as planned, before it runs.
func (e *Engine) describe(st Step, scheduled time.Time) results.Action {
	a := results.Action{
		Seq:       st.Seq,
		Kind:      st.Kind,
		Scheduled: scheduled,
		Result:    results.ResultNotStarted,
	}
	switch st.Kind {
	case results.ActionScale:
		ns, name := e.w.namespace(st.Namespace), deploymentName(st.Deployment)
		a.Target, a.To = ns+"/"+name, st.Replicas
	case results.ActionRelabel:
		a.Target, a.To = e.w.namespace(st.Namespace), st.Generation
	}
	return a
}

// execute runs one action that the pacer started at start.
func (e *Engine) execute(ctx context.Context, st Step, a *results.Action, start time.Time) {
	ctx, cancel := context.WithTimeout(ctx, e.profile.Churn.ActionTimeout.Duration)
	defer cancel()
	a.Start = start
	a.LagSeconds = start.Sub(a.Scheduled).Seconds()
	var err error
	switch st.Kind {
	case results.ActionScale:
		a.From, err = e.scale(ctx, e.w.namespace(st.Namespace), deploymentName(st.Deployment), st.Replicas)
	case results.ActionRelabel:
		err = e.relabel(ctx, e.w.namespace(st.Namespace), st.Generation)
	default:
		err = fmt.Errorf("unknown action kind %q", st.Kind)
	}
	a.End = e.clock.Now()
	a.LatencySeconds = a.End.Sub(a.Start).Seconds()
	a.Result = classify(err)
	if err != nil {
		a.Error = err.Error()
		e.log.Debug("churn action failed", zap.Int("seq", a.Seq), zap.String("class", a.Result), zap.Error(err))
	}
}

func (e *Engine) report(a results.Action) {
	if e.onAction == nil {
		return
	}
	e.onActionMu.Lock()
	defer e.onActionMu.Unlock()
	e.onAction(a)
}

func firstError(actions []results.Action) string {
	for _, a := range actions {
		if a.Error != "" {
			return "first error: " + a.Error
		}
	}
	return "no action ran"
}

// liveCounts feeds the progress line while actions run.
type liveCounts struct {
	mu         sync.Mutex
	ok, failed int
	maxLag     float64
}

func (l *liveCounts) add(a results.Action) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if a.OK() {
		l.ok++
	} else {
		l.failed++
	}
	l.maxLag = max(l.maxLag, a.LagSeconds)
}

func (l *liveCounts) line(started, planned int) string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return fmt.Sprintf("%d/%d actions started, %d ok, %d failed, max lag %.3fs", started, planned, l.ok, l.failed, l.maxLag)
}
