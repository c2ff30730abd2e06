package report

import (
	"github.com/churn-dev/churn/observers"
	"github.com/churn-dev/churn/results"
)

// installFigures are the mesh install phase's figures, shown side by side
// by churn compare and by the arms. They are informational: the install is
// reported, never judged, so none of them regresses.
var installFigures = []figure{
	{"install duration", observers.UnitSeconds, Informational, 0, installFigure(func(i *results.Install) (float64, bool) { return i.Seconds, true })},
	{"install 429s", observers.UnitCount, Informational, 0, installPhaseFigure(func(f *results.PhaseFigures) float64 { return f.Requests429 })},
	{"install peak mutating p99", observers.UnitSeconds, Informational, 0, installFigure(peakP99Of(observers.CategoryMutating))},
	{"install kube-apiserver CPU", unitCPUSeconds, Informational, 0, installPhaseFigure(func(f *results.PhaseFigures) float64 { return f.APIServerCPUSeconds })},
	{"install outages", observers.UnitCount, Informational, 0, installPhaseFigure(func(f *results.PhaseFigures) float64 { return float64(f.Outages) })},
}

// installFigure reads a figure of the install phase; a run without one
// (no mesh, or schema version 1) has none.
func installFigure(get func(*results.Install) (float64, bool)) func(*results.Result) (float64, bool) {
	return func(r *results.Result) (float64, bool) {
		if r.Install == nil {
			return 0, false
		}
		return get(r.Install)
	}
}

// installPhaseFigure reads one of the observers' figures over the install
// phase.
func installPhaseFigure(get func(*results.PhaseFigures) float64) func(*results.Result) (float64, bool) {
	return installFigure(func(i *results.Install) (float64, bool) {
		if i.Figures == nil {
			return 0, false
		}
		return get(i.Figures), true
	})
}

// peakP99Of is the install phase's worst p99 of one SLO category.
func peakP99Of(category string) func(*results.Install) (float64, bool) {
	return func(i *results.Install) (float64, bool) {
		if i.Figures == nil {
			return 0, false
		}
		for _, p := range i.Figures.PeakP99 {
			if p.Category == category {
				return p.P99, true
			}
		}
		return 0, false
	}
}

// compareInstall lays the install figures of two runs side by side; nil
// when neither run had an install phase.
func compareInstall(base, cand *results.Result) []Row {
	if base.Install == nil && cand.Install == nil {
		return nil
	}
	var rows []Row
	for _, f := range installFigures {
		b, bok := f.get(base)
		c, cok := f.get(cand)
		if !bok && !cok {
			continue
		}
		row := Row{Name: f.name, Unit: f.unit, Better: f.better}
		var bv, cv []float64
		if bok {
			bv = []float64{b}
		}
		if cok {
			cv = []float64{c}
		}
		// Informational: judge fills the change and never regresses.
		row.judge(bv, cv, 0)
		row.Stats = nil
		rows = append(rows, row)
	}
	return rows
}

// compareValidity pairs the simulator's checks by name, the candidate's
// order first; nil when neither run has them.
func compareValidity(base, cand *results.Validity) []ValidityRow {
	var bc, cc []results.ValidityCheck
	if base != nil {
		bc = base.Checks
	}
	if cand != nil {
		cc = cand.Checks
	}
	var rows []ValidityRow
	index := map[string]int{}
	row := func(c results.ValidityCheck) *ValidityRow {
		i, ok := index[c.Name]
		if !ok {
			i = len(rows)
			index[c.Name] = i
			rows = append(rows, ValidityRow{Name: c.Name, Threshold: c.Threshold})
		}
		return &rows[i]
	}
	for _, c := range cc {
		r := row(c)
		r.CandidateMeasured, r.CandidateStatus, r.CandidateReason = c.Measured, c.Status, c.Reason
	}
	for _, c := range bc {
		r := row(c)
		r.BaseMeasured, r.BaseStatus, r.BaseReason = c.Measured, c.Status, c.Reason
		if r.Threshold == "" {
			r.Threshold = c.Threshold
		}
	}
	return rows
}
