package observers

import (
	"context"
	"errors"
	"fmt"

	"github.com/churn-dev/churn/profiles"
	"github.com/churn-dev/churn/results"
)

// Set runs the observers a profile lists, as one unit. Every error it
// returns is (or joins) *ObserverError, so the caller can tell "an observer
// broke" (exit 1) from "an SLO was breached" (exit 2).
type Set struct {
	observers []Observer
	started   []Observer
}

// NewSet builds the observers of specs; an unknown name, a bad setting or a
// name listed twice is an error.
func NewSet(specs []profiles.ObserverSpec) (*Set, error) {
	s := &Set{}
	seen := map[string]bool{}
	for i, spec := range specs {
		if seen[spec.Name] {
			return nil, &ObserverError{Observer: spec.Name, Op: "new", Err: fmt.Errorf("observers[%d]: listed twice", i)}
		}
		seen[spec.Name] = true
		o, err := New(spec)
		if err != nil {
			return nil, &ObserverError{Observer: spec.Name, Op: "new", Err: fmt.Errorf("observers[%d]: %w", i, err)}
		}
		s.observers = append(s.observers, o)
	}
	return s, nil
}

// Names lists the observers in the set, in profile order.
func (s *Set) Names() []string {
	names := make([]string, len(s.observers))
	for i, o := range s.observers {
		names[i] = o.Name()
	}
	return names
}

// Start starts every observer in order. If one fails, those already
// started are stopped and the error is returned.
func (s *Set) Start(ctx context.Context, env Env) error {
	for _, o := range s.observers {
		if err := o.Start(ctx, env); err != nil {
			startErr := &ObserverError{Observer: o.Name(), Op: "start", Err: err}
			env.Metrics.SetObserverUp(o.Name(), false)
			return errors.Join(startErr, s.Stop(ctx))
		}
		s.started = append(s.started, o)
	}
	return nil
}

// Stop stops the started observers in reverse order; every one is stopped
// even when another fails.
func (s *Set) Stop(ctx context.Context) error {
	var errs []error
	for i := len(s.started) - 1; i >= 0; i-- {
		o := s.started[i]
		if err := o.Stop(ctx); err != nil {
			errs = append(errs, &ObserverError{Observer: o.Name(), Op: "stop", Err: err})
		}
	}
	s.started = nil
	return errors.Join(errs...)
}

// Summarize writes every observer's summary into r (fill r.Phases first).
func (s *Set) Summarize(r *results.Result) error {
	var errs []error
	for _, o := range s.observers {
		if err := o.Summarize(r); err != nil {
			errs = append(errs, &ObserverError{Observer: o.Name(), Op: "summarize", Err: err})
		}
	}
	return errors.Join(errs...)
}
