package report

import (
	"fmt"
	"math"
	"strconv"
	"strings"

	"github.com/churn-dev/churn/observers"
	"github.com/churn-dev/churn/results"
)

// Directions in which a figure improves. Informational figures are shown
// but never gate: more mesh events, say, is neither better nor worse.
const (
	LowerIsBetter  = "lower"
	HigherIsBetter = "higher"
	Informational  = ""
)

// unitCPUSeconds is CPU time, shown as seconds of one core.
const unitCPUSeconds = "cpu-seconds"

// Noise floors: a change smaller than its floor, in the figure's unit, never
// counts as a regression whatever its percentage, so 4ms -> 6ms (+50%) on an
// idle API server does not fail a gate.
const (
	// FloorLatency covers every latency and lag: below 10ms the scheduler
	// of a noisy 2-core machine moves p99 by more than that.
	FloorLatency = 0.010
	// FloorOutage is one availability check interval: outages are counted
	// in failed checks, so a smaller difference is sampling granularity.
	FloorOutage = 1.0
	// FloorErrorRatio is 0.1 percentage point, a tenth of the default SLO.
	FloorErrorRatio = 0.001
	// FloorCPU is one CPU second over the whole run.
	FloorCPU = 1.0
	// FloorRSS is 32 MiB: Go's heap target moves peak RSS by that much.
	FloorRSS = 32 << 20
	// FloorActions is one churn action.
	FloorActions = 1
	// FloorMeshCount covers re-lists and 429s summed over all mesh replicas.
	FloorMeshCount = 10
)

// apiServerProcess is the process name the local control plane gives
// kube-apiserver in the processes table.
const apiServerProcess = "kube-apiserver"

// Row is one figure of the two runs side by side.
type Row struct {
	Name string `json:"name"`
	// Unit is "seconds", "ratio", "bytes", "count" or "cpu-seconds".
	Unit string `json:"unit"`
	// Better is LowerIsBetter, HigherIsBetter or Informational ("").
	Better string `json:"better,omitempty"`
	// Base and Candidate are nil when that run did not measure the figure.
	Base      *float64 `json:"base"`
	Candidate *float64 `json:"candidate"`
	// Change is (candidate - base) / base; nil when a side is missing, or
	// when base is 0 and the candidate is not (no relative scale).
	Change *float64 `json:"change"`
	// Floor is the noise floor in Unit: a smaller change never regresses.
	Floor     float64 `json:"floor,omitempty"`
	Regressed bool    `json:"regressed"`
}

// SLORow is one SLO of the two runs side by side. Its Row is the SLO's
// measured value, which regresses like any lower-is-better figure.
type SLORow struct {
	Row
	// Threshold is the candidate's (the gate judges the candidate);
	// BaseThreshold is set only when the base run used another one.
	Threshold         string `json:"threshold"`
	BaseThreshold     string `json:"baseThreshold,omitempty"`
	BaseMeasured      string `json:"baseMeasured"`
	CandidateMeasured string `json:"candidateMeasured"`
	// BaseStatus and CandidateStatus are results.SLO* statuses, or "" when
	// the run has no such SLO.
	BaseStatus      string `json:"baseStatus"`
	CandidateStatus string `json:"candidateStatus"`
}

// RunInfo identifies one side of a comparison.
type RunInfo struct {
	RunID             string `json:"runID"`
	Profile           string `json:"profile"`
	Seed              int64  `json:"seed"`
	Mesh              string `json:"mesh"`
	Target            string `json:"target,omitempty"`
	KubernetesVersion string `json:"kubernetesVersion,omitempty"`
	Passed            bool   `json:"passed"`
	// Inconclusive is set when the run's simulator fell behind (Behind
	// names the checks): its SLO figures are the bench's as much as the
	// API server's. Notes qualify the verdict (a mesh that did not settle).
	Inconclusive bool     `json:"inconclusive,omitempty"`
	Behind       []string `json:"behind,omitempty"`
	Notes        []string `json:"notes,omitempty"`
	// Settle is the mesh's install phase in words ("settled after 42s",
	// "did not settle in 5m0s: ..."); empty without one.
	Settle string `json:"settle,omitempty"`
	// ExtraArgs are the control plane's extra arguments (ExtraArgsText).
	ExtraArgs string `json:"extraArgs,omitempty"`
}

