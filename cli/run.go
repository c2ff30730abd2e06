package cli

import (
	"errors"
	"fmt"
	"time"

	"github.com/spf13/cobra"
	"go.uber.org/zap"

	"github.com/churn-dev/churn/agents"
	"github.com/churn-dev/churn/junit"
	"github.com/churn-dev/churn/observers"
	"github.com/churn-dev/churn/profiles"
	"github.com/churn-dev/churn/report"
	"github.com/churn-dev/churn/runner"
	"github.com/churn-dev/churn/selfmetrics"
	"github.com/churn-dev/churn/snapshot"
	"github.com/churn-dev/churn/version"
)

const runLong = `Run a profile: start a local control plane (or use --kubeconfig), create
KWOK fake nodes, namespaces, services and deployments, wait until every
replica is Ready, start the emulated mesh, churn for the profile's duration,
tear down everything the run created, and judge the SLOs.

With a mesh, churn starts once the mesh has settled (every watch synced,
its objects written, no 429 for mesh.settleQuiet) or after
--settle-timeout; the install is reported as a phase of its own and never
judged.

Results go to --out (default churn-results/<run-id>/): results.json and a
self-contained report.html.

The local control plane runs under a CPU budget, a cgroup quota on etcd,
kube-apiserver, kube-controller-manager and kube-scheduler together
(--control-plane-cpus or the profile's controlPlane.cpus; default auto,
75% of the CPUs online), so kwok and churn keep the rest of the machine;
the verdict says whether "a control plane of N cores" held.

Everything the run creates carries the label churn.dev/run=<run-id>;
teardown deletes by that label and nothing else. Against a kubeconfig whose
server is not loopback, churn refuses unless --allow-remote is given.

Ctrl-C tears down and exits 130; a second Ctrl-C exits at once.

--repeat N runs the profile N times in sequence, each with its own results
directory under --out (OUT/1 ... OUT/N), then prints the combined verdict
(repeats.json under --out): per SLO the median across the runs, its noise
and how many runs breached. The runs whose simulator fell behind are left
out; when most did, the verdict is inconclusive. A run that fails stops
the sequence.

--junit FILE writes the verdict as JUnit XML for CI: a test case per SLO;
a breach is a failure ("measured X > threshold Y"), an SLO without data is
skipped; in an inconclusive run every SLO is skipped with the reason and
each simulator check that fell behind is an error.

Exit status (with --repeat: of the combined verdict, where an SLO breaches
when its median does, and inconclusive means most runs were):
  0    every SLO held
  1    churn itself failed (setup, bad input, an observer broke)
  2    an SLO was breached (the gate)
  3    inconclusive: the simulator (kwok, churn's engine or its emulated
       agents) fell behind, so the SLO figures are not the API server's alone
  130  interrupted`

