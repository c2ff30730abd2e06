package report

import (
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"

	"github.com/churn-dev/churn/observers"
	"github.com/churn-dev/churn/results"
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

	if len(c.SLOs) > 0 {
		tw := tabwriter.NewWriter(&b, 0, 4, 2, ' ', 0)
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
		tw := tabwriter.NewWriter(&b, 0, 4, 2, ' ', 0)
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

	fmt.Fprintf(&b, "Tolerance %s. Changes smaller than a noise floor never regress: latency %s, outage %s, "+
		"error ratio %s, CPU %g CPU s, RSS %s, churn actions %d, mesh counts %d.\n"+
		"A figure whose base is 0 has no relative change; the candidate's SLOs alone judge it.\n",
		observers.FormatPercent(c.Tolerance), observers.FormatSeconds(FloorLatency), observers.FormatSeconds(FloorOutage),
		observers.FormatPercent(FloorErrorRatio), FloorCPU, formatBytes(FloorRSS), FloorActions, FloorMeshCount)
	fmt.Fprintf(&b, "Gate: %s\n", GateSummary(c))
	if _, err := io.WriteString(w, b.String()); err != nil {
		return fmt.Errorf("write comparison: %w", err)
	}
	return nil
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
		return fmt.Sprintf("PASS: the candidate breached no SLO and nothing regressed beyond %s",
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
		parts = append(parts, fmt.Sprintf("regressed beyond %s: %s",
			observers.FormatPercent(c.Tolerance), strings.Join(regressed, ", ")))
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
