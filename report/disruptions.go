package report

import (
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/churn-dev/churn/observers"
	"github.com/churn-dev/churn/results"
)

// disruptionRow is one plan (Step empty) or one of its steps, as the
// summary and the report's timeline show them. Times are offsets from the
// start of churn.
type disruptionRow struct {
	Plan    bool
	Kind    string
	Spec    string
	Step    string
	Start   string
	Stopped string
	Ready   string
	End     string
	Took    string
	Outcome string
	Impact  string
}

// disruptionRows lays out every plan and its steps, in order.
func disruptionRows(ds []results.Disruption, churnStart time.Time) []disruptionRow {
	var out []disruptionRow
	at := func(t time.Time) string {
		if t.IsZero() {
			return "-"
		}
		if churnStart.IsZero() {
			return t.UTC().Format("15:04:05")
		}
		return "+" + t.Sub(churnStart).Round(100*time.Millisecond).String()
	}
	for _, d := range ds {
		outcome := "done"
		if d.Error != "" {
			outcome = d.Error
		}
		row := disruptionRow{Plan: true, Kind: d.Kind, Spec: d.Spec, Start: at(d.Started()), End: at(d.Ended()), Outcome: outcome}
		if s, e := d.Started(), d.Ended(); !s.IsZero() && !e.IsZero() {
			row.Took = e.Sub(s).Round(100 * time.Millisecond).String()
		}
		if len(d.Settings) > 0 {
			keys := make([]string, 0, len(d.Settings))
			for k := range d.Settings {
				keys = append(keys, k)
			}
			slices.Sort(keys)
			var kv []string
			for _, k := range keys {
				kv = append(kv, k+" "+d.Settings[k])
			}
			row.Impact = strings.Join(kv, ", ")
		}
		out = append(out, row)
		for _, s := range d.Steps {
			r := disruptionRow{Kind: d.Kind, Spec: d.Spec, Step: s.Name, Start: at(s.Started), Stopped: at(s.Stopped),
				Ready: at(s.Ready), End: at(s.Ended), Outcome: "ok", Impact: joinText(rolloutText(s.Rollout), impactText(s.Impact))}
			if !s.Ended.IsZero() {
				r.Took = s.Ended.Sub(s.Started).Round(100 * time.Millisecond).String()
			}
			if s.Error != "" {
				r.Outcome = s.Error
			}
			out = append(out, r)
		}
	}
	return out
}

// impactText is one line of what clients saw during a step.
func impactText(im *results.StepImpact) string {
	if im == nil {
		return ""
	}
	parts := []string{fmt.Sprintf("outage %s", observers.FormatSeconds(im.OutageSeconds))}
	if len(im.OutageByServer) > 0 {
		names := make([]string, 0, len(im.OutageByServer))
		for n := range im.OutageByServer {
			names = append(names, n)
		}
		slices.Sort(names)
		var per []string
		for _, n := range names {
			per = append(per, n+" "+observers.FormatSeconds(im.OutageByServer[n]))
		}
		parts = append(parts, "per server: "+strings.Join(per, ", "))
	}
	parts = append(parts, fmt.Sprintf("429s %.0f (APF %.0f)", im.Throttled, im.APFRejected))
	if len(im.Lists) > 0 || len(im.Watches) > 0 {
		parts = append(parts, "LISTs "+countsText(im.Lists), "watches "+countsText(im.Watches),
			fmt.Sprintf("at most %d a second", im.PeakPerSecond))
	}
	switch {
	case im.RecoverySeconds < 0:
		parts = append(parts, "latency not back to its level before churn ended")
	default:
		parts = append(parts, "latency back in "+observers.FormatSeconds(im.RecoverySeconds))
	}
	return strings.Join(parts, "; ")
}

// countsText is "total (client n, client n, ...)", biggest first.
func countsText(m map[string]int) string {
	total := 0
	type kv struct {
		k string
		v int
	}
	var kvs []kv
	for k, v := range m {
		total += v
		kvs = append(kvs, kv{k, v})
	}
	slices.SortFunc(kvs, func(a, b kv) int {
		if a.v != b.v {
			return b.v - a.v
		}
		return strings.Compare(a.k, b.k)
	})
	var parts []string
	for _, e := range kvs {
		parts = append(parts, fmt.Sprintf("%s %d", e.k, e.v))
	}
	if len(parts) == 0 {
		return "0"
	}
	return fmt.Sprintf("%d (%s)", total, strings.Join(parts, ", "))
}

// churnStartOf is when the churn phase began, zero when it did not.
func churnStartOf(r *results.Result) time.Time {
	for _, p := range r.Phases {
		if p.Name == "churn" {
			return p.Start
		}
	}
	return time.Time{}
}
