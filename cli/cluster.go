package cli

import (
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"
	"go.uber.org/zap"
	"k8s.io/client-go/kubernetes"

	"github.com/churn-dev/churn/deploy/local"
	"github.com/churn-dev/churn/fakenodes"
	"github.com/churn-dev/churn/profiles"
	"github.com/churn-dev/churn/runner"
	"github.com/churn-dev/churn/version"
)

// Default locations, relative to the working directory, so that a checkout
// keeps its clusters and binaries together.
const (
	defaultClusterDir = ".churn/cluster"
	defaultBinDir     = "bin"
	maxNodes          = 5000 // the Kubernetes scalability threshold
)

type clusterFlags struct {
	dir    string
	binDir string
}

func (f *clusterFlags) register(cmd *cobra.Command) {
	cmd.Flags().StringVar(&f.dir, "dir", defaultClusterDir, "directory holding the local cluster's state, certificates, logs and data")
	cmd.Flags().StringVar(&f.binDir, "bin-dir", defaultBinDir, "directory with etcd, kube-apiserver, kube-controller-manager, kube-scheduler and kwok (built by make controlplane)")
}

func newUpCommand(logger *zap.Logger) *cobra.Command {
	var (
		cf          clusterFlags
		nodes       int
		opts        local.Options
		cpuPriority bool
		cpus        string
		extra       extraArgsFlags
	)
	cmd := &cobra.Command{
		Use:   "up",
		Short: "Start a local control plane with KWOK fake nodes",
		Long: `Start etcd, kube-apiserver, kube-controller-manager, kube-scheduler and the
kwok controller on loopback, create N fake nodes, wait until they are Ready,
and print the kubeconfig to use. Stop it with 'churn down'.

Ports are chosen free unless set. Each process logs to DIR/logs/<name>.log.

With --apiservers N, N kube-apiservers (kube-apiserver, kube-apiserver-2, ...)
share the one etcd behind HAProxy, which checks each one's /readyz every
second; the kubeconfig and every component go through it.

The control plane gets a CPU budget (--control-plane-cpus, default auto: 75%
of the CPUs online), a cgroup quota set before its first process starts,
so kwok, and a churn run pointed at the cluster with --kubeconfig, keep the
rest of the machine.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if nodes < 1 || nodes > maxNodes {
				return fmt.Errorf("--nodes %d: must be between 1 and %d", nodes, maxNodes)
			}
			if opts.APIServers < 1 || opts.APIServers > profiles.MaxAPIServers {
				return fmt.Errorf("--apiservers %d: must be between 1 and %d", opts.APIServers, profiles.MaxAPIServers)
			}
			extraArgs, err := extra.parse()
			if err != nil {
				return err
			}
			opts.ExtraArgs = extraArgs
			c := profiles.CPUs(cpus)
			if err := runner.CheckCPUBudget("--"+controlPlaneCPUsFlag, c, cpuPriority); err != nil {
				return err
			}
			if opts.ControlPlaneCPUs, err = runner.CPUBudgetRequest(c); err != nil {
				return fmt.Errorf("--%s %q: %w", controlPlaneCPUsFlag, cpus, err)
			}
			ctx := cmd.Context()
			out := cmd.OutOrStdout()
			opts.Dir, opts.BinDir, opts.Logger, opts.Progress = cf.dir, cf.binDir, logger, out
			opts.Detach = true
			opts.DisableCPUPriority = !cpuPriority
			start := time.Now()
			cluster, err := local.Up(ctx, opts)
			if err != nil {
				return fmt.Errorf("start local control plane: %w", err)
			}
			if err := addNodes(cmd, cluster, nodes); err != nil {
				// Nothing half-started is left behind.
				if stopErr := cluster.Stop(withoutCancel(cmd), false); stopErr != nil {
					logger.Error("stop after failed up", zap.Error(stopErr))
				}
				return err
			}
			kc, _ := filepath.Abs(cluster.Kubeconfig())
			fmt.Fprintf(out, "\ncontrol plane up with %d Ready nodes in %s\n", nodes, time.Since(start).Round(time.Second))
			fmt.Fprintf(out, "  kubectl --kubeconfig %s get nodes\n", kc)
			fmt.Fprintf(out, "  export KUBECONFIG=%s\n", kc)
			fmt.Fprintf(out, "stop it with: churn down --dir %s\n", cf.dir)
			return nil
		},
	}
	cf.register(cmd)
	cmd.Flags().IntVar(&nodes, "nodes", 5, fmt.Sprintf("number of KWOK fake nodes (1-%d)", maxNodes))
	cmd.Flags().IntVar(&opts.Ports.APIServer, "apiserver-port", 0, "kube-apiserver secure port (0 = pick a free one); with --apiservers, the first API server's")
	cmd.Flags().IntVar(&opts.APIServers, "apiservers", 1, fmt.Sprintf("run this many kube-apiservers on the one etcd behind an HAProxy load balancer (Debian package haproxy), which the kubeconfig points at (1-%d)", profiles.MaxAPIServers))
	cmd.Flags().IntVar(&opts.Ports.Etcd, "etcd-port", 0, "etcd client port (0 = pick a free one)")
	cmd.Flags().BoolVar(&cpuPriority, "cpu-priority", true, "give etcd, kube-apiserver, kube-controller-manager and kube-scheduler CPU before kwok (cgroup cpu.shares or cpu.weight, else nice) and their CPU budget (--control-plane-cpus); --cpu-priority=false runs without a budget and refuses one of a given size")
	registerControlPlaneCPUs(cmd.Flags(), &cpus, string(profiles.CPUsAuto), "")
	extra.register(cmd.Flags())
	cmd.Flags().StringVar(&opts.KubernetesVersion, "kubernetes-version", "", "start this pinned Kubernetes release, built by make controlplane K8S_VERSION=... (default "+version.Kubernetes+")")
	return cmd
}

func addNodes(cmd *cobra.Command, cluster *local.Cluster, n int) error {
	client, err := kubernetes.NewForConfig(cluster.RESTConfig())
	if err != nil {
		return fmt.Errorf("client for local cluster: %w", err)
	}
	ctx := cmd.Context()
	out := cmd.OutOrStdout()
	if _, err := fakenodes.Create(ctx, client, fakenodes.Spec{Count: n}, out); err != nil {
		return fmt.Errorf("create %d fake nodes: %w", n, err)
	}
	if err := fakenodes.WaitReady(ctx, client, fakenodes.LabelSelector, n, out); err != nil {
		return fmt.Errorf("wait for %d nodes Ready: %w", n, err)
	}
	return nil
}

func newDownCommand(logger *zap.Logger) *cobra.Command {
	var (
		cf       clusterFlags
		keepData bool
	)
	cmd := &cobra.Command{
		Use:   "down",
		Short: "Stop the local control plane and remove its data",
		Long: `Stop every process of the local cluster in DIR in reverse start order and
remove its data. Works after churn crashed: processes are found through
DIR/state.json and checked against their recorded start time, so no other
process is ever signalled. Like churn gc, it also removes what dead runs
left in ` + defaultRunsDir + `.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			gcDeadRuns(withoutCancel(cmd), cmd.OutOrStdout(), logger)
			if err := local.Down(withoutCancel(cmd), cf.dir, keepData, logger); err != nil {
				return fmt.Errorf("stop cluster in %s: %w", cf.dir, err)
			}
			fmt.Fprintf(cmd.OutOrStdout(), "cluster in %s stopped\n", cf.dir)
			return nil
		},
	}
	cf.register(cmd)
	cmd.Flags().BoolVar(&keepData, "keep-data", false, "keep etcd data, certificates and logs")
	return cmd
}

