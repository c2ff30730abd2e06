package churn

import (
	"errors"
	"fmt"
	"io"

	"go.uber.org/zap"
	"k8s.io/apimachinery/pkg/util/validation"
	"k8s.io/client-go/kubernetes"
	"k8s.io/utils/clock"

	"github.com/churn-dev/churn/profiles"
	"github.com/churn-dev/churn/results"
)

// Labels every object the engine creates carries.
const (
	LabelRun        = "churn.dev/run"
	LabelManagedBy  = "app.kubernetes.io/managed-by"
	ManagedByValue  = "churn"
	LabelGeneration = "churn.dev/generation"
	// LabelApp selects a deployment's pods; its Service uses it too.
	LabelApp = "app"
)

// RunLabels are the labels stamped on every object of one run.
func RunLabels(runID string) map[string]string {
	return map[string]string{LabelRun: runID, LabelManagedBy: ManagedByValue}
}

// RunSelector selects exactly the objects of one run.
func RunSelector(runID string) string {
	return LabelRun + "=" + runID
}

// Config is what the engine needs from its caller.
type Config struct {
	Client kubernetes.Interface
	// Clock drives the pacer, the ramp polls and their timeouts; nil means
	// the real clock.
	Clock clock.WithTicker
	// Logger nil means no logging.
	Logger  *zap.Logger
	Profile profiles.Profile
	// RunID is the value of the churn.dev/run label.
	RunID string
	// Prefix starts every namespace name, e.g. "churn-3fa2" gives
	// churn-3fa2-000, churn-3fa2-001, ...
	Prefix string
	// Progress receives human progress lines; nil discards them.
	Progress io.Writer
	// OnAction, if set, is called once per finished action (and once per
	// action that never started). Calls are serialised, so the hook need
	// not be safe for concurrent use, but it must be quick: it runs on the
	// action's goroutine.
	OnAction func(results.Action)
}

func (c *Config) complete() error {
	var errs []error
	if c.Client == nil {
		errs = append(errs, errors.New("Client is required"))
	}
	for _, msg := range validation.IsValidLabelValue(c.RunID) {
		errs = append(errs, fmt.Errorf("RunID %q: %s", c.RunID, msg))
	}
	if c.RunID == "" {
		errs = append(errs, errors.New("RunID is required"))
	}
	// The longest name is Prefix + "-" + the namespace index digits.
	longest := c.Prefix + "-" + fmt.Sprintf("%0*d", indexWidth(c.Profile.Workload.Namespaces), 0)
	for _, msg := range validation.IsDNS1123Label(longest) {
		errs = append(errs, fmt.Errorf("Prefix %q gives invalid namespace name %q: %s", c.Prefix, longest, msg))
	}
	if err := c.Profile.Validate(); err != nil {
		errs = append(errs, err)
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("churn engine config: %w", err)
	}
	if c.Clock == nil {
		c.Clock = clock.RealClock{}
	}
	if c.Logger == nil {
		c.Logger = zap.NewNop()
	}
	if c.Progress == nil {
		c.Progress = io.Discard
	}
	return nil
}
