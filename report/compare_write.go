package report

import (
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"

	"github.com/churn-dev/churn/observers"
	"github.com/churn-dev/churn/results"
	"github.com/churn-dev/churn/stats"
)

// WriteComparison prints c as text: the two runs and their verdicts, any
// warnings, the SLO table, the key figures, the simulator's checks, the
// install phase and the gate's verdict.
func WriteComparison(w io.Writer, c Comparison) error {
	var b strings.Builder
	fmt.Fprintf(&b, "base:      %s\n", describeRun(c.Base))
	for _, n := range c.Base.Notes {
		fmt.Fprintf(&b, "           note: %s\n", n)
	}
	fmt.Fprintf(&b, "candidate: %s\n", describeRun(c.Candidate))
	for _, n := range c.Candidate.Notes {
		fmt.Fprintf(&b, "           note: %s\n", n)
	}
	for _, warn := range c.Warnings {
		fmt.Fprintf(&b, "warning: %s\n", warn)
	}
	if len(c.Warnings) > 0 {
		b.WriteString("warning: comparisons are only meaningful on identical churn (same profile, seed and churn plan)\n")
	}
	b.WriteString("\n")

	if c.Statistics {
		if err := writeStatsTables(&b, c); err != nil {
			return err
		}
	} else if err := writeSingleRunTables(&b, c); err != nil {
		return err
	}

	if len(c.Validity) > 0 {
		tw := newTable(&b)
		fmt.Fprintln(tw, "SIMULATOR CHECK\tTHRESHOLD\tBASE\tCANDIDATE\tBASE STATUS\tCANDIDATE STATUS\t")
		for _, v := range c.Validity {
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t\n", v.Name, orDash(v.Threshold), orDash(v.BaseMeasured), orDash(v.CandidateMeasured),
				validityCell(v.BaseStatus, v.BaseReason), validityCell(v.CandidateStatus, v.CandidateReason))
		}
		if err := tw.Flush(); err != nil {
			return fmt.Errorf("format simulator comparison: %w", err)
		}
		b.WriteString("A candidate check BEHIND makes the comparison inconclusive (exit status 3).\n\n")
	}

	if len(c.Install) > 0 || c.Base.Settle != "" || c.Candidate.Settle != "" {
		fmt.Fprintf(&b, "Install phase: base %s; candidate %s.\n", orDefault(c.Base.Settle, "no install phase"),
			orDefault(c.Candidate.Settle, "no install phase"))
		tw := newTable(&b)
		fmt.Fprintln(tw, "INSTALL FIGURE\tBASE\tCANDIDATE\tCHANGE\t")
		for _, f := range c.Install {
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t\n", f.Name, formatFigure(f.Unit, f.Base), formatFigure(f.Unit, f.Candidate), formatChange(f))
		}
		if err := tw.Flush(); err != nil {
			return fmt.Errorf("format install comparison: %w", err)
		}
		b.WriteString(notJudgedNote + "\n\n")
	}

	b.WriteString(RuleText(c) + "\n")
	fmt.Fprintf(&b, "Gate: %s\n", GateSummary(c))
	if _, err := io.WriteString(w, b.String()); err != nil {
		return fmt.Errorf("write comparison: %w", err)
	}
	return nil
}

