package report

import (
	"bytes"
	"fmt"
	"strings"
	"testing"

	"github.com/churn-dev/churn/observers"
	"github.com/churn-dev/churn/results"
	"github.com/churn-dev/churn/stats"
)

// runsWith is one fixture run per value, each with mutating-p99 at that
// value (breached above its 1s limit).
func runsWith(t *testing.T, prefix string, values ...float64) []*results.Result {
	t.Helper()
	var rs []*results.Result
	for i, v := range values {
		r := clone(t, compareFixture())
		r.RunID = fmt.Sprintf("%s-%d", prefix, i+1)
		s := &r.SLOs[0]
		s.Value, s.Measured, s.Passed, s.Status = v, observers.FormatSeconds(v), v <= s.Limit, results.SLOPassed
		if v > s.Limit {
			s.Status = results.SLOBreached
			r.Verdict = results.Verdict{Breached: []string{s.Name}, Summary: "FAIL"}
		}
		rs = append(rs, r)
	}
	return rs
}

func findSLORow(t *testing.T, c Comparison, name string) SLORow {
	t.Helper()
	for _, s := range c.SLOs {
		if s.Name == name {
			return s
		}
	}
	t.Fatalf("no SLO row %s", name)
	return SLORow{}
}

// A lone figure that moved needs enough runs to stand out among all the
// figures tested together: 6 per side.
func TestCompareRunsSignificantRegression(t *testing.T) {
	base := runsWith(t, "b", 0.100, 0.102, 0.098, 0.101, 0.099, 0.100)
	cand := runsWith(t, "c", 0.150, 0.152, 0.149, 0.151, 0.148, 0.150)
	c := CompareRuns(base, cand, 0.1)
	if !c.Statistics || c.Candidate.Runs != 6 {
		t.Fatalf("statistics=%v runs=%d", c.Statistics, c.Candidate.Runs)
	}
	row := findSLORow(t, c, observers.SLOMutatingP99)
	if !row.Regressed || row.Stats == nil || row.Stats.P == nil || *row.Stats.P > stats.Alpha {
		t.Fatalf("mutating-p99 not a significant regression: %+v", row.Stats)
	}
	if *row.Base != 0.100 || *row.Candidate != 0.150 {
		t.Errorf("sides %v %v, want the medians", *row.Base, *row.Candidate)
	}
	if c.Passed() || len(c.Regressed) != 1 {
		t.Errorf("regressed %v", c.Regressed)
	}
	// Identical figures elsewhere are no significant change.
	for _, f := range c.Figures {
		if f.Stats != nil && f.Stats.Verdict == stats.Regressed {
			t.Errorf("figure %s regressed", f.Name)
		}
	}
	var md bytes.Buffer
	if err := WriteComparisonMarkdown(&md, c); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"### ❌ churn compare", "| SLO mutating-p99 | 1s | 100ms ±", "| +50.0% | 0.002 | ❌ **REGRESSED** |",
		"Mann-Whitney U", "regressed significantly"} {
		if !strings.Contains(md.String(), want) {
			t.Errorf("markdown lacks %q:\n%s", want, md.String())
		}
	}
	var text bytes.Buffer
	if err := WriteComparison(&text, c); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(text.String(), "6 runs (b-1, b-2, b-3, b-4, b-5, b-6)") || !strings.Contains(text.String(), "REGRESSED") {
		t.Errorf("text:\n%s", text.String())
	}
}

func TestCompareRunsNoisyIsNoSignificantChange(t *testing.T) {
	base := runsWith(t, "b", 0.10, 0.30, 0.12, 0.25, 0.15, 0.28)
	cand := runsWith(t, "c", 0.09, 0.35, 0.21, 0.32, 0.11, 0.24)
	c := CompareRuns(base, cand, 0.1)
	row := findSLORow(t, c, observers.SLOMutatingP99)
	if row.Regressed || !c.Passed() {
		t.Fatalf("noise regressed: %+v", row.Stats)
	}
	if !strings.HasPrefix(row.Stats.Reason, "too noisy") {
		t.Errorf("reason %q", row.Stats.Reason)
	}
	var text bytes.Buffer
	if err := WriteComparison(&text, c); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(text.String(), "~ too noisy") {
		t.Errorf("text does not show the reason:\n%s", text.String())
	}
}

