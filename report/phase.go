package report

import (
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/churn-dev/churn/observers"
	"github.com/churn-dev/churn/results"
)

// Verdict classes of the report's verdict banner. Inconclusive has its own:
// it is neither a pass nor a breach of the API server's SLOs.
const (
	verdictPass         = "pass"
	verdictFail         = "fail"
	verdictInconclusive = "inconclusive"
)

// verdictClass is the banner class of v.
func verdictClass(v results.Verdict) string {
	switch {
	case v.Inconclusive:
		return verdictInconclusive
	case v.Passed:
		return verdictPass
	}
	return verdictFail
}

// verdictText is v.Summary, made to start with INCONCLUSIVE when the run
// was, so a summary written by another churn cannot hide it.
func verdictText(v results.Verdict) string {
	text := v.Summary
	if text == "" {
		return strings.ToUpper(verdictClass(v))
	}
	if v.Inconclusive && !strings.HasPrefix(text, "INCONCLUSIVE") {
		text = "INCONCLUSIVE (the simulator fell behind: " + strings.Join(v.Behind, ", ") + "): " + text
	}
	return text
}

// extraNotes are the verdict's notes its summary does not already carry.
func extraNotes(v results.Verdict) []string {
	var out []string
	for _, n := range v.Notes {
		if !strings.Contains(v.Summary, n) {
			out = append(out, n)
		}
	}
	return out
}

// notJudgedNote says why the install figures carry no status.
const notJudgedNote = "These figures are reported, not judged: the SLOs judge the churn phase."

// installView is the install phase as the summary and the report show it.
type installView struct {
	Mesh string
	// Headline is "settled after 42s" or "did not settle in 5m0s: ...".
	Headline   string
	Settled    bool
	Conditions []conditionRow
	Figures    *phaseFiguresView
}

type conditionRow struct {
	Name, Have, Want, When, Detail string
	Met                            bool
}

type phaseFiguresView struct {
	Duration, Requests, Requests429, APFRejected, Requests5xx string
	Outages, Downtime, APIServerCPU                           string
	PeakP99                                                   []peakRow
}

type peakRow struct{ Category, P99, Key string }

// installViewOf is nil without an install phase (no mesh, or a result
// written before schema version 2).
func installViewOf(inst *results.Install) *installView {
	if inst == nil {
		return nil
	}
	v := &installView{Mesh: orDefault(inst.Mesh, "none"), Headline: settleText(inst), Settled: inst.Settled}
	if inst.Snapshot != "" {
		// Started on the objects of a snapshot saved with the mesh: not
		// an install storm, and readers comparing arms must see that.
		v.Headline += " (started from snapshot " + inst.Snapshot + ", saved with the mesh: its objects were present)"
	}
	for _, c := range inst.Conditions {
		row := conditionRow{Name: c.Name, Have: fmt.Sprint(c.Have), Want: fmt.Sprint(c.Want), Met: c.Met, Detail: c.Detail, When: "not met"}
		if c.Met {
			row.When = "met after " + observers.FormatSeconds(c.MetAfterSeconds)
		}
		v.Conditions = append(v.Conditions, row)
	}
	if f := inst.Figures; f != nil {
		fv := &phaseFiguresView{
			Duration:    observers.FormatSeconds(inst.Seconds),
			Requests:    fmt.Sprintf("%.0f", f.Requests),
			Requests429: fmt.Sprintf("%.0f", f.Requests429),
			APFRejected: fmt.Sprintf("%.0f", f.APFRejected),
			Requests5xx: fmt.Sprintf("%.0f", f.Requests5xx),
			Outages:     fmt.Sprint(f.Outages), Downtime: observers.FormatSeconds(f.DowntimeSeconds),
			APIServerCPU: fmt.Sprintf("%.1f CPU s", f.APIServerCPUSeconds),
		}
		for _, p := range f.PeakP99 {
			fv.PeakP99 = append(fv.PeakP99, peakRow{Category: p.Category, P99: observers.FormatSeconds(p.P99), Key: p.Key})
		}
		v.Figures = fv
	}
	return v
}

// settleText is "settled after 42s", "did not settle in 5m0s: CiliumEndpoints
// 800/1000", or, when churn did not wait, what was unmet when it started.
// It reads after "the mesh".
func settleText(inst *results.Install) string {
	unmet := unmetText(inst)
	switch {
	case inst.Settled:
		return "settled after " + observers.FormatSeconds(inst.Seconds)
	case inst.SettleTimeoutSeconds == 0:
		return "was not waited for (mesh.settleTimeout 0): " + unmet
	}
	return fmt.Sprintf("did not settle in %s: %s", durationText(inst.SettleTimeoutSeconds), unmet)
}

