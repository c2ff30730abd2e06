package report

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/churn-dev/churn/observers"
	"github.com/churn-dev/churn/results"
)

// withSimulatorBehind gives r the validity checks the runner records, the
// churn engine behind, and the verdict it then writes: inconclusive, with
// the mesh's failure to settle as a note.
func withSimulatorBehind(r *results.Result) *results.Result {
	r.Validity = &results.Validity{Valid: false, Checks: []results.ValidityCheck{
		{Name: "kwok-pod-ready-lag-p99", Description: "kwok's reaction to a bound pod", Threshold: "2s", Measured: "400ms",
			Value: 0.4, Limit: 2, Status: results.ValidityOK, Reason: "scheduled to Ready p99 450ms over 4000 pods"},
		{Name: "churn-lag-p99", Description: "churn's own lag starting actions, p99", Threshold: "1s", Measured: "3.2s",
			Value: 3.2, Limit: 1, Status: results.ValidityBehind, Reason: "whole lag p99 8s, the rest waited on the API server"},
		{Name: "churn-sched-latency-p99", Description: "time churn's goroutines waited for a CPU", Threshold: "100ms",
			Status: results.ValiditySkipped, Reason: "not measured (no churn phase)"},
	}}
	note := "mesh cilium did not settle in 5m0s (CiliumEndpoints 800/1000): its install storm ran into the churn phase"
	r.Verdict.Inconclusive, r.Verdict.Behind, r.Verdict.Passed = true, []string{"churn-lag-p99"}, false
	r.Verdict.Notes = []string{note}
	r.Verdict.Summary = "INCONCLUSIVE: the simulator fell behind (churn-lag-p99 3.2s > 1s), so the SLO figures measure the bench as much as the API server; SLOs: " +
		r.Verdict.Summary + "; " + note
	return r
}

// withUnsettledInstall gives r a cilium install phase that ran out its
// 5-minute settle timeout with CiliumEndpoints short.
func withUnsettledInstall(r *results.Result) *results.Result {
	start := r.Phases[0].End
	r.Install = &results.Install{Mesh: "cilium", Start: start, End: start.Add(5 * time.Minute), Seconds: 300,
		SettleTimeoutSeconds: 300, QuietSeconds: 30,
		Conditions: []results.SettleCondition{
			{Name: "cilium-agent started", Want: 100, Have: 100, Met: true, MetAfterSeconds: 3},
			{Name: "CiliumEndpoints", Want: 1000, Have: 800, Detail: "200 pods without an endpoint"},
		},
		Figures: &results.PhaseFigures{Requests: 48000, Requests429: 950, Requests5xx: 4, APFRejected: 930,
			APIServerCPUSeconds: 410.5, Outages: 1, DowntimeSeconds: 6,
			PeakP99: []results.CategoryP99{
				{Category: observers.CategoryMutating, Key: "POST cilium.io/ciliumendpoints (scope=namespace)", P99: 4.2},
				{Category: observers.CategoryReadCluster, Key: "LIST cilium.io/ciliumidentities (scope=cluster)", P99: 9.5},
			}},
	}
	return r
}

func TestSummaryShowsInconclusiveSimulatorAndInstall(t *testing.T) {
	r := withUnsettledInstall(withSimulatorBehind(syntheticResult(t)))
	var buf bytes.Buffer
	if err := Summary(&buf, r, ""); err != nil {
		t.Fatal(err)
	}
	out := buf.String()
	t.Log("\n" + out)
	for _, want := range []string{
		"Verdict: INCONCLUSIVE: the simulator fell behind",
		"SIMULATOR CHECK", "churn-lag-p99", "3.2s", "BEHIND", "churn-lag-p99: churn's own lag starting actions, p99",
		"skipped", "not measured (no churn phase)", "fell behind: the run is inconclusive",
		"Install phase (mesh cilium): did not settle in 5m0s: CiliumEndpoints 800/1000",
		"cilium-agent started", "met after 3s", "not met", "200 pods without an endpoint",
		"5m0s install: 48000 requests, 950 x 429, 930 APF rejections, 4 x 5xx; 1 outage(s), 6s down; kube-apiserver 410.5 CPU s",
		"4.2s", "POST cilium.io/ciliumendpoints (scope=namespace)", "read-cluster",
		"reported, not judged: the SLOs judge the churn phase",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("summary lacks %q", want)
		}
	}
	// The note is in the summary line already: not repeated.
	if strings.Contains(out, "Note: ") {
		t.Error("a note the verdict already says was repeated")
	}
	if i, j := strings.Index(out, "SIMULATOR CHECK"), strings.Index(out, "Install phase"); i < 0 || j < i {
		t.Error("the simulator's checks should come before the install phase")
	}
}

