package report

import (
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/churn-dev/churn/observers"
	"github.com/churn-dev/churn/results"
)

// Arm is one run of a side-by-side comparison: the same profile and seed
// with one thing changed (the mesh, or the Kubernetes release).
type Arm struct {
	// Name is what differs, e.g. "cilium" or "v1.36.3".
	Name string `json:"name"`
	// Dir is the run's results directory.
	Dir string `json:"dir"`
	// Error says why the arm has no (or only partial) results.
	Error  string          `json:"error,omitempty"`
	Result *results.Result `json:"-"`
}

// ArmsComparison is several arms side by side: the overload finding.
type ArmsComparison struct {
	Profile string   `json:"profile"`
	Seed    int64    `json:"seed"`
	Arms    []ArmRun `json:"arms"`
	// Warnings say why the arms may not be like for like.
	Warnings []string    `json:"warnings,omitempty"`
	SLOs     []ArmSLORow `json:"slos"`
	Figures  []ArmRow    `json:"figures"`
	// Install holds the mesh install phase's figures when any arm had one
	// (each arm's settle text is in its Run). Reported, never judged.
	Install []ArmRow `json:"install,omitempty"`
	// Validity holds the simulator's checks when any arm has them.
	Validity []ArmValidityRow `json:"validity,omitempty"`
	// Findings are the comparison in plain words.
	Findings []string `json:"findings"`
}

// ArmRun identifies one arm and its verdict.
type ArmRun struct {
	Name string  `json:"name"`
	Dir  string  `json:"dir"`
	Run  RunInfo `json:"run"`
	// Breached names the SLOs the arm breached.
	Breached []string `json:"breached,omitempty"`
	Error    string   `json:"error,omitempty"`
}

// ArmValidityRow is one check of the simulator across the arms. Status
// has one results.Validity* entry per arm, "" where the arm has no such
// check.
type ArmValidityRow struct {
	Name      string   `json:"name"`
	Threshold string   `json:"threshold"`
	Measured  []string `json:"measured"`
	Status    []string `json:"status"`
	Reason    []string `json:"reason"`
}

// ArmRow is one figure across the arms.
type ArmRow struct {
	Name   string `json:"name"`
	Unit   string `json:"unit"`
	Better string `json:"better,omitempty"`
	// Values has one entry per arm, nil where the arm did not measure it.
	Values []*float64 `json:"values"`
}

// ArmSLORow is one SLO across the arms.
type ArmSLORow struct {
	Name      string     `json:"name"`
	Threshold string     `json:"threshold"`
	Limit     float64    `json:"limit,omitempty"`
	Unit      string     `json:"unit"`
	Measured  []string   `json:"measured"`
	Status    []string   `json:"status"`
	Values    []*float64 `json:"values"`
}

