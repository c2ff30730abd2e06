package observers

import (
	"fmt"
	"math"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/churn-dev/churn/results"
)

// SLO names, as profiles and --slo use them.
const (
	SLOMutatingP99           = "mutating-p99"
	SLOReadResourceP99       = "read-resource-p99"
	SLOReadNamespaceP99      = "read-namespace-p99"
	SLOReadClusterP99        = "read-cluster-p99"
	SLOErrorRatio            = "error-ratio"
	SLOPodStartupP99         = "pod-startup-p99"
	SLOMaxOutage             = "max-outage"
	SLOProbeMutatingP99      = "probe-mutating-p99"
	SLOProbeReadResourceP99  = "probe-read-resource-p99"
	SLOProbeReadNamespaceP99 = "probe-read-namespace-p99"
	SLOProbeReadClusterP99   = "probe-read-cluster-p99"
)

// sloOff disables an SLO when given as its value.
const sloOff = "off"

// maxListedBreaches caps SLOResult.Breaches.
const maxListedBreaches = 10

type sloDef struct {
	name        string
	description string
	unit        string // UnitSeconds or UnitRatio
	threshold   string // default
	measure     func(r *results.Result, limit float64) results.SLOResult
}

// sloDefs are the default SLOs (sig-scalability slos.md, plus churn's own
// availability and error bounds), in report order.
var sloDefs = []sloDef{
	{SLOMutatingP99, "mutating API calls, p99 per (verb, resource) over 5 min", UnitSeconds, "1s", apiLatency(CategoryMutating)},
	{SLOReadResourceP99, "read-only calls for single objects, p99 over 5 min", UnitSeconds, "1s", apiLatency(CategoryReadResource)},
	{SLOReadNamespaceP99, "namespace-scoped LISTs, p99 over 5 min", UnitSeconds, "30s", apiLatency(CategoryReadNamespace)},
	{SLOReadClusterP99, "cluster-scoped LISTs, p99 over 5 min", UnitSeconds, "30s", apiLatency(CategoryReadCluster)},
	{SLOErrorRatio, "share of API requests answered 429 or 5xx", UnitRatio, "1%", errorRatio},
	{SLOPodStartupP99, "pod creation to Ready, p99, observed via watch", UnitSeconds, "5s", podStartupP99},
	// 10 s: a blip of a few failed health checks is tolerated; an API
	// server that restarts (several seconds of start-up on top of the crash)
	// is not.
	{SLOMaxOutage, "longest /readyz or /livez outage", UnitSeconds, "10s", maxOutage},
	{SLOProbeMutatingP99, "churn's create/delete probe, p99 over 5 min", UnitSeconds, "1s", probeLatency(CategoryMutating)},
	{SLOProbeReadResourceP99, "churn's GET probe, p99 over 5 min", UnitSeconds, "1s", probeLatency(CategoryReadResource)},
	{SLOProbeReadNamespaceP99, "churn's namespace LIST probe, p99 over 5 min", UnitSeconds, "30s", probeLatency(CategoryReadNamespace)},
	{SLOProbeReadClusterP99, "churn's cluster LIST probe (limit 500), p99 over 5 min", UnitSeconds, "30s", probeLatency(CategoryReadCluster)},
}

// SLOInfo describes one SLO for help texts.
type SLOInfo struct {
	Name, Description, Default, Unit string
}

// SLOs lists every SLO with its default threshold.
func SLOs() []SLOInfo {
	out := make([]SLOInfo, len(sloDefs))
	for i, d := range sloDefs {
		out[i] = SLOInfo{Name: d.name, Description: d.description, Default: d.threshold, Unit: d.unit}
	}
	return out
}

func sloByName(name string) (sloDef, bool) {
	for _, d := range sloDefs {
		if d.name == name {
			return d, true
		}
	}
	return sloDef{}, false
}

func sloNames() string {
	names := make([]string, len(sloDefs))
	for i, d := range sloDefs {
		names[i] = d.name
	}
	return strings.Join(names, ", ")
}

// ParseSLOFlags turns repeated --slo name=value flags into overrides.
func ParseSLOFlags(flags []string) (map[string]string, error) {
	out := map[string]string{}
	for _, f := range flags {
		name, value, ok := strings.Cut(f, "=")
		name, value = strings.TrimSpace(name), strings.TrimSpace(value)
		if !ok || name == "" || value == "" {
			return nil, fmt.Errorf("--slo %q: want name=value, e.g. mutating-p99=500ms", f)
		}
		out[name] = value
	}
	if err := ValidateOverrides(out); err != nil {
		return nil, err
	}
	return out, nil
}