func TestSummarySettledInstallAndSeparateNotes(t *testing.T) {
	r := withUnsettledInstall(syntheticResult(t))
	r.Install.Settled, r.Install.Seconds = true, 42
	r.Install.Conditions[1].Have, r.Install.Conditions[1].Met, r.Install.Conditions[1].MetAfterSeconds = 1000, true, 40
	r.Verdict.Notes = []string{"a note the summary does not carry"}
	var buf bytes.Buffer
	if err := Summary(&buf, r, ""); err != nil {
		t.Fatal(err)
	}
	out := buf.String()
	for _, want := range []string{"Install phase (mesh cilium): settled after 42s", "met after 40s",
		"Verdict: FAIL", "Note: a note the summary does not carry"} {
		if !strings.Contains(out, want) {
			t.Errorf("summary lacks %q:\n%s", want, out)
		}
	}
	if strings.Contains(out, "INCONCLUSIVE") || strings.Contains(out, "SIMULATOR CHECK") {
		t.Errorf("a run without validity checks shows them:\n%s", out)
	}
}

func TestWriteHTMLInconclusive(t *testing.T) {
	r := withUnsettledInstall(withSimulatorBehind(syntheticResult(t)))
	r.Verdict.Notes = append(r.Verdict.Notes, "a second note")
	var buf bytes.Buffer
	if err := WriteHTML(&buf, r); err != nil {
		t.Fatal(err)
	}
	html := buf.String()
	for _, want := range []string{
		`<div class="verdict inconclusive">INCONCLUSIVE: the simulator fell behind`, ".verdict.inconclusive {",
		`<ul class="notes"><li>a second note</li></ul>`,
		"Simulator: did kwok, churn and its agents keep up?", `<span class="badge behind">BEHIND</span>`,
		`<span class="badge ok">ok</span>`, `<span class="badge skipped">skipped</span>`, "not measured (no churn phase)",
		"churn&#39;s own lag starting actions, p99",
		"Install phase (mesh cilium)", "The mesh did not settle in 5m0s: CiliumEndpoints 800/1000.",
		"met after 3s", "950 x 429", "930 APF rejections", "410.5 CPU s", "POST cilium.io/ciliumendpoints (scope=namespace)",
		"reported, not judged",
	} {
		if !strings.Contains(html, want) {
			t.Errorf("report lacks %q", want)
		}
	}
	if strings.Contains(html, `class="verdict fail"`) || strings.Contains(html, `class="verdict pass"`) {
		t.Error("an inconclusive run has a PASS or FAIL banner")
	}
}

// A results.json of schema version 1 (before the install phase and the
// simulator's checks) reads and renders without those sections.
func TestVersion1ResultRenders(t *testing.T) {
	r := syntheticResult(t)
	b, err := json.Marshal(r)
	if err != nil {
		t.Fatal(err)
	}
	var raw map[string]any
	if err := json.Unmarshal(b, &raw); err != nil {
		t.Fatal(err)
	}
	raw["schemaVersion"] = 1
	delete(raw, "install")
	delete(raw, "validity")
	dir := t.TempDir()
	b, err = json.Marshal(raw)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, results.FileName), b, 0o644); err != nil {
		t.Fatal(err)
	}
	old, err := results.Read(dir)
	if err != nil {
		t.Fatal(err)
	}
	if old.SchemaVersion != 1 || old.Install != nil || old.Validity != nil {
		t.Fatalf("read back %d, install %v, validity %v", old.SchemaVersion, old.Install, old.Validity)
	}
	var html, text bytes.Buffer
	if err := WriteHTML(&html, old); err != nil {
		t.Fatal(err)
	}
	if err := Summary(&text, old, ""); err != nil {
		t.Fatal(err)
	}
	for _, out := range []string{html.String(), text.String()} {
		for _, absent := range []string{"Install phase", "Simulator", "SIMULATOR", "INCONCLUSIVE"} {
			if strings.Contains(out, absent) {
				t.Errorf("a version 1 result shows %q", absent)
			}
		}
	}
	if !strings.Contains(html.String(), `<div class="verdict fail">FAIL:`) || !strings.Contains(text.String(), "Verdict: FAIL:") {
		t.Error("the version 1 verdict is not shown")
	}
}