// Comparison is a candidate run held against a base run: the pre-upgrade
// gate. It passes when the candidate breached no SLO and no figure
// regressed beyond Tolerance.
type Comparison struct {
	Base      RunInfo `json:"base"`
	Candidate RunInfo `json:"candidate"`
	// Tolerance is the allowed relative worsening, 0.1 for 10%.
	Tolerance float64 `json:"tolerance"`
	// Warnings say why the comparison may not be like for like.
	Warnings []string `json:"warnings,omitempty"`
	SLOs     []SLORow `json:"slos"`
	Figures  []Row    `json:"figures"`
	// Breached names the SLOs the candidate breached.
	Breached []string `json:"breached,omitempty"`
	// Regressed are the SLO values and figures that got worse beyond the
	// tolerance and their noise floor.
	Regressed []Row `json:"regressed,omitempty"`
	// Install holds the mesh install phase's figures side by side when
	// either run had one. They are reported, never judged.
	Install []Row `json:"install,omitempty"`
	// Validity holds the simulator's checks side by side when either run
	// has them (schema version 2).
	Validity []ValidityRow `json:"validity,omitempty"`
}

// ValidityRow is one check of the simulator in the two runs. Statuses are
// results.Validity* values, or "" when the run has no such check.
type ValidityRow struct {
	Name              string `json:"name"`
	Threshold         string `json:"threshold"`
	BaseMeasured      string `json:"baseMeasured"`
	CandidateMeasured string `json:"candidateMeasured"`
	BaseStatus        string `json:"baseStatus"`
	CandidateStatus   string `json:"candidateStatus"`
	BaseReason        string `json:"baseReason,omitempty"`
	CandidateReason   string `json:"candidateReason,omitempty"`
}

// Passed reports whether the candidate breached no SLO and nothing
// regressed. An inconclusive candidate is judged by Inconclusive first.
func (c Comparison) Passed() bool { return len(c.Breached) == 0 && len(c.Regressed) == 0 }

// Inconclusive reports whether the candidate's simulator fell behind, so
// neither a pass nor a regression of it can be trusted: the gate's answer
// is then "inconclusive" whatever the figures say.
func (c Comparison) Inconclusive() bool { return c.Candidate.Inconclusive }

// Compare holds cand against base with tolerance tol (0.1 for 10%).
func Compare(base, cand *results.Result, tol float64) Comparison {
	c := Comparison{
		Base: runInfo(base), Candidate: runInfo(cand), Tolerance: tol,
		Warnings: planWarnings(base, cand),
		SLOs:     compareSLOs(base.SLOs, cand.SLOs, tol),
		Figures:  compareFigures(base, cand, tol),
		Install:  compareInstall(base, cand),
		Validity: compareValidity(base.Validity, cand.Validity),
	}
	if base.Verdict.Inconclusive {
		// The gate judges the candidate; a base that fell behind still
		// skews every change measured against it.
		c.Warnings = append(c.Warnings, fmt.Sprintf("the base run was inconclusive (the simulator fell behind: %s): changes against it are not the API server's alone",
			strings.Join(base.Verdict.Behind, ", ")))
	}
	for _, s := range c.SLOs {
		if s.CandidateStatus == results.SLOBreached {
			c.Breached = append(c.Breached, s.Name)
		}
		if s.Regressed {
			c.Regressed = append(c.Regressed, s.Row)
		}
	}
	for _, f := range c.Figures {
		if f.Regressed {
			c.Regressed = append(c.Regressed, f)
		}
	}
	return c
}