func newRunCommand(logger *zap.Logger) *cobra.Command {
	var (
		wf       workloadFlags
		opts     runner.Options
		mesh     string
		istiod   string
		cilium   string
		ciliumN  int
		memLimit string
		cpuProf  string
		// cpuPriority is --cpu-priority.
		cpuPriority bool
		extra       extraArgsFlags
		repeat      int
		junitPath   string
	)
	cmd := &cobra.Command{
		Use:   "run --profile NAME|FILE",
		Short: "Set up a workload, churn it, observe the API server and judge the SLOs",
		Long:  runLong,
		Example: `  churn run --profile smoke
  churn run --profile 50k-pods --mesh cilium
  churn run --profile 10k-pods --seed 7 --slo mutating-p99=500ms
  churn run --profile 1k-pods --mesh cilium --cilium real --cilium-real-agents 5
  churn run --profile 1k-pods --fault etcd-kill@3m
  churn run --profile 1k-pods --apiserver-args=--max-mutating-requests-inflight=50
  churn run --kubeconfig staging.yaml --allow-remote --profile 10k-pods
  churn run --profile smoke --repeat 5 --junit churn.xml`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			var meshOverride *string
			if cmd.Flags().Changed("mesh") {
				meshOverride = &mesh
			}
			p, overrides, err := wf.resolve(cmd, meshOverride)
			if err != nil {
				return err
			}
			if opts.Kubeconfig == "" && !opts.InCluster {
				if err := checkBudgetWithPriority(cmd, p.ControlPlane.CPUs, cpuPriority); err != nil {
					return err
				}
			}
			extraArgs, err := extra.parse()
			if err != nil {
				return err
			}
			if extraArgs != nil {
				p = profiles.Overrides{ExtraArgs: extraArgs}.Apply(p)
			}
			if cmd.Flags().Changed("istiod") {
				p.Mesh.Istiod = istiod
				if err := p.ValidateWith(observers.Known); err != nil {
					return fmt.Errorf("--istiod %s: %w", istiod, err)
				}
			}
			if cmd.Flags().Changed("cilium") || cmd.Flags().Changed("cilium-real-agents") {
				if cmd.Flags().Changed("cilium") {
					p.Mesh.Cilium = cilium
				}
				if cmd.Flags().Changed("cilium-real-agents") {
					p.Mesh.CiliumRealAgents = ciliumN
				}
				if err := p.ValidateWith(observers.Known); err != nil {
					return fmt.Errorf("--cilium %s --cilium-real-agents %d: %w", p.Mesh.Cilium, p.Mesh.CiliumRealAgents, err)
				}
			}
			if memLimit != "" {
				n, err := parseBytes(memLimit)
				if err != nil {
					return fmt.Errorf("--apiserver-memory-limit %q: %w", memLimit, err)
				}
				opts.APIServerMemoryLimitBytes = n
			}
			if opts.KubernetesVersion != "" && (opts.Kubeconfig != "" || opts.InCluster) {
				return fmt.Errorf("--kubernetes-version %s applies to the local control plane; a --kubeconfig or --in-cluster target runs the release it runs", opts.KubernetesVersion)
			}
			if opts.FromSnapshot != "" && opts.Kubeconfig != "" {
				return fmt.Errorf("--from-snapshot %s restores a local control plane; it cannot be combined with --kubeconfig %s", opts.FromSnapshot, opts.Kubeconfig)
			}
			if opts.FromSnapshot != "" && opts.InCluster {
				return fmt.Errorf("--from-snapshot %s restores a local control plane; it cannot be combined with --in-cluster", opts.FromSnapshot)
			}
			if _, err := agents.ComponentsFor(opts.Agents); err != nil {
				return fmt.Errorf("--agents %s: %w", opts.Agents, err)
			}
			opts.Profile, opts.SLOOverrides = p, overrides
			if err := runner.ValidateTarget(opts); err != nil {
				return err
			}
			if err := runner.CheckRealIstiod(opts); err != nil {
				return err
			}
			if err := runner.CheckRealCilium(opts); err != nil {
				return err
			}
			if err := runner.CheckRollouts(opts); err != nil {
				return err
			}
			stopProfile, err := startCPUProfile(cpuProf)
			if err != nil {
				return err
			}
			defer func() {
				if err := stopProfile(); err != nil {
					logger.Warn("cpu profile", zap.Error(err))
				}
			}()
			opts.Logger, opts.Progress = logger, cmd.OutOrStdout()
			opts.OnTarget = func(l runner.Leftovers) { setForceExitNote(leftoversNote(l)) }
			opts.DisableCPUPriority = !cpuPriority
			if opts.ClusterDir == "" && opts.Keep {
				opts.ClusterDir = defaultClusterDir
			}
			if err := checkRepeat(repeat); err != nil {
				return err
			}
			if opts.Kubeconfig == "" && !opts.InCluster {
				gcDeadRuns(cmd.Context(), cmd.OutOrStdout(), logger)
			}
			if repeat > 1 {
				return runRepeated(cmd, opts, repeat, junitPath)
			}
			outcome, runErr := runner.Run(cmd.Context(), opts)
			if outcome != nil && outcome.Result != nil {
				fmt.Fprintln(cmd.OutOrStdout())
				if err := report.Summary(cmd.OutOrStdout(), outcome.Result, outcome.ReportPath); err != nil {
					logger.Warn("print summary", zap.Error(err))
				}
				if junitPath != "" {
					if err := junit.Write(junitPath, junit.FromRun(outcome.Result)); err != nil {
						return errors.Join(runErr, fmt.Errorf("--junit %s: %w", junitPath, err))
					}
				}
			}
			if runErr != nil {
				return runErr
			}
			if v := outcome.Result.Verdict; v.Inconclusive {
				return &InconclusiveError{Behind: v.Behind}
			} else if !v.Passed {
				return &SLOBreachError{Breached: v.Breached}
			}
			return nil
		},
	}
	f := cmd.Flags()
	wf.register(f, "smoke")
	f.StringVar(&mesh, "mesh", "", "mesh to emulate: none, istio-ambient, cilium, cilium-ces")
	f.StringVar(&cilium, "cilium", "", "with a cilium mesh: emulated (default), or real to run the real cilium-operator and real cilium-agents (bin/cilium-operator-generic and bin/cilium-agent, make cilium; needs root) in place of the emulated ones; see --cilium-real-agents")
	f.IntVar(&ciliumN, "cilium-real-agents", 0, fmt.Sprintf("with --cilium real: how many nodes run a real cilium-agent, spread over the nodes; the others keep the emulated agent (default %d, at most the nodes)", profiles.DefaultCiliumRealAgents))
	f.StringVar(&istiod, "istiod", "", "with an istio mesh: emulated (default), or real to run bin/pilot-discovery (make istiod) in place of the emulated istiod")
	f.StringVar(&opts.Agents, "agents", agents.AgentsInternal, "where the per-node mesh agents run: internal, or external (left to churn agents --shard i/N)")
	f.StringVar(&opts.OutDir, "out", "", "results directory (default churn-results/<run-id>)")
	f.StringVar(&opts.Kubeconfig, "kubeconfig", "", "run against this cluster instead of starting a local control plane")
	f.StringVar(&opts.Context, "context", "", "kubeconfig context to use")
	f.BoolVar(&opts.AllowRemote, "allow-remote", false, "allow a --kubeconfig whose API server is not on loopback, and --in-cluster")
	f.BoolVar(&opts.InCluster, "in-cluster", false, "run against the cluster churn runs in as a pod (deploy/job), with its service account; needs --allow-remote")
	f.StringVar(&opts.KWOK, "kwok", runner.KWOKExternal, "kwok controller for the fake nodes of a --kubeconfig or --in-cluster cluster: external (one runs there, e.g. kubectl apply -k deploy/kwok) or install (churn installs deploy/kwok for the run and removes it after)")
	cmd.MarkFlagsMutuallyExclusive("in-cluster", "kubeconfig")
	cmd.MarkFlagsMutuallyExclusive("in-cluster", "context")
	f.BoolVar(&opts.Keep, "keep", false, "keep the local control plane (in --dir) and the run's objects after the run")
	f.StringVar(&opts.ClusterDir, "dir", "", "local cluster directory (default .churn/runs/<run-id>, or "+defaultClusterDir+" with --keep)")
	f.StringVar(&opts.BinDir, "bin-dir", defaultBinDir, "directory with the control-plane binaries (built by make controlplane)")
	f.StringVar(&opts.KubernetesVersion, "kubernetes-version", "", "run the local control plane on this pinned Kubernetes release, built by make controlplane K8S_VERSION=... (default "+version.Kubernetes+")")
	f.StringVar(&opts.FromSnapshot, "from-snapshot", "", "start from a setup saved by churn snapshot save (a name under "+snapshot.DefaultRoot+", or a path) instead of creating it; local only; one saved with --mesh only for a run of that mesh, which finds the mesh's objects present")
	f.BoolVar(&opts.RestartAPIServer, "restart-apiserver", false, "restart a crashed kube-apiserver, as a kubelet would (local only)")
	f.DurationVar(&opts.RestartDelay, "restart-apiserver-delay", time.Second, "wait before restarting a crashed kube-apiserver (a kubelet waits 10s)")
	extra.register(f)
	f.StringVar(&memLimit, "apiserver-memory-limit", "", "kill kube-apiserver above this RSS and record an OOM kill, e.g. 4Gi (local only)")
	f.StringVar(&cpuProf, "cpu-profile", "", "write a pprof CPU profile of churn itself to this file (go tool pprof FILE)")
	f.BoolVar(&cpuPriority, "cpu-priority", true, "local control plane: give etcd, kube-apiserver, kube-controller-manager and kube-scheduler CPU priority over kwok (cgroup cpu weights, else nice) and their CPU budget (--control-plane-cpus); --cpu-priority=false leaves every process at churn's priority with no budget, and refuses a budget of a given size")
	f.IntVar(&repeat, "repeat", 1, "run the profile this many times in sequence, each with its own results under --out (OUT/1, OUT/2, ...), then judge every SLO by its median across the runs")
	f.StringVar(&junitPath, "junit", "", "also write the verdict as JUnit XML to this file: a test suite per run (and one for the median of repeated runs), a test case per SLO")
	f.StringVar(&opts.MetricsAddr, "metrics-addr", "", "serve churn's own Prometheus metrics on this loopback address, e.g. "+selfmetrics.DefaultAddr+" (off when empty)")
	return cmd
}
