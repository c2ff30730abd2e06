package cli

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/spf13/cobra"
	"go.uber.org/zap"

	"github.com/churn-dev/churn/junit"
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

With several runs per side (--base DIR... --candidate DIR..., globs
expanded, e.g. from churn run --repeat): each figure's sides are their
medians with their noise (95% confidence interval, or the range below 6
runs), and a figure regresses only when the change is significant
(Mann-Whitney U, p <= 0.05) and beyond --max-regression and its noise
floor; otherwise it is "no significant change", with the reason (too few
samples: 4 runs per side are needed to detect a change; too noisy; ...).
An SLO breaches on a side when its median does. With one run on a side no
significance can be judged, and the single-run rule above applies,
labelled as such. --format markdown writes a pull-request comment;
--junit FILE writes JUnit XML (a test case per SLO and judged figure).

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
binaries (and every --kubernetes-version) the arms would run. Each mesh arm
then pays its mesh's install. --from-snapshot none=50k,cilium=50k-cilium
starts each mesh arm from its own snapshot instead, e.g. one saved with
that mesh running and settled (churn snapshot save --mesh), which serves
only that mesh's arm.

--repeat N runs every arm N times, interleaved (arm1 #1, arm2 #1, arm1 #2,
...) so drift in the machine hits every arm alike, and judges each arm
against the first by the statistics of their runs; each arm's verdict is
then its runs' combined one (an SLO breaches when its median does).

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
	var baseDirs, candDirs []string
	var arms armsFlags
	cmd := &cobra.Command{
		Use:   "compare BASE_DIR CANDIDATE_DIR | compare --base DIR... --candidate DIR... | compare --profile P --mesh A,B[,C]",
		Short: "Gate a candidate run against a base run, or run arms side by side",
		Long:  compareLong,
		Example: `  churn compare churn-results/v1.37 churn-results/v1.38 --max-regression 10%
  churn compare --base 'churn-results/v1.37/*' --candidate 'churn-results/v1.38/*' --format markdown
  churn compare --profile 10k-pods --mesh istio-ambient,cilium
  churn compare --profile 50k-pods --from-snapshot 50k --mesh none,istio-ambient,cilium --repeat 5
  churn compare --profile smoke --kubernetes-version v1.36.3,v1.37.2
  churn compare --profile 1k-pods --apiserver-args default --apiserver-args=--max-mutating-requests-inflight=1`,
		Args: func(cmd *cobra.Command, args []string) error {
			sides := cmd.Flags().Changed("base") || cmd.Flags().Changed("candidate")
			switch {
			case cmd.Flags().Changed("profile"):
				if len(args) > 0 || sides {
					return fmt.Errorf("--profile runs new arms; it takes no run directories (got %d, --base %v, --candidate %v)", len(args), baseDirs, candDirs)
				}
				return nil
			case sides:
				if len(args) > 0 {
					return fmt.Errorf("give the runs either as BASE_DIR CANDIDATE_DIR or with --base and --candidate, not both (got %s)", strings.Join(args, " "))
				}
				if len(baseDirs) == 0 || len(candDirs) == 0 {
					return errors.New("--base and --candidate go together: give at least one run directory (or glob) for each")
				}
				return nil
			}
			return cobra.ExactArgs(2)(cmd, args)
		},
		RunE: func(cmd *cobra.Command, args []string) error {
			tol, err := report.ParseTolerance(maxRegression)
			if err != nil {
				return fmt.Errorf("--max-regression: %w", err)
			}
			if cmd.Flags().Changed("profile") {
				arms.tolerance = tol
				return runArms(cmd, &arms, logger)
			}
			if arms.fromSnapshot != "" {
				return fmt.Errorf("--from-snapshot %s warm-starts arms: it needs --profile, not run directories", arms.fromSnapshot)
			}
			if len(arms.apiServerArms) > 0 {
				return fmt.Errorf("--apiserver-args makes arms: it needs --profile, not run directories")
			}
			if cmd.Flags().Changed("repeat") {
				return fmt.Errorf("--repeat %d runs arms again: it needs --profile; to compare repeated runs pass them all with --base and --candidate", arms.repeat)
			}
			if err := checkFormat(format); err != nil {
				return err
			}
			baseFlag, candFlag := "--base", "--candidate"
			if len(args) == 2 {
				baseDirs, candDirs = args[:1], args[1:]
				baseFlag, candFlag = "base run", "candidate run"
			}
			base, err := readSide(baseFlag, baseDirs)
			if err != nil {
				return err
			}
			cand, err := readSide(candFlag, candDirs)
			if err != nil {
				return err
			}
			c := report.CompareRuns(base, cand, tol)
			if err := writeComparison(cmd, c, format); err != nil {
				return err
			}
			if arms.junit != "" {
				if err := junit.Write(arms.junit, junit.FromComparison(c)); err != nil {
					return fmt.Errorf("--junit %s: %w", arms.junit, err)
				}
			}
			return gateError(c)
		},
	}
	cmd.Flags().StringVar(&maxRegression, "max-regression", "10%",
		`how much worse than the base a figure may get, as "10%" or "0.1"`)
	cmd.Flags().StringVar(&format, "format", "text", "output format: text, markdown (a pull-request comment) or json")
	cmd.Flags().StringArrayVar(&baseDirs, "base", nil, "base run directory or glob; repeat the flag (or use a glob) for several runs, judged by their statistics")
	cmd.Flags().StringArrayVar(&candDirs, "candidate", nil, "candidate run directory or glob; repeat the flag (or use a glob) for several runs")
	registerArmsFlags(cmd, &arms)
	return cmd
}

