// Package observers samples what the API server goes through during a run
// (its own metrics, churn's probes, availability, watch propagation, process
// cost, pod start-up) and judges the result against the Kubernetes
// scalability SLOs.
//
// Lifecycle: New (by registered name) -> Start (launches sampling goroutines
// and returns) -> Stop (ends sampling, keeps the data) -> Summarize (writes
// the observer's summary and time series into results.Result.Observers and
// the typed sections it owns). Summarize reads r.Phases, so the caller fills
// them first; SLOs are judged on the churn phase.
package observers

import (
	"context"
	"errors"
	"fmt"

	"go.uber.org/zap"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"k8s.io/utils/clock"

	"github.com/churn-dev/churn/results"
	"github.com/churn-dev/churn/selfmetrics"
)

// Observer samples one aspect of the run.
type Observer interface {
	Name() string
	// Start launches sampling and returns; sampling ends at Stop or when ctx
	// ends.
	Start(ctx context.Context, env Env) error
	// Stop ends sampling, keeps the data and removes what Start created.
	Stop(ctx context.Context) error
	// Summarize writes the observer's summary into r.
	Summarize(r *results.Result) error
}

// Env is what observers get from the run.
type Env struct {
	// Client is used for API calls when Config is nil (unit tests with fake
	// clientsets). When Config is set, observers build their own clients
	// from it with short timeouts and no client-side rate limit, so churn's
	// load never queues behind its measurements (or the reverse).
	Client kubernetes.Interface
	Config *rest.Config
	Clock  clock.WithTicker
	Logger *zap.Logger
	// RunID names what observers create (namespaces are derived from it).
	RunID string
	// RunLabelSelector is the run-ID label ("churn.dev/run=<id>"): everything
	// an observer creates carries it, and pod-startup watches pods by it.
	RunLabelSelector string
	// ControlPlane is the local control plane, nil for remote clusters.
	ControlPlane ControlPlane
	// Metrics are churn's own metrics; may be nil.
	Metrics *selfmetrics.Metrics
	// APIServers are the local API servers one by one when there are
	// several behind a load balancer (Config then points at the load
	// balancer); empty otherwise. Observers that must not mix servers
	// (counters, per-server health) address each directly.
	APIServers []APIServerEndpoint
}

// APIServerEndpoint is one API server of several: its process name and
// base URL (https://127.0.0.1:PORT), reached with Config's credentials.
type APIServerEndpoint struct {
	Name string
	URL  string
}

// ControlPlane is the view of a local control plane observers need.
type ControlPlane interface {
	// Processes lists the running components; PIDs change after restarts.
	Processes() []Process
	// Events delivers process exits, restarts and OOM kills. Only the
	// availability observer consumes it.
	Events() <-chan ProcessEvent
}

// Process is one running component of the local cluster.
type Process struct {
	Name string
	PID  int
	// Role is RoleControlPlane when empty.
	Role string
}

// ProcessEvent is one lifecycle event of a control-plane process.
type ProcessEvent = results.ProcessEvent

// ObserverError says an observer itself broke (as opposed to the API server
// breaching an SLO); the caller maps it to exit status 1.
type ObserverError struct {
	Observer string
	Op       string // "start", "stop", "summarize", "new"
	Err      error
}

func (e *ObserverError) Error() string {
	return fmt.Sprintf("observer %s: %s: %v", e.Observer, e.Op, e.Err)
}

func (e *ObserverError) Unwrap() error { return e.Err }

// IsObserverError reports whether err (or any error it wraps or joins) is an
// ObserverError.
func IsObserverError(err error) bool {
	var oe *ObserverError
	return errors.As(err, &oe)
}

func (e Env) validate() error {
	switch {
	case e.Client == nil && e.Config == nil:
		return errors.New("env has neither Client nor Config")
	case e.Clock == nil:
		return errors.New("env has no Clock")
	case e.Logger == nil:
		return errors.New("env has no Logger")
	}
	return nil
}
