package disruption

import (
	"context"
	"fmt"
	"sync"
	"time"

	"k8s.io/utils/clock"

	"github.com/churn-dev/churn/results"
)

// Plan is a sequence of steps due At into the churn phase.
type Plan struct {
	// Kind is results.DisruptionFault, DisruptionUpgrade or DisruptionRollout.
	Kind string
	// Spec is the plan as the user wrote it.
	Spec string
	At   time.Duration
	// Settings are recorded with the plan (see results.Disruption).
	Settings map[string]string
	Steps    []Step
}

// Step is one step of a plan. Do carries it out: it stops what the step
// replaces, calls Progress.Stopped once that has gone, starts its
// replacement and calls Progress.Ready once that answers ready. It returns
// when the step is over; an error ends the plan there.
type Step struct {
	Name     string
	Targets  []string
	From, To string
	Do       func(ctx context.Context, p *Progress) error
}

// Progress stamps a running step's milestones.
type Progress struct {
	clock clock.PassiveClock
	mu    sync.Mutex
	rec   *results.DisruptionStep
}

// Stopped records that what the step stops has gone.
func (p *Progress) Stopped() { p.stamp(&p.rec.Stopped) }

// Ready records that what the step started answers ready.
func (p *Progress) Ready() { p.stamp(&p.rec.Ready) }

// Record lets a step put what it measured into its own record, e.g. a
// rollout wave's start-up figures.
func (p *Progress) Record(edit func(*results.DisruptionStep)) {
	p.mu.Lock()
	defer p.mu.Unlock()
	edit(p.rec)
}

func (p *Progress) stamp(t *time.Time) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if t.IsZero() {
		*t = p.clock.Now()
	}
}

func (p *Progress) snapshot() results.DisruptionStep {
	p.mu.Lock()
	defer p.mu.Unlock()
	return *p.rec
}

// Validate checks what can be checked before a run starts: steps present
// and the plan due within the churn phase (churnFor 0 skips that check).
func (pl Plan) Validate(churnFor time.Duration) error {
	switch {
	case len(pl.Steps) == 0:
		return fmt.Errorf("%s %q: no steps", pl.Kind, pl.Spec)
	case pl.At < 0:
		return fmt.Errorf("%s %q: time %s is before churn starts", pl.Kind, pl.Spec, pl.At)
	case churnFor > 0 && pl.At >= churnFor:
		return fmt.Errorf("%s %q: %s is not within the churn phase (%s)", pl.Kind, pl.Spec, pl.At, churnFor)
	}
	for i, s := range pl.Steps {
		if s.Do == nil {
			return fmt.Errorf("%s %q: step %d (%s) has nothing to do", pl.Kind, pl.Spec, i+1, s.Name)
		}
	}
	return nil
}
