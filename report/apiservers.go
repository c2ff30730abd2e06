package report

import (
	"fmt"
	"io"
	"strings"
	"text/tabwriter"

	"github.com/churn-dev/churn/observers"
	"github.com/churn-dev/churn/results"
)

// apiServerRow is one API server of several, as seen directly (not
// through the load balancer), with its process' cost.
type apiServerRow struct {
	Name, Versions, Requests, Share, Throttled, Watches, Outage, Restarts, CPU, RSS string
}

// apiServerRows lays out r.APIServers; nil with one API server, whose
// figures are the run's own.
func apiServerRows(r *results.Result) []apiServerRow {
	if len(r.APIServers) <= 1 {
		return nil
	}
	procs := map[string]results.ProcessUsage{}
	for _, p := range r.Processes {
		procs[p.Name] = p
	}
	total := 0.0
	for _, s := range r.APIServers {
		total += s.Requests
	}
	out := make([]apiServerRow, 0, len(r.APIServers))
	for _, s := range r.APIServers {
		row := apiServerRow{
			Name: s.Name, Versions: orDash(strings.Join(s.Versions, " → ")),
			Requests: fmt.Sprintf("%.0f", s.Requests), Share: "-", Throttled: fmt.Sprintf("%.0f", s.Throttled),
			Watches: fmt.Sprintf("%.0f", s.WatchesPeak), Outage: observers.FormatSeconds(s.OutageSeconds),
			Restarts: fmt.Sprint(s.Restarts), CPU: "-", RSS: "-",
		}
		if total > 0 {
			row.Share = observers.FormatPercent(s.Requests / total)
		}
		if p, ok := procs[s.Name]; ok {
			row.CPU, row.RSS = fmt.Sprintf("%.1f", p.CPUSeconds), formatBytes(float64(p.PeakRSS))
		}
		out = append(out, row)
	}
	return out
}

// apiServersNote says what the per-server figures cover.
const apiServersNote = "Each API server as seen directly, not through the load balancer: requests, 429s and peak watches in the judged span, its own /readyz failing during churn, restarts (a replacement is one) and the releases it served; CPU and RSS of its process over the run."

// writeAPIServerTable prints the per-server table of the terminal summary.
func writeAPIServerTable(w io.Writer, rows []apiServerRow) error {
	if len(rows) == 0 {
		return nil
	}
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "API SERVER\tRELEASE\tREQUESTS\tSHARE\t429s\tPEAK WATCHES\tNOT READY\tRESTARTS\tCPU s\tPEAK RSS")
	for _, r := range rows {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n",
			r.Name, r.Versions, r.Requests, r.Share, r.Throttled, r.Watches, r.Outage, r.Restarts, r.CPU, r.RSS)
	}
	if err := tw.Flush(); err != nil {
		return fmt.Errorf("format API server table: %w", err)
	}
	_, err := fmt.Fprintln(w)
	if err != nil {
		return fmt.Errorf("write API server table: %w", err)
	}
	return nil
}

// apiServersHTML is the report's per-server table (page.APIServers).
const apiServersHTML = `{{if .APIServers}}<h3>API servers one by one</h3>
<table><tr><th>API server</th><th>release</th><th class="num">requests</th><th class="num">share</th><th class="num">429s</th><th class="num">peak watches</th><th class="num">not ready</th><th class="num">restarts</th><th class="num">CPU seconds</th><th class="num">peak RSS</th></tr>
{{range .APIServers}}<tr><td>{{.Name}}</td><td>{{.Versions}}</td><td class="num">{{.Requests}}</td><td class="num">{{.Share}}</td><td class="num">{{.Throttled}}</td><td class="num">{{.Watches}}</td><td class="num">{{.Outage}}</td><td class="num">{{.Restarts}}</td><td class="num">{{.CPU}}</td><td class="num">{{.RSS}}</td></tr>{{end}}
</table>
<p class="small">` + apiServersNote + `</p>{{end}}
`

// apiServerCharts plot each API server's open watches and request rate,
// so a rolling upgrade shows clients moving from one to the next; none
// with one API server.
func (d *runData) apiServerCharts() []chart {
	if d.api == nil || len(d.api.Servers) <= 1 {
		return nil
	}
	bands := append(d.phaseBands(), d.outageBands()...)
	watches := chart{Title: "Open WATCH requests per API server", Unit: observers.UnitCount, From: d.from, To: d.to, Bands: bands}
	rates := chart{Title: "Requests per API server", Unit: observers.UnitPerSec, From: d.from, To: d.to, Bands: bands}
	for _, s := range d.api.Servers {
		watches.Lines = append(watches.Lines, line{Name: s.Name, Points: seriesPoints(s.Series, observers.SeriesWatches)})
		rates.Lines = append(rates.Lines, line{Name: s.Name, Points: seriesPoints(s.Series, observers.SeriesRequestRate)})
	}
	return []chart{watches, rates}
}
