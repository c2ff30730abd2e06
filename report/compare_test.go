package report

import (
	"bytes"
	"encoding/json"
	"math"
	"strings"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/churn-dev/churn/observers"
	"github.com/churn-dev/churn/profiles"
	"github.com/churn-dev/churn/results"
)

// compareFixture is a passing run with every figure Compare reads.
func compareFixture() *results.Result {
	slo := func(name, unit, threshold string, value, limit float64) results.SLOResult {
		return results.SLOResult{Name: name, Unit: unit, Threshold: threshold, Value: value, Limit: limit,
			Measured: observers.FormatSeconds(value), Passed: value <= limit, Status: results.SLOPassed}
	}
	return &results.Result{
		SchemaVersion: results.SchemaVersion, RunID: "base-run",
		Profile: profiles.Profile{Name: "10k-pods", Nodes: profiles.NodesSpec{Count: 100},
			Churn: profiles.ChurnSpec{Seed: 42, Duration: metav1.Duration{Duration: 10 * time.Minute}}},
		Seed: 42, Mesh: "cilium", Target: results.Target{Kind: "local", KubernetesVersion: "v1.37.2"},
		SLOs: []results.SLOResult{
			slo(observers.SLOMutatingP99, observers.UnitSeconds, "1s", 0.120, 1),
			slo(observers.SLOReadResourceP99, observers.UnitSeconds, "1s", 0.050, 1),
			{Name: observers.SLOErrorRatio, Unit: observers.UnitRatio, Threshold: "1%", Value: 0.002, Limit: 0.01,
				Measured: "0.20%", Passed: true, Status: results.SLOPassed},
			slo(observers.SLOPodStartupP99, observers.UnitSeconds, "5s", 2.5, 5),
			slo(observers.SLOMaxOutage, observers.UnitSeconds, "10s", 0, 10),
			{Name: observers.SLOProbeReadClusterP99, Unit: observers.UnitSeconds, Threshold: "30s", Measured: "-",
				Status: results.SLOSkipped, Reason: "probes not enabled"},
		},
		Processes: []results.ProcessUsage{
			{Name: observers.TesterProcess, Role: observers.RoleTester, CPUSeconds: 40, PeakRSS: 200 << 20},
			{Name: "kube-apiserver", Role: observers.RoleControlPlane, CPUSeconds: 300, PeakRSS: 2 << 30},
		},
		Churn: &results.ChurnSummary{Seed: 42, Planned: 600, Succeeded: 600, LagP99Seconds: 0.2, LatencyP99Seconds: 0.15,
			Actions: []results.Action{
				{Seq: 0, Kind: results.ActionScale, Target: "ns-0/dep-1", To: 12, Result: results.ResultOK},
				{Seq: 1, Kind: results.ActionRelabel, Target: "ns-3", To: 1, Result: results.ResultOK},
			}},
		MeshStats: &results.MeshSummary{Name: "cilium", Components: []results.ComponentSummary{
			{Name: "cilium-agent", Replicas: 100, EventsReceived: 50000, Relists: 200, Throttled429: 40},
			{Name: "cilium-operator", Replicas: 1, EventsReceived: 2000, Relists: 2},
		}},
		Verdict: results.Verdict{Passed: true, Summary: "PASS"},
	}
}

// clone deep-copies r through JSON, as a second results.json would be read.
func clone(t *testing.T, r *results.Result) *results.Result {
	t.Helper()
	b, err := json.Marshal(r)
	if err != nil {
		t.Fatal(err)
	}
	var out results.Result
	if err := json.Unmarshal(b, &out); err != nil {
		t.Fatal(err)
	}
	return &out
}

func sloNamed(t *testing.T, r *results.Result, name string) *results.SLOResult {
	t.Helper()
	for i := range r.SLOs {
		if r.SLOs[i].Name == name {
			return &r.SLOs[i]
		}
	}
	t.Fatalf("fixture has no SLO %s", name)
	return nil
}

func regressedNames(c Comparison) []string {
	var out []string
	for _, r := range c.Regressed {
		out = append(out, r.Name)
	}
	return out
}

