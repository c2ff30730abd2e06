package history

import (
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/churn-dev/churn/report"
	"github.com/churn-dev/churn/stats"
)

// Output formats.
const (
	FormatText     = "text"
	FormatMarkdown = "markdown"
	FormatJSON     = "json"
)

// Write renders h in format (text, markdown or json). findings are the
// --check findings, nil when not checked.
func Write(w io.Writer, h *History, format string, findings []Finding) error {
	switch format {
	case FormatJSON:
		out := struct {
			*History
			Findings []Finding `json:"findings,omitempty"`
		}{h, findings}
		enc := json.NewEncoder(w)
		enc.SetIndent("", "  ")
		if err := enc.Encode(out); err != nil {
			return fmt.Errorf("encode history: %w", err)
		}
		return nil
	case FormatText, FormatMarkdown:
		var b strings.Builder
		md := format == FormatMarkdown
		for i, g := range h.Groups {
			if i > 0 {
				b.WriteString("\n")
			}
			writeGroup(&b, g, md)
		}
		if len(h.Problems) > 0 {
			fmt.Fprintf(&b, "\nSkipped %d file(s) that could not be read:\n", len(h.Problems))
			for _, p := range h.Problems {
				fmt.Fprintf(&b, "- %s\n", p)
			}
		}
		fmt.Fprintf(&b, "\n%s.\n", upperFirst(h.Method))
		if findings != nil {
			b.WriteString("\n")
			writeFindings(&b, findings)
		}
		if _, err := io.WriteString(w, b.String()); err != nil {
			return fmt.Errorf("write history: %w", err)
		}
		return nil
	}
	return fmt.Errorf("unknown format %q: want text, markdown or json", format)
}

func writeFindings(b *strings.Builder, fs []Finding) {
	if len(fs) == 0 {
		b.WriteString("Check: no group's newest run starts a significant regression.\n")
		return
	}
	fmt.Fprintf(b, "Check FAILED: %d regression(s) the newest run is part of:\n", len(fs))
	for _, f := range fs {
		fmt.Fprintf(b, "- %s\n", f.Text())
	}
}

// settingLabels names each distinct setting of a group's runs s1, s2, ...
// in order of first appearance, so a table stays narrow while arguments
// and releases are written out once below it.
func settingLabels(g *Group) ([]string, []string) {
	var labels, legend []string
	index := map[Setting]string{}
	for _, r := range g.Runs {
		l, ok := index[r.Setting]
		if !ok {
			l = fmt.Sprintf("s%d", len(index)+1)
			index[r.Setting] = l
			legend = append(legend, l+": "+settingText(r.Setting))
		}
		labels = append(labels, l)
	}
	return labels, legend
}

func settingText(s Setting) string {
	return fmt.Sprintf("Kubernetes %s, kwok %s, churn %s, extra arguments %s",
		orDash(s.Kubernetes), orDash(s.KWOK), orNotRecorded(s.Churn), orNoneText(s.ExtraArgs))
}

func orNotRecorded(s string) string {
	if s == "" {
		return "not recorded"
	}
	return s
}

