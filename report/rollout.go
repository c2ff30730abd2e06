package report

import (
	"fmt"
	"strings"

	"github.com/churn-dev/churn/observers"
	"github.com/churn-dev/churn/results"
)

// rolloutText is one line of what a rollout wave's agents did to start up
// again: how many came back ready and when, and their start-up lists
// (all, then the heaviest resource), those of the emulated agents only.
func rolloutText(w *results.RolloutWave) string {
	if w == nil {
		return ""
	}
	parts := []string{fmt.Sprintf("%d/%d %s ready (p50 %s, max %s)", w.Ready, w.Agents, w.Component,
		observers.FormatSeconds(w.ReadyP50Seconds), observers.FormatSeconds(w.ReadyMaxSeconds))}
	if w.Real > 0 {
		// A real process's requests are not seen from inside it.
		what := "processes: their lists are"
		if w.Real == 1 {
			what = "process: its lists are"
		}
		parts = append(parts, fmt.Sprintf("%d real %s in the LISTs by client (audit log)", w.Real, what))
		if w.Real == w.Agents {
			return strings.Join(parts, "; ")
		}
	}
	l := w.Lists
	lists := fmt.Sprintf("start-up lists %d, %s, %d objects, latency p50 %s p99 %s max %s",
		l.Count, formatBytes(float64(l.Bytes)), l.Items,
		observers.FormatSeconds(l.P50Seconds), observers.FormatSeconds(l.P99Seconds), observers.FormatSeconds(l.MaxSeconds))
	if l.Errors > 0 {
		lists += fmt.Sprintf(", %d failed attempts", l.Errors)
	}
	parts = append(parts, lists)
	if len(w.ByResource) > 0 {
		top := w.ByResource[0]
		parts = append(parts, fmt.Sprintf("largest: %s %d × up to %s, max %s", top.Resource, top.Count,
			formatBytes(float64(top.MaxBytes)), observers.FormatSeconds(top.MaxSeconds)))
	}
	parts = append(parts, fmt.Sprintf("%d other requests (resyncs, leases)", w.Calls))
	return strings.Join(parts, "; ")
}

// joinText joins the non-empty texts with "; ".
func joinText(texts ...string) string {
	var out []string
	for _, t := range texts {
		if t != "" {
			out = append(out, t)
		}
	}
	return strings.Join(out, "; ")
}
