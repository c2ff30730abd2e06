package cli

import (
	"fmt"
	"strings"

	"github.com/spf13/cobra"

	"github.com/churn-dev/churn/observers"
	"github.com/churn-dev/churn/report"
	"github.com/churn-dev/churn/results"
)

const compareLong = `Compare two runs' results: the pre-upgrade gate.

BASE_DIR and CANDIDATE_DIR are run output directories (or their
results.json files), e.g. the same profile run on the current Kubernetes
release and on the next one. The table holds every SLO and key figure side
by side with the change. The exit status is 2 when the candidate breached
an SLO, or when a figure got worse than the base by more than
--max-regression and by more than its noise floor; 0 otherwise.

Comparisons are only meaningful on identical churn: runs with another
profile, seed or churn plan are compared, with a warning.`

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
func newCompareCommand() *cobra.Command {
	var maxRegression, format string
	cmd := &cobra.Command{
		Use:   "compare BASE_DIR CANDIDATE_DIR",
		Short: "Compare two runs and gate on SLO breaches and regressions",
		Long:  compareLong,
		Args:  cobra.ExactArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
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
	return cmd
}

// gateError is nil when the candidate passes the gate.
func gateError(c report.Comparison) error {
	if c.Passed() {
		return nil
	}
	e := &RegressionError{Breached: c.Breached, Tolerance: observers.FormatPercent(c.Tolerance)}
	for _, r := range c.Regressed {
		e.Regressed = append(e.Regressed, report.DescribeChange(r))
	}
	return e
}
