package report

import (
	"fmt"
	"sort"
	"time"

	"github.com/churn-dev/churn/observers"
	"github.com/churn-dev/churn/results"
)

// runData is a Result with its observer summaries decoded once.
type runData struct {
	r      *results.Result
	api    *observers.APIServerSummary
	probes *observers.ProbesSummary
	watch  *observers.WatchPropagationSummary
	pods   *observers.PodStartupSummary
	procs  *observers.ProcessesSummary
	from   time.Time
	to     time.Time
	// problems are summaries that could not be decoded.
	problems []string
}

func loadRunData(r *results.Result) *runData {
	d := &runData{r: r}
	get := func(name string, v any) bool {
		found, err := observers.GetObserver(r, name, v)
		if err != nil {
			d.problems = append(d.problems, err.Error())
			return false
		}
		return found
	}
	var api observers.APIServerSummary
	if get(observers.APIServerMetricsName, &api) {
		d.api = &api
	}
	var probes observers.ProbesSummary
	if get(observers.ProbesName, &probes) {
		d.probes = &probes
	}
	var watch observers.WatchPropagationSummary
	if get(observers.WatchPropagationName, &watch) {
		d.watch = &watch
	}
	var pods observers.PodStartupSummary
	if get(observers.PodStartupName, &pods) {
		d.pods = &pods
	}
	var procs observers.ProcessesSummary
	if get(observers.ProcessesName, &procs) {
		d.procs = &procs
	}
	d.from, d.to = d.span()
	return d
}

// span is the run's time range: its phases and everything plotted.
func (d *runData) span() (from, to time.Time) {
	widen := func(t time.Time) {
		if t.IsZero() {
			return
		}
		if from.IsZero() || t.Before(from) {
			from = t
		}
		if t.After(to) {
			to = t
		}
	}
	// Observers start before the first phase and stop after the last, so
	// the span covers their samples too.
	for _, p := range d.r.Phases {
		widen(p.Start)
		widen(p.End)
	}
	for _, s := range d.allSeries() {
		for _, p := range s.Points {
			widen(p.T)
		}
	}
	if a := d.r.Availability; a != nil {
		for _, o := range a.Outages {
			widen(o.Start)
			widen(o.End)
		}
	}
	return from, to
}

func (d *runData) allSeries() []observers.Series {
	var all []observers.Series
	if d.api != nil {
		all = append(all, d.api.Series...)
	}
	if d.probes != nil {
		all = append(all, d.probes.Series...)
	}
	if d.watch != nil {
		all = append(all, d.watch.Series...)
	}
	if d.pods != nil {
		all = append(all, d.pods.Series...)
	}
	if d.procs != nil {
		all = append(all, d.procs.Series...)
	}
	return all
}

// phaseBands shades each phase in a light colour.
func (d *runData) phaseBands() []band {
	colors := []string{"#f3f3f3", "#eaf3fb", "#fdf3e7", "#eef8f1"}
	var out []band
	for i, p := range d.r.Phases {
		out = append(out, band{From: p.Start, To: p.End, Label: p.Name, Color: colors[i%len(colors)]})
	}
	return out
}

// outageBands marks API server outages in red.
func (d *runData) outageBands() []band {
	var out []band
	if a := d.r.Availability; a != nil {
		for _, o := range a.Outages {
			out = append(out, band{From: o.Start, To: o.End, Color: "rgba(213,94,0,0.30)",
				Label: fmt.Sprintf("outage %s", observers.FormatSeconds(o.DurationSeconds))})
		}
	}
	return out
}

func (d *runData) eventMarkers() []marker {
	var out []marker
	if a := d.r.Availability; a != nil {
		for _, e := range a.Events {
			out = append(out, marker{T: e.Time, Label: fmt.Sprintf("%s %s %s", e.Name, e.Kind, e.Detail)})
		}
	}
	return out
}

// sloLimit returns the threshold the run used for an SLO, if judged.
func (d *runData) sloLimit(name string) (float64, bool) {
	for _, s := range d.r.SLOs {
		if s.Name == name && (s.Status == results.SLOPassed || s.Status == results.SLOBreached) {
			return s.Limit, true
		}
	}
	return 0, false
}

// thresholdLines draws the limits of the named SLOs, merging equal ones.
func (d *runData) thresholdLines(names ...string) []hline {
	byValue := map[float64][]string{}
	var values []float64
	for _, n := range names {
		v, ok := d.sloLimit(n)
		if !ok {
			continue
		}
		if _, seen := byValue[v]; !seen {
			values = append(values, v)
		}
		byValue[v] = append(byValue[v], n)
	}
	sort.Float64s(values)
	var out []hline
	for _, v := range values {
		label := fmt.Sprintf("SLO %s", observers.FormatSeconds(v))
		if len(byValue[v]) <= 2 {
			label += " (" + joinNames(byValue[v]) + ")"
		}
		out = append(out, hline{Y: v, Label: label})
	}
	return out
}

func joinNames(n []string) string {
	s := ""
	for i, x := range n {
		if i > 0 {
			s += ", "
		}
		s += x
	}
	return s
}

func seriesPoints(all []observers.Series, name string) []observers.Point {
	if s := observers.FindSeries(all, name); s != nil {
		return s.Points
	}
	return nil
}
