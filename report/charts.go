package report

import (
	"strings"
	"time"

	"github.com/churn-dev/churn/observers"
	"github.com/churn-dev/churn/results"
)

const (
	noAPIMetrics = "no data: apiserver-metrics did not run or /metrics was unreachable"
	colorBad     = "#D55E00"
	colorFailed  = "#B2182B"
)

// charts builds every plot of the report, in reading order.
func (d *runData) charts() []chart {
	base := func(title, unit string, logY bool) chart {
		return chart{Title: title, Unit: unit, LogY: logY, From: d.from, To: d.to,
			Bands: append(d.phaseBands(), d.outageBands()...)}
	}
	var out []chart

	lat := base("API call latency: p99 over 5 min of the worst (verb, resource) per SLO category", observers.UnitSeconds, true)
	lat.Empty = noAPIMetrics
	lat.HLines = d.thresholdLines(observers.SLOMutatingP99, observers.SLOReadResourceP99, observers.SLOReadNamespaceP99, observers.SLOReadClusterP99)
	if d.api != nil {
		for _, c := range observers.Categories {
			lat.Lines = append(lat.Lines, line{Name: c, Points: seriesPoints(d.api.Series, c+"-p99")})
		}
		lat.Lines = append(lat.Lines, line{Name: "etcd requests", Points: seriesPoints(d.api.Series, observers.SeriesEtcdP99), Dashed: true, Color: "#7F7F7F"})
	}
	out = append(out, lat)

	errs := base("API errors: 429, 5xx and API Priority and Fairness rejections", observers.UnitPerSec, false)
	errs.Empty = noAPIMetrics
	if d.api != nil {
		errs.Lines = []line{
			{Name: "429 responses", Points: seriesPoints(d.api.Series, observers.Series429Rate), Color: "#E69F00"},
			{Name: "5xx responses", Points: seriesPoints(d.api.Series, observers.Series5xxRate), Color: colorBad},
			{Name: "APF rejected", Points: seriesPoints(d.api.Series, observers.SeriesAPFRejectedRate), Color: "#CC79A7", Dashed: true},
		}
	}
	out = append(out, errs)

	load := base("Load on the API server: in-flight requests, APF queue and open watches", observers.UnitCount, false)
	load.Empty = noAPIMetrics
	if d.api != nil {
		load.Lines = []line{
			{Name: "in flight (executing)", Points: seriesPoints(d.api.Series, observers.SeriesInflight)},
			{Name: "waiting in APF queues", Points: seriesPoints(d.api.Series, observers.SeriesInQueue)},
			{Name: "open WATCH requests", Points: seriesPoints(d.api.Series, observers.SeriesWatches)},
		}
	}
	out = append(out, load)

	rates := base("Request rate and watch events sent", observers.UnitPerSec, false)
	rates.Empty = noAPIMetrics
	if d.api != nil {
		rates.Lines = []line{
			{Name: "requests", Points: seriesPoints(d.api.Series, observers.SeriesRequestRate)},
			{Name: "watch events", Points: seriesPoints(d.api.Series, observers.SeriesWatchEventRate)},
		}
	}
	out = append(out, rates)

	out = append(out, d.churnChart(base("Churn actions: lag behind schedule and duration", observers.UnitSeconds, false)))
	cpu, mem := d.processCharts(base("CPU per process", observers.UnitCores, false), base("Memory (RSS) per process", observers.UnitBytes, false))
	out = append(out, cpu, mem)
	out = append(out, d.availabilityChart(base("API server availability: /readyz and /livez", observers.UnitCount, false)))

	probes := base("churn's own probes: latency per call", observers.UnitSeconds, true)
	probes.Empty = "no data: the probes observer did not run"
	probes.HLines = d.thresholdLines(observers.SLOProbeMutatingP99, observers.SLOProbeReadResourceP99, observers.SLOProbeReadNamespaceP99, observers.SLOProbeReadClusterP99)
	if d.probes != nil {
		for _, s := range d.probes.Series {
			probes.Lines = append(probes.Lines, line{Name: strings.TrimPrefix(s.Name, "probe-"), Points: s.Points, Scatter: true})
		}
	}
	out = append(out, probes)

	prop := base("Watch propagation delay and pod start-up", observers.UnitSeconds, true)
	prop.Empty = "no data: watch-propagation and pod-startup did not run"
	prop.HLines = d.thresholdLines(observers.SLOPodStartupP99)
	if d.watch != nil {
		prop.Lines = append(prop.Lines, line{Name: "watch delay per write", Points: seriesPoints(d.watch.Series, observers.SeriesWatchDelay), Scatter: true})
	}
	if d.pods != nil {
		prop.Lines = append(prop.Lines,
			line{Name: "pod start-up p50 (per 30 s)", Points: seriesPoints(d.pods.Series, observers.SeriesPodStartupP50)},
			line{Name: "pod start-up p99 (per 30 s)", Points: seriesPoints(d.pods.Series, observers.SeriesPodStartupP99)})
	}
	out = append(out, prop)
	return out
}