// ValidateOverrides checks SLO names and values, so a typo fails before a
// run rather than after it.
func ValidateOverrides(overrides map[string]string) error {
	names := make([]string, 0, len(overrides))
	for n := range overrides {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		d, ok := sloByName(n)
		if !ok {
			return fmt.Errorf("unknown SLO %q (known: %s)", n, sloNames())
		}
		if _, _, err := parseThreshold(d, overrides[n]); err != nil {
			return err
		}
	}
	return nil
}

// parseThreshold reads a threshold: a duration ("1s", "500ms") for latency
// SLOs, a ratio ("0.01" or "1%") for ratios, or "off".
func parseThreshold(d sloDef, v string) (limit float64, off bool, err error) {
	v = strings.TrimSpace(v)
	if v == sloOff {
		return 0, true, nil
	}
	switch d.unit {
	case UnitSeconds:
		dur, err := time.ParseDuration(v)
		if err != nil || dur < 0 {
			return 0, false, fmt.Errorf("SLO %s=%q: want a duration like 1s or 500ms, or %q", d.name, v, sloOff)
		}
		return dur.Seconds(), false, nil
	case UnitRatio:
		text, pct := strings.CutSuffix(v, "%")
		f, err := strconv.ParseFloat(strings.TrimSpace(text), 64)
		if pct {
			f /= 100
		}
		if err != nil || f < 0 || f > 1 || math.IsNaN(f) {
			return 0, false, fmt.Errorf("SLO %s=%q: want a ratio like 0.01 or 1%%, or %q", d.name, v, sloOff)
		}
		return f, false, nil
	}
	return 0, false, fmt.Errorf("SLO %s: unknown unit %s", d.name, d.unit)
}

// Evaluate judges r against every SLO. Thresholds are the defaults, then
// r.Profile.SLOs, then overrides (the --slo flags). It needs the observer
// summaries in r, so call it after Summarize.
func Evaluate(r *results.Result, overrides map[string]string) ([]results.SLOResult, error) {
	thresholds := map[string]string{}
	for _, d := range sloDefs {
		thresholds[d.name] = d.threshold
	}
	for _, layer := range []map[string]string{r.Profile.SLOs, overrides} {
		if err := ValidateOverrides(layer); err != nil {
			return nil, err
		}
		for k, v := range layer {
			thresholds[k] = v
		}
	}
	out := make([]results.SLOResult, 0, len(sloDefs))
	for _, d := range sloDefs {
		limit, off, err := parseThreshold(d, thresholds[d.name])
		if err != nil {
			return nil, err
		}
		if off {
			out = append(out, results.SLOResult{
				Name: d.name, Description: d.description, Threshold: sloOff, Measured: "-",
				Unit: d.unit, Status: results.SLODisabled, Passed: true, Reason: "disabled by configuration",
			})
			continue
		}
		res := d.measure(r, limit)
		res.Name, res.Description, res.Unit, res.Limit = d.name, d.description, d.unit, limit
		res.Threshold = formatValue(d.unit, limit)
		if res.Status != results.SLOSkipped {
			res.Measured = formatValue(d.unit, res.Value)
			if res.Measured == res.Threshold && res.Value != limit {
				// "10s > 10s" reads as a bug: show the digits that decide.
				res.Measured = preciseValue(d.unit, res.Value)
			}
			res.Passed = res.Value <= limit
			res.Status = results.SLOBreached
			if res.Passed {
				res.Status = results.SLOPassed
			}
		} else {
			res.Measured = "no data"
		}
		out = append(out, res)
	}
	return out, nil
}

// Verdict is the gate: passed when no SLO was breached. Skipped SLOs do not
// fail the gate but are named in the summary, so missing data is never
// mistaken for a pass.
func Verdict(slos []results.SLOResult) results.Verdict {
	v := results.Verdict{Passed: true}
	var held, skipped []string
	for _, s := range slos {
		switch s.Status {
		case results.SLOBreached:
			v.Passed = false
			v.Breached = append(v.Breached, s.Name)
		case results.SLOSkipped:
			skipped = append(skipped, s.Name)
		case results.SLOPassed:
			held = append(held, s.Name)
		}
	}
	switch {
	case !v.Passed:
		v.Summary = fmt.Sprintf("FAIL: %d of %d judged SLOs breached: %s", len(v.Breached), len(v.Breached)+len(held), strings.Join(v.Breached, ", "))
	case len(held) == 0:
		v.Summary = "PASS with no SLO judged"
	default:
		v.Summary = fmt.Sprintf("PASS: all %d judged SLOs held", len(held))
	}
	if len(skipped) > 0 {
		v.Summary += fmt.Sprintf(" (no data, not judged: %s)", strings.Join(skipped, ", "))
	}
	return v
}

func skipped(reason string) results.SLOResult {
	return results.SLOResult{Status: results.SLOSkipped, Reason: reason}
}

