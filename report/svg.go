package report

import (
	"cmp"
	"fmt"
	"html"
	"math"
	"slices"
	"strings"
	"time"

	"github.com/churn-dev/churn/observers"
)

// Chart geometry in SVG user units; the SVG scales to the page width.
const (
	chartWidth   = 960
	plotHeight   = 220
	marginLeft   = 72
	marginRight  = 24
	marginTop    = 34
	axisHeight   = 34
	legendRow    = 20
	maxPlotPoint = 1200 // points per series after downsampling
)

// palette is colour-blind friendly (Okabe-Ito plus extras).
var palette = []string{"#0072B2", "#D55E00", "#009E73", "#CC79A7", "#E69F00", "#56B4E9", "#000000", "#F0E442", "#8C564B", "#7F7F7F"}

// line is one plotted series.
type line struct {
	Name    string
	Color   string
	Points  []observers.Point
	Dashed  bool
	Scatter bool // dots instead of a line (sparse or irregular samples)
}

// band shades a time range (a phase or an outage).
type band struct {
	From, To time.Time
	Label    string
	Color    string
}

// hline is a horizontal reference (an SLO threshold).
type hline struct {
	Y     float64
	Label string
}

// marker is a vertical event line (a process exit).
type marker struct {
	T     time.Time
	Label string
}

// chart is one time-series plot.
type chart struct {
	Title   string
	Unit    string // an observers.Unit* constant
	LogY    bool
	Lines   []line
	Bands   []band
	HLines  []hline
	Markers []marker
	From    time.Time
	To      time.Time
	// YMax fixes the top of a linear axis (0 = from the data); YLabel
	// overrides the unit's axis label.
	YMax   float64
	YLabel string
	// Empty explains a chart without data.
	Empty string
}

// scale maps values to pixels.
type scale struct {
	lo, hi   float64
	log      bool
	pixLo    float64
	pixRange float64
}

func (s scale) at(v float64) float64 {
	if s.log {
		v = math.Log10(math.Max(v, s.lo))
		return s.pixLo + (v-math.Log10(s.lo))/(math.Log10(s.hi)-math.Log10(s.lo))*s.pixRange
	}
	return s.pixLo + (v-s.lo)/(s.hi-s.lo)*s.pixRange
}