func writeGroup(b *strings.Builder, g *Group, md bool) {
	first, last := g.Runs[0].Start, g.Runs[len(g.Runs)-1].Start
	title := fmt.Sprintf("%s: %d runs, %s to %s", g.Name, len(g.Runs), dateText(first), dateText(last))
	if g.Older > 0 {
		// Said in the title: change points and --check see only these runs.
		title += fmt.Sprintf(" (the newest; %d older left out)", g.Older)
	}
	if md {
		fmt.Fprintf(b, "### %s\n\n", title)
	} else {
		fmt.Fprintf(b, "== %s\n", title)
	}
	labels, legend := settingLabels(g)
	header := []string{"#", "date", "run", "setting", "verdict"}
	for _, f := range tableFigures {
		header = append(header, f.header)
	}
	header = append(header, "simulator")
	rows := [][]string{header}
	changed := map[[2]int]bool{} // (run, column) that start a regression
	for _, c := range g.Changes {
		for j, f := range tableFigures {
			if f.name == c.Figure && c.Verdict == Regression {
				changed[[2]int{c.Run, j}] = true
			}
		}
	}
	for i, r := range g.Runs {
		row := []string{fmt.Sprint(i + 1), dateText(r.Start), r.RunID, labels[i], r.Verdict()}
		for j, f := range tableFigures {
			cell := "-"
			if v, ok := r.Figures[f.name]; ok {
				cell = report.FormatFigure(v.Unit, v.Value)
			}
			if changed[[2]int{i + 1, j}] {
				cell += " ^"
			}
			row = append(row, cell)
		}
		rows = append(rows, append(row, simulatorText(r)))
	}
	if md {
		writeMarkdownTable(b, rows)
	} else {
		tw := tabwriter.NewWriter(b, 0, 0, 2, ' ', 0)
		for _, row := range rows {
			fmt.Fprintln(tw, strings.Join(row, "\t"))
		}
		tw.Flush()
	}
	b.WriteString("\n")
	for _, l := range legend {
		fmt.Fprintf(b, "%s%s\n", bullet(md), l)
	}
	for _, s := range g.Settings {
		fmt.Fprintf(b, "%sat run %d: %s\n", bullet(md), s.Run, s.Text)
	}
	cut := cutText(g.Cut)
	fmt.Fprintf(b, "\nChange points (%d figures that gate tested together, Benjamini-Hochberg cut %s; %d of the bench apart, cut %s)",
		g.Family, cut, g.InfoFamily, cutText(g.InfoCut))
	if len(g.Changes) == 0 {
		b.WriteString(": none.\n")
	} else {
		b.WriteString(":\n")
	}
	for _, c := range g.Changes {
		fmt.Fprintf(b, "%srun %d (%s): %s %s, %s", bullet(md), c.Run, c.RunID, c.Figure, changeText(c), c.Verdict)
		if len(c.Suspects) > 0 {
			fmt.Fprintf(b, "; changed at that run: %s", strings.Join(c.Suspects, "; "))
		}
		b.WriteString("\n")
	}
	if len(g.Changes) > 0 && !md {
		b.WriteString("(^ marks the run a regression starts at)\n")
	}
	if near := nearMisses(g); len(near) > 0 {
		fmt.Fprintf(b, "Significant alone (p <= %g) but not among the figures tested together, more runs would tell: %s\n",
			stats.Alpha, strings.Join(near, "; "))
	}
}

// nearMisses are the figures whose strongest split passed the test on its
// own but not the family's cut.
func nearMisses(g *Group) []string {
	var out []string
	for _, s := range g.Series {
		cut := g.InfoCut
		if s.gates() {
			cut = g.Cut
		}
		if s.Tested && s.FirstP <= stats.Alpha && s.FirstP > cut {
			out = append(out, fmt.Sprintf("%s at run %d (p=%.3f)", s.Name, s.Split, s.FirstP))
		}
	}
	return out
}

func bullet(md bool) string {
	if md {
		return "- "
	}
	return "  "
}

func writeMarkdownTable(b *strings.Builder, rows [][]string) {
	for i, row := range rows {
		cells := make([]string, len(row))
		for j, c := range row {
			cells[j] = strings.ReplaceAll(c, "|", `\|`)
		}
		fmt.Fprintf(b, "| %s |\n", strings.Join(cells, " | "))
		if i == 0 {
			fmt.Fprintf(b, "|%s\n", strings.Repeat(" --- |", len(row)))
		}
	}
}

func dateText(t time.Time) string {
	if t.IsZero() {
		return "-"
	}
	return t.UTC().Format("2006-01-02 15:04")
}

func upperFirst(s string) string {
	if s == "" {
		return s
	}
	return strings.ToUpper(s[:1]) + s[1:]
}

func cutText(cut float64) string {
	if cut < 0 {
		return "none significant"
	}
	return fmt.Sprintf("p <= %.3f", cut)
}