// A verdict written without a summary, or by a churn whose summary does
// not say it, still reads INCONCLUSIVE.
func TestVerdictTextSaysInconclusive(t *testing.T) {
	for _, tc := range []struct {
		v    results.Verdict
		want string
	}{
		{results.Verdict{Passed: true}, "PASS"},
		{results.Verdict{}, "FAIL"},
		{results.Verdict{Inconclusive: true, Behind: []string{"churn-lag-p99"}}, "INCONCLUSIVE"},
		{results.Verdict{Inconclusive: true, Behind: []string{"churn-lag-p99"}, Summary: "PASS: all 5 judged SLOs held"},
			"INCONCLUSIVE (the simulator fell behind: churn-lag-p99): PASS: all 5 judged SLOs held"},
	} {
		if got := verdictText(tc.v); got != tc.want {
			t.Errorf("verdictText(%+v) = %q, want %q", tc.v, got, tc.want)
		}
	}
}

func TestCompareShowsInstallAndSimulator(t *testing.T) {
	base := withUnsettledInstall(syntheticResult(t))
	base.Install.Settled, base.Install.Seconds = true, 42
	cand := withUnsettledInstall(withSimulatorBehind(syntheticResult(t)))
	c := Compare(base, cand, 0.1)
	if !c.Inconclusive() || !strings.HasPrefix(GateSummary(c), "INCONCLUSIVE: the candidate's simulator fell behind (churn-lag-p99)") {
		t.Errorf("gate %q", GateSummary(c))
	}
	if c.Base.Settle != "settled after 42s" || !strings.HasPrefix(c.Candidate.Settle, "did not settle in 5m0s") {
		t.Errorf("settle: base %q, candidate %q", c.Base.Settle, c.Candidate.Settle)
	}
	var names []string
	for _, r := range c.Install {
		names = append(names, r.Name)
		if r.Regressed || r.Better != Informational {
			t.Errorf("install figure %s is judged: %+v", r.Name, r)
		}
	}
	want := "install duration,install 429s,install peak mutating p99,install kube-apiserver CPU,install outages"
	if strings.Join(names, ",") != want {
		t.Errorf("install rows %v, want %s", names, want)
	}
	if len(c.Validity) != 3 || c.Validity[1].CandidateStatus != results.ValidityBehind || c.Validity[1].BaseStatus != "" {
		t.Errorf("validity rows %+v", c.Validity)
	}
	// Install figures never make the gate fail.
	for _, r := range c.Regressed {
		if strings.HasPrefix(r.Name, "install") {
			t.Errorf("%s regressed", r.Name)
		}
	}
}

func TestCompareWithoutInstallOrValidity(t *testing.T) {
	base := compareFixture()
	c := Compare(base, clone(t, base), 0.1)
	if c.Install != nil || c.Validity != nil || c.Inconclusive() {
		t.Errorf("install %v, validity %v, inconclusive %v", c.Install, c.Validity, c.Inconclusive())
	}
	var b bytes.Buffer
	if err := WriteComparison(&b, c); err != nil {
		t.Fatal(err)
	}
	if strings.Contains(b.String(), "Install phase") || strings.Contains(b.String(), "SIMULATOR") {
		t.Errorf("sections without data:\n%s", b.String())
	}
}