func TestCompareIdenticalPasses(t *testing.T) {
	base := compareFixture()
	c := Compare(base, clone(t, base), 0.1)
	if !c.Passed() || len(c.Warnings) > 0 {
		t.Fatalf("identical runs: passed %v, breached %v, regressed %v, warnings %v",
			c.Passed(), c.Breached, regressedNames(c), c.Warnings)
	}
	// The fixture has no API server metrics, so no 429 row, one API
	// server and no disruption, so none of those rows.
	if want := len(figures) - 7; len(c.SLOs) != len(base.SLOs) || len(c.Figures) != want {
		t.Errorf("%d SLO rows, %d figure rows; want %d and %d", len(c.SLOs), len(c.Figures), len(base.SLOs), want)
	}
	for _, r := range append(c.Figures, c.SLOs[0].Row) {
		if r.Change == nil || *r.Change != 0 {
			t.Errorf("%s: change %v, want 0", r.Name, r.Change)
		}
	}
	skipped := c.SLOs[len(c.SLOs)-1]
	if skipped.Base != nil || skipped.Change != nil || skipped.CandidateStatus != results.SLOSkipped {
		t.Errorf("skipped SLO compared as measured: %+v", skipped)
	}
}

func TestCompareTwentyPercentRegression(t *testing.T) {
	base := compareFixture()
	cand := clone(t, base)
	sloNamed(t, cand, observers.SLOMutatingP99).Value = 0.144
	cand.Processes[1].CPUSeconds = 360
	cand.Churn.Succeeded = 480

	c := Compare(base, cand, 0.1)
	got := regressedNames(c)
	want := []string{observers.SLOMutatingP99, "kube-apiserver CPU", "churn actions succeeded"}
	if strings.Join(got, ",") != strings.Join(want, ",") {
		t.Fatalf("regressed %v, want %v", got, want)
	}
	if ch := *c.Regressed[0].Change; math.Abs(ch-0.2) > 1e-9 {
		t.Errorf("mutating-p99 change %v, want 0.2", ch)
	}
	if c.Passed() || len(c.Breached) > 0 {
		t.Errorf("passed %v, breached %v; want a failed gate with no breach", c.Passed(), c.Breached)
	}
	if sum := GateSummary(c); !strings.Contains(sum, "mutating-p99 120ms -> 144ms (+20.0%)") {
		t.Errorf("gate summary does not name the regression with base, candidate and change: %s", sum)
	}
	if c := Compare(base, cand, 0.25); !c.Passed() {
		t.Errorf("within 25%% tolerance: regressed %v", regressedNames(c))
	}
}

func TestCompareImprovementIsNoRegression(t *testing.T) {
	base := compareFixture()
	cand := clone(t, base)
	sloNamed(t, cand, observers.SLOMutatingP99).Value = 0.06
	cand.Processes[1].CPUSeconds = 100
	cand.Churn.Succeeded = 600
	if c := Compare(base, cand, 0.1); !c.Passed() {
		t.Errorf("improvements regressed: %v", regressedNames(c))
	}
}

func TestCompareNoiseFloors(t *testing.T) {
	base := compareFixture()
	sloNamed(t, base, observers.SLOReadResourceP99).Value = 0.004
	sloNamed(t, base, observers.SLOMaxOutage).Value = 1
	base.Processes[0].CPUSeconds = 0.5
	base.Churn.Succeeded = 5
	cand := clone(t, base)
	sloNamed(t, cand, observers.SLOReadResourceP99).Value = 0.008 // +100%, 4ms
	sloNamed(t, cand, observers.SLOMaxOutage).Value = 1.9         // +90%, 0.9s
	cand.Processes[0].CPUSeconds = 0.9                            // +80%, 0.4 CPU s
	cand.Churn.Succeeded = 4                                      // -20%, one action
	if c := Compare(base, cand, 0.1); !c.Passed() {
		t.Errorf("changes under the noise floors regressed: %v", regressedNames(c))
	}
	sloNamed(t, cand, observers.SLOReadResourceP99).Value = 0.015
	if c := Compare(base, cand, 0.1); strings.Join(regressedNames(c), ",") != observers.SLOReadResourceP99 {
		t.Errorf("4ms -> 15ms: regressed %v, want only read-resource-p99", regressedNames(c))
	}
}

func TestCompareBaseZeroHasNoRelativeChange(t *testing.T) {
	base := compareFixture()
	cand := clone(t, base)
	sloNamed(t, cand, observers.SLOMaxOutage).Value = 5
	c := Compare(base, cand, 0.1)
	if !c.Passed() {
		t.Errorf("outage 0s -> 5s (under the 10s SLO) failed the gate: %v", regressedNames(c))
	}
	row := c.SLOs[4]
	if row.Name != observers.SLOMaxOutage || row.Change != nil || formatChange(row.Row) != "new (base 0)" {
		t.Errorf("max-outage row: %+v, change %q", row, formatChange(row.Row))
	}
}

