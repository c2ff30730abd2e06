package runner

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"go.uber.org/zap"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"k8s.io/utils/clock"

	"github.com/churn-dev/churn/agents"
	"github.com/churn-dev/churn/churn"
	"github.com/churn-dev/churn/deploy/local"
	"github.com/churn-dev/churn/fakenodes/nodehealth"
	"github.com/churn-dev/churn/observers"
	"github.com/churn-dev/churn/profiles"
	"github.com/churn-dev/churn/report"
	"github.com/churn-dev/churn/results"
	"github.com/churn-dev/churn/selfmetrics"
	"github.com/churn-dev/churn/target"
	"github.com/churn-dev/churn/version"
)

// Outcome is what a run produced: the result (possibly partial) and where it
// was written.
type Outcome struct {
	Result     *results.Result
	OutDir     string
	ReportPath string
}

// run holds the state of one run between phases.
type run struct {
	opts Options
	// labelID is the churn.dev/run value of the run's objects: the run ID,
	// or in a warm start the snapshot's (see warmstart.go). Everything that
	// names, labels, selects or deletes objects uses it; results, the
	// output and cluster directories use opts.RunID.
	labelID string
	warm    *warmStart
	// setupOnly marks a run that stops after setup (SetUp): nothing of its
	// control plane is measured, so it may be tuned for the ramp alone.
	setupOnly bool
	// auditLog is the first API server's audit log, "" when none is kept
	// (auditOptions).
	auditLog string
	log      *zap.Logger
	clk      clock.WithTicker
	res      *results.Result
	target   *target.Target
	cluster  *local.Cluster
	// controlPlane is what observers see of cluster (nil for a remote target).
	controlPlane *controlPlane
	client       kubernetes.Interface
	// clientConfig is client's config: the target's, without a client-side
	// rate limit.
	clientConfig *rest.Config
	observers    []observers.Observer
	mesh         *agents.Mesh
	// realCilium is the real Cilium replacing the emulated one (nil if none).
	realCilium *realCilium
	nodes      []string
	metrics    *selfmetrics.Metrics
	engine     *churn.Engine
	// schedP99 is churn's goroutine scheduling latency p99 over the churn
	// phase (schedOK once measured).
	schedP99 float64
	schedOK  bool
	// nodeHealth watches the fake nodes from setup to the end of churn
	// (nil when not watched; nodeHealthErr says why).
	nodeHealth    *nodehealth.Monitor
	nodeHealthErr error
	// kwokWait is kwok's run-queue wait over the churn phase.
	kwokWait runQueueWait
	// throttle is the control plane's cpu.stat at the end of the last
	// phase (recordThrottle).
	throttle local.CPUThrottle
	// reportPath is where finish wrote report.html.
	reportPath string
}

// setupAPIServerGOGC is kube-apiserver's GOGC in a setup that is only
// saved: in a 10k-pods ramp it cut the API server's CPU by a fifth, for
// twice its memory. A warm start runs the saved setup on a fresh API server
// with Go's default.
const setupAPIServerGOGC = 400

func (r *run) apiServerGOGC() int {
	if r.setupOnly {
		return setupAPIServerGOGC
	}
	return 0
}

// CheckOutDir creates dir if needed and proves a file can be written there.
func CheckOutDir(dir string) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("--out %s: cannot create the results directory: %w", dir, err)
	}
	f, err := os.CreateTemp(dir, ".churn-write-check-*")
	if err != nil {
		return fmt.Errorf("--out %s: cannot write to the results directory: %w", dir, err)
	}
	name := f.Name()
	return errors.Join(f.Close(), os.Remove(name))
}

