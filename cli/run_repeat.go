package cli

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"time"

	"github.com/spf13/cobra"

	"github.com/churn-dev/churn/junit"
	"github.com/churn-dev/churn/report"
	"github.com/churn-dev/churn/results"
	"github.com/churn-dev/churn/runner"
)

// repeatsFile holds the combined verdict of repeated runs in --out.
const repeatsFile = "repeats.json"

// runRepeated runs the profile n times in sequence, each into its own
// results directory, and judges the SLOs by their medians. The first run
// that fails (or an interrupt) stops the sequence.
func runRepeated(cmd *cobra.Command, opts runner.Options, n int, junitPath string) error {
	if opts.Keep {
		return fmt.Errorf("--keep with --repeat %d: every run starts a fresh control plane; keep one run at a time", n)
	}
	out := cmd.OutOrStdout()
	dir := opts.OutDir
	if dir == "" {
		id, err := runner.NewRunID(time.Now())
		if err != nil {
			return err
		}
		dir = filepath.Join("churn-results", "repeat-"+id)
	}
	fmt.Fprintf(out, "Running profile %s %d times; results: %s\n", opts.Profile.Name, n, dir)
	var rs []*results.Result
	var dirs []string
	var suites []junit.Suite
	for i := 1; i <= n; i++ {
		o := opts
		o.OutDir = filepath.Join(dir, strconv.Itoa(i))
		if opts.ClusterDir != "" {
			o.ClusterDir = filepath.Join(opts.ClusterDir, strconv.Itoa(i))
		}
		fmt.Fprintf(out, "\n=== run %d/%d ===\n", i, n)
		outcome, err := runner.Run(cmd.Context(), o)
		if outcome != nil && outcome.Result != nil {
			fmt.Fprintln(out)
			if err := report.Summary(out, outcome.Result, outcome.ReportPath); err != nil {
				return err
			}
			rs, dirs = append(rs, outcome.Result), append(dirs, o.OutDir)
			suites = append(suites, junit.FromRun(outcome.Result))
		}
		if err != nil {
			if cmd.Context().Err() != nil {
				return fmt.Errorf("repeats stopped at run %d of %d: %w", i, n, ErrInterrupted)
			}
			return fmt.Errorf("run %d of %d: %w", i, n, err)
		}
	}
	rep := report.SummarizeRepeats(rs, dirs)
	fmt.Fprintln(out)
	if err := report.WriteRepeats(out, rep); err != nil {
		return err
	}
	b, err := json.MarshalIndent(rep, "", "  ")
	if err != nil {
		return fmt.Errorf("encode %s: %w", repeatsFile, err)
	}
	if err := os.WriteFile(filepath.Join(dir, repeatsFile), append(b, '\n'), 0o644); err != nil {
		return fmt.Errorf("write %s: %w", repeatsFile, err)
	}
	if junitPath != "" {
		if err := junit.Write(junitPath, append(suites, junit.FromRepeats(rep))...); err != nil {
			return fmt.Errorf("--junit %s: %w", junitPath, err)
		}
	}
	switch {
	case rep.Inconclusive():
		return &InconclusiveError{Behind: rep.Runs.Behind}
	case len(rep.Breached) > 0:
		return &SLOBreachError{Breached: rep.Breached}
	}
	return nil
}
