package history

import (
	"fmt"
	"html/template"
	"io"
	"slices"
	"time"

	"github.com/churn-dev/churn/report"
	"github.com/churn-dev/churn/version"
)

type htmlGroup struct {
	G       *Group
	Header  []string
	Rows    []htmlRow
	Legend  []string
	Changes []htmlChange
	Near    []string
	Charts  []template.HTML
}

type htmlRow struct {
	Cells []string
	Class string
}

type htmlChange struct {
	Text, Verdict string
}

type htmlPage struct {
	Groups    []htmlGroup
	Method    string
	Findings  []string
	Checked   bool
	Problems  []string
	Version   string
	Generated string
}

// WriteHTML writes the trends page: per group the runs' table, the change
// points, and a chart per figure across the runs with change points,
// release and argument changes marked and inconclusive runs drawn hollow.
// It is self-contained (inline SVG and style, no script, no CDN).
func WriteHTML(w io.Writer, h *History, findings []Finding, now time.Time) error {
	p := htmlPage{Method: upperFirst(h.Method), Checked: findings != nil, Problems: h.Problems,
		Version: version.Churn, Generated: now.UTC().Format(time.RFC3339)}
	for _, f := range findings {
		p.Findings = append(p.Findings, f.Text())
	}
	for _, g := range h.Groups {
		p.Groups = append(p.Groups, htmlGroupOf(g))
	}
	if err := trendsTemplate.Execute(w, p); err != nil {
		return fmt.Errorf("render trends page: %w", err)
	}
	return nil
}

func htmlGroupOf(g *Group) htmlGroup {
	hg := htmlGroup{G: g, Near: nearMisses(g)}
	labels, legend := settingLabels(g)
	hg.Legend = legend
	for _, s := range g.Settings {
		hg.Legend = append(hg.Legend, fmt.Sprintf("at run %d: %s", s.Run, s.Text))
	}
	hg.Header = []string{"#", "date", "run", "setting", "verdict"}
	for _, f := range tableFigures {
		hg.Header = append(hg.Header, f.header)
	}
	hg.Header = append(hg.Header, "simulator")
	for i, r := range g.Runs {
		row := htmlRow{Cells: []string{fmt.Sprint(i + 1), dateText(r.Start), r.RunID, labels[i], r.Verdict()}}
		switch {
		case r.Inconclusive:
			row.Class = "inconclusive"
		case !r.Passed:
			row.Class = "breach"
		}
		for _, f := range tableFigures {
			cell := "-"
			if v, ok := r.Figures[f.name]; ok {
				cell = report.FormatFigure(v.Unit, v.Value)
			}
			row.Cells = append(row.Cells, cell)
		}
		row.Cells = append(row.Cells, simulatorText(r))
		hg.Rows = append(hg.Rows, row)
	}
	for _, c := range g.Changes {
		text := fmt.Sprintf("run %d (%s): %s %s", c.Run, c.RunID, c.Figure, changeText(c))
		for _, s := range c.Suspects {
			text += "; changed at that run: " + s
		}
		hg.Changes = append(hg.Changes, htmlChange{Text: text, Verdict: c.Verdict})
	}
	// Gating figures first, those that moved first among them: the page
	// opens on what a reader came for.
	series := slices.Clone(g.Series)
	rank := func(s *Series) int {
		r := 0
		if s.Kind == report.FigureSimulator {
			r += 2
		}
		if len(s.Changes) == 0 {
			r++
		}
		return r
	}
	slices.SortStableFunc(series, func(a, b *Series) int { return rank(a) - rank(b) })
	for _, s := range series {
		hg.Charts = append(hg.Charts, template.HTML(trendChart(g, s).SVG()))
	}
	return hg
}