// writeSingleRunTables is the SLO and figure tables of one run per side.
func writeSingleRunTables(b *strings.Builder, c Comparison) error {
	if len(c.SLOs) > 0 {
		tw := tabwriter.NewWriter(b, 0, 4, 2, ' ', 0)
		fmt.Fprintln(tw, "SLO\tTHRESHOLD\tBASE\tCANDIDATE\tCHANGE\tBASE STATUS\tCANDIDATE STATUS\t")
		for _, s := range c.SLOs {
			threshold := s.Threshold
			if s.BaseThreshold != "" {
				threshold = s.BaseThreshold + " -> " + s.Threshold
			}
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n", s.Name, threshold,
				measuredText(s.BaseMeasured, s.Unit, s.Base), measuredText(s.CandidateMeasured, s.Unit, s.Candidate), formatChange(s.Row),
				orDash(s.BaseStatus), strings.ToUpper(orDash(s.CandidateStatus)), mark(s.Row))
		}
		if err := tw.Flush(); err != nil {
			return fmt.Errorf("format SLO comparison: %w", err)
		}
		b.WriteString("\n")
	}

	if len(c.Figures) > 0 {
		tw := tabwriter.NewWriter(b, 0, 4, 2, ' ', 0)
		fmt.Fprintln(tw, "FIGURE\tBASE\tCANDIDATE\tCHANGE\tBETTER\t")
		for _, f := range c.Figures {
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\n", f.Name, formatFigure(f.Unit, f.Base),
				formatFigure(f.Unit, f.Candidate), formatChange(f), orDash(f.Better), mark(f))
		}
		if err := tw.Flush(); err != nil {
			return fmt.Errorf("format figure comparison: %w", err)
		}
		b.WriteString("\n")
	}

	return nil
}

// writeStatsTables is the SLO and figure tables of several runs per side:
// medians with their noise, the change, its p-value and the verdict.
func writeStatsTables(b *strings.Builder, c Comparison) error {
	if len(c.SLOs) > 0 {
		tw := newTable(b)
		fmt.Fprintln(tw, "SLO\tTHRESHOLD\tBASE\tCANDIDATE\tCHANGE\tP\tBASE STATUS\tCANDIDATE STATUS\tVERDICT\t")
		for _, s := range c.SLOs {
			threshold := s.Threshold
			if s.BaseThreshold != "" {
				threshold = s.BaseThreshold + " -> " + s.Threshold
			}
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t\n", s.Name, threshold,
				sideCell(s.Row, true), sideCell(s.Row, false), formatChange(s.Row), pCell(s.Row),
				runsStatus(s.BaseStatus, s.BaseBreaches, s.BaseJudged), strings.ToUpper(runsStatus(s.CandidateStatus, s.CandidateBreaches, s.CandidateJudged)),
				verdictCell(s.Row))
		}
		if err := tw.Flush(); err != nil {
			return fmt.Errorf("format SLO comparison: %w", err)
		}
		b.WriteString("\n")
	}
	if len(c.Figures) > 0 {
		tw := newTable(b)
		fmt.Fprintln(tw, "FIGURE\tBASE\tCANDIDATE\tCHANGE\tP\tBETTER\tVERDICT\t")
		for _, f := range c.Figures {
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\t\n", f.Name, sideCell(f, true), sideCell(f, false),
				formatChange(f), pCell(f), orDash(f.Better), verdictCell(f))
		}
		if err := tw.Flush(); err != nil {
			return fmt.Errorf("format figure comparison: %w", err)
		}
		b.WriteString("\n")
	}
	return nil
}

// sideCell is a side's median with its noise, e.g. "120ms ±8% (range)".
func sideCell(r Row, base bool) string {
	v, sum := r.Candidate, (*stats.Summary)(nil)
	if base {
		v = r.Base
	}
	if r.Stats != nil {
		sum = &r.Stats.Candidate
		if base {
			sum = &r.Stats.Base
		}
	}
	text := formatFigure(r.Unit, v)
	if sum != nil && sum.N > 1 {
		text += " " + stats.NoiseText(*sum)
	}
	return text
}

// pCell is the p-value, "-" without one.
func pCell(r Row) string {
	if r.Stats == nil || r.Stats.P == nil {
		return "-"
	}
	return fmt.Sprintf("%.3f", *r.Stats.P)
}

// verdictCell is REGRESSED, improved or "~" (no significant change) with
// the reason.
func verdictCell(r Row) string {
	switch {
	case r.Stats == nil:
		return "-"
	case r.Regressed:
		return "REGRESSED"
	case r.Stats.Verdict == stats.NoChange && r.Stats.Fallback:
		// The rule line says why: one run per side.
		return "~"
	case r.Stats.Verdict == stats.NoChange:
		return "~ " + r.Stats.Reason
	}
	return r.Stats.Verdict
}

