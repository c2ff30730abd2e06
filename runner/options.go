// Package runner orchestrates one run: resolve the target, start observers,
// create the fake nodes and the workload, start the mesh emulation, churn,
// tear down what the run created, judge the SLOs and write the results.
package runner

import (
	"io"
	"time"

	"go.uber.org/zap"

	"github.com/churn-dev/churn/profiles"
)

// Options configure one run. Profile is already defaulted, overridden by the
// user's flags and validated.
type Options struct {
	Profile profiles.Profile
	// RunID is generated when empty.
	RunID string
	// OutDir receives results.json and report.html; default
	// churn-results/<run-id>.
	OutDir string

	// Kubeconfig selects an existing cluster; empty starts a local one.
	Kubeconfig  string
	Context     string
	AllowRemote bool

	// Local control plane settings (ignored with Kubeconfig).
	ClusterDir string
	BinDir     string
	// Keep leaves the local cluster and the run's objects in place.
	Keep bool
	// APIServerMemoryLimitBytes models a control-plane VM of a given size: a
	// kube-apiserver above it is killed and recorded as an OOM kill.
	APIServerMemoryLimitBytes int64
	// RestartAPIServer restarts a crashed kube-apiserver, as a kubelet would.
	RestartAPIServer bool
	// RestartDelay is the wait before that restart (default 1s).
	RestartDelay time.Duration

	// SLOOverrides are --slo name=value flags; they win over the profile.
	SLOOverrides map[string]string
	// MetricsAddr serves churn's own /metrics when set.
	MetricsAddr string

	// TeardownTimeout bounds deleting what the run created.
	TeardownTimeout time.Duration

	Logger   *zap.Logger
	Progress io.Writer
}
