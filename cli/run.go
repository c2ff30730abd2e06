package cli

import (
	"fmt"
	"time"

	"github.com/spf13/cobra"
	"go.uber.org/zap"

	"github.com/churn-dev/churn/observers"
	"github.com/churn-dev/churn/profiles"
	"github.com/churn-dev/churn/report"
	"github.com/churn-dev/churn/runner"
	"github.com/churn-dev/churn/selfmetrics"
)

const runLong = `Run a profile: start a local control plane (or use --kubeconfig), create
KWOK fake nodes, namespaces, services and deployments, wait until every
replica is Ready, start the emulated mesh, churn for the profile's duration,
tear down everything the run created, and judge the SLOs.

Results go to --out (default churn-results/<run-id>/): results.json and a
self-contained report.html.

Everything the run creates carries the label churn.dev/run=<run-id>;
teardown deletes by that label and nothing else. Against a kubeconfig whose
server is not loopback, churn refuses unless --allow-remote is given.

Ctrl-C tears down and exits 130; a second Ctrl-C exits at once.

Exit status:
  0    every SLO held
  1    churn itself failed (setup, bad input, an observer broke)
  2    an SLO was breached (the gate)
  130  interrupted`

func newRunCommand(logger *zap.Logger) *cobra.Command {
	var (
		profileName string
		opts        runner.Options
		duration    time.Duration
		nodes       int
		seed        int64
		mesh        string
		slos        []string
		memLimit    string
	)
	cmd := &cobra.Command{
		Use:   "run --profile NAME|FILE",
		Short: "Set up a workload, churn it, observe the API server and judge the SLOs",
		Long:  runLong,
		Example: `  churn run --profile smoke
  churn run --profile 50k-pods --mesh cilium
  churn run --profile 10k-pods --seed 7 --slo mutating-p99=500ms
  churn run --kubeconfig staging.yaml --allow-remote --profile 10k-pods`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			flags := cmd.Flags()
			var o profiles.Overrides
			if flags.Changed("duration") {
				o.Duration = &duration
			}
			if flags.Changed("nodes") {
				o.Nodes = &nodes
			}
			if flags.Changed("seed") {
				o.Seed = &seed
			}
			if flags.Changed("mesh") {
				o.Mesh = &mesh
			}
			p, err := profiles.Resolve(profileName, o, observers.Known)
			if err != nil {
				return fmt.Errorf("--profile %s: %w", profileName, err)
			}
			overrides, err := observers.ParseSLOFlags(slos)
			if err != nil {
				return err
			}
			if err := observers.ValidateOverrides(runner.MergeSLOs(p.SLOs, overrides)); err != nil {
				return err
			}
			if memLimit != "" {
				n, err := parseBytes(memLimit)
				if err != nil {
					return fmt.Errorf("--apiserver-memory-limit %q: %w", memLimit, err)
				}
				opts.APIServerMemoryLimitBytes = n
			}
			opts.Profile, opts.SLOOverrides = p, overrides
			opts.Logger, opts.Progress = logger, cmd.OutOrStdout()
			if opts.ClusterDir == "" && opts.Keep {
				opts.ClusterDir = defaultClusterDir
			}
			outcome, runErr := runner.Run(cmd.Context(), opts)
			if outcome != nil && outcome.Result != nil {
				fmt.Fprintln(cmd.OutOrStdout())
				if err := report.Summary(cmd.OutOrStdout(), outcome.Result, outcome.ReportPath); err != nil {
					logger.Warn("print summary", zap.Error(err))
				}
			}
			if runErr != nil {
				return runErr
			}
			if v := outcome.Result.Verdict; !v.Passed {
				return &SLOBreachError{Breached: v.Breached}
			}
			return nil
		},
	}
	f := cmd.Flags()
	f.StringVar(&profileName, "profile", "smoke", "built-in profile name (see: churn profiles) or a profile YAML file")
	f.DurationVar(&duration, "duration", 0, "override the churn phase duration")
	f.IntVar(&nodes, "nodes", 0, "override the number of fake nodes")
	f.Int64Var(&seed, "seed", 0, "override the seed of the churn sequence (same seed, same actions)")
	f.StringVar(&mesh, "mesh", "", "mesh to emulate: none, istio-ambient, cilium, cilium-ces")
	f.StringArrayVar(&slos, "slo", nil, "override an SLO threshold, NAME=VALUE (repeatable), e.g. mutating-p99=1s, error-ratio=1%")
	f.StringVar(&opts.OutDir, "out", "", "results directory (default churn-results/<run-id>)")
	f.StringVar(&opts.Kubeconfig, "kubeconfig", "", "run against this cluster instead of starting a local control plane")
	f.StringVar(&opts.Context, "context", "", "kubeconfig context to use")
	f.BoolVar(&opts.AllowRemote, "allow-remote", false, "allow a --kubeconfig whose API server is not on loopback")
	f.BoolVar(&opts.Keep, "keep", false, "keep the local control plane (in --dir) and the run's objects after the run")
	f.StringVar(&opts.ClusterDir, "dir", "", "local cluster directory (default .churn/runs/<run-id>, or "+defaultClusterDir+" with --keep)")
	f.StringVar(&opts.BinDir, "bin-dir", defaultBinDir, "directory with the control-plane binaries (built by make controlplane)")
	f.BoolVar(&opts.RestartAPIServer, "restart-apiserver", false, "restart a crashed kube-apiserver, as a kubelet would (local only)")
	f.DurationVar(&opts.RestartDelay, "restart-apiserver-delay", time.Second, "wait before restarting a crashed kube-apiserver (a kubelet waits 10s)")
	f.StringVar(&memLimit, "apiserver-memory-limit", "", "kill kube-apiserver above this RSS and record an OOM kill, e.g. 4Gi (local only)")
	f.StringVar(&opts.MetricsAddr, "metrics-addr", "", "serve churn's own Prometheus metrics on this loopback address, e.g. "+selfmetrics.DefaultAddr+" (off when empty)")
	return cmd
}
