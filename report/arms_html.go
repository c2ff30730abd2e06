package report

import (
	"fmt"
	"html/template"
	"io"
	"strings"
	"time"

	"github.com/churn-dev/churn/observers"
	"github.com/churn-dev/churn/results"
	"github.com/churn-dev/churn/version"
)

// armsPage is what armsTemplate renders.
type armsPage struct {
	C       ArmsComparison
	Charts  []template.HTML
	SLOs    []armsSLOHTML
	Figures []armsFigureHTML
	// Verdicts has one banner per arm; Validity and Install are nil when no
	// arm has simulator checks or an install phase.
	Verdicts  []armsVerdictHTML
	Validity  []armsSLOHTML
	Install   []armsFigureHTML
	Version   string
	Generated string
}

type armsSLOHTML struct {
	Name, Threshold string
	Cells           []armsCell
}

type armsCell struct{ Text, Status string }

type armsFigureHTML struct {
	Name  string
	Cells []string
}

// armsVerdictHTML is one arm's banner: Class is pass, fail or
// inconclusive (the page style's verdict classes).
type armsVerdictHTML struct{ Class, Text string }

// armBanner is the banner of one arm, INCONCLUSIVE in its own colour.
func armBanner(a ArmRun) armsVerdictHTML {
	switch {
	case a.Run.RunID == "" && a.Error != "":
		return armsVerdictHTML{verdictFail, a.Name + ": did not run: " + a.Error}
	case a.Run.Inconclusive:
		return armsVerdictHTML{verdictInconclusive, a.Name + ": " + armVerdict(a)}
	case len(a.Breached) > 0:
		return armsVerdictHTML{verdictFail, a.Name + ": FAIL, breached " + strings.Join(a.Breached, ", ")}
	case a.Error != "":
		return armsVerdictHTML{verdictFail, a.Name + ": error: " + a.Error}
	case a.Run.Passed:
		return armsVerdictHTML{verdictPass, a.Name + ": PASS"}
	}
	return armsVerdictHTML{verdictFail, a.Name + ": FAIL"}
}

// WriteArmsHTML renders the side-by-side report: verdicts, findings, the
// SLO and figure tables, and charts of every arm on shared axes, aligned
// on the start of each arm's churn phase.
func WriteArmsHTML(w io.Writer, c ArmsComparison, arms []Arm) error {
	p := armsPage{C: c, Version: version.Churn, Generated: time.Now().UTC().Format(time.RFC3339)}
	for _, s := range c.SLOs {
		row := armsSLOHTML{Name: s.Name, Threshold: s.Threshold}
		for i := range c.Arms {
			row.Cells = append(row.Cells, armsCell{Text: orDash(s.Measured[i]), Status: s.Status[i]})
		}
		p.SLOs = append(p.SLOs, row)
	}
	for _, f := range c.Figures {
		row := armsFigureHTML{Name: f.Name}
		for _, v := range f.Values {
			row.Cells = append(row.Cells, formatFigure(f.Unit, v))
		}
		p.Figures = append(p.Figures, row)
	}
	for _, a := range c.Arms {
		v := armBanner(a)
		if a.Run.CPUBudget != "" {
			v.Text += " · control plane " + a.Run.CPUBudget
		}
		p.Verdicts = append(p.Verdicts, v)
	}
	for _, v := range c.Validity {
		row := armsSLOHTML{Name: v.Name, Threshold: orDash(v.Threshold)}
		for i := range c.Arms {
			cell := armsCell{Text: orDash(v.Measured[i]), Status: v.Status[i]}
			if v.Status[i] == results.ValiditySkipped {
				cell.Text = v.Reason[i]
			}
			row.Cells = append(row.Cells, cell)
		}
		p.Validity = append(p.Validity, row)
	}
	if hasInstall(c) {
		settle := armsFigureHTML{Name: "settle"}
		for _, a := range c.Arms {
			settle.Cells = append(settle.Cells, orDash(a.Run.Settle))
		}
		p.Install = append(p.Install, settle)
		for _, f := range c.Install {
			row := armsFigureHTML{Name: f.Name}
			for _, v := range f.Values {
				row.Cells = append(row.Cells, formatFigure(f.Unit, v))
			}
			p.Install = append(p.Install, row)
		}
	}
	for _, ch := range armCharts(arms) {
		// The SVG is generated from numbers and escaped strings only.
		p.Charts = append(p.Charts, template.HTML(ch.svg()))
	}
	if err := armsTemplate.Execute(w, p); err != nil {
		return fmt.Errorf("render comparison: %w", err)
	}
	return nil
}

