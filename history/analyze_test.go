package history

import (
	"bytes"
	"encoding/json"
	"math/rand/v2"
	"strings"
	"testing"
	"time"

	"github.com/churn-dev/churn/observers"
	"github.com/churn-dev/churn/report"
)

var t0 = time.Date(2026, 12, 1, 2, 0, 0, 0, time.UTC)

// synthetic is n nightly runs of 1k-pods with two figures: mutating-p99
// around 130 ms (moved to shift from run `from` on, 1-based; 0 for none)
// and apiserver CPU, noise only.
func synthetic(seed uint64, n, from int, shift float64) []*Run {
	rng := rand.New(rand.NewPCG(seed, seed))
	var runs []*Run
	for i := 1; i <= n; i++ {
		p99 := 0.130 * (1 + 0.08*rng.NormFloat64())
		if from > 0 && i >= from {
			p99 *= shift
		}
		r := &Run{
			RunID: "run-" + string(rune('a'+i-1)), Start: t0.Add(time.Duration(i) * 24 * time.Hour), Passed: true,
			Setting: Setting{Profile: "1k-pods", Mesh: "none", Target: "local", Kubernetes: "v1.37.2", KWOK: "v0.8.0-churn.2"},
			Figures: map[string]report.RunFigure{},
		}
		r.add(report.RunFigure{Name: observers.SLOMutatingP99, Kind: report.FigureSLO, Unit: observers.UnitSeconds,
			Better: report.LowerIsBetter, Floor: report.FloorLatency, Value: p99, Limit: 1})
		r.add(report.RunFigure{Name: "kube-apiserver CPU", Kind: report.FigureKey, Unit: report.UnitCPUSeconds,
			Better: report.LowerIsBetter, Floor: report.FloorCPU, Value: 9 + rng.NormFloat64()})
		r.add(report.RunFigure{Name: "churn-lag-p99", Kind: report.FigureSimulator, Unit: observers.UnitSeconds, Value: 0.02})
		runs = append(runs, r)
	}
	return runs
}

func (r *Run) add(f report.RunFigure) {
	r.Figures[f.Name] = f
	r.order = append(r.order, f.Name)
}

func TestAnalyzeFindsPlantedRegressionAndChecksIt(t *testing.T) {
	runs := synthetic(1, 20, 11, 2.2)
	// Run 11 also carries the planted arguments: the suspect.
	for _, r := range runs[10:] {
		r.ExtraArgs = "kube-apiserver --max-requests-inflight=6"
	}
	h := Analyze(runs, DefaultOptions())
	if len(h.Groups) != 1 {
		t.Fatalf("%d groups, want 1: arguments are not a grouping field by default", len(h.Groups))
	}
	g := h.Groups[0]
	if len(g.Settings) != 1 || g.Settings[0].Run != 11 || !strings.Contains(g.Settings[0].Text, "args none -> kube-apiserver --max-requests-inflight=6") {
		t.Errorf("setting changes %+v, want the arguments changing at run 11", g.Settings)
	}
	if len(g.Changes) != 1 {
		t.Fatalf("changes %+v, want one (mutating-p99 at run 11)", g.Changes)
	}
	c := g.Changes[0]
	if c.Figure != observers.SLOMutatingP99 || c.Run != 11 || c.Verdict != Regression || c.Change == nil || *c.Change < 0.8 {
		t.Errorf("change %+v, want a regression of mutating-p99 of about +120%% at run 11", c)
	}
	if len(c.Suspects) != 1 {
		t.Errorf("suspects %v, want the arguments", c.Suspects)
	}
	if g.Family != 2 {
		t.Errorf("family of %d figures, want 2 (the constant simulator check cannot be tested)", g.Family)
	}
	fs := h.Check(5)
	// The newest run is run 20, 10 runs after the change: old news.
	if len(fs) != 0 {
		t.Errorf("check over 20 runs flagged %+v; the regression started 10 runs ago, beyond the window of 5", fs)
	}
	// The same history as it stood at run 14: the regression is news.
	h14 := Analyze(runs[:14], DefaultOptions())
	fs = h14.Check(5)
	if len(fs) != 1 || fs[0].Run != 11 || fs[0].Newest != 14 || !strings.Contains(fs[0].Text(), "mutating-p99 regressed") {
		t.Fatalf("check at run 14: %+v, want mutating-p99 flagged since run 11", fs)
	}
	if !strings.Contains(fs[0].Text(), "since run 11 (run-k)") {
		t.Errorf("finding %q does not name the run it started at", fs[0].Text())
	}
}

func TestAnalyzeAAHasNoChangePoint(t *testing.T) {
	alarms := 0
	for seed := uint64(1); seed <= 40; seed++ {
		h := Analyze(synthetic(seed, 20, 0, 1), DefaultOptions())
		if len(h.Groups[0].Changes) > 0 {
			alarms++
		}
	}
	// Two figures tested at a 5% false discovery rate: about 2 of 40.
	if alarms > 6 {
		t.Errorf("%d of 40 A/A histories had a change point, want about 2", alarms)
	}
}

