// Package history is the gate over time: it reads the results.json of
// every run kept (CI artifacts are the store), groups the runs that are the
// same experiment, lays each figure out as a series, finds the runs where a
// figure moved (change points by E-divisive means, package stats) and
// says whether the newest run starts a regression. It writes tables, a
// trends page, Prometheus remote-write samples and OpenSearch documents.
package history

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/churn-dev/churn/report"
	"github.com/churn-dev/churn/results"
)

// Run is one run as history keeps it: where it came from, what it ran on,
// its verdict and its figures. The full results are not kept: a history
// of hundreds of runs would hold hundreds of megabytes of time series.
type Run struct {
	Path  string    `json:"path"`
	RunID string    `json:"runID"`
	Start time.Time `json:"start"`
	Setting
	Passed       bool     `json:"passed"`
	Inconclusive bool     `json:"inconclusive,omitempty"`
	Breached     []string `json:"breached,omitempty"`
	Behind       []string `json:"behind,omitempty"`
	Summary      string   `json:"summary,omitempty"`
	// Figures are the run's figures by name.
	Figures map[string]report.RunFigure `json:"figures"`
	// order keeps the figures in the order the run listed them.
	order []string
}

// Setting is what a run ran: the experiment (profile, mesh, target) and
// what it ran it on (arguments, releases).
type Setting struct {
	Profile    string `json:"profile"`
	Mesh       string `json:"mesh"`
	Target     string `json:"target"`
	ExtraArgs  string `json:"extraArgs,omitempty"`
	Kubernetes string `json:"kubernetes,omitempty"`
	KWOK       string `json:"kwok,omitempty"`
	// Churn is churn's own release, when the run recorded it among its
	// binaries; "" otherwise.
	Churn string `json:"churn,omitempty"`
}

// Verdict is the run's verdict in one word.
func (r *Run) Verdict() string {
	switch {
	case r.Inconclusive:
		return "INCONCLUSIVE"
	case r.Passed:
		return "PASS"
	}
	return "FAIL"
}

// FromResult makes a Run of results read from path.
func FromResult(path string, res *results.Result) *Run {
	r := &Run{
		Path: path, RunID: res.RunID,
		Setting: Setting{
			Profile: res.Profile.Name, Mesh: orNone(res.Mesh), Target: res.Target.Kind,
			ExtraArgs:  report.ExtraArgsText(res.Target.ExtraArgs),
			Kubernetes: res.Target.KubernetesVersion,
			KWOK:       res.Target.Binaries["kwok"], Churn: res.Target.Binaries["churn"],
		},
		Passed: res.Verdict.Passed, Inconclusive: res.Verdict.Inconclusive,
		Breached: res.Verdict.Breached, Behind: res.Verdict.Behind, Summary: res.Verdict.Summary,
		Figures: map[string]report.RunFigure{},
	}
	if len(res.Phases) > 0 {
		r.Start = res.Phases[0].Start
	}
	for _, f := range report.RunFigures(res) {
		if _, dup := r.Figures[f.Name]; !dup {
			r.order = append(r.order, f.Name)
		}
		r.Figures[f.Name] = f
	}
	return r
}

func orNone(mesh string) string {
	if mesh == "" {
		return "none"
	}
	return mesh
}

// Load reads every results.json under the given directories, files and
// glob patterns (a directory is searched at any depth). It returns the
// runs oldest first; files that cannot be read are skipped and named in
// the problems, so one corrupt artifact does not hide a year of history.
// An argument that matches nothing is an error: a mistyped path must not
// read as an empty history.
func Load(args []string) (runs []*Run, problems []string, err error) {
	if len(args) == 0 {
		return nil, nil, errors.New("no directory given: name the directories (or globs) that hold the runs' results.json")
	}
	seen := map[string]bool{}
	for _, arg := range args {
		matches, err := expand(arg)
		if err != nil {
			return nil, nil, err
		}
		for _, path := range matches {
			abs, err := filepath.Abs(path)
			if err != nil {
				return nil, nil, fmt.Errorf("%s: %w", path, err)
			}
			if seen[abs] {
				continue
			}
			seen[abs] = true
			res, err := results.Read(path)
			if err != nil {
				problems = append(problems, err.Error())
				continue
			}
			runs = append(runs, FromResult(path, res))
		}
	}
	if len(runs) == 0 {
		return nil, problems, fmt.Errorf("no readable results.json under %s", strings.Join(args, ", "))
	}
	sortRuns(runs)
	return runs, problems, nil
}

// expand is the results.json files arg names: itself when a file, those
// under it when a directory, those under its matches when a glob.
func expand(arg string) ([]string, error) {
	paths := []string{arg}
	if strings.ContainsAny(arg, "*?[") {
		m, err := filepath.Glob(arg)
		if err != nil {
			return nil, fmt.Errorf("pattern %q: %w", arg, err)
		}
		if len(m) == 0 {
			return nil, fmt.Errorf("pattern %q matches nothing", arg)
		}
		paths = m
	}
	var files []string
	for _, p := range paths {
		st, err := os.Stat(p)
		if errors.Is(err, fs.ErrNotExist) {
			return nil, fmt.Errorf("%s does not exist", p)
		}
		if err != nil {
			return nil, err
		}
		if !st.IsDir() {
			files = append(files, p)
			continue
		}
		err = filepath.WalkDir(p, func(path string, d fs.DirEntry, err error) error {
			if err != nil {
				return fmt.Errorf("walk %s: %w", path, err)
			}
			if !d.IsDir() && d.Name() == results.FileName {
				files = append(files, path)
			}
			return nil
		})
		if err != nil {
			return nil, err
		}
	}
	if len(files) == 0 {
		return nil, fmt.Errorf("%s: no %s in it", arg, results.FileName)
	}
	return files, nil
}

// sortRuns orders runs by start time, then run ID, then path, so the same
// store always gives the same series.
func sortRuns(runs []*Run) {
	slices.SortStableFunc(runs, func(a, b *Run) int {
		if c := a.Start.Compare(b.Start); c != 0 {
			return c
		}
		if c := strings.Compare(a.RunID, b.RunID); c != 0 {
			return c
		}
		return strings.Compare(a.Path, b.Path)
	})
}