func TestArmsShowInconclusiveArmsAndInstall(t *testing.T) {
	arms := twoArms(t)
	withUnsettledInstall(arms[1].Result)
	withSimulatorBehind(arms[1].Result)
	withUnsettledInstall(arms[0].Result)
	arms[0].Result.Install.Mesh, arms[0].Result.Install.Settled, arms[0].Result.Install.Seconds = "istio-ambient", true, 42
	c := CompareArms(arms)
	if !c.Arms[1].Run.Inconclusive || c.Arms[0].Run.Inconclusive {
		t.Fatalf("arms %+v", c.Arms)
	}
	findings := strings.Join(c.Findings, "\n")
	t.Log(findings)
	for _, want := range []string{
		"cilium was INCONCLUSIVE: the simulator fell behind (churn-lag-p99 3.2s > 1s)",
		"cilium: the mesh did not settle in 5m0s: CiliumEndpoints 800/1000",
		"Inconclusive arms: cilium",
		"istio-ambient held all",
	} {
		if !strings.Contains(findings, want) {
			t.Errorf("findings lack %q", want)
		}
	}
	if len(c.Install) != len(installFigures) || len(c.Validity) != 3 {
		t.Errorf("%d install rows, %d validity rows", len(c.Install), len(c.Validity))
	}
	if v := c.Validity[0]; v.Status[0] != "" || v.Status[1] != results.ValidityOK {
		t.Errorf("validity of an arm without checks: %+v", v)
	}

	var text bytes.Buffer
	if err := WriteArms(&text, c); err != nil {
		t.Fatal(err)
	}
	t.Log("\n" + text.String())
	for _, want := range []string{
		"INCONCLUSIVE (behind: churn-lag-p99), breached mutating-p99, max-outage (not trusted)",
		"SIMULATOR CHECK", "3.2s BEHIND", "INSTALL PHASE (not judged)", "settled after 42s", "did not settle in 5m0s",
		"install 429s", "install outages",
	} {
		if !strings.Contains(text.String(), want) {
			t.Errorf("text lacks %q", want)
		}
	}

	var page bytes.Buffer
	if err := WriteArmsHTML(&page, c, arms); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{
		`<div class="verdict pass">istio-ambient: PASS</div>`,
		`<div class="verdict inconclusive">cilium: INCONCLUSIVE (behind: churn-lag-p99)`,
		"Simulator: did kwok, churn and its agents keep up?", `<span class="badge behind">BEHIND</span>`,
		"<h2>Install phase</h2>", "install kube-apiserver CPU", "410.5 CPU s", "reported, not judged",
	} {
		if !strings.Contains(page.String(), want) {
			t.Errorf("page lacks %q", want)
		}
	}
}

func TestSettleText(t *testing.T) {
	inst := &results.Install{Mesh: "cilium", Seconds: 2, SettleTimeoutSeconds: 0, QuietSeconds: 30,
		Conditions: []results.SettleCondition{{Name: "CiliumNodes", Want: 5, Have: 2}}}
	if got, want := settleText(inst), "was not waited for (mesh.settleTimeout 0): CiliumNodes 2/5"; got != want {
		t.Errorf("settleText = %q, want %q", got, want)
	}
	inst.SettleTimeoutSeconds, inst.Conditions[0].Have, inst.Conditions[0].Met = 300, 5, true
	if got, want := settleText(inst), "did not settle in 5m0s: every condition met, but not 30s without a 429"; got != want {
		t.Errorf("settleText = %q, want %q", got, want)
	}
}

// An install phase that started on a mesh snapshot's objects says so,
// as it is no install storm.
func TestInstallFromMeshSnapshotSaysSo(t *testing.T) {
	v := installViewOf(&results.Install{Mesh: "cilium", Settled: true, Seconds: 31, Snapshot: "50k-cilium"})
	want := "settled after 31s (started from snapshot 50k-cilium, saved with the mesh: its objects were present)"
	if v.Headline != want {
		t.Errorf("headline %q, want %q", v.Headline, want)
	}
	if v := installViewOf(&results.Install{Mesh: "cilium", Settled: true, Seconds: 31}); strings.Contains(v.Headline, "snapshot") {
		t.Errorf("headline %q names a snapshot the install did not start from", v.Headline)
	}
}
