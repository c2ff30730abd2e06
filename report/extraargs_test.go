package report

import (
	"bytes"
	"html"
	"strings"
	"testing"
)

var plantedArgs = map[string][]string{
	"kube-apiserver": {"--max-mutating-requests-inflight=1", "--max-requests-inflight=2"},
	"etcd":           {"--snapshot-count=5000"},
}

const plantedText = "etcd --snapshot-count=5000; kube-apiserver --max-mutating-requests-inflight=1 --max-requests-inflight=2"

func TestExtraArgsInSummaryAndReport(t *testing.T) {
	r := syntheticResult(t)
	r.Target.ExtraArgs = plantedArgs
	var buf bytes.Buffer
	if err := Summary(&buf, r, ""); err != nil {
		t.Fatal(err)
	}
	if want := "Control plane started with extra arguments: " + plantedText; !strings.Contains(buf.String(), want) {
		t.Errorf("summary lacks %q:\n%s", want, buf.String())
	}
	buf.Reset()
	if err := WriteHTML(&buf, r); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(html.UnescapeString(buf.String()), "extra control-plane arguments <code>"+plantedText+"</code>") {
		t.Error("report.html does not show the extra arguments")
	}
	// Without extra arguments neither mentions them.
	r.Target.ExtraArgs = nil
	buf.Reset()
	if err := Summary(&buf, r, ""); err != nil {
		t.Fatal(err)
	}
	if strings.Contains(buf.String(), "extra arguments") {
		t.Errorf("summary mentions extra arguments a run did not have:\n%s", buf.String())
	}
}

// Two runs whose control planes had other arguments compare with a
// warning; arms that vary the arguments on purpose do not warn about it.
func TestExtraArgsWarnings(t *testing.T) {
	base := syntheticResult(t)
	cand := clone(t, base)
	cand.Target.ExtraArgs = plantedArgs
	c := Compare(base, cand, 0.1)
	if !strings.Contains(strings.Join(c.Warnings, "\n"), "control-plane arguments differ (base none, candidate "+plantedText+")") {
		t.Errorf("warnings %q lack the argument difference", c.Warnings)
	}
	if c.Candidate.ExtraArgs != plantedText {
		t.Errorf("candidate extraArgs = %q, want %q", c.Candidate.ExtraArgs, plantedText)
	}
	arms := CompareArms([]Arm{{Name: "default", Result: base}, {Name: "--max-mutating-requests-inflight=1", Result: cand}})
	for _, w := range arms.Warnings {
		if strings.Contains(w, "control-plane arguments differ") {
			t.Errorf("argument arms warn about their own difference: %q", w)
		}
	}
	arms = CompareArms([]Arm{{Name: "none", Result: base}, {Name: "cilium", Result: cand}})
	if !strings.Contains(strings.Join(arms.Warnings, "\n"), "control-plane arguments differ") {
		t.Errorf("mesh arms with other arguments do not warn: %q", arms.Warnings)
	}
}
