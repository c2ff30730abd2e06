package cli

import (
	"fmt"
	"strings"

	"github.com/spf13/cobra"
	"go.uber.org/zap"

	"github.com/churn-dev/churn/observers"
	"github.com/churn-dev/churn/report"
	"github.com/churn-dev/churn/results"
)

const compareLong = `Compare runs side by side.

With two directories: the pre-upgrade gate.

BASE_DIR and CANDIDATE_DIR are run output directories (or their
results.json files), e.g. the same profile run on the current Kubernetes
release and on the next one. The table holds every SLO and key figure side
by side with the change, each run's verdict, the simulator's checks and,
when a mesh ran, its install phase (reported, not judged). Exit status:
3 when the candidate is inconclusive (its simulator fell behind, so its
figures are not the API server's alone), whatever else it shows; else 2
when the candidate breached an SLO, or when a figure got worse than the
base by more than --max-regression and by more than its noise floor;
1 on bad input; 0 otherwise.

Comparisons are only meaningful on identical churn: runs with another
profile, seed or churn plan are compared, with a warning.

With --profile: run arms side by side, each on a fresh local control plane
with the same profile and seed (so the same churn sequence), changing one
thing per arm: the mesh (--mesh istio-ambient,cilium), the Kubernetes
release (--kubernetes-version v1.36.3,v1.37.2) or kube-apiserver's extra
arguments (--apiserver-args once per arm, "default" for the profile's own:
--apiserver-args default --apiserver-args=--max-requests-inflight=50).
Each arm writes its own
results and report under --out; comparison.html and comparison.json hold
the arms side by side: SLO verdicts, API server latency, errors, CPU and
memory on shared axes, watch load, re-lists, propagation delay and churn's
own cost, each arm's install phase and simulator checks, with the findings
in plain words.

--from-snapshot NAME warm-starts every arm from the same saved setup
(churn snapshot save); the snapshot is checked against every arm before
the first starts: it must exist, hold this profile's setup and match the
binaries (and every --kubernetes-version) the arms would run.

Exit status of the arms: 130 when interrupted; else 1 when an arm could not
run; else 2 when an arm that was not inconclusive breached an SLO; else 3
when an arm was inconclusive (its simulator fell behind); else 0.`

// RegressionError reports that a candidate run failed the compare gate. It
// maps to exit status 2, like an SLO breach.
type RegressionError struct {
	// Breached names the SLOs the candidate breached.
	Breached []string
	// Regressed describes each figure that regressed: "name base ->
	// candidate (change)".
	Regressed []string
	// Tolerance is the --max-regression it was judged with.
	Tolerance string
}

func (e *RegressionError) Error() string {
	var parts []string
	if len(e.Breached) > 0 {
		parts = append(parts, "SLO breached by the candidate: "+strings.Join(e.Breached, ", "))
	}
	if len(e.Regressed) > 0 {
		parts = append(parts, "regressed beyond "+e.Tolerance+": "+strings.Join(e.Regressed, ", "))
	}
	return "candidate failed the gate: " + strings.Join(parts, "; ")
}

// newCompareCommand builds "churn compare BASE_DIR CANDIDATE_DIR".
func newCompareCommand(logger *zap.Logger) *cobra.Command {
	var maxRegression, format string
	var arms armsFlags
	cmd := &cobra.Command{
		Use:   "compare BASE_DIR CANDIDATE_DIR | compare --profile P --mesh A,B[,C]",
		Short: "Gate a candidate run against a base run, or run arms side by side",
		Long:  compareLong,
		Example: `  churn compare churn-results/v1.37 churn-results/v1.38 --max-regression 10%
  churn compare --profile 10k-pods --mesh istio-ambient,cilium
  churn compare --profile 50k-pods --from-snapshot 50k --mesh none,istio-ambient,cilium
  churn compare --profile smoke --kubernetes-version v1.36.3,v1.37.2
  churn compare --profile 1k-pods --apiserver-args default --apiserver-args=--max-mutating-requests-inflight=1`,
		Args: func(cmd *cobra.Command, args []string) error {
			if cmd.Flags().Changed("profile") {
				if len(args) > 0 {
					return fmt.Errorf("--profile runs new arms; it takes no run directories (got %d)", len(args))
				}
				return nil
			}
			return cobra.ExactArgs(2)(cmd, args)
		},
		RunE: func(cmd *cobra.Command, args []string) error {
			if cmd.Flags().Changed("profile") {
				return runArms(cmd, &arms, logger)
			}
			if arms.fromSnapshot != "" {
				return fmt.Errorf("--from-snapshot %s warm-starts arms: it needs --profile, not run directories", arms.fromSnapshot)
			}
			if len(arms.apiServerArms) > 0 {
				return fmt.Errorf("--apiserver-args makes arms: it needs --profile, not run directories")
			}
			tol, err := report.ParseTolerance(maxRegression)
			if err != nil {
				return fmt.Errorf("--max-regression: %w", err)
			}
			if format != "text" && format != "json" {
				return fmt.Errorf("--format %q: want text or json", format)
			}
			base, err := results.Read(args[0])
			if err != nil {
				return fmt.Errorf("base run: %w", err)
			}
			cand, err := results.Read(args[1])
			if err != nil {
				return fmt.Errorf("candidate run: %w", err)
			}
			c := report.Compare(base, cand, tol)
			if format == "json" {
				// Keep stdout pure JSON; the warnings are in it too.
				for _, w := range c.Warnings {
					fmt.Fprintf(cmd.ErrOrStderr(), "warning: %s\n", w)
				}
				err = report.WriteComparisonJSON(cmd.OutOrStdout(), c)
			} else {
				err = report.WriteComparison(cmd.OutOrStdout(), c)
			}
			if err != nil {
				return err
			}
			return gateError(c)
		},
	}
	cmd.Flags().StringVar(&maxRegression, "max-regression", "10%",
		`how much worse than the base a figure may get, as "10%" or "0.1"`)
	cmd.Flags().StringVar(&format, "format", "text", "output format: text or json")
	registerArmsFlags(cmd, &arms)
	return cmd
}

// gateError is nil when the candidate passes the gate. An inconclusive
// candidate is an InconclusiveError (exit 3) whatever its figures say:
// they are the simulator's as much as the API server's, so neither a pass
// nor a regression of them can be trusted.
func gateError(c report.Comparison) error {
	if c.Inconclusive() {
		return &InconclusiveError{Behind: c.Candidate.Behind}
	}
	if c.Passed() {
		return nil
	}
	e := &RegressionError{Breached: c.Breached, Tolerance: observers.FormatPercent(c.Tolerance)}
	for _, r := range c.Regressed {
		e.Regressed = append(e.Regressed, report.DescribeChange(r))
	}
	return e
}
