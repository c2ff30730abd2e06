package report

import (
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"

	"github.com/churn-dev/churn/observers"
	"github.com/churn-dev/churn/results"
	"github.com/churn-dev/churn/stats"
)

// Directions in which a figure improves. Informational figures are shown
// but never gate: more mesh events, say, is neither better nor worse.
const (
	LowerIsBetter  = stats.Lower
	HigherIsBetter = stats.Higher
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
	// Stats is how the change was judged: each side's median, confidence
	// interval and noise, the p-value, the verdict and its reason.
	Stats *stats.Judgement `json:"stats,omitempty"`
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
	// With several runs on a side: how many breached the SLO and how many
	// measured it. The status is then the median's.
	BaseBreaches      int `json:"baseBreaches,omitempty"`
	BaseJudged        int `json:"baseJudged,omitempty"`
	CandidateBreaches int `json:"candidateBreaches,omitempty"`
	CandidateJudged   int `json:"candidateJudged,omitempty"`
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
	// CPUBudget is the local control plane's CPU budget in a few words
	// ("1.5 of 2 cores"); empty for a remote target.
	CPUBudget string `json:"cpuBudget,omitempty"`
	// Runs and RunIDs are set when the side has several runs; the fields
	// above are then the first run's, except the verdict's, which are the
	// majority's.
	Runs   int      `json:"runs,omitempty"`
	RunIDs []string `json:"runIDs,omitempty"`
}