// svg renders the chart as a self-contained <svg class="chart">.
func (c chart) svg() string {
	lines := make([]line, 0, len(c.Lines))
	for i, l := range c.Lines {
		if l.Color == "" {
			l.Color = palette[i%len(palette)]
		}
		l.Points = downsample(l.Points, c.From, c.To, maxPlotPoint)
		lines = append(lines, l)
	}
	lo, hi, hasData := valueRange(lines, c.HLines, c.LogY)
	if c.YMax > 0 && !c.LogY {
		hi = c.YMax
	} else if c.Unit == observers.UnitBytes && !c.LogY {
		hi = niceBytes(hi)
	}
	legend := make([]legendItem, 0, len(lines)+len(c.HLines))
	for _, l := range lines {
		legend = append(legend, legendItem{text: l.Name, color: l.Color, dashed: l.Dashed})
	}
	for _, h := range c.HLines {
		text := h.Label
		if h.Y < lo || h.Y > hi {
			text += ", above the chart"
		}
		legend = append(legend, legendItem{text: text, threshold: true})
	}
	legendRows := layoutLegend(legend)
	height := marginTop + plotHeight + axisHeight + legendRows*legendRow + 6
	var b strings.Builder
	fmt.Fprintf(&b, `<svg class="chart" xmlns="http://www.w3.org/2000/svg" viewBox="0 0 %d %d" role="img" aria-label="%s">`,
		chartWidth, height, esc(c.Title))
	fmt.Fprintf(&b, `<text class="title" x="%d" y="20">%s</text>`, marginLeft, esc(c.Title))
	plotW := float64(chartWidth - marginLeft - marginRight)
	x0, y0 := float64(marginLeft), float64(marginTop+plotHeight)
	fmt.Fprintf(&b, `<rect class="plot" x="%d" y="%d" width="%.0f" height="%d"/>`, marginLeft, marginTop, plotW, plotHeight)

	from, to := c.From, c.To
	if !to.After(from) {
		to = from.Add(time.Minute)
	}
	xs := func(t time.Time) float64 {
		f := float64(t.Sub(from)) / float64(to.Sub(from))
		return x0 + math.Max(0, math.Min(1, f))*plotW
	}
	// Bands under everything else.
	for _, bd := range c.Bands {
		if !bd.To.After(bd.From) {
			bd.To = bd.From.Add(time.Second)
		}
		bx, ex := xs(bd.From), xs(bd.To)
		fmt.Fprintf(&b, `<rect class="band" x="%.1f" y="%d" width="%.1f" height="%d" fill="%s"><title>%s</title></rect>`,
			bx, marginTop, math.Max(ex-bx, 1.5), plotHeight, bd.Color, esc(bd.Label))
		if bd.Label != "" && ex-bx > 40 {
			fmt.Fprintf(&b, `<text class="bandlabel" x="%.1f" y="%d">%s</text>`, bx+3, marginTop+12, esc(bd.Label))
		}
	}

	ys := scale{lo: lo, hi: hi, log: c.LogY, pixLo: y0, pixRange: -plotHeight}
	for _, tk := range yTicks(lo, hi, c.LogY, c.Unit) {
		y := ys.at(tk)
		fmt.Fprintf(&b, `<line class="grid" x1="%.1f" x2="%.1f" y1="%.1f" y2="%.1f"/>`, x0, x0+plotW, y, y)
		fmt.Fprintf(&b, `<text class="tick" x="%.1f" y="%.1f" text-anchor="end">%s</text>`, x0-6, y+4, esc(formatUnit(c.Unit, tk)))
	}
	for _, tk := range timeTicks(from, to) {
		x := xs(tk)
		fmt.Fprintf(&b, `<line class="grid" x1="%.1f" x2="%.1f" y1="%d" y2="%.1f"/>`, x, x, marginTop, y0)
		fmt.Fprintf(&b, `<text class="tick" x="%.1f" y="%.1f" text-anchor="middle">%s</text>`, x, y0+16, esc(elapsed(tk.Sub(from))))
	}
	fmt.Fprintf(&b, `<line class="axis" x1="%.1f" x2="%.1f" y1="%.1f" y2="%.1f"/>`, x0, x0+plotW, y0, y0)
	fmt.Fprintf(&b, `<line class="axis" x1="%.1f" x2="%.1f" y1="%d" y2="%.1f"/>`, x0, x0, marginTop, y0)
	fmt.Fprintf(&b, `<text class="axislabel" x="%.1f" y="%.1f" text-anchor="end">time since run start</text>`, x0+plotW, y0+30)
	fmt.Fprintf(&b, `<text class="axislabel" transform="translate(14 %d) rotate(-90)" text-anchor="middle">%s</text>`,
		marginTop+plotHeight/2, esc(cmp.Or(c.YLabel, unitLabel(c.Unit, c.LogY))))

	for _, h := range c.HLines {
		if h.Y < lo || h.Y > hi {
			continue
		}
		y := ys.at(h.Y)
		fmt.Fprintf(&b, `<line class="threshold" x1="%.1f" x2="%.1f" y1="%.1f" y2="%.1f"/>`, x0, x0+plotW, y, y)
		fmt.Fprintf(&b, `<text class="thresholdlabel" x="%.1f" y="%.1f" text-anchor="end">%s</text>`, x0+plotW-4, y-4, esc(h.Label))
	}
	for _, m := range c.Markers {
		x := xs(m.T)
		fmt.Fprintf(&b, `<line class="marker" x1="%.1f" x2="%.1f" y1="%d" y2="%.1f"><title>%s</title></line>`, x, x, marginTop, y0, esc(m.Label))
	}
	for _, l := range lines {
		writeLine(&b, l, xs, ys)
	}
	if !hasData {
		msg := c.Empty
		if msg == "" {
			msg = "no data"
		}
		fmt.Fprintf(&b, `<text class="nodata" x="%.1f" y="%d" text-anchor="middle">%s</text>`, x0+plotW/2, marginTop+plotHeight/2, esc(msg))
	}

	writeLegend(&b, legend)
	b.WriteString(`</svg>`)
	return b.String()
}

