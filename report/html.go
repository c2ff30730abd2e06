// Package report renders a run's results: a self-contained HTML report
// (inline CSS and SVG, no scripts, no network) and a terminal summary.
package report

import (
	"fmt"
	"html/template"
	"io"
	"sort"
	"time"

	"github.com/churn-dev/churn/observers"
	"github.com/churn-dev/churn/results"
	"github.com/churn-dev/churn/version"
)

// page is what the template renders.
type page struct {
	R           *results.Result
	Title       string
	Start       string
	Duration    string
	Verdict     results.Verdict
	SLOs        []sloRow
	Charts      []template.HTML
	Outages     []outageRow
	Events      []eventRow
	Disruptions []disruptionRow
	APIServers  []apiServerRow
	Processes   []processRow
	Keys        []keyRow
	Probes      []probeRow
	Watch       *observers.WatchPropagationSummary
	Pods        *observers.PodStartupSummary
	API         *observers.APIServerSummary
	Churn       *churnStats
	Mesh        []meshRow
	Real        []string
	// Shards says who ran the per-node agents when churn agents shards did.
	Shards    string
	Problems  []string
	Version   string
	Generated string

	// VerdictClass is pass, fail or inconclusive; VerdictText the banner's
	// text; Notes the verdict's notes it does not already say.
	VerdictClass string
	VerdictText  string
	Notes        []string
	// Validity and ValidityLine are the simulator's checks (nil before
	// schema version 2); Install the mesh's install phase (nil without one).
	Validity     []validityRow
	ValidityLine string
	// NodeIncidents are the fake nodes' failures (see nodeIncidentRows).
	NodeIncidents     []nodeIncidentRow
	NodeIncidentsLine string
	Install           *installView
	// ExtraArgs are the control plane's extra arguments (ExtraArgsText).
	ExtraArgs string
	// Budget is the control plane's CPU budget in a few words and in
	// full (budgetLine); empty for a remote target.
	Budget, BudgetLine string
}

type sloRow struct {
	results.SLOResult
	Window string
}

type outageRow struct {
	From, To, Duration, Failed, Error string
	Open                              bool
}

type eventRow struct{ At, Name, Kind, Detail string }

type processRow struct {
	Name, Role, CPU, Avg, Peak, RSS, Share string
	// Priority is the CPU priority read back from the OS; "-" when the
	// result does not say (older results, remote clusters' processes).
	Priority string
	Tester   bool
}

type keyRow struct {
	Key, Category, Count, P50, P90, P99, Window string
	Breach                                      bool
}

type probeRow struct {
	Probe, Category, Calls, Errors, P50, P99, Max, Worst string
}

type churnStats struct {
	Planned, Succeeded, Failed int
	LagP50, LagP99, LagMax     string
	DurP50, DurP99             string
}

// WriteHTML renders r as one self-contained HTML document.
func WriteHTML(w io.Writer, r *results.Result) error {
	d := loadRunData(r)
	p := page{
		R: r, Verdict: r.Verdict, API: d.api, Watch: d.watch, Pods: d.pods,
		Problems: d.problems, Version: version.Churn, Generated: time.Now().UTC().Format(time.RFC3339),
	}
	p.VerdictClass, p.VerdictText, p.Notes = verdictClass(r.Verdict), verdictText(r.Verdict), extraNotes(r.Verdict)
	if p.Validity = validityRows(r.Validity); len(p.Validity) > 0 {
		p.ValidityLine = validityLine(p.Validity)
	}
	p.Install = installViewOf(r.Install)
	p.ExtraArgs = ExtraArgsText(r.Target.ExtraArgs)
	p.Budget, p.BudgetLine = budgetShort(r.Target.CPUPriority), budgetLine(r.Target.CPUPriority)
	p.Title = "churn report"
	if r.Profile.Name != "" {
		p.Title += ": " + r.Profile.Name
	}
	if !d.from.IsZero() {
		p.Start = d.from.UTC().Format("2006-01-02 15:04:05 MST")
		p.Duration = d.to.Sub(d.from).Round(time.Second).String()
	}
	for _, s := range r.SLOs {
		p.SLOs = append(p.SLOs, sloRow{SLOResult: s, Window: d.windowText(s)})
	}
	for _, c := range d.charts() {
		// The SVG is generated here from numbers and escaped strings only.
		p.Charts = append(p.Charts, template.HTML(c.svg()))
	}
	p.Outages, p.Events = d.outageRows(), d.eventRows()
	p.Disruptions = disruptionRows(r.Disruptions, churnStartOf(r))
	p.APIServers = apiServerRows(r)
	for _, c := range d.apiServerCharts() {
		p.Charts = append(p.Charts, template.HTML(c.svg()))
	}
	p.NodeIncidents, p.NodeIncidentsLine = nodeIncidentRows(r.NodeHealth)
	p.Processes = processRows(r.Processes)
	p.Keys = d.keyRows(25)
	p.Probes = d.probeRows()
	p.Churn = churnStatsOf(r.Churn)
	p.Mesh = meshRows(r.MeshStats)
	p.Shards = shardsLine(r.MeshStats)
	p.Real = realLines(r.MeshStats)
	if err := pageTemplate.Execute(w, p); err != nil {
		return fmt.Errorf("render report: %w", err)
	}
	return nil
}

