package report

import (
	"bytes"
	"strings"
	"testing"
	"time"

	"github.com/churn-dev/churn/observers"
	"github.com/churn-dev/churn/results"
)

// twoArms is the overload finding in miniature: the same run twice, the
// cilium arm breaching with three times the API server CPU, the other
// holding every SLO.
func twoArms(t *testing.T) []Arm {
	t.Helper()
	heavy := syntheticResult(t)
	light := clone(t, heavy)
	light.Mesh, light.MeshStats.Name = "istio-ambient", "istio-ambient"
	for i := range light.Processes {
		if light.Processes[i].Name == apiServerProcess {
			light.Processes[i].CPUSeconds = 500
		}
	}
	for i, s := range light.SLOs {
		if s.Status == results.SLOBreached {
			light.SLOs[i].Status, light.SLOs[i].Passed = results.SLOPassed, true
			light.SLOs[i].Value, light.SLOs[i].Measured = s.Limit/2, observers.FormatSeconds(s.Limit/2)
		}
	}
	light.Verdict = observers.Verdict(light.SLOs)
	if heavy.Verdict.Passed || !light.Verdict.Passed {
		t.Fatalf("fixture: heavy passed=%v light passed=%v", heavy.Verdict.Passed, light.Verdict.Passed)
	}
	return []Arm{{Name: "istio-ambient", Dir: "out/istio-ambient", Result: light}, {Name: "cilium", Dir: "out/cilium", Result: heavy}}
}

func TestCompareArmsSaysWhoBreachedAndTheLoadRatio(t *testing.T) {
	c := CompareArms(twoArms(t))
	text := strings.Join(c.Findings, "\n")
	t.Log(text)
	for _, want := range []string{
		"istio-ambient held all",
		"cilium breached 2 of",
		"mutating-p99 1.4s against 1s (1.4x the threshold)",
		"max-outage 12s against 10s (1.2x the threshold)",
		"kube-apiserver CPU, whole run: istio-ambient 500.0 CPU s, cilium 1500.0 CPU s (cilium: 3.0x istio-ambient)",
	} {
		if !strings.Contains(text, want) {
			t.Errorf("findings lack %q", want)
		}
	}
	if len(c.Warnings) != 0 {
		t.Errorf("identical plans warned: %v", c.Warnings)
	}
	if got := c.Arms[1].Breached; len(got) != 2 {
		t.Errorf("cilium breached %v, want two SLOs", got)
	}
}

func TestCompareArmsKeepsAFailedArmsColumn(t *testing.T) {
	arms := twoArms(t)
	arms = append(arms, Arm{Name: "cilium-ces", Error: "start local control plane: port in use"})
	c := CompareArms(arms)
	for _, f := range c.Figures {
		if len(f.Values) != 3 || f.Values[2] != nil {
			t.Fatalf("figure %s: values %v, want three with the failed arm's empty", f.Name, f.Values)
		}
	}
	if !strings.Contains(strings.Join(c.Findings, "\n"), "cilium-ces did not complete: start local control plane: port in use") {
		t.Errorf("findings do not name the failed arm: %v", c.Findings)
	}
	var b bytes.Buffer
	if err := WriteArms(&b, c); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(b.String(), "FAILED TO RUN") || !strings.Contains(b.String(), "CILIUM-CES") {
		t.Errorf("text lacks the failed arm:\n%s", b.String())
	}
}

func TestIntegrateRateOverPhase(t *testing.T) {
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	var pts []observers.Point
	for s := 0; s <= 600; s += 2 {
		pts = append(pts, observers.Point{T: t0.Add(time.Duration(s) * time.Second), V: 2})
	}
	// 2 cores over the 300 s from 100 s to 400 s.
	if got := integrate(pts, t0.Add(100*time.Second), t0.Add(400*time.Second)); got != 600 {
		t.Fatalf("integral = %v, want 600 CPU s", got)
	}
}

func TestChurnPhaseCPUFigure(t *testing.T) {
	r := syntheticResult(t)
	v, ok := phaseCPU(apiServerProcess)(r)
	// The fixture's kube-apiserver runs 0.9 to 1.8 cores over a 25-minute
	// churn phase.
	if !ok || v < 0.9*1500 || v > 1.8*1500 {
		t.Fatalf("churn-phase CPU = %v (ok %v), want between 1350 and 2700 CPU s", v, ok)
	}
}

func TestWriteArmsHTMLPlotsEveryArm(t *testing.T) {
	arms := twoArms(t)
	c := CompareArms(arms)
	var b bytes.Buffer
	if err := WriteArmsHTML(&b, c, arms); err != nil {
		t.Fatal(err)
	}
	page := b.String()
	if n := strings.Count(page, "<svg"); n < 9 {
		t.Errorf("%d charts, want at least 9", n)
	}
	for _, want := range []string{"istio-ambient: PASS", "cilium: FAIL, breached", "3.0x istio-ambient", "out/cilium/report.html"} {
		if !strings.Contains(page, want) {
			t.Errorf("page lacks %q", want)
		}
	}
	if strings.Contains(page, "<script") {
		t.Error("page has a script; it must be self-contained and static")
	}
}
