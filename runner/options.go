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
	// DisableCPUPriority leaves the local control plane and kwok at the
	// CPU priority churn has (see local.Options.DisableCPUPriority), with no
	// CPU budget; the profile's controlPlane.cpus must then not ask for one
	// of a given size.
	DisableCPUPriority bool
	// OutDir receives results.json and report.html; default
	// churn-results/<run-id>.
	OutDir string

	// Kubeconfig selects an existing cluster; empty starts a local one.
	Kubeconfig  string
	Context     string
	AllowRemote bool
	// InCluster targets the cluster churn runs in, as a pod, with its
	// service account (exclusive with Kubeconfig). It is remote like a
	// kubeconfig target: AllowRemote is needed.
	InCluster bool
	// KWOK is how a remote target gets its kwok controller: KWOKExternal
	// (the default; one runs there already) or KWOKInstall. The local
	// control plane always runs its own.
	KWOK string

	// Local control plane settings (ignored with Kubeconfig).
	ClusterDir string
	BinDir     string
	// KubernetesVersion runs the local control plane on another pinned
	// release (see local.Options.KubernetesVersion); empty is the default.
	KubernetesVersion string
	// FromSnapshot starts from a saved setup (a name under
	// snapshot.DefaultRoot, or a path) instead of creating one: verified
	// against the profile and the binaries before anything starts, copied
	// into the cluster directory, then straight to mesh and churn. Local
	// targets only. See warmstart.go for how the run ID relates.
	FromSnapshot string
	// Agents is where the per-node mesh agents run: "internal" (default,
	// in this process) or "external" (churn agents shards; see
	// agents.ComponentsCentral).
	Agents string
	// Keep leaves the local cluster and the run's objects in place.
	Keep bool
	// APIServerMemoryLimitBytes models a control-plane VM of a given size: a
	// kube-apiserver above it is killed and recorded as an OOM kill.
	APIServerMemoryLimitBytes int64
	// RestartAPIServer restarts a crashed kube-apiserver, as a kubelet would.
	RestartAPIServer bool
	// RestartDelay is the wait before that restart (default 1s).
	RestartDelay time.Duration
	// OnTarget, if set, is told once the target is known and before the
	// run creates anything, so the caller can say what an abrupt exit would
	// leave behind.
	OnTarget func(Leftovers)

	// SLOOverrides are --slo name=value flags; they win over the profile.
	SLOOverrides map[string]string
	// MetricsAddr serves churn's own /metrics when set.
	MetricsAddr string

	// TeardownTimeout bounds deleting what the run created.
	TeardownTimeout time.Duration

	Logger   *zap.Logger
	Progress io.Writer
}

// Leftovers say where a run's objects live, for an exit that skips
// teardown.
type Leftovers struct {
	RunLabel string
	Server   string
	// ClusterDir is set for a local control plane: its processes die with
	// churn, its directory stays until churn gc.
	ClusterDir          string
	Kubeconfig, Context string
}