func TestCompareRunsSLOStatusIsTheMedians(t *testing.T) {
	base := runsWith(t, "b", 0.5, 0.5, 0.5, 0.5, 0.5)
	// Two of five breach: the median holds.
	c := CompareRuns(base, runsWith(t, "c", 0.5, 1.5, 0.6, 1.2, 0.5), 10)
	row := findSLORow(t, c, observers.SLOMutatingP99)
	if row.CandidateStatus != results.SLOPassed || row.CandidateBreaches != 2 || row.CandidateJudged != 5 || len(c.Breached) != 0 {
		t.Errorf("2/5 breached: status %s %d/%d, breached %v", row.CandidateStatus, row.CandidateBreaches, row.CandidateJudged, c.Breached)
	}
	// Three of five breach: the median does.
	c = CompareRuns(base, runsWith(t, "c", 0.5, 1.5, 1.6, 1.2, 0.5), 10)
	if len(c.Breached) != 1 {
		t.Errorf("3/5 breached: breached %v", c.Breached)
	}
}

func TestCompareRunsInconclusiveMajority(t *testing.T) {
	base := runsWith(t, "b", 0.1, 0.1, 0.1)
	cand := runsWith(t, "c", 0.1, 0.1, 0.1)
	cand[0].Verdict = results.Verdict{Inconclusive: true, Behind: []string{"kwok"}}
	c := CompareRuns(base, cand, 0.1)
	if c.Inconclusive() {
		t.Fatal("one of three inconclusive made the side inconclusive")
	}
	if row := findSLORow(t, c, observers.SLOMutatingP99); row.Stats.Candidate.N != 2 {
		t.Errorf("inconclusive run kept: n=%d", row.Stats.Candidate.N)
	}
	cand[1].Verdict = cand[0].Verdict
	if c := CompareRuns(base, cand, 0.1); !c.Inconclusive() {
		t.Error("two of three inconclusive: side not inconclusive")
	}
}

func TestCompareOneRunPerSideIsLabelled(t *testing.T) {
	base, cand := compareFixture(), clone(t, compareFixture())
	cand.SLOs[0].Value = 0.2
	c := Compare(base, cand, 0.1)
	row := findSLORow(t, c, observers.SLOMutatingP99)
	if c.Statistics || !row.Stats.Fallback || !row.Regressed {
		t.Fatalf("statistics=%v fallback=%v regressed=%v", c.Statistics, row.Stats.Fallback, row.Regressed)
	}
	var text, md bytes.Buffer
	if err := WriteComparison(&text, c); err != nil {
		t.Fatal(err)
	}
	if err := WriteComparisonMarkdown(&md, c); err != nil {
		t.Fatal(err)
	}
	for _, out := range []string{text.String(), md.String()} {
		if !strings.Contains(out, "Single-run rule (1 run base, 1 run candidate): no significance can be judged") {
			t.Errorf("fallback not labelled:\n%s", out)
		}
	}
}

// The comparison corrects its figures' tests for their number: every
// judged figure counts in the family, and a row regresses only as the
// correction leaves it.
func TestCompareRunsCorrectsForManyFigures(t *testing.T) {
	base := runsWith(t, "b", 0.100, 0.102, 0.098, 0.101, 0.099)
	cand := runsWith(t, "c", 0.150, 0.152, 0.149, 0.151, 0.148)
	// The same shift in every SLO's value: a regression that moves many
	// figures at once survives the correction.
	shift := func(rs []*results.Result, vals []float64) {
		for i, r := range rs {
			for k := range r.SLOs {
				if r.SLOs[k].Status == results.SLOPassed {
					r.SLOs[k].Value = vals[i] * float64(k+1)
				}
			}
		}
	}
	shift(base, []float64{0.100, 0.102, 0.098, 0.101, 0.099})
	shift(cand, []float64{0.150, 0.152, 0.149, 0.151, 0.148})
	c := CompareRuns(base, cand, 0.1)
	if c.Passed() || len(c.Regressed) < 3 {
		t.Errorf("several SLOs moved together, regressed = %d rows", len(c.Regressed))
	}
	row := findSLORow(t, c, observers.SLOMutatingP99)
	if row.Stats == nil || row.Stats.Family < len(c.Regressed) {
		t.Errorf("family not recorded: %+v", row.Stats)
	}
	for _, f := range c.Figures {
		if f.Stats != nil && f.Regressed != f.Stats.Regressed {
			t.Errorf("figure %s: row regressed %v, judgement %v", f.Name, f.Regressed, f.Stats.Regressed)
		}
	}
}