// armFigures are the figures of the side-by-side table: the API server's
// load first, since the ratio between arms is the finding.
var armFigures = []figure{
	{"kube-apiserver CPU, whole run", unitCPUSeconds, LowerIsBetter, FloorCPU, processFigure(apiServerProcess, cpuSeconds)},
	{"kube-apiserver CPU, churn phase", unitCPUSeconds, LowerIsBetter, FloorCPU, phaseCPU(apiServerProcess)},
	{"kube-apiserver peak RSS", observers.UnitBytes, LowerIsBetter, FloorRSS, processFigure(apiServerProcess, peakRSS)},
	{"API requests, churn phase", observers.UnitCount, Informational, 0, apiFigure(func(s *observers.APIServerSummary) float64 { return s.Requests })},
	{"429 responses, churn phase", observers.UnitCount, LowerIsBetter, FloorMeshCount, apiFigure(func(s *observers.APIServerSummary) float64 { return s.Requests429 })},
	{"5xx responses, churn phase", observers.UnitCount, LowerIsBetter, FloorMeshCount, apiFigure(func(s *observers.APIServerSummary) float64 { return s.Requests5xx })},
	{"APF rejections, churn phase", observers.UnitCount, LowerIsBetter, FloorMeshCount, apiFigure(func(s *observers.APIServerSummary) float64 { return s.APFRejected })},
	{"peak open watches", observers.UnitCount, Informational, 0, apiFigure(func(s *observers.APIServerSummary) float64 { return s.PeakWatches })},
	{"watch events sent, churn phase", observers.UnitCount, Informational, 0, phaseIntegral(observers.SeriesWatchEventRate)},
	{"outages", observers.UnitCount, LowerIsBetter, 1, availabilityFigure(func(a *results.Availability) float64 { return float64(len(a.Outages)) })},
	{"time down", observers.UnitSeconds, LowerIsBetter, FloorOutage, availabilityFigure(func(a *results.Availability) float64 { return a.DowntimeSeconds })},
	{"control-plane exits and restarts", observers.UnitCount, LowerIsBetter, 1, availabilityFigure(func(a *results.Availability) float64 { return float64(len(a.Events)) })},
	{"watch propagation p99", observers.UnitSeconds, LowerIsBetter, FloorLatency, watchDelayP99},
	{"mesh events received", observers.UnitCount, Informational, 0, meshFigure(func(c results.ComponentSummary) int64 { return c.EventsReceived })},
	{"mesh bytes received", observers.UnitBytes, Informational, 0, meshFigure(func(c results.ComponentSummary) int64 { return c.BytesReceived })},
	{"mesh re-lists", observers.UnitCount, LowerIsBetter, FloorMeshCount, meshFigure(func(c results.ComponentSummary) int64 { return c.Relists })},
	{"mesh 429s", observers.UnitCount, LowerIsBetter, FloorMeshCount, meshFigure(func(c results.ComponentSummary) int64 { return c.Throttled429 })},
	{"mesh event lag p99 (worst component)", observers.UnitSeconds, LowerIsBetter, FloorLatency, meshLagP99},
	{"churn CPU", unitCPUSeconds, LowerIsBetter, FloorCPU, processFigure(observers.TesterProcess, cpuSeconds)},
	{"churn peak RSS", observers.UnitBytes, LowerIsBetter, FloorRSS, processFigure(observers.TesterProcess, peakRSS)},
	{"churn actions succeeded", observers.UnitCount, HigherIsBetter, FloorActions, churnFigure(func(c *results.ChurnSummary) float64 { return float64(c.Succeeded) })},
	{"churn action latency p99", observers.UnitSeconds, LowerIsBetter, FloorLatency, churnFigure(func(c *results.ChurnSummary) float64 { return c.LatencyP99Seconds })},
}

// CompareArms lays the arms side by side. Arms without a result keep their
// column, empty, so a failed arm is visible rather than dropped.
func CompareArms(arms []Arm) ArmsComparison {
	var c ArmsComparison
	var ref *results.Result
	for _, a := range arms {
		run := ArmRun{Name: a.Name, Dir: a.Dir, Error: a.Error}
		if a.Result != nil {
			run.Run = runInfo(a.Result)
			run.Breached = a.Result.Verdict.Breached
			if ref == nil {
				ref = a.Result
				c.Profile, c.Seed = a.Result.Profile.Name, a.Result.Seed
			} else {
				for _, w := range planWarnings(ref, a.Result) {
					// Arms named by their mesh differ in it on purpose.
					if strings.HasPrefix(w, "meshes differ") && armsAreMeshes(arms) {
						continue
					}
					if strings.HasPrefix(w, extraArgsDiffer) && armsAreArgs(arms) {
						continue
					}
					c.Warnings = append(c.Warnings, a.Name+": "+w)
				}
			}
		}
		c.Arms = append(c.Arms, run)
	}
	c.SLOs = armSLOs(arms)
	c.Figures = armRows(arms, armFigures)
	c.Install = armRows(arms, installFigures)
	c.Validity = armValidity(arms)
	c.Findings = findings(c)
	return c
}