func (d *runData) churnChart(c chart) chart {
	c.Empty = "no churn actions recorded"
	ch := d.r.Churn
	if ch == nil {
		return c
	}
	lag := line{Name: "lag (start - scheduled)", Scatter: true}
	dur := line{Name: "duration", Scatter: true, Color: "#009E73"}
	failed := line{Name: "failed action (duration)", Scatter: true, Color: colorFailed}
	for _, a := range ch.Actions {
		if a.Start.IsZero() {
			continue
		}
		lag.Points = append(lag.Points, observers.Point{T: a.Scheduled, V: a.Start.Sub(a.Scheduled).Seconds()})
		if a.End.IsZero() {
			continue
		}
		p := observers.Point{T: a.Start, V: a.End.Sub(a.Start).Seconds()}
		if a.Error != "" {
			failed.Points = append(failed.Points, p)
		} else {
			dur.Points = append(dur.Points, p)
		}
	}
	c.Lines = []line{lag, dur, failed}
	return c
}

func (d *runData) processCharts(cpu, mem chart) (chart, chart) {
	cpu.Markers, mem.Markers = d.eventMarkers(), d.eventMarkers()
	if d.procs != nil {
		for _, s := range d.procs.Series {
			switch {
			case strings.HasPrefix(s.Name, observers.SeriesCPUPrefix):
				cpu.Lines = append(cpu.Lines, processLine(strings.TrimPrefix(s.Name, observers.SeriesCPUPrefix), s.Points))
			case strings.HasPrefix(s.Name, observers.SeriesRSSPrefix):
				mem.Lines = append(mem.Lines, processLine(strings.TrimPrefix(s.Name, observers.SeriesRSSPrefix), s.Points))
			}
		}
	}
	// A remote cluster has no local processes: show what kube-apiserver
	// reports about itself next to churn.
	if d.api != nil && !hasLine(cpu.Lines, "kube-apiserver") {
		cpu.Lines = append(cpu.Lines, line{Name: "kube-apiserver (its /metrics)", Points: seriesPoints(d.api.Series, observers.SeriesAPIServerCPU), Dashed: true})
		mem.Lines = append(mem.Lines, line{Name: "kube-apiserver (its /metrics)", Points: seriesPoints(d.api.Series, observers.SeriesAPIServerRSS), Dashed: true})
	}
	cpu.Empty, mem.Empty = "no data: the processes observer did not run", "no data: the processes observer did not run"
	return cpu, mem
}

// processLine draws churn itself in black so the tester's cost stands out.
func processLine(name string, pts []observers.Point) line {
	l := line{Name: name, Points: pts}
	if name == observers.TesterProcess {
		l.Name, l.Color = "churn (tester)", "#000000"
	}
	return l
}

func hasLine(lines []line, name string) bool {
	for _, l := range lines {
		if l.Name == name {
			return true
		}
	}
	return false
}

// availabilityChart draws 1 while the API server answered and 0 during
// outages, with outage bands and process events.
func (d *runData) availabilityChart(c chart) chart {
	c.Markers = d.eventMarkers()
	a := d.r.Availability
	if a == nil || a.Checks == 0 {
		c.Empty = "no data: the availability observer did not run"
		return c
	}
	up := line{Name: "healthy (1) / down (0)", Color: "#009E73"}
	add := func(t time.Time, v float64) { up.Points = append(up.Points, observers.Point{T: t, V: v}) }
	add(d.from, 1)
	for _, o := range a.Outages {
		add(o.Start, 1)
		add(o.Start, 0)
		add(o.End, 0)
		if !o.Open {
			add(o.End, 1)
		}
	}
	if n := len(a.Outages); n == 0 || !a.Outages[n-1].Open {
		add(d.to, 1)
	}
	c.Lines = []line{up}
	c.YMax, c.YLabel = 1, "healthy"
	return c
}

// sloWindowText renders an SLO's worst window relative to the run start.
func (d *runData) windowText(s results.SLOResult) string {
	if s.WorstWindowStart.IsZero() && s.WorstWindowEnd.IsZero() {
		return ""
	}
	return elapsed(s.WorstWindowStart.Sub(d.from)) + " – " + elapsed(s.WorstWindowEnd.Sub(d.from))
}
