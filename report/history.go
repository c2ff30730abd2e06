package report

import (
	"cmp"
	"fmt"
	"math"
	"strings"
	"time"

	"github.com/churn-dev/churn/observers"
	"github.com/churn-dev/churn/results"
)

// What churn history reads from each run and draws across runs. The
// figures are the ones compare judges, so a trend and a comparison of the
// same runs speak of the same numbers.

// UnitCPUSeconds is the unit of CPU time figures, shown as seconds of one
// core.
const UnitCPUSeconds = unitCPUSeconds

// Kinds of RunFigure.
const (
	FigureSLO       = "slo"
	FigureKey       = "figure"
	FigureSimulator = "simulator"
)

// RunFigure is one figure of one run.
type RunFigure struct {
	Name string `json:"name"`
	// Kind is FigureSLO, FigureKey or FigureSimulator (a check of whether
	// kwok, churn and its agents kept up: it describes the bench, not the
	// API server, so it never gates).
	Kind string `json:"kind"`
	Unit string `json:"unit"`
	// Better is LowerIsBetter, HigherIsBetter or Informational.
	Better string `json:"better,omitempty"`
	// Floor is the noise floor in Unit: a smaller change never regresses.
	Floor float64 `json:"floor,omitempty"`
	Value float64 `json:"value"`
	// Limit is the SLO's threshold or the check's limit, 0 without one.
	Limit float64 `json:"limit,omitempty"`
}

// RunFigures lists the figures a run measured: its SLOs' values (those
// with a signal), compare's key figures, the outages, and the simulator's
// checks that were judged.
func RunFigures(r *results.Result) []RunFigure {
	var out []RunFigure
	for _, s := range r.SLOs {
		v := sloValue(s)
		if v == nil {
			continue
		}
		out = append(out, RunFigure{Name: s.Name, Kind: FigureSLO, Unit: cmp.Or(s.Unit, observers.UnitSeconds),
			Better: LowerIsBetter, Floor: sloFloor(s.Name, s.Unit), Value: *v, Limit: s.Limit})
	}
	for _, f := range figures {
		if v, ok := f.get(r); ok {
			out = append(out, RunFigure{Name: f.name, Kind: FigureKey, Unit: f.unit, Better: f.better, Floor: f.floor, Value: v})
		}
	}
	if a := r.Availability; a != nil {
		out = append(out,
			RunFigure{Name: "outages", Kind: FigureKey, Unit: observers.UnitCount, Better: LowerIsBetter, Floor: FloorActions, Value: float64(len(a.Outages))},
			RunFigure{Name: "API server downtime", Kind: FigureKey, Unit: observers.UnitSeconds, Better: LowerIsBetter, Floor: FloorOutage, Value: a.DowntimeSeconds})
	}
	if r.Validity != nil {
		for _, c := range r.Validity.Checks {
			if c.Status == results.ValiditySkipped {
				continue
			}
			unit := observers.UnitSeconds
			if c.Name == "fake-nodes-healthy" {
				// Counted in nodes, not timed.
				unit = observers.UnitCount
			}
			out = append(out, RunFigure{Name: c.Name, Kind: FigureSimulator, Unit: unit, Better: Informational, Value: c.Value, Limit: c.Limit})
		}
	}
	return out
}

// FormatFigure renders a figure's value in its unit, as compare does.
func FormatFigure(unit string, v float64) string { return formatFigure(unit, &v) }

// PageStyle is the reports' stylesheet, for pages built elsewhere that
// show the same charts.
func PageStyle() string { return pageStyle }

// TrendPoint is one run on a trend chart.
type TrendPoint struct {
	// X is the run's place in the series, from 1.
	X     int
	Value float64
	// Excluded runs (inconclusive: the simulator fell behind) are drawn
	// hollow and unconnected; they are not part of the series judged.
	Excluded bool
	Label    string
}

// TrendMark is a vertical line before run X: a change point, or a change
// of release or arguments.
type TrendMark struct {
	X     int
	Label string
	// Change marks a change point (drawn red); otherwise a setting
	// changed (grey).
	Change bool
}

// TrendSegment is a horizontal line at a segment's median, from run From
// to run To (inclusive).
type TrendSegment struct {
	From, To int
	Median   float64
}

