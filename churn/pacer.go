package churn

import (
	"context"
	"time"

	"k8s.io/utils/clock"
)

// pacer places actions on an absolute grid: every wait targets start +
// offset, never "interval after the previous one", so the lateness of one
// timer is not carried into the next.
type pacer struct {
	clock clock.Clock
	start time.Time
}

// at is the scheduled time of an offset.
func (p pacer) at(offset time.Duration) time.Time {
	return p.start.Add(offset)
}

// waitUntil returns at t, at once if t has passed, or with the context's
// cause if it ends first.
func (p pacer) waitUntil(ctx context.Context, t time.Time) error {
	d := t.Sub(p.clock.Now())
	if d <= 0 {
		// A fake clock's timer for a past instant only fires on its next
		// step; an overdue action must not wait for that.
		if ctx.Err() != nil {
			return context.Cause(ctx)
		}
		return nil
	}
	timer := p.clock.NewTimer(d)
	defer timer.Stop()
	select {
	case <-timer.C():
		return nil
	case <-ctx.Done():
		return context.Cause(ctx)
	}
}