// armRows reads each figure of every arm, keeping the figures at least one
// arm measured.
func armRows(arms []Arm, figs []figure) []ArmRow {
	var rows []ArmRow
	for _, f := range figs {
		row := ArmRow{Name: f.name, Unit: f.unit, Better: f.better, Values: make([]*float64, len(arms))}
		measured := false
		for i, a := range arms {
			if a.Result == nil {
				continue
			}
			if v, ok := f.get(a.Result); ok {
				row.Values[i], measured = new(v), true
			}
		}
		if measured {
			rows = append(rows, row)
		}
	}
	return rows
}

// armValidity pairs the simulator's checks by name in the order of the
// first arm that has them.
func armValidity(arms []Arm) []ArmValidityRow {
	var rows []ArmValidityRow
	index := map[string]int{}
	for i, a := range arms {
		if a.Result == nil || a.Result.Validity == nil {
			continue
		}
		for _, ch := range a.Result.Validity.Checks {
			j, ok := index[ch.Name]
			if !ok {
				j = len(rows)
				index[ch.Name] = j
				rows = append(rows, ArmValidityRow{Name: ch.Name, Threshold: ch.Threshold,
					Measured: make([]string, len(arms)), Status: make([]string, len(arms)), Reason: make([]string, len(arms))})
			}
			rows[j].Measured[i], rows[j].Status[i], rows[j].Reason[i] = ch.Measured, ch.Status, ch.Reason
		}
	}
	return rows
}

// armsAreMeshes says whether every arm is named by the mesh it ran.
func armsAreMeshes(arms []Arm) bool {
	for _, a := range arms {
		if a.Result != nil && meshName(a.Result) != a.Name {
			return false
		}
	}
	return true
}

// armSLOs pairs SLOs by name in the order of the first arm that has them.
func armSLOs(arms []Arm) []ArmSLORow {
	var rows []ArmSLORow
	index := map[string]int{}
	for i, a := range arms {
		if a.Result == nil {
			continue
		}
		for _, s := range a.Result.SLOs {
			j, ok := index[s.Name]
			if !ok {
				j = len(rows)
				index[s.Name] = j
				rows = append(rows, ArmSLORow{
					Name: s.Name, Threshold: s.Threshold, Limit: s.Limit, Unit: s.Unit,
					Measured: make([]string, len(arms)), Status: make([]string, len(arms)), Values: make([]*float64, len(arms)),
				})
			}
			rows[j].Measured[i], rows[j].Status[i], rows[j].Values[i] = s.Measured, s.Status, sloValue(s)
		}
	}
	return rows
}