func TestInconclusiveRunsShownNotCounted(t *testing.T) {
	runs := synthetic(3, 12, 0, 1)
	// A wild value on an inconclusive run must not make a change point.
	runs[9].Inconclusive, runs[9].Passed = true, false
	f := runs[9].Figures[observers.SLOMutatingP99]
	f.Value = 50
	runs[9].Figures[observers.SLOMutatingP99] = f
	h := Analyze(runs, DefaultOptions())
	s := h.Groups[0].Series[0]
	if s.Counted != 11 || s.Values[9] == nil || *s.Values[9] != 50 {
		t.Errorf("series counted %d, run 10 value %v; want 11 counted and run 10 kept for display", s.Counted, s.Values[9])
	}
	if len(h.Groups[0].Changes) != 0 {
		t.Errorf("changes %+v, want none: the outlier was inconclusive", h.Groups[0].Changes)
	}
}

func TestGroupByReleases(t *testing.T) {
	runs := synthetic(4, 8, 0, 1)
	for _, r := range runs[4:] {
		r.Kubernetes = "v1.38.0"
	}
	h := Analyze(runs, DefaultOptions())
	if len(h.Groups) != 1 || len(h.Groups[0].Settings) != 1 || h.Groups[0].Settings[0].Text != "kubernetes v1.37.2 -> v1.38.0" {
		t.Errorf("default grouping: %d groups, settings %+v; want one group with the release change marked", len(h.Groups), h.Groups[0].Settings)
	}
	o := DefaultOptions()
	var err error
	if o.GroupBy, err = ParseGroupBy("profile,mesh,target,kubernetes"); err != nil {
		t.Fatal(err)
	}
	h = Analyze(runs, o)
	if len(h.Groups) != 2 || h.Groups[1].Key[FieldKubernetes] != "v1.38.0" || len(h.Groups[1].Runs) != 4 {
		t.Errorf("grouped by release: %d groups, want 2 of 4 runs", len(h.Groups))
	}
	if _, err := ParseGroupBy("profile,release"); err == nil || !strings.Contains(err.Error(), `"release" is not a field`) {
		t.Errorf("ParseGroupBy(profile,release) = %v, want an error naming release", err)
	}
}

func TestWriteFormats(t *testing.T) {
	runs := synthetic(1, 14, 11, 2.2)
	h := Analyze(runs, DefaultOptions())
	fs := h.Check(5)
	var text, md, js bytes.Buffer
	for format, buf := range map[string]*bytes.Buffer{FormatText: &text, FormatMarkdown: &md, FormatJSON: &js} {
		if err := Write(buf, h, format, fs); err != nil {
			t.Fatalf("%s: %v", format, err)
		}
	}
	for _, want := range []string{"== profile=1k-pods mesh=none target=local: 14 runs", "run-k", "mutating p99", "Change points (2 figures that gate tested together",
		"run 11 (run-k): mutating-p99", "regression", "Check FAILED"} {
		if !strings.Contains(text.String(), want) {
			t.Errorf("text lacks %q:\n%s", want, text.String())
		}
	}
	if !strings.Contains(md.String(), "| # | date | run |") || !strings.Contains(md.String(), "### profile=1k-pods") {
		t.Errorf("markdown lacks its table or heading:\n%s", md.String())
	}
	var back struct {
		Groups []struct {
			Runs    []json.RawMessage `json:"runs"`
			Changes []Change          `json:"changes"`
		} `json:"groups"`
		Findings []Finding `json:"findings"`
	}
	if err := json.Unmarshal(js.Bytes(), &back); err != nil {
		t.Fatal(err)
	}
	if len(back.Groups) != 1 || len(back.Groups[0].Runs) != 14 || len(back.Groups[0].Changes) != 1 || back.Groups[0].Changes[0].Run != 11 || len(back.Findings) != 1 {
		t.Errorf("json round trip: %+v", back)
	}
	if err := Write(&text, h, "yaml", nil); err == nil || !strings.Contains(err.Error(), `"yaml"`) {
		t.Errorf("format yaml: %v, want an error naming it", err)
	}
}

func TestWriteHTMLMarksChangesAndInconclusiveRuns(t *testing.T) {
	runs := synthetic(1, 14, 11, 2.2)
	runs[3].Inconclusive, runs[3].Passed = true, false
	runs[12].Kubernetes = "v1.38.0"
	h := Analyze(runs, DefaultOptions())
	var buf bytes.Buffer
	if err := WriteHTML(&buf, h, h.Check(5), t0); err != nil {
		t.Fatal(err)
	}
	page := buf.String()
	for _, want := range []string{
		"<svg", "run 11: +", "regression",
		"kubernetes v1.37.2 -&gt; v1.38.0", // the release change, marked
		"(inconclusive, not counted)",      // run 4 drawn hollow
		"Check failed", "generated 2026-12-01T02:00:00Z",
	} {
		if !strings.Contains(page, want) {
			t.Errorf("page lacks %q", want)
		}
	}
	for _, banned := range []string{"<script", "http://", "https://"} {
		if strings.Contains(strings.ReplaceAll(page, `xmlns="http://www.w3.org/2000/svg"`, ""), banned) {
			t.Errorf("page holds %q: it must be self-contained", banned)
		}
	}
}