func notEnabled(observer string) results.SLOResult {
	return skipped(fmt.Sprintf("observer %s did not run", observer))
}

func apiLatency(category string) func(*results.Result, float64) results.SLOResult {
	return func(r *results.Result, limit float64) results.SLOResult {
		var s APIServerSummary
		found, err := GetObserver(r, APIServerMetricsName, &s)
		switch {
		case err != nil:
			return skipped(err.Error())
		case !found:
			return notEnabled(APIServerMetricsName)
		case s.Scrapes < 2:
			return skipped(fmt.Sprintf("fewer than two successful /metrics scrapes (last error: %s)", s.LastError))
		}
		var res results.SLOResult
		var worst *KeyLatency
		for i := range s.Keys {
			k := &s.Keys[i]
			if k.Category != category {
				continue
			}
			if worst == nil || k.P99 > worst.P99 {
				worst = k
			}
			if k.P99 > limit && len(res.Breaches) < maxListedBreaches {
				res.Breaches = append(res.Breaches, fmt.Sprintf("%s: p99 %s", k.RequestKey, FormatSeconds(k.P99)))
			}
		}
		if worst == nil {
			return skipped(fmt.Sprintf("no %s requests during the %s", category, s.Judged.Label))
		}
		res.Value = worst.P99
		res.Worst = fmt.Sprintf("%s, %.0f requests", worst.RequestKey, worst.Count)
		res.WorstWindowStart, res.WorstWindowEnd = worst.WindowStart, worst.WindowEnd
		res.Reason = "judged on the " + s.Judged.Label
		return res
	}
}

func errorRatio(r *results.Result, _ float64) results.SLOResult {
	var s APIServerSummary
	found, err := GetObserver(r, APIServerMetricsName, &s)
	switch {
	case err != nil:
		return skipped(err.Error())
	case !found:
		return notEnabled(APIServerMetricsName)
	case s.Requests == 0:
		return skipped("no requests counted from /metrics during the " + s.Judged.Label)
	}
	res := results.SLOResult{
		Value:  s.ErrorRatio,
		Worst:  fmt.Sprintf("%.0f x 429, %.0f x 5xx of %.0f requests", s.Requests429, s.Requests5xx, s.Requests),
		Reason: "judged on the " + s.Judged.Label,
	}
	if w := s.WorstErrorWindow; w != nil {
		res.WorstWindowStart, res.WorstWindowEnd = w.Start, w.End
		res.Worst += fmt.Sprintf("; worst 5 min %s", formatValue(UnitRatio, w.Ratio))
	}
	return res
}

func podStartupP99(r *results.Result, _ float64) results.SLOResult {
	var s PodStartupSummary
	found, err := GetObserver(r, PodStartupName, &s)
	switch {
	case err != nil:
		return skipped(err.Error())
	case !found:
		return notEnabled(PodStartupName)
	case s.Churn.Observed.Count == 0:
		if waited, added, ok := podsNeverReady(r.Churn, s.Judged.To); ok {
			// A control plane that creates no pod at all would otherwise
			// pass by having nothing to measure.
			return results.SLOResult{
				Value: waited,
				Worst: fmt.Sprintf("0 pods Ready; scale-ups added %d replicas", added),
				Reason: fmt.Sprintf("no pod created and Ready during the %s although its scale-ups added %d replicas: the first waited at least %s, counted as its start-up latency",
					s.Judged.Label, added, FormatSeconds(waited)),
			}
		}
		return skipped("no pod created and Ready during the " + s.Judged.Label)
	}
	return results.SLOResult{
		Value:            s.Churn.Observed.P99,
		Worst:            fmt.Sprintf("%d pods, max %s", s.Churn.Observed.Count, FormatSeconds(s.Churn.Observed.Max)),
		WorstWindowStart: s.WorstWindowFrom, WorstWindowEnd: s.WorstWindowTo,
		Reason: "pods created during the " + s.Judged.Label + "; " + s.TimestampsNote,
	}
}

// podsNeverReady reports, when churn's scale-ups succeeded but no pod
// became Ready, how long the replicas of the first one have waited by end
// (a lower bound of their start-up latency) and how many replicas the
// scale-ups added.
func podsNeverReady(c *results.ChurnSummary, end time.Time) (waited float64, added int, ok bool) {
	if c == nil || end.IsZero() {
		return 0, 0, false
	}
	var first time.Time
	for _, a := range c.Actions {
		if a.Kind != results.ActionScale || !a.OK() || a.To <= a.From || a.End.IsZero() || !a.End.Before(end) {
			continue
		}
		added += a.To - a.From
		if first.IsZero() || a.End.Before(first) {
			first = a.End
		}
	}
	if added == 0 {
		return 0, 0, false
	}
	return end.Sub(first).Seconds(), added, true
}