func (d *runData) outageRows() []outageRow {
	var out []outageRow
	if a := d.r.Availability; a != nil {
		for _, o := range a.Outages {
			out = append(out, outageRow{
				From: elapsed(o.Start.Sub(d.from)), To: elapsed(o.End.Sub(d.from)),
				Duration: observers.FormatSeconds(o.DurationSeconds), Failed: joinNames(o.Failed),
				Error: o.FirstError, Open: o.Open,
			})
		}
	}
	return out
}

func (d *runData) eventRows() []eventRow {
	var out []eventRow
	if a := d.r.Availability; a != nil {
		for _, e := range a.Events {
			detail := e.Detail
			if e.ExitCode != 0 {
				detail = fmt.Sprintf("exit code %d. %s", e.ExitCode, detail)
			}
			out = append(out, eventRow{At: elapsed(e.Time.Sub(d.from)), Name: e.Name, Kind: e.Kind, Detail: detail})
		}
	}
	return out
}

func processRows(ps []results.ProcessUsage) []processRow {
	total := 0.0
	for _, p := range ps {
		total += p.CPUSeconds
	}
	var out []processRow
	for _, p := range ps {
		share := "-"
		if total > 0 {
			share = observers.FormatPercent(p.CPUSeconds / total)
		}
		prio := p.Priority
		if prio == "" {
			prio = "-"
		}
		out = append(out, processRow{
			Name: p.Name, Role: p.Role, CPU: fmt.Sprintf("%.1f", p.CPUSeconds), Priority: prio,
			Avg: fmt.Sprintf("%.2f", p.AvgCores), Peak: fmt.Sprintf("%.2f", p.PeakCores),
			RSS: formatBytes(float64(p.PeakRSS)), Share: share, Tester: p.Role == observers.RoleTester,
		})
	}
	return out
}

func (d *runData) keyRows(limit int) []keyRow {
	if d.api == nil {
		return nil
	}
	keys := append([]observers.KeyLatency(nil), d.api.Keys...)
	sort.SliceStable(keys, func(i, j int) bool { return keys[i].P99 > keys[j].P99 })
	limits := map[string]string{
		observers.CategoryMutating: observers.SLOMutatingP99, observers.CategoryReadResource: observers.SLOReadResourceP99,
		observers.CategoryReadNamespace: observers.SLOReadNamespaceP99, observers.CategoryReadCluster: observers.SLOReadClusterP99,
	}
	var out []keyRow
	for _, k := range keys {
		if len(out) >= limit {
			break
		}
		limit, ok := d.sloLimit(limits[k.Category])
		out = append(out, keyRow{
			Key: k.RequestKey.String(), Category: k.Category, Count: fmt.Sprintf("%.0f", k.Count),
			P50: observers.FormatSeconds(k.P50), P90: observers.FormatSeconds(k.P90), P99: observers.FormatSeconds(k.P99),
			Window: elapsed(k.WindowStart.Sub(d.from)) + " – " + elapsed(k.WindowEnd.Sub(d.from)),
			Breach: ok && k.P99 > limit,
		})
	}
	return out
}

func (d *runData) probeRows() []probeRow {
	if d.probes == nil {
		return nil
	}
	var out []probeRow
	for _, p := range d.probes.Probes {
		errs := "0"
		if len(p.Errors) > 0 {
			errs = ""
			classes := make([]string, 0, len(p.Errors))
			for c := range p.Errors {
				classes = append(classes, c)
			}
			sort.Strings(classes)
			for i, c := range classes {
				if i > 0 {
					errs += ", "
				}
				errs += fmt.Sprintf("%d %s", p.Errors[c], c)
			}
		}
		out = append(out, probeRow{
			Probe: p.Probe, Category: p.Category, Calls: fmt.Sprint(p.Calls), Errors: errs,
			P50: observers.FormatSeconds(p.Judged.P50), P99: observers.FormatSeconds(p.Judged.P99),
			Max: observers.FormatSeconds(p.Judged.Max), Worst: observers.FormatSeconds(p.WorstP99),
		})
	}
	return out
}

func churnStatsOf(c *results.ChurnSummary) *churnStats {
	if c == nil {
		return nil
	}
	s := &churnStats{Planned: c.Planned, Succeeded: c.Succeeded, Failed: c.Failed}
	var lags, durs []float64
	for _, a := range c.Actions {
		if a.Start.IsZero() {
			continue
		}
		lags = append(lags, a.Start.Sub(a.Scheduled).Seconds())
		if !a.End.IsZero() {
			durs = append(durs, a.End.Sub(a.Start).Seconds())
		}
	}
	lq, dq := quantiles(lags), quantiles(durs)
	s.LagP50, s.LagP99, s.LagMax = observers.FormatSeconds(lq[0]), observers.FormatSeconds(lq[1]), observers.FormatSeconds(lq[2])
	s.DurP50, s.DurP99 = observers.FormatSeconds(dq[0]), observers.FormatSeconds(dq[1])
	return s
}

// quantiles returns p50, p99 and max by nearest rank.
func quantiles(v []float64) [3]float64 {
	if len(v) == 0 {
		return [3]float64{}
	}
	s := append([]float64(nil), v...)
	sort.Float64s(s)
	at := func(q float64) float64 {
		i := int(q*float64(len(s))+0.999999) - 1
		return s[max(0, min(i, len(s)-1))]
	}
	return [3]float64{at(0.5), at(0.99), s[len(s)-1]}
}