// checkFormat refuses a --format other than text, markdown or json.
func checkFormat(format string) error {
	switch format {
	case "text", "markdown", "json":
		return nil
	}
	return fmt.Errorf("--format %q: want text, markdown or json", format)
}

// writeComparison prints c in format to stdout.
func writeComparison(cmd *cobra.Command, c report.Comparison, format string) error {
	switch format {
	case "json":
		// Keep stdout pure JSON; the warnings are in it too.
		for _, w := range c.Warnings {
			fmt.Fprintf(cmd.ErrOrStderr(), "warning: %s\n", w)
		}
		return report.WriteComparisonJSON(cmd.OutOrStdout(), c)
	case "markdown":
		return report.WriteComparisonMarkdown(cmd.OutOrStdout(), c)
	}
	return report.WriteComparison(cmd.OutOrStdout(), c)
}

// readSide reads the runs of one side of a comparison: each directory or
// results.json, globs expanded. The runs must share the profile, mesh and
// Kubernetes release, or their statistics would mix two populations.
func readSide(flag string, patterns []string) ([]*results.Result, error) {
	var paths []string
	for _, p := range patterns {
		if !strings.ContainsAny(p, "*?[") {
			paths = append(paths, p)
			continue
		}
		matches, err := filepath.Glob(p)
		if err != nil {
			return nil, fmt.Errorf("%s %q: %w", flag, p, err)
		}
		if len(matches) == 0 {
			return nil, fmt.Errorf("%s %q: no such run directory", flag, p)
		}
		for _, m := range matches {
			// A glob over a --repeat directory also matches its summary files.
			if st, err := os.Stat(m); err == nil && !st.IsDir() && filepath.Base(m) != results.FileName {
				continue
			}
			paths = append(paths, m)
		}
	}
	var rs []*results.Result
	for _, p := range paths {
		r, err := results.Read(p)
		if err != nil {
			return nil, fmt.Errorf("%s %s: %w", flag, p, err)
		}
		if len(rs) > 0 {
			if err := sameSide(rs[0], r); err != nil {
				return nil, fmt.Errorf("%s %s: %w than %s; every run of a side must be of the same profile, mesh and release", flag, p, err, paths[0])
			}
		}
		rs = append(rs, r)
	}
	if len(rs) == 0 {
		return nil, fmt.Errorf("%s: no run directories", flag)
	}
	return rs, nil
}

func sameSide(first, r *results.Result) error {
	switch {
	case r.Profile.Name != first.Profile.Name:
		return fmt.Errorf("profile %q is another", r.Profile.Name)
	case orDefault(r.Mesh, "none") != orDefault(first.Mesh, "none"):
		return fmt.Errorf("mesh %q is another", r.Mesh)
	case r.Target.KubernetesVersion != first.Target.KubernetesVersion:
		return fmt.Errorf("Kubernetes %q is another", r.Target.KubernetesVersion)
	}
	return nil
}

func orDefault(s, def string) string {
	if s == "" {
		return def
	}
	return s
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