func writeLine(b *strings.Builder, l line, xs func(time.Time) float64, ys scale) {
	if len(l.Points) == 0 {
		return
	}
	if l.Scatter || len(l.Points) == 1 {
		fmt.Fprintf(b, `<g class="series" fill="%s"><title>%s</title>`, l.Color, esc(l.Name))
		for _, p := range l.Points {
			fmt.Fprintf(b, `<circle cx="%.1f" cy="%.1f" r="2.2"/>`, xs(p.T), ys.at(p.V))
		}
		b.WriteString(`</g>`)
		return
	}
	dash := ""
	if l.Dashed {
		dash = ` stroke-dasharray="6 3"`
	}
	// A gap of missing samples (the server was down) breaks the line
	// instead of drawing a straight bridge over it.
	gap := 3 * medianStep(l.Points)
	start := 0
	for i := 1; i <= len(l.Points); i++ {
		if i < len(l.Points) && (gap <= 0 || l.Points[i].T.Sub(l.Points[i-1].T) <= gap) {
			continue
		}
		seg := l.Points[start:i]
		start = i
		if len(seg) == 1 {
			fmt.Fprintf(b, `<circle cx="%.1f" cy="%.1f" r="1.8" fill="%s"/>`, xs(seg[0].T), ys.at(seg[0].V), l.Color)
			continue
		}
		fmt.Fprintf(b, `<polyline class="series" stroke="%s"%s points="`, l.Color, dash)
		for j, p := range seg {
			if j > 0 {
				b.WriteByte(' ')
			}
			fmt.Fprintf(b, "%.1f,%.1f", xs(p.T), ys.at(p.V))
		}
		fmt.Fprintf(b, `"><title>%s</title></polyline>`, esc(l.Name))
	}
}

// medianStep is the typical time between samples (0 for fewer than 3).
func medianStep(pts []observers.Point) time.Duration {
	if len(pts) < 3 {
		return 0
	}
	steps := make([]time.Duration, 0, len(pts)-1)
	for i := 1; i < len(pts); i++ {
		steps = append(steps, pts[i].T.Sub(pts[i-1].T))
	}
	slices.Sort(steps)
	return steps[len(steps)/2]
}

// valueRange picks the y range: from 0 (linear) or a power of ten below the
// smallest positive value (log), up to a rounded maximum. Thresholds are
// included when they are within 3x of the data so the gap stays readable.
func valueRange(lines []line, hl []hline, logY bool) (lo, hi float64, hasData bool) {
	minPos, max := math.Inf(1), 0.0
	for _, l := range lines {
		for _, p := range l.Points {
			hasData = true
			if p.V > max {
				max = p.V
			}
			if p.V > 0 && p.V < minPos {
				minPos = p.V
			}
		}
	}
	for _, h := range hl {
		if !hasData || h.Y <= 3*max {
			max = math.Max(max, h.Y)
		}
	}
	if logY {
		if math.IsInf(minPos, 1) {
			minPos = 0.001
		}
		if max <= 0 {
			max = 1
		}
		lo = math.Pow(10, math.Floor(math.Log10(minPos)))
		hi = math.Pow(10, math.Ceil(math.Log10(max)))
		if hi <= lo {
			hi = lo * 10
		}
		return lo, hi, hasData
	}
	if max <= 0 {
		max = 1
	}
	return 0, niceCeil(max * 1.05), hasData
}

// niceCeil rounds up to 1, 2, 2.5 or 5 times a power of ten.
func niceCeil(v float64) float64 {
	p := math.Pow(10, math.Floor(math.Log10(v)))
	for _, m := range []float64{1, 2, 2.5, 5, 10} {
		if m*p >= v {
			return m * p
		}
	}
	return 10 * p
}

func yTicks(lo, hi float64, logY bool, unit string) []float64 {
	var out []float64
	if logY {
		for v := lo; v <= hi*1.0001; v *= 10 {
			out = append(out, v)
		}
		return out
	}
	step := niceCeil(hi / 5)
	if unit == observers.UnitBytes {
		base := bytesBase(hi)
		step = niceCeil(hi/base/5) * base
	}
	for v := lo; v <= hi*1.0001; v += step {
		out = append(out, v)
	}
	return out
}

// bytesBase is GiB for large values and MiB otherwise, so byte axes tick
// at round binary sizes.
func bytesBase(v float64) float64 {
	if v >= 2<<30 {
		return 1 << 30
	}
	return 1 << 20
}

// niceBytes rounds a byte maximum up to a round number of MiB or GiB.
func niceBytes(v float64) float64 {
	base := bytesBase(v)
	return niceCeil(v/base) * base
}

// timeTicks picks a round step giving 4 to 10 ticks.
func timeTicks(from, to time.Time) []time.Time {
	span := to.Sub(from)
	steps := []time.Duration{time.Second, 2 * time.Second, 5 * time.Second, 10 * time.Second, 15 * time.Second, 30 * time.Second,
		time.Minute, 2 * time.Minute, 5 * time.Minute, 10 * time.Minute, 15 * time.Minute, 30 * time.Minute,
		time.Hour, 2 * time.Hour, 3 * time.Hour, 6 * time.Hour, 12 * time.Hour, 24 * time.Hour}
	step := steps[len(steps)-1]
	for _, s := range steps {
		if span/s <= 8 {
			step = s
			break
		}
	}
	var out []time.Time
	for d := time.Duration(0); d <= span; d += step {
		out = append(out, from.Add(d))
	}
	return out
}