// findings says in plain words which arm breached what and by how much,
// and how the API server's load compares between the arms.
func findings(c ArmsComparison) []string {
	var out []string
	for i, a := range c.Arms {
		switch {
		case a.Error != "" && a.Run.RunID == "":
			out = append(out, fmt.Sprintf("%s did not complete: %s", a.Name, a.Error))
			continue
		case a.Error != "":
			out = append(out, fmt.Sprintf("%s ended with an error: %s", a.Name, a.Error))
		}
		var breaches []string
		judged := 0
		for _, s := range c.SLOs {
			switch s.Status[i] {
			case results.SLOBreached:
				breaches = append(breaches, breachText(s, i))
				judged++
			case results.SLOPassed:
				judged++
			}
		}
		if a.Run.Inconclusive {
			// Said first: it qualifies whatever the SLOs say next.
			out = append(out, fmt.Sprintf("%s was INCONCLUSIVE: the simulator fell behind (%s), so its SLO figures measure the bench as much as the API server.",
				a.Name, behindText(c, i)))
		}
		if s := a.Run.Settle; s != "" && !strings.HasPrefix(s, "settled") {
			out = append(out, fmt.Sprintf("%s: the mesh %s; its install storm ran into the churn phase.", a.Name, s))
		}
		if len(breaches) == 0 {
			out = append(out, fmt.Sprintf("%s held all %d judged SLOs.", a.Name, judged))
			continue
		}
		out = append(out, fmt.Sprintf("%s breached %d of %d judged SLOs: %s.", a.Name, len(breaches), judged, strings.Join(breaches, "; ")))
	}
	var inconclusive []string
	for _, a := range c.Arms {
		if a.Run.Inconclusive {
			inconclusive = append(inconclusive, a.Name)
		}
	}
	if len(inconclusive) > 0 {
		out = append(out, fmt.Sprintf("Inconclusive arms: %s; hold their figures against the other arms with care.", strings.Join(inconclusive, ", ")))
	}
	if len(c.Arms) < 2 {
		return out
	}
	for _, name := range []string{"kube-apiserver CPU, churn phase", "kube-apiserver CPU, whole run", "kube-apiserver peak RSS", "429 responses, churn phase", "watch events sent, churn phase", "mesh re-lists"} {
		if s := ratioText(c, name); s != "" {
			out = append(out, s)
		}
	}
	for _, s := range c.SLOs {
		if !strings.HasSuffix(s.Name, "-p99") || strings.HasPrefix(s.Name, "probe-") || s.Name == observers.SLOPodStartupP99 {
			continue
		}
		if t := ratioOf(c, s.Name, s.Unit, s.Values); t != "" {
			out = append(out, t)
		}
	}
	return out
}

// behindText names what fell behind in arm i, with measure and threshold
// where the arm's checks have them: "churn-lag-p99 3.2s > 1s".
func behindText(c ArmsComparison, i int) string {
	var parts []string
	for _, v := range c.Validity {
		if v.Status[i] == results.ValidityBehind {
			parts = append(parts, fmt.Sprintf("%s %s > %s", v.Name, orDash(v.Measured[i]), orDash(v.Threshold)))
		}
	}
	if len(parts) == 0 {
		return strings.Join(c.Arms[i].Run.Behind, ", ")
	}
	return strings.Join(parts, ", ")
}

// breachText is "mutating-p99 3.2s against 1s (3.2x the threshold)".
func breachText(s ArmSLORow, i int) string {
	text := fmt.Sprintf("%s %s against %s", s.Name, orDash(s.Measured[i]), s.Threshold)
	if v := s.Values[i]; v != nil && s.Limit > 0 {
		text += fmt.Sprintf(" (%s the threshold)", times(*v/s.Limit))
	}
	return text
}

// ratioText compares a figure of every arm with the arm where it is lowest.
func ratioText(c ArmsComparison, name string) string {
	for _, f := range c.Figures {
		if f.Name == name {
			return ratioOf(c, f.Name, f.Unit, f.Values)
		}
	}
	return ""
}

// ratioOf says "NAME: a X, b Y (Nx a)" naming the highest arm against the
// lowest; "" when fewer than two arms have the figure or the lowest is 0
// and the highest is too.
func ratioOf(c ArmsComparison, name, unit string, values []*float64) string {
	type pair struct {
		arm string
		v   float64
	}
	var ps []pair
	for i, v := range values {
		if v != nil {
			ps = append(ps, pair{c.Arms[i].Name, *v})
		}
	}
	if len(ps) < 2 {
		return ""
	}
	var parts []string
	for _, p := range ps {
		parts = append(parts, p.arm+" "+formatFigure(unit, &p.v))
	}
	lo := slices.MinFunc(ps, func(a, b pair) int { return cmpFloat(a.v, b.v) })
	hi := slices.MaxFunc(ps, func(a, b pair) int { return cmpFloat(a.v, b.v) })
	text := name + ": " + strings.Join(parts, ", ")
	switch {
	case hi.v == 0:
		return text + " (none in any arm)"
	case lo.v == 0:
		return text + fmt.Sprintf(" (%s only)", hi.arm)
	case hi.v/lo.v < 1.05:
		return text + " (within 5%)"
	}
	return text + fmt.Sprintf(" (%s: %s %s)", hi.arm, times(hi.v/lo.v), lo.arm)
}

