package report

import (
	"fmt"
	"io"
	"strings"
)

// WriteComparisonMarkdown writes c as Markdown fit for a pull-request
// comment: the verdict, the runs, any warnings, one table of every SLO
// and figure (base, candidate, change, p-value, verdict) and the rule
// that judged them.
func WriteComparisonMarkdown(w io.Writer, c Comparison) error {
	var b strings.Builder
	icon := "✅"
	switch {
	case c.Inconclusive():
		icon = "⚠️"
	case !c.Passed():
		icon = "❌"
	}
	fmt.Fprintf(&b, "### %s churn compare\n\n**%s**\n\n", icon, mdEscape(GateSummary(c)))
	fmt.Fprintf(&b, "- base: %s\n- candidate: %s\n", mdEscape(describeRun(c.Base)), mdEscape(describeRun(c.Candidate)))
	for _, warn := range c.Warnings {
		fmt.Fprintf(&b, "- ⚠️ %s\n", mdEscape(warn))
	}
	b.WriteString("\n| | threshold | base | candidate | change | p | verdict |\n|---|---|---|---|---|---|---|\n")
	for _, s := range c.SLOs {
		threshold := s.Threshold
		if s.BaseThreshold != "" {
			threshold = s.BaseThreshold + " → " + s.Threshold
		}
		verdict := verdictCell(s.Row)
		if s.CandidateStatus == "breached" {
			verdict = "**SLO BREACHED**; " + verdict
		}
		mdRow(&b, "SLO "+s.Name, threshold, mdSide(s.Row, true, s.BaseMeasured, s.BaseStatus),
			mdSide(s.Row, false, s.CandidateMeasured, s.CandidateStatus), formatChange(s.Row), pCell(s.Row), mdVerdict(verdict))
	}
	for _, f := range c.Figures {
		mdRow(&b, f.Name, "", sideCell(f, true), sideCell(f, false), formatChange(f), pCell(f), mdVerdict(verdictCell(f)))
	}
	fmt.Fprintf(&b, "\n<sub>%s</sub>\n", mdEscape(RuleText(c)))
	if _, err := io.WriteString(w, b.String()); err != nil {
		return fmt.Errorf("write comparison markdown: %w", err)
	}
	return nil
}

// mdSide is an SLO's side: the measured text with one run, the median
// and noise with several; the status when nothing was measured.
func mdSide(r Row, base bool, measured, status string) string {
	v := r.Candidate
	if base {
		v = r.Base
	}
	switch {
	case v == nil:
		return orDash(status)
	case r.Stats != nil && !r.Stats.Fallback:
		return sideCell(r, base)
	}
	return measuredText(measured, r.Unit, v)
}

func mdVerdict(v string) string {
	if v == "REGRESSED" {
		return "❌ **REGRESSED**"
	}
	return v
}

func mdRow(b *strings.Builder, cells ...string) {
	b.WriteString("|")
	for _, c := range cells {
		b.WriteString(" " + mdEscape(orDash(c)) + " |")
	}
	b.WriteString("\n")
}

// mdEscape keeps a cell's pipes and newlines from breaking the table.
func mdEscape(s string) string {
	return strings.NewReplacer("|", `\|`, "\n", " ").Replace(s)
}