// downsample keeps at most n points by taking the maximum of each time
// bucket, so spikes survive (they are what the report is for).
func downsample(pts []observers.Point, from, to time.Time, n int) []observers.Point {
	if len(pts) <= n || !to.After(from) {
		return pts
	}
	width := to.Sub(from) / time.Duration(n)
	if width <= 0 {
		return pts
	}
	out := make([]observers.Point, 0, n)
	for _, p := range pts {
		bucket := from.Add(p.T.Sub(from) / width * width)
		if k := len(out); k > 0 && out[k-1].T.Equal(bucket) {
			if p.V > out[k-1].V {
				out[k-1].V = p.V
			}
			continue
		}
		out = append(out, observers.Point{T: bucket, V: p.V})
	}
	return out
}

func elapsed(d time.Duration) string {
	d = d.Round(time.Second)
	h, m, s := int(d.Hours()), int(d.Minutes())%60, int(d.Seconds())%60
	if h > 0 {
		return fmt.Sprintf("%d:%02d:%02d", h, m, s)
	}
	return fmt.Sprintf("%d:%02d", m, s)
}

func unitLabel(unit string, logY bool) string {
	l := map[string]string{
		observers.UnitSeconds: "seconds", observers.UnitBytes: "bytes", observers.UnitCores: "CPU cores",
		observers.UnitPerSec: "per second", observers.UnitCount: "count", observers.UnitRatio: "ratio",
	}[unit]
	if logY {
		l += " (log)"
	}
	return l
}

func formatUnit(unit string, v float64) string {
	switch unit {
	case observers.UnitSeconds:
		return observers.FormatSeconds(v)
	case observers.UnitBytes:
		return formatBytes(v)
	case observers.UnitRatio:
		return observers.FormatPercent(v)
	case observers.UnitPerSec:
		return trimFloat(v) + "/s"
	}
	return trimFloat(v)
}

func trimFloat(v float64) string {
	switch {
	case v == 0:
		return "0"
	case math.Abs(v) >= 100:
		return fmt.Sprintf("%.0f", v)
	case math.Abs(v) >= 10:
		return strings.TrimSuffix(fmt.Sprintf("%.1f", v), ".0")
	}
	s := fmt.Sprintf("%.2f", v)
	s = strings.TrimRight(strings.TrimRight(s, "0"), ".")
	return s
}

func formatBytes(v float64) string {
	units := []string{"B", "KiB", "MiB", "GiB", "TiB"}
	i := 0
	for v >= 1024 && i < len(units)-1 {
		v /= 1024
		i++
	}
	return trimFloat(v) + units[i]
}

func esc(s string) string { return html.EscapeString(s) }

// legendItem is one legend entry; layoutLegend fills in its place.
// writeLegend draws the legend rows below the plot: a line (or the
// threshold's dashes) and its text per item.
func writeLegend(b *strings.Builder, legend []legendItem) {
	ly := float64(marginTop + plotHeight + axisHeight + 10)
	for _, it := range legend {
		x, y := it.x, ly+float64(it.row*legendRow)
		if it.threshold {
			fmt.Fprintf(b, `<g class="legend"><line class="threshold" x1="%.0f" x2="%.0f" y1="%.0f" y2="%.0f"/><text x="%.0f" y="%.0f">%s</text></g>`,
				x, x+22, y, y, x+28, y+4, esc(it.text))
			continue
		}
		dash := ""
		if it.dashed {
			dash = ` stroke-dasharray="6 3"`
		}
		fmt.Fprintf(b, `<g class="legend"><line x1="%.0f" x2="%.0f" y1="%.0f" y2="%.0f" stroke="%s" stroke-width="3"%s/><text x="%.0f" y="%.0f">%s</text></g>`,
			x, x+22, y, y, it.color, dash, x+28, y+4, esc(it.text))
	}
}

type legendItem struct {
	text      string
	color     string
	dashed    bool
	threshold bool
	x         float64
	row       int
}

// layoutLegend flows entries left to right, wrapping at the chart width,
// with widths estimated from the text (11px sans-serif is about 6.2px per
// character); it returns the number of rows.
func layoutLegend(items []legendItem) int {
	if len(items) == 0 {
		return 0
	}
	x, row := float64(marginLeft), 0
	for i := range items {
		w := 28 + 6.2*float64(len([]rune(items[i].text))) + 24
		if x > marginLeft && x+w > chartWidth-marginRight {
			x, row = marginLeft, row+1
		}
		items[i].x, items[i].row = x, row
		x += w
	}
	return row + 1
}