func maxOutage(r *results.Result, limit float64) results.SLOResult {
	a := r.Availability
	if a == nil {
		return notEnabled(AvailabilityName)
	}
	if a.Checks == 0 {
		return skipped("no health check completed")
	}
	res := results.SLOResult{Value: a.LongestSeconds, Reason: "judged on the whole run"}
	var longest *results.Outage
	for i := range a.Outages {
		o := &a.Outages[i]
		if longest == nil || o.DurationSeconds > longest.DurationSeconds {
			longest = o
		}
		if o.DurationSeconds > limit && len(res.Breaches) < maxListedBreaches {
			res.Breaches = append(res.Breaches, fmt.Sprintf("%s for %s", o.Start.UTC().Format(time.TimeOnly), FormatSeconds(o.DurationSeconds)))
		}
	}
	if longest == nil {
		res.Worst = fmt.Sprintf("no outage in %d checks", a.Checks)
		return res
	}
	res.Worst = fmt.Sprintf("%d outage(s), %s down in total", len(a.Outages), FormatSeconds(a.DowntimeSeconds))
	res.WorstWindowStart, res.WorstWindowEnd = longest.Start, longest.End
	return res
}

func probeLatency(category string) func(*results.Result, float64) results.SLOResult {
	return func(r *results.Result, limit float64) results.SLOResult {
		var s ProbesSummary
		found, err := GetObserver(r, ProbesName, &s)
		switch {
		case err != nil:
			return skipped(err.Error())
		case !found:
			return notEnabled(ProbesName)
		}
		var res results.SLOResult
		var worst *ProbeStats
		for i := range s.Probes {
			p := &s.Probes[i]
			if p.Category != category || p.Judged.Count == 0 {
				continue
			}
			if worst == nil || p.WorstP99 > worst.WorstP99 {
				worst = p
			}
			if p.WorstP99 > limit {
				res.Breaches = append(res.Breaches, fmt.Sprintf("%s: p99 %s", p.Probe, FormatSeconds(p.WorstP99)))
			}
		}
		if worst == nil {
			return skipped("no probe answered during the " + s.Judged.Label)
		}
		res.Value = worst.WorstP99
		res.Worst = fmt.Sprintf("probe %s, %d calls", worst.Probe, worst.Judged.Count)
		if n := errorCount(worst.Errors); n > 0 {
			res.Worst += fmt.Sprintf(", %d failed", n)
		}
		res.WorstWindowStart, res.WorstWindowEnd = worst.WorstWindowStart, worst.WorstWindowEnd
		res.Reason = "judged on the " + s.Judged.Label
		return res
	}
}

func errorCount(m map[string]int) int {
	n := 0
	for _, v := range m {
		n += v
	}
	return n
}

func preciseValue(unit string, v float64) string {
	if unit == UnitRatio {
		return fmt.Sprintf("%.6g%%", v*100)
	}
	return fmt.Sprintf("%.6gs", v)
}

func formatValue(unit string, v float64) string {
	if unit == UnitRatio {
		return FormatPercent(v)
	}
	return FormatSeconds(v)
}

// FormatPercent renders a ratio as a percentage with useful precision.
func FormatPercent(v float64) string {
	p := v * 100
	switch {
	case p == 0:
		return "0%"
	case p < 0.01:
		return fmt.Sprintf("%.4f%%", p)
	case p < 1:
		return fmt.Sprintf("%.2f%%", p)
	}
	return trimZeros(fmt.Sprintf("%.1f", p)) + "%"
}

// FormatSeconds renders seconds as a short duration ("850ms", "1.25s").
func FormatSeconds(v float64) string {
	switch {
	case v == 0:
		return "0s"
	case v < 0.001:
		return fmt.Sprintf("%.0fµs", v*1e6)
	case v < 1:
		return fmt.Sprintf("%.0fms", v*1000)
	case v < 10:
		return trimZeros(fmt.Sprintf("%.2f", v)) + "s"
	case v < 120:
		return trimZeros(fmt.Sprintf("%.1f", v)) + "s"
	}
	// A threshold up to the largest Duration is accepted (--slo
	// max-outage=2562047h47m16.854775807s); converted as is, it rounds up
	// past that and wraps to a negative duration.
	d := time.Duration(math.MaxInt64)
	if ns := v * float64(time.Second); !(ns >= math.MaxInt64) {
		d = time.Duration(ns)
	}
	return d.Round(time.Second).String()
}

func trimZeros(s string) string {
	if !strings.Contains(s, ".") {
		return s
	}
	return strings.TrimRight(strings.TrimRight(s, "0"), ".")
}
