package history

import (
	"fmt"
	"hash/fnv"
	"slices"
	"strings"

	"github.com/churn-dev/churn/report"
	"github.com/churn-dev/churn/stats"
)

// Fields a history can be grouped by.
const (
	FieldProfile    = "profile"
	FieldMesh       = "mesh"
	FieldTarget     = "target"
	FieldArgs       = "args"
	FieldKubernetes = "kubernetes"
	FieldKWOK       = "kwok"
	FieldChurn      = "churn"
)

// Fields lists every field, in the order keys are written.
var Fields = []string{FieldProfile, FieldMesh, FieldTarget, FieldArgs, FieldKubernetes, FieldKWOK, FieldChurn}

// DefaultGroupBy groups the runs of one experiment. Arguments and releases
// are left free on purpose: a new release is what a gate over time is
// watching for, so its runs stay in the series and the change is marked
// where it happens, as a suspect for any change point there.
var DefaultGroupBy = []string{FieldProfile, FieldMesh, FieldTarget}

func (s Setting) field(name string) string {
	switch name {
	case FieldProfile:
		return s.Profile
	case FieldMesh:
		return s.Mesh
	case FieldTarget:
		return s.Target
	case FieldArgs:
		return s.ExtraArgs
	case FieldKubernetes:
		return s.Kubernetes
	case FieldKWOK:
		return s.KWOK
	case FieldChurn:
		return s.Churn
	}
	return ""
}

// ParseGroupBy reads a comma-separated list of fields.
func ParseGroupBy(s string) ([]string, error) {
	var out []string
	for _, f := range strings.Split(s, ",") {
		f = strings.TrimSpace(f)
		if !slices.Contains(Fields, f) {
			return nil, fmt.Errorf("%q is not a field to group by: want a comma-separated list of %s", f, strings.Join(Fields, ", "))
		}
		if !slices.Contains(out, f) {
			out = append(out, f)
		}
	}
	return out, nil
}

// Options tune the analysis.
type Options struct {
	GroupBy []string
	// Tolerance is how much worse a figure must get (0.1 for 10%), beyond
	// its noise floor, for a change point to count as a regression.
	Tolerance float64
	// CheckWindow: Check flags a regression whose change point is at most
	// this many runs back from the newest.
	CheckWindow int
	// Detector tunes E-divisive; its Seed is mixed with each figure's name.
	Detector stats.ChangePointOptions
	// Last keeps only the newest Last runs of each group (by start time)
	// before anything is analyzed; 0 keeps every run. A store of years of
	// artifacts would otherwise hold the detector to the distant past.
	Last int
}

// DefaultOptions match compare's default tolerance.
func DefaultOptions() Options {
	return Options{GroupBy: DefaultGroupBy, Tolerance: 0.1, CheckWindow: 5, Detector: stats.DefaultChangePointOptions()}
}

// Verdicts of a change point.
const (
	Regression  = "regression"
	Improvement = "improvement"
	// WithinTolerance is a significant change for the worse smaller than
	// the tolerance or the noise floor.
	WithinTolerance = "within tolerance"
	// Informational is a change of a figure that never gates.
	Informational = "informational"
)

// Change is a change point of one figure.
type Change struct {
	Figure string `json:"figure"`
	Unit   string `json:"unit"`
	// Run is the first run of the new segment, its place in the group
	// from 1; RunID names it.
	Run   int    `json:"run"`
	RunID string `json:"runID"`
	// Before and After are the medians of the segments on either side.
	Before float64 `json:"before"`
	After  float64 `json:"after"`
	// Change is (After - Before) / Before; nil when Before is 0.
	Change *float64 `json:"change,omitempty"`
	// P is the permutation test's p-value; it passed the group's
	// Benjamini-Hochberg cut.
	P       float64 `json:"p"`
	Verdict string  `json:"verdict"`
	// Suspects are the settings that changed at this run (a release, the
	// arguments), if any.
	Suspects []string `json:"suspects,omitempty"`
}

// Series is one figure across the runs of a group.
type Series struct {
	Name string `json:"name"`
	// Kind, Unit, Better, Floor and Limit are as in report.RunFigure (the
	// first run's that measured it).
	Kind   string  `json:"kind"`
	Unit   string  `json:"unit"`
	Better string  `json:"better,omitempty"`
	Floor  float64 `json:"floor,omitempty"`
	Limit  float64 `json:"limit,omitempty"`
	// Values has one entry per run of the group, nil where the run did
	// not measure the figure.
	Values []*float64 `json:"values"`
	// Counted is how many runs the detector saw: those that measured the
	// figure and were not inconclusive.
	Counted int `json:"counted"`
	// FirstP is the p-value of the test that the series has no change
	// point at all (1 when it could not be tested).
	FirstP float64 `json:"firstP"`
	// Split is the run (from 1) the strongest split starts at, whether
	// or not it is significant; 0 when untested.
	Split   int      `json:"split,omitempty"`
	Changes []Change `json:"changes,omitempty"`
	// Tested is false for a series the detector could not test (too
	// short, or every value the same): it is left out of the family.
	Tested bool `json:"tested"`
}