func runInfo(r *results.Result) RunInfo {
	return RunInfo{
		RunID: r.RunID, Profile: r.Profile.Name, Seed: r.Seed, Mesh: r.Mesh,
		Target: r.Target.Kind, KubernetesVersion: r.Target.KubernetesVersion,
		Passed: r.Verdict.Passed, Inconclusive: r.Verdict.Inconclusive, Behind: r.Verdict.Behind,
		Notes: r.Verdict.Notes, Settle: settleSummary(r.Install),
		ExtraArgs: ExtraArgsText(r.Target.ExtraArgs),
	}
}

// settleSummary is settleText, "" without an install phase.
func settleSummary(inst *results.Install) string {
	if inst == nil {
		return ""
	}
	return settleText(inst)
}

// compareSLOs pairs SLOs by name: the candidate's order first, then any the
// base alone has.
func compareSLOs(base, cand []results.SLOResult, tol float64) []SLORow {
	byName := map[string]results.SLOResult{}
	for _, s := range base {
		byName[s.Name] = s
	}
	var rows []SLORow
	seen := map[string]bool{}
	for _, c := range cand {
		b, ok := byName[c.Name]
		var bp *results.SLOResult
		if ok {
			bp = &b
		}
		rows = append(rows, compareSLO(bp, &c, tol))
		seen[c.Name] = true
	}
	for _, b := range base {
		if !seen[b.Name] {
			rows = append(rows, compareSLO(&b, nil, tol))
		}
	}
	return rows
}

func compareSLO(b, c *results.SLOResult, tol float64) SLORow {
	var row SLORow
	row.Better = LowerIsBetter
	if b != nil {
		row.Name, row.Unit, row.Threshold = b.Name, b.Unit, b.Threshold
		row.BaseMeasured, row.BaseStatus = b.Measured, sloStatus(*b)
		row.Base = sloValue(*b)
	}
	if c != nil {
		row.Name, row.Threshold = c.Name, c.Threshold
		if c.Unit != "" {
			row.Unit = c.Unit
		}
		row.CandidateMeasured, row.CandidateStatus = c.Measured, sloStatus(*c)
		row.Candidate = sloValue(*c)
		if b != nil && b.Threshold != c.Threshold {
			row.BaseThreshold = b.Threshold
		}
	}
	if row.Unit == "" {
		row.Unit = observers.UnitSeconds
	}
	row.Floor = sloFloor(row.Name, row.Unit)
	row.judge(tol)
	return row
}

// sloStatus is s.Status, derived from Passed for results written before
// Status existed.
func sloStatus(s results.SLOResult) string {
	switch {
	case s.Status != "":
		return s.Status
	case s.Passed:
		return results.SLOPassed
	}
	return results.SLOBreached
}

// sloValue is the measured value, or nil when the SLO had no signal.
func sloValue(s results.SLOResult) *float64 {
	switch sloStatus(s) {
	case results.SLOPassed, results.SLOBreached:
		return new(s.Value)
	}
	return nil
}

func sloFloor(name, unit string) float64 {
	switch {
	case name == observers.SLOMaxOutage:
		return FloorOutage
	case unit == observers.UnitRatio:
		return FloorErrorRatio
	}
	return FloorLatency
}

// judge fills Change and Regressed. A base of 0 gives no relative scale,
// so it never regresses here; the candidate's SLOs still gate it.
func (r *Row) judge(tol float64) {
	if r.Base == nil || r.Candidate == nil {
		return
	}
	b, c := *r.Base, *r.Candidate
	if b == 0 {
		if c == 0 {
			r.Change = new(0.0)
		}
		return
	}
	r.Change = new((c - b) / b)
	switch r.Better {
	case LowerIsBetter:
		r.Regressed = c > b*(1+tol) && c-b > r.Floor
	case HigherIsBetter:
		r.Regressed = c < b*(1-tol) && b-c > r.Floor
	}
}

// figure is a key figure outside the SLO table and how to read it.
type figure struct {
	name, unit, better string
	floor              float64
	get                func(*results.Result) (float64, bool)
}