func cmpFloat(a, b float64) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

// times renders a ratio as "2.6x".
func times(r float64) string {
	if r >= 10 {
		return fmt.Sprintf("%.0fx", r)
	}
	return fmt.Sprintf("%.1fx", r)
}

// churnPhase is the churn phase of r, the span the SLOs judge.
func churnPhase(r *results.Result) (from, to time.Time, ok bool) {
	for _, p := range r.Phases {
		if p.Name == "churn" {
			return p.Start, p.End, !p.End.IsZero()
		}
	}
	return time.Time{}, time.Time{}, false
}

// integrate sums a rate series over [from, to]: each sample stands for the
// interval since the previous one, clipped to the span.
func integrate(pts []observers.Point, from, to time.Time) float64 {
	var sum float64
	for i := 1; i < len(pts); i++ {
		start, end := pts[i-1].T, pts[i].T
		if start.Before(from) {
			start = from
		}
		if end.After(to) {
			end = to
		}
		if end.After(start) {
			sum += pts[i].V * end.Sub(start).Seconds()
		}
	}
	return sum
}

// phaseCPU integrates a process's CPU series over the churn phase.
func phaseCPU(process string) func(*results.Result) (float64, bool) {
	return func(r *results.Result) (float64, bool) {
		var s observers.ProcessesSummary
		found, err := observers.GetObserver(r, observers.ProcessesName, &s)
		from, to, ok := churnPhase(r)
		if err != nil || !found || !ok {
			return 0, false
		}
		pts := seriesPoints(s.Series, observers.SeriesCPUPrefix+process)
		if len(pts) < 2 {
			return 0, false
		}
		return integrate(pts, from, to), true
	}
}

// phaseIntegral integrates one of apiserver-metrics' rate series over the
// churn phase.
func phaseIntegral(series string) func(*results.Result) (float64, bool) {
	return func(r *results.Result) (float64, bool) {
		s, ok := apiSummary(r)
		from, to, inPhase := churnPhase(r)
		if !ok || !inPhase {
			return 0, false
		}
		pts := seriesPoints(s.Series, series)
		if len(pts) < 2 {
			return 0, false
		}
		return integrate(pts, from, to), true
	}
}

func apiSummary(r *results.Result) (*observers.APIServerSummary, bool) {
	var s observers.APIServerSummary
	found, err := observers.GetObserver(r, observers.APIServerMetricsName, &s)
	if err != nil || !found || s.Scrapes < 2 {
		return nil, false
	}
	return &s, true
}

func apiFigure(get func(*observers.APIServerSummary) float64) func(*results.Result) (float64, bool) {
	return func(r *results.Result) (float64, bool) {
		s, ok := apiSummary(r)
		if !ok {
			return 0, false
		}
		return get(s), true
	}
}

func availabilityFigure(get func(*results.Availability) float64) func(*results.Result) (float64, bool) {
	return func(r *results.Result) (float64, bool) {
		if r.Availability == nil {
			return 0, false
		}
		return get(r.Availability), true
	}
}

func watchDelayP99(r *results.Result) (float64, bool) {
	var s observers.WatchPropagationSummary
	found, err := observers.GetObserver(r, observers.WatchPropagationName, &s)
	if err != nil || !found || s.Delay.Count == 0 {
		return 0, false
	}
	return s.Delay.P99, true
}

// meshLagP99 is the worst primary event lag of any mesh component: how
// late the slowest component learnt of a change.
func meshLagP99(r *results.Result) (float64, bool) {
	if r.MeshStats == nil {
		return 0, false
	}
	worst, ok := 0.0, false
	for _, c := range r.MeshStats.Components {
		if c.LagP99 > 0 {
			worst, ok = max(worst, c.LagP99), true
		}
	}
	return worst, ok
}