func TestCompareCandidateBreachFailsWithinTolerance(t *testing.T) {
	base := compareFixture()
	sloNamed(t, base, observers.SLOPodStartupP99).Value = 4.9
	cand := clone(t, base)
	s := sloNamed(t, cand, observers.SLOPodStartupP99)
	s.Value, s.Passed, s.Status, s.Measured = 5.1, false, results.SLOBreached, "5.1s"

	c := Compare(base, cand, 0.1)
	if c.Passed() || strings.Join(c.Breached, ",") != observers.SLOPodStartupP99 || len(c.Regressed) > 0 {
		t.Errorf("breached %v, regressed %v; want pod-startup-p99 breached, nothing regressed", c.Breached, regressedNames(c))
	}
	if sum := GateSummary(c); !strings.Contains(sum, "breached SLO pod-startup-p99") {
		t.Errorf("gate summary: %s", sum)
	}
	// A breach only the base had is not the candidate's problem.
	if c := Compare(cand, base, 0.1); !c.Passed() {
		t.Errorf("base breach failed the gate: breached %v", c.Breached)
	}
}

func TestCompareMissingSides(t *testing.T) {
	base := compareFixture()
	cand := clone(t, base)
	cand.MeshStats, cand.Processes = nil, nil
	cand.SLOs = append(cand.SLOs, results.SLOResult{Name: "new-slo", Unit: observers.UnitSeconds, Threshold: "1s",
		Value: 0.5, Measured: "500ms", Status: results.SLOPassed})
	c := Compare(base, cand, 0.1)
	if !c.Passed() {
		t.Errorf("missing figures regressed: %v", regressedNames(c))
	}
	for _, f := range c.Figures {
		if strings.HasPrefix(f.Name, "mesh") && (f.Candidate != nil || f.Change != nil) {
			t.Errorf("%s: candidate %v change %v, want missing", f.Name, f.Candidate, f.Change)
		}
	}
	last := c.SLOs[len(c.SLOs)-1]
	if last.Name != "new-slo" || last.Base != nil || last.BaseStatus != "" {
		t.Errorf("an SLO only the candidate has: %+v", last)
	}
	if c := Compare(cand, base, 0.1); c.SLOs[len(c.SLOs)-1].Name != "new-slo" {
		t.Errorf("an SLO only the base has is not listed last")
	}
}

func TestComparePlanWarnings(t *testing.T) {
	base := compareFixture()
	cand := clone(t, base)
	cand.Profile.Name, cand.Seed, cand.Profile.Churn.Seed = "50k-pods", 7, 7
	cand.Profile.Nodes.Count = 500
	cand.Churn.Actions[1].Target = "ns-9"
	cand.Mesh = "istio-ambient"
	cand.Errors = []string{"observer pod-startup: watch failed"}
	want := []string{"profiles differ", "seeds differ", "node specs differ", "meshes differ",
		"churn plans differ from action 1", "candidate run recorded 1 error"}
	w := strings.Join(Compare(base, cand, 0.1).Warnings, "\n")
	for _, s := range want {
		if !strings.Contains(w, s) {
			t.Errorf("warnings lack %q:\n%s", s, w)
		}
	}
	if strings.Contains(w, "churn specs differ") {
		t.Errorf("a seed change was also reported as a churn spec change:\n%s", w)
	}
	cand = clone(t, base)
	cand.Churn.Planned = 300
	if w := Compare(base, cand, 0.1).Warnings; len(w) != 1 || !strings.Contains(w[0], "planned 600 actions, candidate 300") {
		t.Errorf("planned counts: warnings %v", w)
	}
}

// Each run prefixes its namespaces with its own "churn-XXXX-": the same
// plan in two runs names different namespaces and must not warn.
func TestComparePlanIgnoresRunNamePrefix(t *testing.T) {
	base := compareFixture()
	base.Churn.Actions[0].Target = "churn-3401-003/app-0"
	cand := clone(t, base)
	cand.Churn.Actions[0].Target = "churn-72eb-003/app-0"
	if w := Compare(base, cand, 0.1).Warnings; len(w) != 0 {
		t.Errorf("same plan, other run prefix: warnings %v", w)
	}
	cand.Churn.Actions[0].Target = "churn-72eb-004/app-0"
	if w := Compare(base, cand, 0.1).Warnings; len(w) != 1 || !strings.Contains(w[0], "churn plans differ from action 0") {
		t.Errorf("other namespace: warnings %v, want the plan difference", w)
	}
}