// Comparison is a candidate run held against a base run: the pre-upgrade
// gate. It passes when the candidate breached no SLO and no figure
// regressed beyond Tolerance.
type Comparison struct {
	Base      RunInfo `json:"base"`
	Candidate RunInfo `json:"candidate"`
	// Tolerance is the allowed relative worsening, 0.1 for 10%.
	Tolerance float64 `json:"tolerance"`
	// Statistics is set when both sides have several runs, so changes
	// are judged by their significance; else the single-run rule applies.
	Statistics bool `json:"statistics"`
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

// Compare holds cand against base with tolerance tol (0.1 for 10%): one
// run per side, judged by the single-run rule.
func Compare(base, cand *results.Result, tol float64) Comparison {
	return CompareRuns([]*results.Result{base}, []*results.Result{cand}, tol)
}

// CompareRuns holds the candidate's runs against the base's. Each figure's
// sides are the medians of their runs; package stats judges the change
// (significance with several runs per side, the single-run rule with one).
// A side is inconclusive when most of its runs were; otherwise its
// inconclusive runs are left out of its figures. Both slices must be
// non-empty.
func CompareRuns(base, cand []*results.Result, tol float64) Comparison {
	c := Comparison{
		Base: sideInfo(base), Candidate: sideInfo(cand), Tolerance: tol,
		Warnings: planWarnings(base[0], cand[0]),
		Install:  compareInstall(base[0], cand[0]),
		Validity: compareValidity(base[0].Validity, cand[0].Validity),
	}
	base = c.trusted("base", base, &c.Base)
	cand = c.trusted("candidate", cand, &c.Candidate)
	c.Statistics = len(base) > 1 && len(cand) > 1
	c.SLOs = compareSLOs(base, cand, tol)
	c.Figures = compareFigures(base, cand, tol)
	c.controlFalseDiscoveries()
	if c.Base.Inconclusive {
		// The gate judges the candidate; a base that fell behind still
		// skews every change measured against it.
		c.Warnings = append(c.Warnings, fmt.Sprintf("the base run was inconclusive (the simulator fell behind: %s): changes against it are not the API server's alone",
			strings.Join(c.Base.Behind, ", ")))
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

// controlFalseDiscoveries corrects the per-figure tests for their number
// (stats.ControlFalseDiscoveries) and carries the outcome to the rows.
func (c *Comparison) controlFalseDiscoveries() {
	var js []*stats.Judgement
	for i := range c.SLOs {
		js = append(js, c.SLOs[i].Stats)
	}
	for i := range c.Figures {
		js = append(js, c.Figures[i].Stats)
	}
	stats.ControlFalseDiscoveries(js)
	for i := range c.SLOs {
		if st := c.SLOs[i].Stats; st != nil {
			c.SLOs[i].Regressed = st.Regressed
		}
	}
	for i := range c.Figures {
		if st := c.Figures[i].Stats; st != nil {
			c.Figures[i].Regressed = st.Regressed
		}
	}
}

// trusted is the runs of a side whose figures count: all of them when the
// side is inconclusive (its verdict is then inconclusive anyway) or none
// fell behind, else those that kept up, with a warning naming the others.
func (c *Comparison) trusted(side string, rs []*results.Result, info *RunInfo) []*results.Result {
	if info.Inconclusive || len(rs) == 1 {
		return rs
	}
	var kept []*results.Result
	var left []string
	for _, r := range rs {
		if r.Verdict.Inconclusive {
			left = append(left, r.RunID)
			continue
		}
		kept = append(kept, r)
	}
	if len(left) > 0 {
		c.Warnings = append(c.Warnings, fmt.Sprintf("%s: left out %d inconclusive run(s) (the simulator fell behind): %s",
			side, len(left), strings.Join(left, ", ")))
	}
	return kept
}

func runInfo(r *results.Result) RunInfo {
	return RunInfo{
		RunID: r.RunID, Profile: r.Profile.Name, Seed: r.Seed, Mesh: r.Mesh,
		Target: r.Target.Kind, KubernetesVersion: r.Target.KubernetesVersion,
		Passed: r.Verdict.Passed, Inconclusive: r.Verdict.Inconclusive, Behind: r.Verdict.Behind,
		Notes: r.Verdict.Notes, Settle: settleSummary(r.Install),
		ExtraArgs: ExtraArgsText(r.Target.ExtraArgs),
		CPUBudget: budgetShort(r.Target.CPUPriority),
	}
}

// sideInfo is runInfo for a side of one run or more. With several, the
// side is inconclusive when most of its runs were, and passed when most
// of them passed.
func sideInfo(rs []*results.Result) RunInfo {
	info := runInfo(rs[0])
	if len(rs) == 1 {
		return info
	}
	info.Runs = len(rs)
	info.Behind, info.Notes = nil, nil
	var inconclusive, passed int
	for _, r := range rs {
		info.RunIDs = append(info.RunIDs, r.RunID)
		if r.Verdict.Inconclusive {
			inconclusive++
			for _, b := range r.Verdict.Behind {
				info.Behind = append(info.Behind, r.RunID+": "+b)
			}
		}
		if r.Verdict.Passed {
			passed++
		}
		for _, n := range r.Verdict.Notes {
			info.Notes = append(info.Notes, r.RunID+": "+n)
		}
	}
	info.Inconclusive = 2*inconclusive > len(rs)
	info.Passed = 2*passed > len(rs)
	return info
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
func compareSLOs(base, cand []*results.Result, tol float64) []SLORow {
	var names []string
	seen := map[string]bool{}
	for _, rs := range [][]*results.Result{cand, base} {
		for _, r := range rs {
			for _, s := range r.SLOs {
				if !seen[s.Name] {
					seen[s.Name] = true
					names = append(names, s.Name)
				}
			}
		}
	}
	rows := make([]SLORow, 0, len(names))
	for _, name := range names {
		rows = append(rows, compareSLO(sloSide(base, name), sloSide(cand, name), tol))
	}
	return rows
}

// sloSamples is one SLO across the runs of a side.
type sloSamples struct {
	// first is the SLO in the first run that has it, nil when none has.
	first  *results.SLOResult
	values []float64
	// breaches counts the runs that breached it; runs is how many runs
	// the side has.
	breaches, runs int
}

func sloSide(rs []*results.Result, name string) sloSamples {
	s := sloSamples{runs: len(rs)}
	for _, r := range rs {
		for i := range r.SLOs {
			slo := r.SLOs[i]
			if slo.Name != name {
				continue
			}
			if s.first == nil {
				s.first = &slo
			}
			if v := sloValue(slo); v != nil {
				s.values = append(s.values, *v)
			}
			if sloStatus(slo) == results.SLOBreached {
				s.breaches++
			}
		}
	}
	return s
}

// status is the first run's status with one run. With several it is the
// median's against the limit, the rule churn run --repeat judges by, or
// the first run's status (skipped, disabled) when no run measured it.
func (s sloSamples) status() string {
	switch {
	case s.first == nil:
		return ""
	case s.runs == 1 || len(s.values) == 0:
		return sloStatus(*s.first)
	case stats.Summarize(s.values).Median > s.first.Limit:
		return results.SLOBreached
	}
	return results.SLOPassed
}

// measured is the run's own rendering with one run, the median with
// several.
func (s sloSamples) measured(unit string) string {
	switch {
	case s.first == nil:
		return ""
	case s.runs == 1 || len(s.values) == 0:
		return s.first.Measured
	}
	return formatFigure(unit, new(stats.Summarize(s.values).Median))
}

func compareSLO(b, c sloSamples, tol float64) SLORow {
	var row SLORow
	row.Better = LowerIsBetter
	if b.first != nil {
		row.Name, row.Unit, row.Threshold = b.first.Name, b.first.Unit, b.first.Threshold
		row.BaseStatus = b.status()
	}
	if c.first != nil {
		row.Name, row.Threshold = c.first.Name, c.first.Threshold
		if c.first.Unit != "" {
			row.Unit = c.first.Unit
		}
		row.CandidateStatus = c.status()
		if b.first != nil && b.first.Threshold != c.first.Threshold {
			row.BaseThreshold = b.first.Threshold
		}
	}
	if row.Unit == "" {
		row.Unit = observers.UnitSeconds
	}
	row.BaseMeasured, row.CandidateMeasured = b.measured(row.Unit), c.measured(row.Unit)
	if b.runs > 1 {
		row.BaseBreaches, row.BaseJudged = b.breaches, len(b.values)
	}
	if c.runs > 1 {
		row.CandidateBreaches, row.CandidateJudged = c.breaches, len(c.values)
	}
	row.Floor = sloFloor(row.Name, row.Unit)
	row.judge(b.values, c.values, tol)
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

// judge sets the sides to the medians of their values and lets package
// stats fill Change and Regressed. A base of 0 gives no relative scale,
// so it never regresses here; the candidate's SLOs still gate it.
func (r *Row) judge(base, cand []float64, tol float64) {
	if len(base) > 0 {
		r.Base = new(stats.Summarize(base).Median)
	}
	if len(cand) > 0 {
		r.Candidate = new(stats.Summarize(cand).Median)
	}
	if len(base) == 0 || len(cand) == 0 {
		return
	}
	j := stats.Judge(base, cand, stats.Rule{Better: r.Better, Tolerance: tol, Floor: r.Floor})
	r.Change, r.Regressed, r.Stats = j.Change, j.Regressed, &j
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
	{"429 responses, churn phase", observers.UnitCount, LowerIsBetter, FloorMeshCount, apiFigure(func(s *observers.APIServerSummary) float64 { return s.Requests429 })},
	{"churn actions succeeded", observers.UnitCount, HigherIsBetter, FloorActions, churnFigure(func(c *results.ChurnSummary) float64 { return float64(c.Succeeded) })},
	{"churn action lag p99", observers.UnitSeconds, LowerIsBetter, FloorLatency, churnFigure(func(c *results.ChurnSummary) float64 { return c.LagP99Seconds })},
	{"churn action latency p99", observers.UnitSeconds, LowerIsBetter, FloorLatency, churnFigure(func(c *results.ChurnSummary) float64 { return c.LatencyP99Seconds })},
	{"mesh events received", observers.UnitCount, Informational, 0, meshFigure(func(c results.ComponentSummary) int64 { return c.EventsReceived })},
	{"mesh re-lists", observers.UnitCount, LowerIsBetter, FloorMeshCount, meshFigure(func(c results.ComponentSummary) int64 { return c.Relists })},
	{"mesh 429s", observers.UnitCount, LowerIsBetter, FloorMeshCount, meshFigure(func(c results.ComponentSummary) int64 { return c.Throttled429 })},
	{"all kube-apiservers CPU", unitCPUSeconds, LowerIsBetter, FloorCPU, allAPIServersCPU},
	{"disruptions: LISTs + watches, peak per second", observers.UnitCount, LowerIsBetter, FloorMeshCount, impactFigure(func(im *results.StepImpact, acc float64) float64 { return max(acc, float64(im.PeakPerSecond)) })},
	{"disruptions: LISTs", observers.UnitCount, LowerIsBetter, FloorMeshCount, impactFigure(func(im *results.StepImpact, acc float64) float64 { return acc + float64(sumCounts(im.Lists)) })},
	{"disruptions: watches re-established", observers.UnitCount, LowerIsBetter, FloorMeshCount, impactFigure(func(im *results.StepImpact, acc float64) float64 { return acc + float64(sumCounts(im.Watches)) })},
	{"disruptions: outage clients saw", observers.UnitSeconds, LowerIsBetter, FloorOutage, impactFigure(func(im *results.StepImpact, acc float64) float64 { return acc + im.OutageSeconds })},
	{"disruptions: 429s", observers.UnitCount, LowerIsBetter, FloorMeshCount, impactFigure(func(im *results.StepImpact, acc float64) float64 { return acc + im.Throttled })},
}

// allAPIServersCPU sums the CPU of every API server when several ran.
func allAPIServersCPU(r *results.Result) (float64, bool) {
	if len(r.APIServers) < 2 {
		return 0, false
	}
	var sum float64
	for _, p := range r.Processes {
		if p.Name == apiServerProcess || strings.HasPrefix(p.Name, apiServerProcess+"-") {
			sum += p.CPUSeconds
		}
	}
	return sum, true
}

// impactFigure folds a figure over every measured step of every
// disruption; runs without any have none.
func impactFigure(fold func(im *results.StepImpact, acc float64) float64) func(*results.Result) (float64, bool) {
	return func(r *results.Result) (float64, bool) {
		acc, any := 0.0, false
		for _, d := range r.Disruptions {
			for _, s := range d.Steps {
				if s.Impact != nil {
					acc, any = fold(s.Impact, acc), true
				}
			}
		}
		return acc, any
	}
}

func sumCounts(m map[string]int) int {
	n := 0
	for _, v := range m {
		n += v
	}
	return n
}

// compareFigures lists each key figure at least one run measured, and
// with several runs per side each request key's p99.
func compareFigures(base, cand []*results.Result, tol float64) []Row {
	figs := figures
	if len(base) > 1 && len(cand) > 1 {
		figs = append(slices.Clone(figures), keyFigures(base, cand)...)
	}
	var rows []Row
	for _, f := range figs {
		b, c := figureValues(base, f), figureValues(cand, f)
		if len(b) == 0 && len(c) == 0 {
			continue
		}
		row := Row{Name: f.name, Unit: f.unit, Better: f.better, Floor: f.floor}
		row.judge(b, c, tol)
		rows = append(rows, row)
	}
	return rows
}

func figureValues(rs []*results.Result, f figure) []float64 {
	var vs []float64
	for _, r := range rs {
		if v, ok := f.get(r); ok {
			vs = append(vs, v)
		}
	}
	return vs
}

// keyFigures is a figure per request key any run measured: its p99 in its
// worst window. Only with several runs per side: one run's per-key p99 is
// mostly noise, which the single-run rule cannot tell from a regression.
func keyFigures(base, cand []*results.Result) []figure {
	var keys []string
	seen := map[string]bool{}
	for _, r := range slices.Concat(base, cand) {
		s, ok := apiSummary(r)
		if !ok {
			continue
		}
		for _, k := range s.Keys {
			if name := k.RequestKey.String(); !seen[name] {
				seen[name] = true
				keys = append(keys, name)
			}
		}
	}
	slices.Sort(keys)
	figs := make([]figure, 0, len(keys))
	for _, key := range keys {
		figs = append(figs, figure{"p99 " + key, observers.UnitSeconds, LowerIsBetter, FloorLatency,
			func(r *results.Result) (float64, bool) {
				s, ok := apiSummary(r)
				if !ok {
					return 0, false
				}
				for _, k := range s.Keys {
					if k.RequestKey.String() == key {
						return k.P99, true
					}
				}
				return 0, false
			}})
	}
	return figs
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