var figures = []figure{
	{"kube-apiserver CPU", unitCPUSeconds, LowerIsBetter, FloorCPU, processFigure(apiServerProcess, cpuSeconds)},
	{"kube-apiserver peak RSS", observers.UnitBytes, LowerIsBetter, FloorRSS, processFigure(apiServerProcess, peakRSS)},
	{"churn CPU", unitCPUSeconds, LowerIsBetter, FloorCPU, processFigure(observers.TesterProcess, cpuSeconds)},
	{"churn actions succeeded", observers.UnitCount, HigherIsBetter, FloorActions, churnFigure(func(c *results.ChurnSummary) float64 { return float64(c.Succeeded) })},
	{"churn action lag p99", observers.UnitSeconds, LowerIsBetter, FloorLatency, churnFigure(func(c *results.ChurnSummary) float64 { return c.LagP99Seconds })},
	{"churn action latency p99", observers.UnitSeconds, LowerIsBetter, FloorLatency, churnFigure(func(c *results.ChurnSummary) float64 { return c.LatencyP99Seconds })},
	{"mesh events received", observers.UnitCount, Informational, 0, meshFigure(func(c results.ComponentSummary) int64 { return c.EventsReceived })},
	{"mesh re-lists", observers.UnitCount, LowerIsBetter, FloorMeshCount, meshFigure(func(c results.ComponentSummary) int64 { return c.Relists })},
	{"mesh 429s", observers.UnitCount, LowerIsBetter, FloorMeshCount, meshFigure(func(c results.ComponentSummary) int64 { return c.Throttled429 })},
}

// compareFigures lists each key figure at least one run measured.
func compareFigures(base, cand *results.Result, tol float64) []Row {
	var rows []Row
	for _, f := range figures {
		b, bok := f.get(base)
		c, cok := f.get(cand)
		if !bok && !cok {
			continue
		}
		row := Row{Name: f.name, Unit: f.unit, Better: f.better, Floor: f.floor}
		if bok {
			row.Base = new(b)
		}
		if cok {
			row.Candidate = new(c)
		}
		row.judge(tol)
		rows = append(rows, row)
	}
	return rows
}

func cpuSeconds(p results.ProcessUsage) float64 { return p.CPUSeconds }
func peakRSS(p results.ProcessUsage) float64    { return float64(p.PeakRSS) }

func processFigure(name string, get func(results.ProcessUsage) float64) func(*results.Result) (float64, bool) {
	return func(r *results.Result) (float64, bool) {
		for _, p := range r.Processes {
			if p.Name == name {
				return get(p), true
			}
		}
		return 0, false
	}
}

func churnFigure(get func(*results.ChurnSummary) float64) func(*results.Result) (float64, bool) {
	return func(r *results.Result) (float64, bool) {
		if r.Churn == nil {
			return 0, false
		}
		return get(r.Churn), true
	}
}

// meshFigure sums a counter over every mesh component.
func meshFigure(get func(results.ComponentSummary) int64) func(*results.Result) (float64, bool) {
	return func(r *results.Result) (float64, bool) {
		if r.MeshStats == nil {
			return 0, false
		}
		var n int64
		for _, c := range r.MeshStats.Components {
			n += get(c)
		}
		return float64(n), true
	}
}

// ParseTolerance reads a tolerance as a percentage ("10%") or a fraction
// ("0.1"). A bare number above 1 is refused as ambiguous: "10" could mean
// 10% or 1000%.
func ParseTolerance(s string) (float64, error) {
	text, pct := strings.CutSuffix(strings.TrimSpace(s), "%")
	f, err := strconv.ParseFloat(strings.TrimSpace(text), 64)
	if err != nil || math.IsNaN(f) || math.IsInf(f, 0) || f < 0 {
		return 0, fmt.Errorf("%q: want a percentage like 10%% or a fraction like 0.1", s)
	}
	if pct {
		return f / 100, nil
	}
	if f > 1 {
		return 0, fmt.Errorf("%q is ambiguous: write %s%% for a percentage, or a fraction like 0.1", s, text)
	}
	return f, nil
}