// Run executes one run end to end. The returned error is nil when the run
// completed, whatever the verdict; the caller reads Outcome.Result.Verdict.
// On interruption or failure it still tears down and writes what it has.
func Run(ctx context.Context, opts Options) (*Outcome, error) {
	if opts.RunID == "" {
		id, err := NewRunID(time.Now())
		if err != nil {
			return nil, err
		}
		opts.RunID = id
	}
	if opts.OutDir == "" {
		opts.OutDir = filepath.Join("churn-results", opts.RunID)
	}
	if opts.TeardownTimeout == 0 {
		opts.TeardownTimeout = 10 * time.Minute
	}
	r := newRun(opts)
	if err := r.openSnapshot(ctx); err != nil {
		// Refused before anything started: no cluster, no results.
		return nil, err
	}
	// A run of many minutes whose results cannot be written is wasted:
	// find out before anything starts.
	if err := CheckOutDir(opts.OutDir); err != nil {
		return nil, err
	}
	out := &Outcome{Result: r.res, OutDir: opts.OutDir}

	runErr := r.execute(ctx)
	cleanupCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), opts.TeardownTimeout)
	defer cancel()
	if err := r.teardown(cleanupCtx); err != nil {
		runErr = errors.Join(runErr, err)
	}
	if runErr != nil {
		r.res.Errors = append(r.res.Errors, runErr.Error())
	}
	if err := r.finish(runErr == nil); err != nil {
		runErr = errors.Join(runErr, err)
	}
	out.ReportPath = r.reportPath
	return out, runErr
}

func meshName(p profiles.Profile) string {
	if p.Mesh.Name == "" {
		return "none"
	}
	return p.Mesh.Name
}

// execute runs the phases up to the end of churn.
func (r *run) execute(ctx context.Context) error {
	if err := r.serveMetrics(ctx); err != nil {
		return err
	}
	if err := r.phase("target", func() error { return r.resolveTarget(ctx) }); err != nil {
		return err
	}
	if err := r.startObservers(ctx); err != nil {
		return err
	}
	if err := r.phase("setup", func() error { return r.setup(ctx) }); err != nil {
		return err
	}
	if err := r.phase("mesh", func() error { return r.installMesh(ctx) }); err != nil {
		return err
	}
	return r.phase("churn", func() error { return r.churn(ctx) })
}

// phase records a named phase's wall-clock bounds around fn.
func (r *run) phase(name string, fn func() error) error {
	start := r.clk.Now()
	r.log.Info("phase start", zap.String("phase", name))
	err := fn()
	r.res.Phases = append(r.res.Phases, results.Phase{Name: name, Start: start, End: r.clk.Now()})
	r.recordThrottle(name)
	if err != nil {
		return fmt.Errorf("%s: %w", name, err)
	}
	return nil
}

func (r *run) serveMetrics(ctx context.Context) error {
	if r.opts.MetricsAddr == "" {
		return nil
	}
	reg := prometheus.NewRegistry()
	if err := r.metrics.Register(reg); err != nil {
		return fmt.Errorf("register churn metrics: %w", err)
	}
	srv, err := selfmetrics.Serve(ctx, r.opts.MetricsAddr, reg, r.log)
	if err != nil {
		return fmt.Errorf("--metrics-addr %s: %w", r.opts.MetricsAddr, err)
	}
	r.log.Info("serving churn metrics", zap.String("url", "http://"+srv.Addr()+"/metrics"))
	return nil
}