// runsStatus is a side's status with, for several runs, how many of them
// breached: "passed (1/5 breached)".
func runsStatus(status string, breaches, judged int) string {
	if judged == 0 {
		return orDash(status)
	}
	return fmt.Sprintf("%s (%d/%d breached)", status, breaches, judged)
}

// RuleText says how the comparison judged its figures: by significance
// with several runs per side, else by the single-run rule, so labelled.
func RuleText(c Comparison) string {
	floors := fmt.Sprintf("Changes smaller than a noise floor never regress: latency %s, outage %s, "+
		"error ratio %s, CPU %g CPU s, RSS %s, churn actions %d, mesh counts %d. "+
		"A figure whose base is 0 has no relative change; the candidate's SLOs alone judge it.",
		observers.FormatSeconds(FloorLatency), observers.FormatSeconds(FloorOutage),
		observers.FormatPercent(FloorErrorRatio), FloorCPU, formatBytes(FloorRSS), FloorActions, FloorMeshCount)
	if c.Statistics {
		return fmt.Sprintf("Statistics: %s base runs, %s candidate runs; each side is its median with its noise "+
			"(the %.0f%% confidence interval, or the range below 6 runs). A figure regresses only when the change is significant "+
			"(Mann-Whitney U, p <= %g, corrected for the number of figures tested together by Benjamini-Hochberg) and worse than the base by more than the tolerance %s; "+
			"else it is ~ (no significant change) with the reason. Detecting a change takes at least 4 runs per side, 5 when several figures move together "+
			"and 6 for a figure that moves alone. An SLO's status on a side is its median's. %s",
			runCount(c.Base), runCount(c.Candidate), stats.Confidence*100, stats.Alpha, observers.FormatPercent(c.Tolerance), floors)
	}
	return fmt.Sprintf("Single-run rule (%s base, %s candidate): no significance can be judged; a figure regresses when worse than the base "+
		"by more than the tolerance %s. Repeat the runs (churn run --repeat 5, or several --base and --candidate directories) to judge by significance. %s",
		runsText(c.Base), runsText(c.Candidate), observers.FormatPercent(c.Tolerance), floors)
}

func runCount(r RunInfo) string { return fmt.Sprint(max(r.Runs, 1)) }

func runsText(r RunInfo) string {
	if r.Runs > 1 {
		return fmt.Sprintf("%d runs", r.Runs)
	}
	return "1 run"
}

// WriteComparisonJSON writes c as indented JSON.
func WriteComparisonJSON(w io.Writer, c Comparison) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	if err := enc.Encode(c); err != nil {
		return fmt.Errorf("write comparison JSON: %w", err)
	}
	return nil
}

// GateSummary is the gate's verdict in one line, naming every breached SLO
// and regressed figure, or, for an inconclusive candidate, what fell
// behind (with what the figures would otherwise have said).
func GateSummary(c Comparison) string {
	if c.Inconclusive() {
		text := "INCONCLUSIVE: the candidate's simulator fell behind (" + strings.Join(c.Candidate.Behind, ", ") +
			"), so its figures are not the API server's alone"
		if !c.Passed() {
			text += "; not trusted: " + strings.TrimPrefix(failText(c), "FAIL: ")
		}
		return text
	}
	if c.Passed() {
		if c.Statistics {
			return fmt.Sprintf("PASS: the candidate breached no SLO (by its median) and nothing regressed significantly beyond %s",
				observers.FormatPercent(c.Tolerance))
		}
		return fmt.Sprintf("PASS: the candidate breached no SLO and nothing regressed beyond %s (single-run rule)",
			observers.FormatPercent(c.Tolerance))
	}
	return failText(c)
}