func TestWriteComparison(t *testing.T) {
	base := compareFixture()
	cand := clone(t, base)
	cand.RunID, cand.Target.KubernetesVersion, cand.Seed = "cand-run", "v1.38.0", 43
	sloNamed(t, cand, observers.SLOMutatingP99).Value = 0.144
	sloNamed(t, cand, observers.SLOMutatingP99).Measured = "144ms"
	var out bytes.Buffer
	if err := WriteComparison(&out, Compare(base, cand, 0.1)); err != nil {
		t.Fatal(err)
	}
	text := out.String()
	for _, want := range []string{
		"base:      base-run · profile 10k-pods · seed 42 · mesh cilium · target local · Kubernetes v1.37.2 · PASS",
		"candidate: cand-run", "Kubernetes v1.38.0",
		"warning: seeds differ (base 42, candidate 43)",
		"SLO", "THRESHOLD", "CANDIDATE STATUS", "+20.0%", "REGRESSED", "SKIPPED",
		"kube-apiserver peak RSS", "2GiB", "300.0 CPU s", "mesh re-lists", "202",
		"the tolerance 10%",
		"Gate: FAIL: regressed beyond 10%: mutating-p99 120ms -> 144ms (+20.0%)",
	} {
		if !strings.Contains(text, want) {
			t.Errorf("output lacks %q:\n%s", want, text)
		}
	}

	out.Reset()
	if err := WriteComparisonJSON(&out, Compare(base, cand, 0.1)); err != nil {
		t.Fatal(err)
	}
	var back Comparison
	if err := json.Unmarshal(out.Bytes(), &back); err != nil {
		t.Fatalf("JSON does not read back: %v", err)
	}
	if len(back.Regressed) != 1 || back.Regressed[0].Name != observers.SLOMutatingP99 || back.SLOs[0].Threshold != "1s" {
		t.Errorf("JSON round trip: regressed %v, first SLO %+v", regressedNames(back), back.SLOs[0])
	}
}

func TestParseTolerance(t *testing.T) {
	for in, want := range map[string]float64{"10%": 0.1, "0.1": 0.1, " 5 % ": 0.05, "0": 0, "1": 1, "150%": 1.5} {
		got, err := ParseTolerance(in)
		if err != nil || math.Abs(got-want) > 1e-12 {
			t.Errorf("ParseTolerance(%q) = %v, %v; want %v", in, got, err, want)
		}
	}
	for _, in := range []string{"", "%", "ten", "-5%", "10", "NaN", "Inf%", "0.1.2"} {
		if got, err := ParseTolerance(in); err == nil {
			t.Errorf("ParseTolerance(%q) = %v, want an error", in, got)
		}
	}
}

func TestCompareDisruptionFigures(t *testing.T) {
	withDrain := func(peak, lists int) *results.Result {
		r := compareFixture()
		r.Disruptions = []results.Disruption{{Kind: results.DisruptionUpgrade, Steps: []results.DisruptionStep{
			{Impact: &results.StepImpact{PeakPerSecond: peak, Lists: map[string]int{"kwok": lists}, Watches: map[string]int{"kwok": 3}, OutageSeconds: 1}},
			{Impact: &results.StepImpact{PeakPerSecond: peak / 2, Lists: map[string]int{"kwok": lists}, OutageSeconds: 2}},
		}}}
		return r
	}
	c := Compare(withDrain(400, 100), withDrain(40, 100), 0.1)
	rows := map[string]Row{}
	for _, r := range c.Figures {
		rows[r.Name] = r
	}
	peak, lists, outage := rows["disruptions: LISTs + watches, peak per second"], rows["disruptions: LISTs"], rows["disruptions: outage clients saw"]
	if peak.Base == nil || *peak.Base != 400 || *peak.Candidate != 40 {
		t.Errorf("peak row = %+v", peak)
	}
	if lists.Base == nil || *lists.Base != 200 || outage.Base == nil || *outage.Base != 3 {
		t.Errorf("sums: lists %+v, outage %+v", lists, outage)
	}
}
