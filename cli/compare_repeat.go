package cli

import (
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/spf13/cobra"

	"github.com/churn-dev/churn/junit"
	"github.com/churn-dev/churn/report"
	"github.com/churn-dev/churn/results"
)

// interleave is the order the arms run in: with n > 1 repeats, every arm
// once, then every arm again, so drift in the machine (thermal, page
// cache, a neighbour's load) hits every arm alike rather than the last.
func interleave(specs []armSpec, n int) []armSpec {
	if n <= 1 {
		return specs
	}
	out := make([]armSpec, 0, n*len(specs))
	for r := 1; r <= n; r++ {
		for _, s := range specs {
			s.repeat = r
			out = append(out, s)
		}
	}
	return out
}

// dirName is the arm's results (and cluster) sub-directory: the arm's
// name, and its run number with --repeat (cilium/2).
func (s armSpec) dirName() string {
	base := s.dir
	if base == "" {
		base = s.name
	}
	if s.repeat == 0 {
		return base
	}
	return filepath.Join(base, strconv.Itoa(s.repeat))
}

func (s armSpec) label() string {
	if s.repeat == 0 {
		return s.name
	}
	return fmt.Sprintf("%s #%d", s.name, s.repeat)
}

// checkRepeat refuses a --repeat below 1.
func checkRepeat(n int) error {
	if n < 1 {
		return fmt.Errorf("--repeat %d: want 1 or more runs", n)
	}
	return nil
}

// reportRepeatedArms writes the side-by-side report of the first repeat,
// then judges every arm against the first by the statistics of all their
// runs (comparison-<arm dir>.md and .json under dir, e.g.
// comparison-arm-2.md). The exit status is the
// arms' as without repeats, each arm judged by its runs' combined
// verdict: an SLO breaches when its median does, an arm is inconclusive
// when most of its runs were.
func reportRepeatedArms(cmd *cobra.Command, a *armsFlags, dir string, nArms int, arms []report.Arm, interrupted error) error {
	out := cmd.OutOrStdout()
	first := arms[:min(nArms, len(arms))]
	c := report.CompareArms(first)
	fmt.Fprintln(out)
	if err := report.WriteArms(out, c); err != nil {
		return err
	}
	path, err := report.WriteArmsFiles(dir, c, first)
	if err != nil {
		return err
	}
	fmt.Fprintf(out, "\nSide-by-side report of the first run of each arm: %s\n", path)

	var names []string
	byName := map[string][]report.Arm{}
	for _, arm := range arms {
		if _, ok := byName[arm.Name]; !ok {
			names = append(names, arm.Name)
		}
		byName[arm.Name] = append(byName[arm.Name], arm)
	}
	var outcome report.ArmsComparison
	var suites []junit.Suite
	var baseRuns []*results.Result
	for i, name := range names {
		// The arm's directory holds its runs (arm-2/1, arm-2/2, ...); its
		// name is safe in a path where the arm's arguments are not.
		armDir := filepath.Dir(byName[name][0].Dir)
		run := report.ArmRun{Name: name, Dir: armDir}
		var rs []*results.Result
		var dirs, errs []string
		for _, arm := range byName[name] {
			if arm.Error != "" {
				errs = append(errs, arm.Error)
			}
			if arm.Result != nil {
				rs, dirs = append(rs, arm.Result), append(dirs, arm.Dir)
			}
		}
		run.Error = strings.Join(errs, "; ")
		if len(rs) > 0 {
			rep := report.SummarizeRepeats(rs, dirs)
			run.Run, run.Breached = rep.Runs, rep.Breached
			fmt.Fprintf(out, "\n=== arm %s: %d runs ===\n", name, len(rs))
			if err := report.WriteRepeats(out, rep); err != nil {
				return err
			}
			suites = append(suites, junit.FromRepeats(rep))
		}
		outcome.Arms = append(outcome.Arms, run)
		if i == 0 {
			baseRuns = rs
			continue
		}
		if len(baseRuns) == 0 || len(rs) == 0 {
			continue
		}
		cmp := report.CompareRuns(baseRuns, rs, a.tolerance)
		fmt.Fprintf(out, "\n=== %s against %s, by the statistics of their runs ===\n", name, names[0])
		if err := report.WriteComparison(out, cmp); err != nil {
			return err
		}
		if err := writeComparisonFiles(dir, filepath.Base(armDir), cmp); err != nil {
			return err
		}
		suites = append(suites, junit.FromComparison(cmp))
	}
	if a.junit != "" {
		if err := junit.Write(a.junit, suites...); err != nil {
			return fmt.Errorf("--junit %s: %w", a.junit, err)
		}
	}
	return armsOutcome(outcome, interrupted)
}

// writeComparisonFiles stores an arm's statistical comparison as
// comparison-<arm>.md and .json under dir; arm is the arm's directory
// name (armDir), the full arguments are inside the files.
func writeComparisonFiles(dir, arm string, c report.Comparison) error {
	for ext, write := range map[string]func(*os.File) error{
		".md":   func(f *os.File) error { return report.WriteComparisonMarkdown(f, c) },
		".json": func(f *os.File) error { return report.WriteComparisonJSON(f, c) },
	} {
		path := filepath.Join(dir, "comparison-"+arm+ext)
		f, err := os.Create(path)
		if err != nil {
			return fmt.Errorf("write %s: %w", path, err)
		}
		werr := write(f)
		if err := f.Close(); werr == nil && err != nil {
			werr = fmt.Errorf("close %s: %w", path, err)
		}
		if werr != nil {
			return werr
		}
	}
	return nil
}

// writeArmsJUnit writes a suite per arm that has a result, when path is
// set.
func writeArmsJUnit(path string, arms []report.Arm, extra []junit.Suite) error {
	if path == "" {
		return nil
	}
	var suites []junit.Suite
	for _, arm := range arms {
		if arm.Result != nil {
			s := junit.FromRun(arm.Result)
			s.Name = "arm " + arm.Name + ": " + s.Name
			suites = append(suites, s)
		}
	}
	if err := junit.Write(path, append(suites, extra...)...); err != nil {
		return fmt.Errorf("--junit %s: %w", path, err)
	}
	return nil
}
