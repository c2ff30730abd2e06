package report

import (
	"bytes"
	"encoding/xml"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/churn-dev/churn/observers"
	"github.com/churn-dev/churn/results"
)

func TestWriteHTMLSelfContained(t *testing.T) {
	r := syntheticResult(t)
	var buf bytes.Buffer
	if err := WriteHTML(&buf, r); err != nil {
		t.Fatal(err)
	}
	html := buf.String()
	if n := strings.Count(html, `<svg class="chart"`); n < 9 {
		t.Errorf("%d charts, want at least 9", n)
	}
	for _, forbidden := range []string{"<script", "http://cdn", "https://cdn", `src="http`, "<link "} {
		if strings.Contains(html, forbidden) {
			t.Errorf("report is not self-contained: contains %q", forbidden)
		}
	}
	for _, want := range []string{
		"FAIL:", "mutating-p99", "max-outage", "PUT apps/deployments/scale (scope=resource)",
		"oom-killed", "churn (tester)", "Mesh: cilium", "cilium-operator",
	} {
		if !strings.Contains(html, want) {
			t.Errorf("report lacks %q", want)
		}
	}
	// Every chart is well-formed XML with axes, a legend and data.
	charts := regexp.MustCompile(`(?s)<svg class="chart".*?</svg>`).FindAllString(html, -1)
	for i, c := range charts {
		if err := xml.Unmarshal([]byte(c), new(any)); err != nil && err != io.EOF {
			t.Errorf("chart %d is not well-formed: %v", i, err)
		}
		if !strings.Contains(c, `class="axis"`) || !strings.Contains(c, `class="legend"`) {
			t.Errorf("chart %d lacks axes or legend", i)
		}
		if strings.Contains(c, `class="nodata"`) {
			t.Errorf("chart %d has no data though the synthetic run has all", i)
		}
		if strings.Contains(c, "NaN") || strings.Contains(c, "Inf") {
			t.Errorf("chart %d has non-finite coordinates", i)
		}
	}
}

func TestEmptyResultRenders(t *testing.T) {
	var buf bytes.Buffer
	r := &results.Result{SchemaVersion: results.SchemaVersion, RunID: "empty"}
	if err := WriteHTML(&buf, r); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(buf.String(), "No SLO was evaluated") || !strings.Contains(buf.String(), `class="nodata"`) {
		t.Error("an empty run should say there is no data")
	}
	buf.Reset()
	if err := Summary(&buf, r, ""); err != nil {
		t.Fatal(err)
	}
}

func TestSummary(t *testing.T) {
	r := syntheticResult(t)
	var buf bytes.Buffer
	if err := Summary(&buf, r, "/runs/x/report.html"); err != nil {
		t.Fatal(err)
	}
	out := buf.String()
	t.Log("\n" + out)
	for _, want := range []string{
		"Verdict: FAIL", "max-outage", "BREACHED", "outage 15:00 – 15:12", "oom-killed",
		"churn (tester)", "churn used 150.0 CPU s, 10% of kube-apiserver's 1500.0 CPU s.", "Report: /runs/x/report.html",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("summary lacks %q", want)
		}
	}
	// Columns are aligned: every SLO row starts its threshold at one offset.
	var offsets []int
	for _, l := range strings.Split(out, "\n") {
		for _, name := range []string{"mutating-p99 ", "error-ratio ", "probe-read-cluster-p99 "} {
			if strings.HasPrefix(l, name) {
				offsets = append(offsets, len(l)-len(strings.TrimLeft(l[len(name):], " ")))
			}
		}
	}
	if len(offsets) != 3 || offsets[0] != offsets[1] || offsets[1] != offsets[2] {
		t.Errorf("SLO columns not aligned: offsets %v", offsets)
	}
}

func TestWriteFiles(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "run")
	r := syntheticResult(t)
	path, err := WriteFiles(dir, r)
	if err != nil {
		t.Fatal(err)
	}
	if path != filepath.Join(dir, FileName) {
		t.Errorf("report path = %s", path)
	}
	back, err := results.Read(dir)
	if err != nil {
		t.Fatal(err)
	}
	// Re-rendering from the stored JSON gives the same report body.
	var a, b bytes.Buffer
	if err := WriteHTML(&a, r); err != nil {
		t.Fatal(err)
	}
	if err := WriteHTML(&b, back); err != nil {
		t.Fatal(err)
	}
	strip := regexp.MustCompile(`report generated [^ ]+`)
	if strip.ReplaceAllString(a.String(), "") != strip.ReplaceAllString(b.String(), "") {
		t.Error("report from results.json differs from the report of the in-memory result")
	}
	if _, err := os.Stat(path + ".tmp"); !os.IsNotExist(err) {
		t.Error("temporary file left behind")
	}
}

func TestLineBreaksAtGaps(t *testing.T) {
	t0 := time.Unix(0, 0)
	var pts []observers.Point
	for _, s := range []int{0, 5, 10, 15, 60, 65, 70} { // scrapes missing 15..60
		pts = append(pts, observers.Point{T: t0.Add(time.Duration(s) * time.Second), V: 1})
	}
	c := chart{Title: "gap", Unit: observers.UnitCount, From: t0, To: t0.Add(70 * time.Second), Lines: []line{{Name: "x", Points: pts}}}
	if n := strings.Count(c.svg(), "<polyline"); n != 2 {
		t.Errorf("%d polylines, want 2 (broken at the gap)", n)
	}
}