// SettingChange is a change of arguments or release between two
// consecutive runs of a group.
type SettingChange struct {
	Run  int    `json:"run"`
	Text string `json:"text"`
}

// Group is the runs of one experiment and what moved in them.
type Group struct {
	// Key holds the grouping fields' values.
	Key map[string]string `json:"key"`
	// Name is the key in words.
	Name string `json:"name"`
	Runs []*Run `json:"runs"`
	// Settings are where arguments or releases changed within the group.
	Settings []SettingChange `json:"settingChanges,omitempty"`
	Series   []*Series       `json:"series"`
	// Family is how many figures that can gate were tested together; Cut
	// is the Benjamini-Hochberg cut on their p-values (-1: none
	// significant). The figures that never gate (the simulator's checks,
	// informational counts) are a family of their own, InfoFamily with
	// InfoCut: checks of the bench must not dilute the gate's power, nor
	// the gate's figures theirs.
	Family     int     `json:"family"`
	Cut        float64 `json:"cut"`
	InfoFamily int     `json:"infoFamily"`
	InfoCut    float64 `json:"infoCut"`
	// Changes are every figure's change points, by run.
	Changes []Change `json:"changes,omitempty"`
	// Older is how many older runs of the group Options.Last left out.
	Older int `json:"older,omitempty"`
}

// History is the analysis of every group.
type History struct {
	GroupBy   []string `json:"groupBy"`
	Tolerance float64  `json:"tolerance"`
	Method    string   `json:"method"`
	// Last is Options.Last: each group holds at most its newest Last runs
	// (0: every run).
	Last     int      `json:"last,omitempty"`
	Groups   []*Group `json:"groups"`
	Problems []string `json:"problems,omitempty"`
	// runs are the runs the groups hold, in the order Analyze got them.
	runs []*Run
}

// Runs are the runs the analysis kept (all of them, or the newest
// Options.Last of each group), in the order given to Analyze: what an
// export sends, so that it matches the tables and the trends page.
func (h *History) Runs() []*Run { return h.runs }

// Method says how change points are found, for every output.
func Method(o Options) string {
	return fmt.Sprintf("change points by E-divisive means (Matteson and James 2014, as Hunter and Apache Otava): "+
		"energy statistic, permutation test (%d permutations, segments of at least %d runs), "+
		"corrected for the figures tested together by Benjamini-Hochberg at a %g%% false discovery rate; "+
		"inconclusive runs are shown but not counted",
		o.Detector.Permutations, o.Detector.MinSize, o.Detector.Alpha*100)
}

// Analyze groups runs (oldest first), keeps the newest o.Last of each
// group when o.Last > 0, and finds each group's change points.
func Analyze(runs []*Run, o Options) *History {
	h := &History{GroupBy: o.GroupBy, Tolerance: o.Tolerance, Method: Method(o), Last: max(o.Last, 0)}
	index := map[string]*Group{}
	for _, r := range runs {
		key := map[string]string{}
		var parts []string
		for _, f := range o.GroupBy {
			key[f] = r.field(f)
			parts = append(parts, f+"="+orDash(r.field(f)))
		}
		name := strings.Join(parts, " ")
		g := index[name]
		if g == nil {
			g = &Group{Key: key, Name: name}
			index[name] = g
			h.Groups = append(h.Groups, g)
		}
		g.Runs = append(g.Runs, r)
	}
	kept := map[*Run]bool{}
	for _, g := range h.Groups {
		g.keepNewest(o.Last)
		for _, r := range g.Runs {
			kept[r] = true
		}
		g.analyze(o)
	}
	for _, r := range runs {
		if kept[r] {
			h.runs = append(h.runs, r)
		}
	}
	return h
}