// alignedArm is one arm's data shifted so its churn phase starts at epoch.
type alignedArm struct {
	name  string
	d     *runData
	shift time.Duration
}

func (a alignedArm) points(pts []observers.Point) []observers.Point {
	out := make([]observers.Point, len(pts))
	for i, p := range pts {
		out[i] = observers.Point{T: p.T.Add(a.shift), V: p.V}
	}
	return out
}

// armCharts plots each arm as one line per chart. Time runs from the
// earliest mesh start to the longest churn phase's end, with 0 being each
// arm's churn start, so the same scale action sits at the same x in every
// arm (same seed, same plan).
func armCharts(arms []Arm) []chart {
	epoch := time.Unix(0, 0).UTC()
	var aligned []alignedArm
	var lead, length time.Duration
	for _, a := range arms {
		if a.Result == nil {
			continue
		}
		from, to, ok := churnPhase(a.Result)
		if !ok {
			continue
		}
		aa := alignedArm{name: a.Name, d: loadRunData(a.Result), shift: epoch.Sub(from)}
		for _, ph := range a.Result.Phases {
			if ph.Name == "mesh" && ph.Start.Before(from) {
				lead = max(lead, from.Sub(ph.Start))
			}
		}
		length = max(length, to.Sub(from))
		aligned = append(aligned, aa)
	}
	if len(aligned) == 0 {
		return nil
	}
	lead = max(lead, time.Minute)
	bands := []band{{From: epoch.Add(-lead), To: epoch, Label: "mesh start-up", Color: "#eaf3fb"},
		{From: epoch, To: epoch.Add(length), Label: "churn", Color: "#fdf3e7"}}
	base := func(title, unit string, logY bool) chart {
		return chart{Title: title, Unit: unit, LogY: logY, From: epoch.Add(-lead), To: epoch.Add(length), Bands: bands, Empty: noAPIMetrics}
	}
	perArm := func(c chart, get func(a alignedArm) []observers.Point) chart {
		for i, a := range aligned {
			c.Lines = append(c.Lines, line{Name: a.name, Color: palette[i%len(palette)], Points: a.points(get(a))})
		}
		return c
	}
	apiSeries := func(name string) func(a alignedArm) []observers.Point {
		return func(a alignedArm) []observers.Point {
			if a.d.api == nil {
				return nil
			}
			return seriesPoints(a.d.api.Series, name)
		}
	}
	procSeries := func(name string) func(a alignedArm) []observers.Point {
		return func(a alignedArm) []observers.Point {
			if a.d.procs == nil {
				return nil
			}
			return seriesPoints(a.d.procs.Series, name)
		}
	}
	var out []chart
	for _, cat := range observers.Categories {
		c := perArm(base("API call latency, "+cat+": p99 over 5 min of the worst (verb, resource)", observers.UnitSeconds, true), apiSeries(cat+"-p99"))
		c.HLines = aligned[0].d.thresholdLines(cat + "-p99")
		out = append(out, c)
	}
	cpu := perArm(base("kube-apiserver CPU", observers.UnitCores, false), procSeries(observers.SeriesCPUPrefix+apiServerProcess))
	cpu.Empty = "no data: the processes observer did not run"
	rss := perArm(base("kube-apiserver memory (RSS)", observers.UnitBytes, false), procSeries(observers.SeriesRSSPrefix+apiServerProcess))
	rss.Empty = cpu.Empty
	out = append(out, cpu, rss,
		perArm(base("429 responses", observers.UnitPerSec, false), apiSeries(observers.Series429Rate)),
		perArm(base("5xx responses", observers.UnitPerSec, false), apiSeries(observers.Series5xxRate)),
		perArm(base("Open WATCH requests", observers.UnitCount, false), apiSeries(observers.SeriesWatches)),
		perArm(base("Watch events sent", observers.UnitPerSec, false), apiSeries(observers.SeriesWatchEventRate)),
	)
	prop := perArm(base("Watch propagation delay per write (churn's own watch)", observers.UnitSeconds, true), func(a alignedArm) []observers.Point {
		if a.d.watch == nil {
			return nil
		}
		return seriesPoints(a.d.watch.Series, observers.SeriesWatchDelay)
	})
	prop.Empty = "no data: watch-propagation did not run"
	for i := range prop.Lines {
		prop.Lines[i].Scatter = true
	}
	out = append(out, prop)
	// Outages and process events of every arm, named by arm.
	for i := range out {
		for _, a := range aligned {
			for _, m := range a.d.eventMarkers() {
				out[i].Markers = append(out[i].Markers, marker{T: m.T.Add(a.shift), Label: a.name + ": " + m.Label})
			}
		}
	}
	return out
}

