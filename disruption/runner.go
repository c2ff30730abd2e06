package disruption

import (
	"context"
	"fmt"
	"sync"
	"time"

	"go.uber.org/zap"
	"k8s.io/utils/clock"

	"github.com/churn-dev/churn/results"
)

// Runner carries out plans relative to its Start: each plan in its own
// goroutine, its steps in order. Plans may overlap in time.
type Runner struct {
	Plans []Plan
	Clock clock.Clock
	Log   *zap.Logger

	begin   time.Time
	cancel  context.CancelFunc
	stop    chan struct{}
	wg      sync.WaitGroup
	records []results.Disruption
}

// Start schedules every plan from now (the start of churn).
func (r *Runner) Start(ctx context.Context) {
	if r.Clock == nil {
		r.Clock = clock.RealClock{}
	}
	if r.Log == nil {
		r.Log = zap.NewNop()
	}
	r.begin = r.Clock.Now()
	r.stop = make(chan struct{})
	ctx, r.cancel = context.WithCancel(ctx)
	r.records = make([]results.Disruption, len(r.Plans))
	for i, pl := range r.Plans {
		r.wg.Add(1)
		go func() {
			defer r.wg.Done()
			r.records[i] = r.run(ctx, pl)
		}()
	}
}

// StopAndRecord ends every plan (those not yet due are not started, a step
// under way is cancelled) and returns what each did. Call it once churn
// has ended.
func (r *Runner) StopAndRecord() []results.Disruption {
	if r.stop == nil {
		return nil
	}
	close(r.stop)
	r.cancel()
	r.wg.Wait()
	r.stop = nil
	return r.records
}

func (r *Runner) run(ctx context.Context, pl Plan) results.Disruption {
	rec := results.Disruption{Kind: pl.Kind, Spec: pl.Spec, AtSeconds: pl.At.Seconds(), Settings: pl.Settings}
	// A plan due at once starts at once: a fake clock never fires a
	// zero timer by itself.
	due := make(<-chan time.Time)
	if pl.At > 0 {
		timer := r.Clock.NewTimer(pl.At)
		defer timer.Stop()
		due = timer.C()
	} else {
		ready := make(chan time.Time, 1)
		ready <- r.Clock.Now()
		due = ready
	}
	select {
	case <-r.stop:
		rec.Error = fmt.Sprintf("not started: the churn phase ended after %s", r.Clock.Since(r.begin).Round(time.Second))
		return rec
	case <-ctx.Done():
		rec.Error = "not started: the churn phase was interrupted first"
		return rec
	case <-due:
	}
	log := r.Log.With(zap.String("kind", pl.Kind), zap.String("spec", pl.Spec))
	log.Info("disruption begins", zap.Int("steps", len(pl.Steps)))
	for i, s := range pl.Steps {
		if ctx.Err() != nil {
			rec.Error = r.interrupted(i, len(pl.Steps), s.Name)
			return rec
		}
		p := &Progress{clock: r.Clock, rec: &results.DisruptionStep{
			Name: s.Name, Targets: s.Targets, From: s.From, To: s.To, Started: r.Clock.Now(),
		}}
		log.Info("step begins", zap.Int("step", i+1), zap.String("name", s.Name))
		err := s.Do(ctx, p)
		step := p.snapshot()
		step.Ended = r.Clock.Now()
		if err != nil {
			step.Error = err.Error()
		}
		rec.Steps = append(rec.Steps, step)
		if err != nil {
			if ctx.Err() != nil {
				rec.Error = r.interrupted(i, len(pl.Steps), s.Name)
			} else {
				rec.Error = fmt.Sprintf("step %d/%d (%s) failed: %v", i+1, len(pl.Steps), s.Name, err)
				log.Error("disruption step failed", zap.String("step", s.Name), zap.Error(err))
			}
			return rec
		}
		log.Info("step ended", zap.Int("step", i+1), zap.String("name", s.Name), zap.Duration("took", step.Ended.Sub(step.Started)))
	}
	return rec
}

func (r *Runner) interrupted(i, n int, name string) string {
	select {
	case <-r.stop:
		return fmt.Sprintf("stopped at step %d/%d (%s): the churn phase ended after %s", i+1, n, name, r.Clock.Since(r.begin).Round(time.Second))
	default:
		return fmt.Sprintf("stopped at step %d/%d (%s): the churn phase was interrupted", i+1, n, name)
	}
}