// unmetText names each unmet condition with have/want.
func unmetText(inst *results.Install) string {
	var parts []string
	for _, c := range inst.Unmet() {
		parts = append(parts, fmt.Sprintf("%s %d/%d", c.Name, c.Have, c.Want))
	}
	if len(parts) == 0 {
		// Every condition held, so it was the 429s that kept it unsettled.
		return fmt.Sprintf("every condition met, but not %s without a 429", durationText(inst.QuietSeconds))
	}
	return strings.Join(parts, ", ")
}

// durationText renders seconds as a Go duration ("5m0s"), as the profile's
// mesh.settleTimeout is written.
func durationText(s float64) string {
	return time.Duration(s * float64(time.Second)).Round(time.Second).String()
}

// validityRow is one check of the simulator as the summary and the report
// show it.
type validityRow struct {
	Name, Description, Threshold, Measured, Status, Reason string
}

// validityRows is nil without validity checks (results written before
// schema version 2).
func validityRows(v *results.Validity) []validityRow {
	if v == nil {
		return nil
	}
	var out []validityRow
	for _, c := range v.Checks {
		out = append(out, validityRow{Name: c.Name, Description: c.Description, Threshold: orDash(c.Threshold),
			Measured: orDash(c.Measured), Status: orDefault(c.Status, results.ValiditySkipped), Reason: c.Reason})
	}
	return out
}

// validityStatusText is the status as the terminal shows it: BEHIND in
// capitals, like a breached SLO.
func validityStatusText(status string) string {
	if status == results.ValidityBehind {
		return "BEHIND"
	}
	return status
}

// writeInstall prints the install phase section of the terminal summary.
func writeInstall(b *strings.Builder, v *installView) error {
	fmt.Fprintf(b, "Install phase (mesh %s): %s\n", v.Mesh, v.Headline)
	if len(v.Conditions) > 0 {
		tw := newTable(b)
		fmt.Fprintln(tw, "  CONDITION\tHAVE\tWANT\tMET")
		for _, c := range v.Conditions {
			detail := ""
			if c.Detail != "" {
				detail = "  " + c.Detail
			}
			fmt.Fprintf(tw, "  %s\t%s\t%s\t%s%s\n", c.Name, c.Have, c.Want, c.When, detail)
		}
		if err := tw.Flush(); err != nil {
			return fmt.Errorf("format install conditions: %w", err)
		}
	}
	if f := v.Figures; f != nil {
		fmt.Fprintf(b, "  %s install: %s requests, %s x 429, %s APF rejections, %s x 5xx; %s outage(s), %s down; kube-apiserver %s\n",
			f.Duration, f.Requests, f.Requests429, f.APFRejected, f.Requests5xx, f.Outages, f.Downtime, f.APIServerCPU)
		if len(f.PeakP99) > 0 {
			tw := newTable(b)
			fmt.Fprintln(tw, "  PEAK P99\tCATEGORY\tCALL")
			for _, p := range f.PeakP99 {
				fmt.Fprintf(tw, "  %s\t%s\t%s\n", p.P99, p.Category, p.Key)
			}
			if err := tw.Flush(); err != nil {
				return fmt.Errorf("format install peak p99: %w", err)
			}
		}
	}
	fmt.Fprintf(b, "  %s\n\n", notJudgedNote)
	return nil
}

// writeValidity prints the simulator's checks: did kwok, churn's engine
// and its agents keep up, so that the SLO figures are the API server's.
func writeValidity(b *strings.Builder, rows []validityRow) error {
	tw := newTable(b)
	fmt.Fprintln(tw, "SIMULATOR CHECK\tTHRESHOLD\tMEASURED\tSTATUS\tDETAIL")
	for _, c := range rows {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", c.Name, c.Threshold, c.Measured, validityStatusText(c.Status), c.Reason)
	}
	if err := tw.Flush(); err != nil {
		return fmt.Errorf("format simulator checks: %w", err)
	}
	for _, c := range rows {
		if c.Status == results.ValidityBehind && c.Description != "" {
			fmt.Fprintf(b, "  %s: %s\n", c.Name, c.Description)
		}
	}
	b.WriteString(validityLine(rows) + "\n\n")
	return nil
}

// validityLine says in one sentence what the simulator's checks mean for
// the verdict.
func validityLine(rows []validityRow) string {
	measured := 0
	for _, c := range rows {
		switch c.Status {
		case results.ValidityBehind:
			return "The simulator (kwok, churn's engine, its emulated agents) fell behind: the run is inconclusive, its SLO figures measure the bench as much as the API server."
		case results.ValidityOK:
			measured++
		}
	}
	if measured == 0 {
		return "No check of the simulator (kwok, churn's engine, its emulated agents) could be measured."
	}
	return "The simulator (kwok, churn's engine, its emulated agents) kept up on every check measured: the SLO figures are the API server's."
}

// newTable is the tab-aligned layout of every terminal table.
func newTable(w io.Writer) *tabwriter.Writer {
	return tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
}