// trendChart draws one series: its values, the medians of the segments
// between its change points, the change points and the setting changes.
func trendChart(g *Group, s *Series) report.TrendChart {
	c := report.TrendChart{Title: s.Name, Unit: s.Unit, Runs: len(g.Runs)}
	if s.Kind == report.FigureSLO {
		c.Limit = s.Limit
	}
	for i, v := range s.Values {
		if v != nil {
			c.Points = append(c.Points, report.TrendPoint{X: i + 1, Value: *v, Excluded: g.Runs[i].Inconclusive, Label: g.Runs[i].RunID})
		}
	}
	for _, st := range g.Settings {
		c.Marks = append(c.Marks, report.TrendMark{X: st.Run, Label: st.Text})
	}
	bounds := []int{1}
	for _, ch := range s.Changes {
		label := fmt.Sprintf("run %d: %s", ch.Run, ch.Verdict)
		if ch.Change != nil {
			label = fmt.Sprintf("run %d: %+.0f%% %s", ch.Run, *ch.Change*100, ch.Verdict)
		}
		c.Marks = append(c.Marks, report.TrendMark{X: ch.Run, Label: label, Change: true})
		bounds = append(bounds, ch.Run)
	}
	bounds = append(bounds, len(g.Runs)+1)
	if len(s.Changes) > 0 {
		for i := 0; i+1 < len(bounds); i++ {
			from, to := bounds[i], bounds[i+1]-1
			var seg []float64
			for x := from; x <= to; x++ {
				if v := s.Values[x-1]; v != nil && !g.Runs[x-1].Inconclusive {
					seg = append(seg, *v)
				}
			}
			if len(seg) > 0 {
				c.Segments = append(c.Segments, report.TrendSegment{From: from, To: to, Median: median(seg)})
			}
		}
	}
	return c
}

func median(xs []float64) float64 {
	s := slices.Clone(xs)
	slices.Sort(s)
	if n := len(s); n%2 == 1 {
		return s[n/2]
	}
	return (s[len(s)/2-1] + s[len(s)/2]) / 2
}

var trendsTemplate = template.Must(template.New("trends").Parse(`<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>churn history: trends</title>
` + report.PageStyle() + `<style>
div.runs { overflow-x: auto; }
div.runs table { font-size: 12px; }
div.runs th, div.runs td { padding: 3px 5px; white-space: nowrap; }
tr.inconclusive td { color: #8a5a00; background: #fffbea; }
li.regression { color: #c62828; font-weight: 600; }
li.improvement { color: #1a7f37; }
</style>
</head>
<body>
<main>
<h1>churn history: trends</h1>
<div class="meta"><span>churn {{.Version}}</span><span>generated {{.Generated}}</span><span>{{len .Groups}} group(s)</span></div>
{{if .Checked}}{{if .Findings}}<div class="verdict fail">Check failed: the newest run starts a significant regression</div>
<ul class="notes">{{range .Findings}}<li>{{.}}</li>{{end}}</ul>
{{else}}<div class="verdict pass">Check passed: no group's newest run starts a significant regression</div>{{end}}{{end}}
{{if .Problems}}<p class="small">Could not read: {{range .Problems}}{{.}}; {{end}}</p>{{end}}
{{range .Groups}}
<h2>{{.G.Name}}: {{len .G.Runs}} runs{{if .G.Older}} (the newest; {{.G.Older}} older left out){{end}}</h2>
<div class="runs"><table>
<tr>{{range .Header}}<th>{{.}}</th>{{end}}</tr>
{{range .Rows}}<tr{{if .Class}} class="{{.Class}}"{{end}}>{{range .Cells}}<td>{{.}}</td>{{end}}</tr>
{{end}}</table></div>
<ul class="small">{{range .Legend}}<li>{{.}}</li>{{end}}</ul>
<p><b>Change points</b> ({{.G.Family}} figures that gate tested together{{if ge .G.Cut 0.0}}, Benjamini-Hochberg cut p &le; {{printf "%.3f" .G.Cut}}{{end}}; {{.G.InfoFamily}} of the bench apart){{if not .Changes}}: none.{{end}}</p>
{{if .Changes}}<ul>{{range .Changes}}<li class="{{.Verdict}}">{{.Text}}, {{.Verdict}}</li>{{end}}</ul>{{end}}
{{if .Near}}<p class="small">Significant alone (p &le; 0.05) but not among the figures tested together, more runs would tell: {{range $i, $n := .Near}}{{if $i}}; {{end}}{{$n}}{{end}}</p>{{end}}
{{range .Charts}}<figure>{{.}}</figure>
{{end}}
{{end}}
<p class="small">{{.Method}}. A red dashed line marks a change point before the run it starts at; a grey one a change of release or arguments; green lines are the medians of the segments between change points; hollow points are inconclusive runs (the simulator fell behind), shown but not counted.</p>
</main>
</body>
</html>
`))
