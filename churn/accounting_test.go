package churn

import (
	"context"
	"fmt"
	"io"
	"net/url"
	"syscall"
	"testing"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/runtime/schema"

	"github.com/churn-dev/churn/results"
)

var errTooMany = apierrors.NewTooManyRequests("slow down", 1)

func TestClassify(t *testing.T) {
	gr := schema.GroupResource{Group: "apps", Resource: "deployments"}
	cases := map[string]error{
		results.ResultOK:          nil,
		results.ResultConflict:    apierrors.NewConflict(gr, "app-0", fmt.Errorf("changed")),
		results.ResultThrottled:   fmt.Errorf("scale: %w", errTooMany),
		results.ResultServerError: apierrors.NewServiceUnavailable("down"),
		results.ResultTimeout:     &url.Error{Op: "Get", URL: "https://x", Err: context.DeadlineExceeded},
		results.ResultCanceled:    fmt.Errorf("get: %w", context.Canceled),
		results.ResultUnreachable: &url.Error{Op: "Put", URL: "https://x", Err: syscall.ECONNREFUSED},
		results.ResultOther:       apierrors.NewNotFound(gr, "app-0"),
	}
	for want, err := range cases {
		if got := classify(err); got != want {
			t.Errorf("classify(%v) = %q, want %q", err, got, want)
		}
	}
	if got := classify(apierrors.NewTimeoutError("slow", 1)); got != results.ResultTimeout {
		t.Errorf("504 timeout classified %q", got)
	}
	if got := classify(io.ErrUnexpectedEOF); got != results.ResultUnreachable {
		t.Errorf("unexpected EOF classified %q", got)
	}
	if got := classify(apierrors.NewInternalError(fmt.Errorf("boom"))); got != results.ResultServerError {
		t.Errorf("500 classified %q", got)
	}
}

func TestQuantileNearestRank(t *testing.T) {
	xs := make([]float64, 100)
	for i := range xs {
		xs[len(xs)-1-i] = float64(i + 1) // 100..1, unsorted
	}
	for q, want := range map[float64]float64{0.5: 50, 0.99: 99, 1: 100, 0: 1} {
		if got := quantile(xs, q); got != want {
			t.Errorf("quantile(%v) = %v, want %v", q, got, want)
		}
	}
	if quantile(nil, 0.5) != 0 {
		t.Error("quantile of nothing is not 0")
	}
}

func TestSummarizeCountsEveryOutcome(t *testing.T) {
	start := epoch
	actions := []results.Action{
		{Kind: results.ActionScale, Result: results.ResultOK, From: 100, To: 90, LagSeconds: 0},
		{Kind: results.ActionScale, Result: results.ResultOK, From: 90, To: 110, LagSeconds: 1},
		{Kind: results.ActionScale, Result: results.ResultTimeout, From: 110, To: 85, LagSeconds: 2},
		{Kind: results.ActionRelabel, Result: results.ResultOK, To: 1},
		{Kind: results.ActionScale, Result: results.ResultNotStarted},
	}
	s := summarize(3, 8, start, start.Add(10*time.Second), start.Add(12*time.Second), actions)
	if s.Planned != 5 || s.Succeeded != 3 || s.Failed != 1 || s.NotStarted != 1 {
		t.Errorf("counts %+v", s)
	}
	if s.Scale != (results.ActionCounts{Planned: 4, Succeeded: 2, Failed: 1, NotStarted: 1}) ||
		s.Relabel != (results.ActionCounts{Planned: 1, Succeeded: 1}) {
		t.Errorf("per kind: scale %+v relabel %+v", s.Scale, s.Relabel)
	}
	// The last action ended after the planned end: the phase lasted 12 s.
	if s.Duration != 12*time.Second || s.PodChanges != 30 || s.PodChangesPerSecond != 2.5 || s.ActionsPerSecond != 0.25 {
		t.Errorf("duration %v pod changes %d (%v/s) actions/s %v", s.Duration, s.PodChanges, s.PodChangesPerSecond, s.ActionsPerSecond)
	}
	if s.Errors[results.ResultTimeout] != 1 || s.LagMaxSeconds != 2 {
		t.Errorf("errors %v lag max %v", s.Errors, s.LagMaxSeconds)
	}
}
