package cli

import (
	"fmt"
	"strings"
	"text/tabwriter"

	"github.com/spf13/cobra"
	"go.uber.org/zap"

	"github.com/churn-dev/churn/runner"
)

const cleanupLong = `Delete what a run left on a cluster: everything labelled
churn.dev/run=RUN (its namespaces and all in them, its fake nodes, what its
emulated mesh wrote, and the kwok controller if churn installed it). A run
removes its own objects when it ends; this is for one that could not (a
second Ctrl-C, a killed churn, a lost connection).

It deletes by that label only, so nothing another run or anyone else created
is touched. --list shows the runs whose objects are on the cluster.`

func newCleanupCommand(logger *zap.Logger) *cobra.Command {
	var (
		kubeconfig, kubeContext, run string
		allowRemote, list            bool
	)
	cmd := &cobra.Command{
		Use:   "cleanup --kubeconfig FILE (--run RUN | --list)",
		Short: "Delete the objects a run left on a cluster, by its run label",
		Long:  cleanupLong,
		Example: `  churn cleanup --kubeconfig staging.yaml --allow-remote --list
  churn cleanup --kubeconfig staging.yaml --allow-remote --run 20261203-131747-3fad`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if kubeconfig == "" {
				return fmt.Errorf("--kubeconfig is required: the cluster to clean (a local run's control plane stops with churn; see churn gc)")
			}
			if list == (run != "") {
				return fmt.Errorf("give exactly one of --run RUN or --list")
			}
			cfg, client, err := runner.CleanupTarget(kubeconfig, kubeContext, allowRemote)
			if err != nil {
				return err
			}
			ctx := withoutCancel(cmd)
			if list {
				runs, err := runner.ListRunObjects(ctx, client)
				if err != nil {
					return err
				}
				if len(runs) == 0 {
					fmt.Fprintln(cmd.OutOrStdout(), "no churn run objects on this cluster")
					return nil
				}
				tw := tabwriter.NewWriter(cmd.OutOrStdout(), 0, 4, 2, ' ', 0)
				fmt.Fprintln(tw, "RUN\tNAMESPACES\tFAKE NODES")
				for _, r := range runs {
					fmt.Fprintf(tw, "%s\t%d\t%d\n", r.RunLabel, r.Namespaces, r.Nodes)
				}
				return tw.Flush()
			}
			return runner.RemoveRunObjects(ctx, runner.RemoveOptions{
				Config: cfg, Client: client, RunLabel: run, Mesh: true, KWOK: true,
				Progress: cmd.OutOrStdout(), Logger: logger,
			})
		},
	}
	f := cmd.Flags()
	f.StringVar(&kubeconfig, "kubeconfig", "", "the cluster the run used")
	f.StringVar(&kubeContext, "context", "", "kubeconfig context to use")
	f.BoolVar(&allowRemote, "allow-remote", false, "allow a --kubeconfig whose API server is not on loopback")
	f.StringVar(&run, "run", "", "the run whose objects to delete (its churn.dev/run label value, printed at the start of the run)")
	f.BoolVar(&list, "list", false, "list the runs whose namespaces or fake nodes are on the cluster")
	return cmd
}

// leftoversNote says what exiting without teardown leaves and how to remove
// it.
func leftoversNote(l runner.Leftovers) string {
	if l.ClusterDir != "" {
		return fmt.Sprintf("churn: the local control plane stops with churn; its data stays in %s until `churn gc` (or the next churn run) removes it", l.ClusterDir)
	}
	kubeconfig := l.Kubeconfig
	if kubeconfig == "" {
		kubeconfig = "<a kubeconfig for " + l.Server + ">"
	}
	cmd := []string{"churn cleanup", "--kubeconfig", kubeconfig}
	if l.Context != "" {
		cmd = append(cmd, "--context", l.Context)
	}
	cmd = append(cmd, "--allow-remote", "--run", l.RunLabel)
	return fmt.Sprintf("churn: left on %s: everything labelled churn.dev/run=%s; remove it with:\n  %s", l.Server, l.RunLabel, strings.Join(cmd, " "))
}
