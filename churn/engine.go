package churn

import (
	"fmt"
	"io"
	"sync"
	"time"

	"go.uber.org/zap"
	"k8s.io/client-go/kubernetes"
	"k8s.io/utils/clock"

	"github.com/churn-dev/churn/profiles"
	"github.com/churn-dev/churn/results"
)

// Engine runs one run's workload: Setup, WaitReady, Run, Teardown.
type Engine struct {
	client   kubernetes.Interface
	clock    clock.WithTicker
	log      *zap.Logger
	profile  profiles.Profile
	runID    string
	progress io.Writer
	onAction func(results.Action)
	w        workload

	// onActionMu serialises OnAction calls.
	onActionMu sync.Mutex

	// Set by Setup, read by WaitReady; setupMu guards what Setup's workers
	// write.
	setupMu         sync.Mutex
	setupStart      time.Time
	createSeconds   float64
	firstDeployment time.Time
	services        int
}

// New checks cfg (including cfg.Profile.Validate) and builds an engine.
func New(cfg Config) (*Engine, error) {
	if err := cfg.complete(); err != nil {
		return nil, err
	}
	return &Engine{
		client:   cfg.Client,
		clock:    cfg.Clock,
		log:      cfg.Logger,
		profile:  cfg.Profile,
		runID:    cfg.RunID,
		progress: cfg.Progress,
		onAction: cfg.OnAction,
		w:        newWorkload(cfg.Prefix, cfg.RunID, cfg.Profile),
	}, nil
}

// Namespaces lists the namespaces the run creates, in creation order.
func (e *Engine) Namespaces() []string {
	out := make([]string, e.w.namespaces)
	for i := range out {
		out[i] = e.w.namespace(i)
	}
	return out
}

// Plan is the action sequence Run follows.
func (e *Engine) Plan() Plan {
	return NewPlan(e.profile.Churn.Seed, e.profile)
}

func (e *Engine) printf(format string, args ...any) {
	// Progress is best effort: a broken terminal must not fail the run.
	_, _ = fmt.Fprintf(e.progress, format+"\n", args...)
}
