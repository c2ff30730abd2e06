package history

import (
	"fmt"
	"strings"

	"github.com/churn-dev/churn/observers"
	"github.com/churn-dev/churn/report"
)

// Finding is a regression the newest run of a group is part of.
type Finding struct {
	Group string `json:"group"`
	Change
	// Newest is the newest counted run's place in the group and its ID.
	Newest      int    `json:"newest"`
	NewestRunID string `json:"newestRunID"`
}

// Text says which figure changed, by how much and since which run.
func (f Finding) Text() string {
	return fmt.Sprintf("%s: %s regressed %s since run %d (%s); the newest run is run %d (%s)",
		f.Group, f.Figure, changeText(f.Change), f.Run, f.RunID, f.Newest, f.NewestRunID)
}

// changeText is "134ms -> 298ms (+122%), p=0.001".
func changeText(c Change) string {
	s := report.FormatFigure(c.Unit, c.Before) + " -> " + report.FormatFigure(c.Unit, c.After)
	if c.Change != nil {
		s += fmt.Sprintf(" (%+.0f%%)", *c.Change*100)
	}
	return s + fmt.Sprintf(", p=%.3f", c.P)
}

// Check lists, per group, the gating figures whose latest change point is
// a regression that started at most window runs before the newest counted
// run (inclusive): the newest run belongs to a regime that began with a
// significant regression. An older regression is history, not news; the
// tables still show it. A change point needs Detector.MinSize runs on its
// new side, so a regression is flagged that many runs after it started,
// and named from the run it started at.
func (h *History) Check(window int) []Finding {
	var out []Finding
	for _, g := range h.Groups {
		newest := -1
		for i := len(g.Runs) - 1; i >= 0; i-- {
			if !g.Runs[i].Inconclusive {
				newest = i
				break
			}
		}
		if newest < 0 {
			continue
		}
		for _, s := range g.Series {
			if len(s.Changes) == 0 || !s.gates() {
				continue
			}
			last := s.Changes[len(s.Changes)-1]
			if last.Verdict != Regression || newest+1-last.Run >= window {
				continue
			}
			out = append(out, Finding{Group: g.Name, Change: last, Newest: newest + 1, NewestRunID: g.Runs[newest].RunID})
		}
	}
	return out
}

// short column headers for the key figures of the tables, in order.
var tableFigures = []struct{ name, header string }{
	{observers.SLOMutatingP99, "mutating p99"},
	{observers.SLOReadResourceP99, "read-res p99"},
	{observers.SLOReadNamespaceP99, "read-ns p99"},
	{observers.SLOReadClusterP99, "read-cluster p99"},
	{observers.SLOErrorRatio, "errors"},
	{observers.SLOPodStartupP99, "pod start p99"},
	{"kube-apiserver CPU", "apiserver CPU"},
	{"kube-apiserver peak RSS", "apiserver RSS"},
	{"429 responses, churn phase", "429s"},
	{"outages", "outages"},
}

// simulatorText is the run's simulator checks in a word or two.
func simulatorText(r *Run) string {
	if len(r.Behind) > 0 {
		return "behind: " + strings.Join(r.Behind, ", ")
	}
	for _, f := range r.Figures {
		if f.Kind == report.FigureSimulator {
			return "ok"
		}
	}
	return "-"
}
