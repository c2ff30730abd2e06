package report

import (
	"fmt"
	"io"
	"sort"
	"strings"
	"text/tabwriter"

	"github.com/churn-dev/churn/observers"
	"github.com/churn-dev/churn/results"
)

// meshRow is one emulated mesh component as the summary and the report
// show it: what it received, how often it (re)listed, what the server
// refused, what it wrote and how late events reached it.
type meshRow struct {
	Name, Replicas, Events, Bytes, Lists, Relists, Restarts, Throttled, Errors, Writes, LagP50, LagP99 string
}

func meshRows(m *results.MeshSummary) []meshRow {
	if m == nil {
		return nil
	}
	rows := make([]meshRow, 0, len(m.Components))
	for _, c := range m.Components {
		rows = append(rows, meshRow{
			Name:      c.Name,
			Replicas:  fmt.Sprint(c.Replicas),
			Events:    fmt.Sprint(c.EventsReceived),
			Bytes:     bytesText(float64(c.BytesReceived)),
			Lists:     fmt.Sprint(c.Lists),
			Relists:   fmt.Sprint(c.Relists),
			Restarts:  fmt.Sprint(c.WatchRestarts),
			Throttled: fmt.Sprint(c.Throttled429),
			Errors:    fmt.Sprint(c.Errors),
			Writes:    writesText(c.Writes),
			LagP50:    observers.FormatSeconds(c.LagP50),
			LagP99:    observers.FormatSeconds(c.LagP99),
		})
	}
	return rows
}

// writesText lists writes by "verb resource", largest first.
func writesText(w map[string]int64) string {
	if len(w) == 0 {
		return "none"
	}
	keys := make([]string, 0, len(w))
	for k := range w {
		keys = append(keys, k)
	}
	sort.Slice(keys, func(i, j int) bool {
		if w[keys[i]] != w[keys[j]] {
			return w[keys[i]] > w[keys[j]]
		}
		return keys[i] < keys[j]
	})
	parts := make([]string, len(keys))
	for i, k := range keys {
		parts[i] = fmt.Sprintf("%d %s", w[k], k)
	}
	return strings.Join(parts, ", ")
}

func bytesText(b float64) string {
	const unit = 1024.0
	for _, u := range []string{"B", "KiB", "MiB", "GiB"} {
		if b < unit || u == "GiB" {
			return fmt.Sprintf("%.3g%s", b, u)
		}
		b /= unit
	}
	return ""
}

// writeMeshTable prints the mesh components for the terminal summary.
func writeMeshTable(w io.Writer, m *results.MeshSummary) error {
	rows := meshRows(m)
	if len(rows) == 0 {
		return nil
	}
	fmt.Fprintf(w, "Mesh %s (agents rolled out in %s):\n", m.Name, observers.FormatSeconds(m.RolloutSeconds))
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "COMPONENT\tREPLICAS\tEVENTS\tRECEIVED\tLISTS\tRE-LISTS\tWATCH RESTARTS\t429s\tERRORS\tLAG p50\tLAG p99\tWRITES")
	for _, r := range rows {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n", r.Name, r.Replicas, r.Events, r.Bytes,
			r.Lists, r.Relists, r.Restarts, r.Throttled, r.Errors, r.LagP50, r.LagP99, r.Writes)
	}
	if err := tw.Flush(); err != nil {
		return fmt.Errorf("format mesh table: %w", err)
	}
	if line := shardsLine(m); line != "" {
		fmt.Fprintln(w, line)
	}
	for _, line := range realLines(m) {
		fmt.Fprintln(w, line)
	}
	_, err := io.WriteString(w, "\n")
	return err
}

// realLines say what each real process that replaced an emulated
// component did (their requests are not in the table).
func realLines(m *results.MeshSummary) []string {
	if m == nil || len(m.Real) == 0 {
		return nil
	}
	out := []string{"Real components in place of emulated ones (their requests are not counted above):"}
	for _, r := range m.Real {
		who := r.Name
		if r.Node != "" {
			who += " on " + r.Node
		}
		if r.Replicas > 1 {
			who += fmt.Sprintf(" (%d replicas)", r.Replicas)
		}
		if r.Error != "" {
			out = append(out, fmt.Sprintf("  %s: did not start: %s", who, r.Error))
			continue
		}
		line := fmt.Sprintf("  %s: ready after %s", who, observers.FormatSeconds(r.ReadySeconds))
		if r.Node != "" {
			line += fmt.Sprintf("; CNI stand-in set up %d pods, tore down %d", r.CNIAdds, r.CNIDeletes)
			if r.CNIErrors > 0 {
				line += fmt.Sprintf(", %d calls failed (last: %s)", r.CNIErrors, r.CNILast)
			}
		}
		out = append(out, line+"; log "+r.Log)
	}
	return out
}

// shardsLine says who ran the per-node agents when churn agents shards
// did, and which shards' counters made it into the table.
func shardsLine(m *results.MeshSummary) string {
	if m == nil || m.PerNodeAgents == "" {
		return ""
	}
	parts := make([]string, 0, len(m.Shards))
	missing := 0
	for _, s := range m.Shards {
		p := fmt.Sprintf("%s (%d nodes)", s.Shard, s.Nodes)
		if !s.Reported {
			p += " did not report"
			missing++
		}
		parts = append(parts, p)
	}
	line := fmt.Sprintf("Per-node agents: %s, %d shard(s)", m.PerNodeAgents, len(m.Shards))
	if len(parts) > 0 {
		line += ": " + strings.Join(parts, ", ")
	}
	if missing > 0 {
		line += fmt.Sprintf("; the table lacks the counters of %d shard(s)", missing)
	}
	return line
}