func (r *run) resolveTarget(ctx context.Context) error {
	if err := ValidateTarget(r.opts); err != nil {
		return err
	}
	if r.opts.InCluster || r.opts.Kubeconfig != "" {
		t, err := remoteTarget(r.opts)
		if err != nil {
			return err
		}
		r.target = t
	} else {
		dir := r.opts.ClusterDir
		if dir == "" {
			dir = filepath.Join(".churn", "runs", r.opts.RunID)
		}
		if err := r.restoreSnapshot(dir); err != nil {
			return err
		}
		budget, err := CPUBudgetRequest(r.opts.Profile.ControlPlane.CPUs)
		if err != nil {
			return fmt.Errorf("profile %s: %s %q: %w", r.opts.Profile.Name, cpusField, string(r.opts.Profile.ControlPlane.CPUs), err)
		}
		audit := r.auditOptions(dir)
		r.auditLog = audit.LogPath
		c, err := local.Up(ctx, local.Options{
			Dir:                       dir,
			BinDir:                    r.opts.BinDir,
			KubernetesVersion:         r.opts.KubernetesVersion,
			Logger:                    r.log,
			Progress:                  r.opts.Progress,
			APIServerMemoryLimitBytes: r.opts.APIServerMemoryLimitBytes,
			RestartAPIServer:          r.opts.RestartAPIServer,
			RestartDelay:              r.opts.RestartDelay,
			APIServerGOGC:             r.apiServerGOGC(),
			DisableCPUPriority:        r.opts.DisableCPUPriority,
			ControlPlaneCPUs:          budget,
			// Spread scoring costs O(pods) per pod scheduled; see local.Options.
			SchedulerWithoutDefaultSpread: r.setupOnly,
			ExtraArgs:                     r.opts.Profile.ControlPlane.ExtraArgs,
			APIServers:                    r.opts.Profile.ControlPlane.APIServerCount(),
			// A rolling upgrade hands the controllers' leases over, as
			// on an HA control plane.
			LeaderElection: r.opts.Profile.Disruptions.Upgrade != "",
			Audit:          audit,
		})
		if err != nil {
			return fmt.Errorf("start local control plane: %w", err)
		}
		r.cluster = c
		r.target = &target.Target{Kind: target.KindLocal, Kubeconfig: c.Kubeconfig(), Server: c.RESTConfig().Host, Config: c.RESTConfig()}
	}
	cfg := rest.CopyConfig(r.target.Config)
	// churn's own writes must not queue behind a client-side limiter: its
	// pacing is the limiter.
	cfg.QPS, cfg.Burst = 1000, 2000
	client, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		return fmt.Errorf("client for %s: %w", r.target.Server, err)
	}
	r.client, r.clientConfig = client, cfg
	r.res.Target = results.Target{Kind: r.target.Kind, Server: r.target.Server}
	if r.cluster != nil {
		r.res.Target.ExtraArgs = r.cluster.ExtraArgs()
		r.res.Target.CPUPriority = cpuPriorityRecord(r.cluster.CPUPriority())
		// What ran, read off the binaries: a kwok with or without the
		// patches behaves differently at scale.
		if v, err := local.BinaryVersions(ctx, r.opts.BinDir, r.opts.KubernetesVersion); err == nil {
			// churn's own build too: history marks where it changed.
			v["churn"] = version.Churn
			r.res.Target.Binaries = v
		} else {
			r.log.Warn("binary versions not recorded", zap.Error(err))
		}
	}
	if v, err := client.Discovery().ServerVersion(); err == nil {
		r.res.Target.KubernetesVersion = v.GitVersion
	} else {
		return fmt.Errorf("reach API server %s: %w", r.target.Server, err)
	}
	r.printPlan()
	if r.opts.OnTarget != nil {
		left := Leftovers{RunLabel: r.labelID, Server: r.target.Server, Kubeconfig: r.opts.Kubeconfig, Context: r.opts.Context}
		if r.cluster != nil {
			left.ClusterDir = r.cluster.Dir()
		}
		r.opts.OnTarget(left)
	}
	if r.target.Remote() {
		perms := target.RunPermissions()
		if meshName(r.opts.Profile) != profiles.MeshNone {
			perms = append(perms, target.MeshPermissions()...)
		}
		perms = append(perms, r.kwokPermissions()...)
		if err := target.CheckPermissions(ctx, client, perms); err != nil {
			return err
		}
	}
	return nil
}

func (r *run) printPlan() {
	p := r.opts.Profile
	fmt.Fprintf(r.progress(), "run %s on %s (%s, Kubernetes %s)\n", r.opts.RunID, r.target.Server, r.target.Kind, r.res.Target.KubernetesVersion)
	what := "will create"
	if r.warm != nil {
		what = "restored from snapshot " + r.warm.manifest.Name
	}
	fmt.Fprintf(r.progress(), "  %s: %d fake nodes, %d namespaces, %d deployments and services, %d pods; mesh %s; churn %s\n",
		what, p.Nodes.Count, p.Workload.Namespaces, p.Deployments(), p.TargetPods(), meshName(p), p.Churn.Duration.Duration)
	fmt.Fprintf(r.progress(), "  everything carries label %s\n", churn.RunSelector(r.labelID))
	if a := r.res.Target.ExtraArgs; len(a) > 0 {
		fmt.Fprintf(r.progress(), "  extra control-plane arguments: %s\n", report.ExtraArgsText(a))
	}
	r.printKWOKPlan()
}

func (r *run) progress() io.Writer {
	if r.opts.Progress == nil {
		return io.Discard
	}
	return r.opts.Progress
}