var armsTemplate = template.Must(template.New("arms").Funcs(template.FuncMap{
	"upper": strings.ToUpper,
}).Parse(armsHTML))

const armsHTML = `<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>churn comparison: {{.C.Profile}}</title>
` + pageStyle + `
</head>
<body>
<main>
<h1>churn comparison: {{.C.Profile}}, {{len .C.Arms}} arms</h1>
<div class="meta"><span>profile <b>{{.C.Profile}}</b></span><span>seed {{.C.Seed}}</span><span>same churn plan in every arm</span></div>
{{range .Verdicts}}<div class="verdict {{.Class}}">{{.Text}}</div>
{{end}}
{{range .C.Warnings}}<p class="small">warning: {{.}}</p>{{end}}

<h2>Findings</h2>
<ul>{{range .C.Findings}}<li>{{.}}</li>{{end}}</ul>

<h2>Service level objectives</h2>
<table><tr><th>SLO</th><th class="num">threshold</th>{{range .C.Arms}}<th class="num">{{.Name}}</th>{{end}}</tr>
{{range .SLOs}}<tr><td><b>{{.Name}}</b></td><td class="num">{{.Threshold}}</td>{{range .Cells}}<td class="num">{{.Text}} {{if .Status}}<span class="badge {{.Status}}">{{.Status}}</span>{{end}}</td>{{end}}</tr>
{{end}}</table>

<h2>Key figures</h2>
<table><tr><th>figure</th>{{range .C.Arms}}<th class="num">{{.Name}}</th>{{end}}</tr>
{{range .Figures}}<tr><td>{{.Name}}</td>{{range .Cells}}<td class="num">{{.}}</td>{{end}}</tr>
{{end}}</table>
<p class="small">"Churn phase" figures cover the phase the SLOs judge. Each arm has its own report: {{range $i, $a := .C.Arms}}{{if $i}}, {{end}}{{$a.Dir}}/report.html{{end}}.</p>

{{if .Validity}}<h2>Simulator: did kwok, churn and its agents keep up?</h2>
<table><tr><th>check</th><th class="num">threshold</th>{{range .C.Arms}}<th class="num">{{.Name}}</th>{{end}}</tr>
{{range .Validity}}<tr><td><b>{{.Name}}</b></td><td class="num">{{.Threshold}}</td>{{range .Cells}}<td class="num">{{if eq .Status "skipped"}}<span class="small">{{.Text}}</span> {{else}}{{.Text}} {{end}}{{if .Status}}<span class="badge {{.Status}}">{{if eq .Status "behind"}}BEHIND{{else}}{{.Status}}{{end}}</span>{{end}}</td>{{end}}</tr>
{{end}}</table>
<p class="small">An arm with a check BEHIND is inconclusive: its SLO figures measure the bench as much as the API server.</p>{{end}}

{{if .Install}}<h2>Install phase</h2>
<table><tr><th>figure</th>{{range .C.Arms}}<th class="num">{{.Name}}</th>{{end}}</tr>
{{range .Install}}<tr><td>{{.Name}}</td>{{range .Cells}}<td class="num">{{.}}</td>{{end}}</tr>
{{end}}</table>
<p class="small">` + notJudgedNote + `</p>{{end}}

<h2>Over time, arms aligned on their churn start</h2>
<p class="small">x: time from the start of the mesh phase of the arm that started its mesh earliest; the churn phase starts at the same x in every arm. Purple dashes: control-plane process events, named by arm.</p>
{{range .Charts}}<figure>{{.}}</figure>
{{end}}
<p class="small">churn {{.Version}} · generated {{.Generated}} · self-contained: no scripts, no network.</p>
</main>
</body>
</html>
`
