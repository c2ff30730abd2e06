package cli

import (
	"context"
	"fmt"
	"io"

	"github.com/spf13/cobra"
	"go.uber.org/zap"

	"github.com/churn-dev/churn/deploy/local"
	"github.com/churn-dev/churn/snapshot"
)

// defaultRunsDir holds the cluster directory of each local run.
const defaultRunsDir = ".churn/runs"

const gcLong = `Remove what dead runs left in ` + defaultRunsDir + `: the etcd data,
certificates, kubeconfigs and state of a run whose churn process was killed
(SIGKILL, out of memory, a lost terminal), and, with --logs, the logs every
finished run keeps for its post-mortem.

A directory whose churn process still runs is never touched (it holds the
directory's lock), nor one where a churn up cluster runs, nor data kept on
purpose. churn run and churn down do the same clean-up (without --logs)
before they start.`

func newGCCommand(logger *zap.Logger) *cobra.Command {
	var (
		root string
		opts local.GCOptions
	)
	cmd := &cobra.Command{
		Use:   "gc",
		Short: "Remove the local cluster directories of dead runs",
		Long:  gcLong,
		Example: `  churn gc --dry-run
  churn gc --logs`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			dirs, err := local.GC(withoutCancel(cmd), root, opts, logger)
			printGC(cmd.OutOrStdout(), dirs, true)
			return err
		},
	}
	f := cmd.Flags()
	f.StringVar(&root, "root", defaultRunsDir, "directory holding one cluster directory per run")
	f.BoolVar(&opts.Logs, "logs", false, "also remove the logs finished runs keep")
	f.BoolVar(&opts.DryRun, "dry-run", false, "say what would be removed, remove nothing")
	return cmd
}

// printGC prints what GC did; all also prints the skipped directories and a
// line when there was nothing to do.
func printGC(w io.Writer, dirs []local.GCDir, all bool) {
	var freed int64
	n := 0
	for _, d := range dirs {
		if d.Action == "skipped" {
			if all {
				fmt.Fprintf(w, "gc: %s: skipped: %s\n", d.Dir, d.Why)
			}
			continue
		}
		n++
		freed += d.Bytes
		fmt.Fprintf(w, "gc: %s: %s, %s (%s)\n", d.Dir, d.Action, snapshot.FormatBytes(d.Bytes), d.Why)
	}
	if n > 0 {
		fmt.Fprintf(w, "gc: %d run directories, %s\n", n, snapshot.FormatBytes(freed))
	} else if all {
		fmt.Fprintln(w, "gc: nothing to remove")
	}
}

// gcDeadRuns cleans up after dead runs before a local cluster starts, so a
// crashed run's gigabytes of etcd data do not pile up. Failures are only
// logged: they must not stop the run.
func gcDeadRuns(ctx context.Context, w io.Writer, logger *zap.Logger) {
	dirs, err := local.GC(ctx, defaultRunsDir, local.GCOptions{}, logger)
	if err != nil {
		logger.Warn("cleaning up after dead runs", zap.Error(err))
	}
	printGC(w, dirs, false)
}