// TrendChart is one figure across the runs of a series.
type TrendChart struct {
	Title    string
	Unit     string
	Runs     int
	Points   []TrendPoint
	Marks    []TrendMark
	Segments []TrendSegment
	// Limit draws the SLO threshold when above 0.
	Limit float64
}

// SVG renders the chart with the report's geometry, scales and style:
// runs on the x axis, one per step.
func (c TrendChart) SVG() string {
	epoch := time.Unix(0, 0)
	var counted, excluded []observers.Point
	for _, p := range c.Points {
		pt := observers.Point{T: epoch.Add(time.Duration(p.X) * time.Second), V: p.Value}
		if p.Excluded {
			excluded = append(excluded, pt)
		} else {
			counted = append(counted, pt)
		}
	}
	var hl []hline
	if c.Limit > 0 {
		hl = []hline{{Y: c.Limit, Label: "SLO " + formatUnit(c.Unit, c.Limit)}}
	}
	lines := []line{{Name: "runs counted", Color: palette[0], Points: counted}, {Name: "inconclusive, not counted", Color: "#999999", Points: excluded}}
	lo, hi, hasData := valueRange(lines, hl, false)
	if c.Unit == observers.UnitBytes {
		hi = niceBytes(hi)
	}
	legend := []legendItem{{text: "run (counted)", color: palette[0]}}
	if len(excluded) > 0 {
		legend = append(legend, legendItem{text: "inconclusive run (not counted)", color: "#999999", dashed: true})
	}
	if len(c.Segments) > 0 {
		legend = append(legend, legendItem{text: "segment median", color: "#009E73"})
	}
	if hasMark(c.Marks, true) {
		legend = append(legend, legendItem{text: "change point", color: colorFailed, dashed: true})
	}
	if hasMark(c.Marks, false) {
		legend = append(legend, legendItem{text: "release or arguments changed", color: "#7F7F7F", dashed: true})
	}
	for _, h := range hl {
		text := h.Label
		if h.Y > hi {
			text += ", above the chart"
		}
		legend = append(legend, legendItem{text: text, threshold: true})
	}
	rows := layoutLegend(legend)
	height := marginTop + plotHeight + axisHeight + rows*legendRow + 6
	var b strings.Builder
	fmt.Fprintf(&b, `<svg class="chart" xmlns="http://www.w3.org/2000/svg" viewBox="0 0 %d %d" role="img" aria-label="%s">`, chartWidth, height, esc(c.Title))
	fmt.Fprintf(&b, `<text class="title" x="%d" y="20">%s</text>`, marginLeft, esc(c.Title))
	plotW := float64(chartWidth - marginLeft - marginRight)
	x0, y0 := float64(marginLeft), float64(marginTop+plotHeight)
	fmt.Fprintf(&b, `<rect class="plot" x="%d" y="%d" width="%.0f" height="%d"/>`, marginLeft, marginTop, plotW, plotHeight)
	runs := max(c.Runs, 1)
	// Runs sit at the centres of equal slots, so a mark between two runs
	// falls on a slot's edge.
	step := plotW / float64(runs)
	xs := func(x float64) float64 { return x0 + (x-0.5)*step }
	ys := scale{lo: lo, hi: hi, pixLo: y0, pixRange: -plotHeight}
	for _, tk := range yTicks(lo, hi, false, c.Unit) {
		y := ys.at(tk)
		fmt.Fprintf(&b, `<line class="grid" x1="%.1f" x2="%.1f" y1="%.1f" y2="%.1f"/>`, x0, x0+plotW, y, y)
		fmt.Fprintf(&b, `<text class="tick" x="%.1f" y="%.1f" text-anchor="end">%s</text>`, x0-6, y+4, esc(formatUnit(c.Unit, tk)))
	}
	every := max(1, int(math.Ceil(float64(runs)/25)))
	for x := 1; x <= runs; x++ {
		if x%every != 0 && x != 1 {
			continue
		}
		fmt.Fprintf(&b, `<text class="tick" x="%.1f" y="%.1f" text-anchor="middle">%d</text>`, xs(float64(x)), y0+16, x)
	}
	fmt.Fprintf(&b, `<line class="axis" x1="%.1f" x2="%.1f" y1="%.1f" y2="%.1f"/>`, x0, x0+plotW, y0, y0)
	fmt.Fprintf(&b, `<line class="axis" x1="%.1f" x2="%.1f" y1="%d" y2="%.1f"/>`, x0, x0, marginTop, y0)
	fmt.Fprintf(&b, `<text class="axislabel" x="%.1f" y="%.1f" text-anchor="end">run, oldest first</text>`, x0+plotW, y0+30)
	fmt.Fprintf(&b, `<text class="axislabel" transform="translate(14 %d) rotate(-90)" text-anchor="middle">%s</text>`,
		marginTop+plotHeight/2, esc(unitLabel(c.Unit, false)))
	for _, h := range hl {
		if h.Y > hi {
			continue
		}
		y := ys.at(h.Y)
		fmt.Fprintf(&b, `<line class="threshold" x1="%.1f" x2="%.1f" y1="%.1f" y2="%.1f"/>`, x0, x0+plotW, y, y)
	}
	// Settings first, change points over them: the red line is the finding.
	for _, change := range []bool{false, true} {
		for i, m := range c.Marks {
			if m.Change != change {
				continue
			}
			x := xs(float64(m.X) - 0.5)
			color, dash := "#7F7F7F", "3 3"
			if m.Change {
				color, dash = colorFailed, "6 3"
			}
			fmt.Fprintf(&b, `<line x1="%.1f" x2="%.1f" y1="%d" y2="%.1f" stroke="%s" stroke-width="1.5" stroke-dasharray="%s"><title>%s</title></line>`,
				x, x, marginTop, y0, color, dash, esc(m.Label))
			// Labels alternate rows so two marks close together stay
			// legible; in the right half they run leftwards, and long ones
			// are cut (the line's tooltip holds the whole).
			label, anchor, lx := m.Label, "start", x+3
			if r := []rune(label); len(r) > 70 {
				label = string(r[:69]) + "…"
			}
			if x > x0+plotW/2 {
				anchor, lx = "end", x-3
			}
			fmt.Fprintf(&b, `<text class="bandlabel" x="%.1f" y="%d" fill="%s" text-anchor="%s">%s</text>`, lx, marginTop+12+12*(i%2), color, anchor, esc(label))
		}
	}
	for _, s := range c.Segments {
		y := ys.at(s.Median)
		fmt.Fprintf(&b, `<line x1="%.1f" x2="%.1f" y1="%.1f" y2="%.1f" stroke="#009E73" stroke-width="2"><title>median %s</title></line>`,
			xs(float64(s.From)-0.4), xs(float64(s.To)+0.4), y, y, esc(formatUnit(c.Unit, s.Median)))
	}
	if len(counted) > 1 {
		fmt.Fprintf(&b, `<polyline class="series" stroke="%s" stroke-opacity="0.5" points="`, palette[0])
		for i, p := range c.countedPoints() {
			if i > 0 {
				b.WriteByte(' ')
			}
			fmt.Fprintf(&b, "%.1f,%.1f", xs(float64(p.X)), ys.at(p.Value))
		}
		b.WriteString(`"/>`)
	}
	for _, p := range c.Points {
		title := esc(fmt.Sprintf("run %d %s: %s", p.X, p.Label, formatUnit(c.Unit, p.Value)))
		if p.Excluded {
			fmt.Fprintf(&b, `<circle cx="%.1f" cy="%.1f" r="3.5" fill="#fff" stroke="#999" stroke-width="1.5"><title>%s (inconclusive, not counted)</title></circle>`,
				xs(float64(p.X)), ys.at(p.Value), title)
			continue
		}
		fmt.Fprintf(&b, `<circle cx="%.1f" cy="%.1f" r="3.5" fill="%s"><title>%s</title></circle>`, xs(float64(p.X)), ys.at(p.Value), palette[0], title)
	}
	if !hasData {
		fmt.Fprintf(&b, `<text class="nodata" x="%.1f" y="%d" text-anchor="middle">no run measured it</text>`, x0+plotW/2, marginTop+plotHeight/2)
	}
	writeLegend(&b, legend)
	b.WriteString(`</svg>`)
	return b.String()
}

func (c TrendChart) countedPoints() []TrendPoint {
	var out []TrendPoint
	for _, p := range c.Points {
		if !p.Excluded {
			out = append(out, p)
		}
	}
	return out
}

func hasMark(ms []TrendMark, change bool) bool {
	for _, m := range ms {
		if m.Change == change {
			return true
		}
	}
	return false
}