// keepNewest leaves the group its n newest runs by start time (all when
// n <= 0), in their order. Ties at the cut keep the later-listed run, as
// Load lists runs of one start by ID and path.
func (g *Group) keepNewest(n int) {
	if n <= 0 || len(g.Runs) <= n {
		return
	}
	byStart := slices.Clone(g.Runs)
	slices.SortStableFunc(byStart, func(a, b *Run) int { return a.Start.Compare(b.Start) })
	newest := map[*Run]bool{}
	for _, r := range byStart[len(byStart)-n:] {
		newest[r] = true
	}
	kept := g.Runs[:0:0]
	for _, r := range g.Runs {
		if newest[r] {
			kept = append(kept, r)
		}
	}
	g.Older = len(g.Runs) - len(kept)
	g.Runs = kept
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

func (g *Group) analyze(o Options) {
	g.settingChanges(o.GroupBy)
	var names []string
	seen := map[string]bool{}
	for _, r := range g.Runs {
		for _, n := range r.order {
			if !seen[n] {
				seen[n] = true
				names = append(names, n)
			}
		}
	}
	type tested struct {
		s   *Series
		det stats.Detection
		at  []int // run index (0-based) of each counted value
	}
	var family []tested
	for _, name := range names {
		s := &Series{Values: make([]*float64, len(g.Runs)), FirstP: 1}
		var xs []float64
		var at []int
		for i, r := range g.Runs {
			f, ok := r.Figures[name]
			if !ok {
				continue
			}
			if s.Name == "" {
				s.Name, s.Kind, s.Unit, s.Better, s.Floor, s.Limit = f.Name, f.Kind, f.Unit, f.Better, f.Floor, f.Limit
			}
			s.Values[i] = new(f.Value)
			if !r.Inconclusive {
				xs = append(xs, f.Value)
				at = append(at, i)
			}
		}
		s.Counted = len(xs)
		g.Series = append(g.Series, s)
		d := o.Detector
		d.Seed ^= nameSeed(name)
		det := stats.DetectChangePoints(xs, d)
		s.FirstP = det.FirstP
		if det.FirstIndex >= 0 {
			s.Split = at[det.FirstIndex] + 1
		}
		// A series that cannot be tested cannot be significant: after
		// Tarone, it does not count towards the family.
		if s.Tested = len(xs) >= 2*max(d.MinSize, 1) && !allEqual(xs); s.Tested {
			family = append(family, tested{s, det, at})
		}
	}
	cuts := map[bool]float64{}
	for _, gates := range []bool{true, false} {
		var ps []float64
		for _, t := range family {
			if t.s.gates() == gates {
				ps = append(ps, t.det.FirstP)
			}
		}
		cuts[gates] = stats.BenjaminiHochbergCut(ps, o.Detector.Alpha)
		if gates {
			g.Family, g.Cut = len(ps), cuts[gates]
		} else {
			g.InfoFamily, g.InfoCut = len(ps), cuts[gates]
		}
	}
	for _, t := range family {
		cut := cuts[t.s.gates()]
		// The detector found its points in order, each tested at Alpha;
		// at the family's cut it would have stopped at the first above it.
		for _, cp := range t.det.Points {
			if cp.P > cut {
				break
			}
			run := t.at[cp.Index]
			c := Change{Figure: t.s.Name, Unit: t.s.Unit, Run: run + 1, RunID: g.Runs[run].RunID,
				Before: cp.Before.Median, After: cp.After.Median, P: cp.P, Suspects: g.suspects(run + 1)}
			if c.Before != 0 {
				c.Change = new((c.After - c.Before) / c.Before)
			}
			c.Verdict = judge(t.s, c.Before, c.After, o.Tolerance)
			t.s.Changes = append(t.s.Changes, c)
		}
		slices.SortFunc(t.s.Changes, func(a, b Change) int { return a.Run - b.Run })
		g.Changes = append(g.Changes, t.s.Changes...)
	}
	slices.SortStableFunc(g.Changes, func(a, b Change) int { return a.Run - b.Run })
}

// gates is whether a change of the figure can fail the gate.
func (s *Series) gates() bool {
	return s.Better != report.Informational && s.Kind != report.FigureSimulator
}

// judge says what a change from before to after is for the figure.
func judge(f *Series, before, after, tol float64) string {
	if !f.gates() {
		return Informational
	}
	rule := stats.Rule{Better: f.Better, Tolerance: tol, Floor: f.Floor}
	switch {
	case stats.Beyond(before, after, rule):
		return Regression
	case f.Better == report.LowerIsBetter && after < before, f.Better == report.HigherIsBetter && after > before:
		return Improvement
	}
	return WithinTolerance
}

func (g *Group) settingChanges(groupBy []string) {
	for i := 1; i < len(g.Runs); i++ {
		a, b := g.Runs[i-1].Setting, g.Runs[i].Setting
		var parts []string
		for _, f := range Fields {
			if slices.Contains(groupBy, f) || a.field(f) == b.field(f) {
				continue
			}
			parts = append(parts, fmt.Sprintf("%s %s -> %s", f, orNoneText(a.field(f)), orNoneText(b.field(f))))
		}
		if len(parts) > 0 {
			g.Settings = append(g.Settings, SettingChange{Run: i + 1, Text: strings.Join(parts, "; ")})
		}
	}
}

func orNoneText(s string) string {
	if s == "" {
		return "none"
	}
	return s
}

// suspects are the setting changes at run (from 1).
func (g *Group) suspects(run int) []string {
	var out []string
	for _, s := range g.Settings {
		if s.Run == run {
			out = append(out, s.Text)
		}
	}
	return out
}

// nameSeed makes each figure's permutations its own, and the same from one
// invocation to the next.
func nameSeed(name string) uint64 {
	h := fnv.New64a()
	h.Write([]byte(name))
	return h.Sum64()
}

func allEqual(xs []float64) bool {
	for _, x := range xs {
		if x != xs[0] {
			return false
		}
	}
	return true
}