// failText names every breached SLO and regressed figure.
func failText(c Comparison) string {
	var parts []string
	if len(c.Breached) > 0 {
		parts = append(parts, "candidate breached SLO "+strings.Join(c.Breached, ", "))
	}
	if len(c.Regressed) > 0 {
		regressed := make([]string, len(c.Regressed))
		for i, r := range c.Regressed {
			regressed[i] = DescribeChange(r)
		}
		how := "regressed beyond"
		if c.Statistics {
			how = fmt.Sprintf("regressed significantly (p <= %g) beyond", stats.Alpha)
		}
		parts = append(parts, fmt.Sprintf("%s %s: %s",
			how, observers.FormatPercent(c.Tolerance), strings.Join(regressed, ", ")))
	}
	return "FAIL: " + strings.Join(parts, "; ")
}

// DescribeChange renders a row as "name base -> candidate (change)".
func DescribeChange(r Row) string {
	return fmt.Sprintf("%s %s -> %s (%s)", r.Name, formatFigure(r.Unit, r.Base),
		formatFigure(r.Unit, r.Candidate), formatChange(r))
}

func describeRun(r RunInfo) string {
	parts := []string{orDash(r.RunID)}
	if r.Runs > 1 {
		parts = []string{fmt.Sprintf("%d runs (%s)", r.Runs, strings.Join(r.RunIDs, ", "))}
	}
	if r.Profile != "" {
		parts = append(parts, "profile "+r.Profile)
	}
	parts = append(parts, fmt.Sprintf("seed %d", r.Seed), "mesh "+orDefault(r.Mesh, "none"))
	if r.Target != "" {
		parts = append(parts, "target "+r.Target)
	}
	if r.KubernetesVersion != "" {
		parts = append(parts, "Kubernetes "+r.KubernetesVersion)
	}
	if r.ExtraArgs != "" {
		parts = append(parts, "args "+r.ExtraArgs)
	}
	if r.CPUBudget != "" {
		parts = append(parts, "control-plane CPU budget "+r.CPUBudget)
	}
	parts = append(parts, runVerdict(r))
	return strings.Join(parts, " · ")
}

// runVerdict is PASS, FAIL, or INCONCLUSIVE naming what fell behind.
func runVerdict(r RunInfo) string {
	switch {
	case r.Inconclusive:
		return "INCONCLUSIVE (behind: " + strings.Join(r.Behind, ", ") + ")"
	case r.Passed:
		return "PASS"
	}
	return "FAIL"
}

// validityCell is "ok", "BEHIND", "skipped (reason)" or "-".
func validityCell(status, reason string) string {
	switch status {
	case "":
		return "-"
	case results.ValiditySkipped:
		if reason != "" {
			return "skipped (" + reason + ")"
		}
	}
	return validityStatusText(status)
}

func formatFigure(unit string, v *float64) string {
	if v == nil {
		return "-"
	}
	switch unit {
	case observers.UnitSeconds:
		return observers.FormatSeconds(*v)
	case observers.UnitRatio:
		return observers.FormatPercent(*v)
	case observers.UnitBytes:
		return formatBytes(*v)
	case unitCPUSeconds:
		return fmt.Sprintf("%.1f CPU s", *v)
	}
	return fmt.Sprintf("%.0f", *v)
}

// measuredText prefers the observer's own rendering of an SLO value, which
// shows extra digits where rounding would hide a breach.
func measuredText(measured, unit string, v *float64) string {
	if v == nil || measured == "" || measured == "-" {
		return formatFigure(unit, v)
	}
	return measured
}

func formatChange(r Row) string {
	switch {
	case r.Base == nil || r.Candidate == nil:
		return "-"
	case r.Change == nil:
		return "new (base 0)"
	}
	return fmt.Sprintf("%+.1f%%", *r.Change*100)
}

func mark(r Row) string {
	if r.Regressed {
		return "REGRESSED"
	}
	return ""
}

func orDash(s string) string { return orDefault(s, "-") }

func orDefault(s, def string) string {
	if s == "" {
		return def
	}
	return s
}