func newStatusCommand() *cobra.Command {
	var cf clusterFlags
	cmd := &cobra.Command{
		Use:   "status",
		Short: "Say what the local cluster runs, where, and since when",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			st, err := local.StatusReport(cf.dir)
			if errors.Is(err, os.ErrNotExist) {
				fmt.Fprintf(cmd.OutOrStdout(), "no cluster in %s\n", cf.dir)
				return nil
			}
			if err != nil {
				return fmt.Errorf("status of %s: %w", cf.dir, err)
			}
			printStatus(cmd.OutOrStdout(), st)
			return nil
		},
	}
	cf.register(cmd)
	return cmd
}

func printStatus(w io.Writer, st *local.Status) {
	state := "running"
	if !st.Running() {
		state = "NOT fully running (run `churn down --dir " + st.Dir + "` to clean up)"
	}
	owner := "exited"
	if st.OwnerAlive {
		owner = "alive"
	}
	fmt.Fprintf(w, "cluster %s: %s\n", st.Dir, state)
	fmt.Fprintf(w, "  api server  %s\n  kubeconfig  %s\n  started by  pid %d (%s)\n", st.APIServerURL, st.Kubeconfig, st.OwnerPID, owner)
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "  PROCESS\tPID\tSTATE\tSINCE\tPORTS\tLOG")
	for _, p := range st.Processes {
		alive := "running"
		if !p.Alive {
			alive = "gone"
		}
		ports := make([]string, len(p.Ports))
		for i, port := range p.Ports {
			ports[i] = strconv.Itoa(port)
		}
		fmt.Fprintf(tw, "  %s\t%d\t%s\t%s (%s ago)\t%s\t%s\n", p.Name, p.PID, alive,
			p.Since.Local().Format(time.DateTime), time.Since(p.Since).Round(time.Second), strings.Join(ports, ","), p.LogFile)
	}
	_ = tw.Flush()
}
