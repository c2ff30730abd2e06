package stats

import (
	"strings"
	"testing"
)

var latency = Rule{Better: Lower, Tolerance: 0.10, Floor: 0.010}

func TestIdenticalSamplesNoSignificantChange(t *testing.T) {
	s := []float64{0.2, 0.2, 0.2, 0.2, 0.2}
	j := Judge(s, s, latency)
	if j.Regressed || j.Significant || j.Verdict != NoChange {
		t.Fatalf("identical samples: %+v", j)
	}
	if j.Reason != "identical samples" {
		t.Errorf("reason = %q", j.Reason)
	}
	if j.Change == nil || *j.Change != 0 {
		t.Errorf("change = %v, want 0", j.Change)
	}
}

func TestSeparatedSamplesOfFiveAreSignificant(t *testing.T) {
	base := []float64{0.100, 0.102, 0.098, 0.101, 0.099}
	cand := []float64{0.150, 0.152, 0.149, 0.151, 0.148}
	j := Judge(base, cand, latency)
	if !j.Significant || j.P == nil || *j.P > Alpha {
		t.Fatalf("not significant: p=%v", j.P)
	}
	if !j.Regressed || j.Verdict != Regressed {
		t.Fatalf("verdict %q regressed=%v, want regressed", j.Verdict, j.Regressed)
	}
	if j.Base.Median != 0.100 || j.Candidate.Median != 0.150 {
		t.Errorf("medians %v %v", j.Base.Median, j.Candidate.Median)
	}
	// The same change the other way round is an improvement.
	if j := Judge(cand, base, latency); j.Regressed || j.Verdict != Improved {
		t.Errorf("reverse: %q", j.Verdict)
	}
}

func TestSignificantButWithinToleranceOrFloor(t *testing.T) {
	base := []float64{1.00, 1.01, 1.00, 1.01, 1.00}
	cand := []float64{1.05, 1.06, 1.05, 1.06, 1.05}
	j := Judge(base, cand, latency)
	if !j.Significant || j.Regressed || !strings.Contains(j.Reason, "within the tolerance") {
		t.Errorf("+5%%: significant=%v regressed=%v reason %q", j.Significant, j.Regressed, j.Reason)
	}
	small := []float64{0.004, 0.004, 0.004, 0.004, 0.004}
	worse := []float64{0.006, 0.006, 0.006, 0.006, 0.006}
	j = Judge(small, worse, latency)
	if !j.Significant || j.Regressed || !strings.Contains(j.Reason, "noise floor") {
		t.Errorf("4ms -> 6ms: significant=%v regressed=%v reason %q", j.Significant, j.Regressed, j.Reason)
	}
}

func TestOneRunPerSideFallsBackLabelled(t *testing.T) {
	j := Judge([]float64{0.100}, []float64{0.184}, latency)
	if !j.Fallback || j.P != nil || j.Reason != SingleRunRule {
		t.Fatalf("fallback=%v p=%v reason %q", j.Fallback, j.P, j.Reason)
	}
	if !j.Regressed {
		t.Error("+84% beyond 10% and 10ms must regress under the single-run rule")
	}
	if j := Judge([]float64{0.100}, []float64{0.105}, latency); j.Regressed || !j.Fallback {
		t.Errorf("+5%%: %+v", j)
	}
	// One run against several is no better: the U test cannot reach α.
	if j := Judge([]float64{0.100}, []float64{0.2, 0.2, 0.2}, latency); !j.Fallback || !j.Regressed {
		t.Errorf("1 vs 3: fallback=%v regressed=%v", j.Fallback, j.Regressed)
	}
}

func TestTooFewSamples(t *testing.T) {
	j := Judge([]float64{0.1, 0.1, 0.1}, []float64{0.3, 0.3, 0.3}, latency)
	if j.Regressed || j.Verdict != NoChange || !strings.HasPrefix(j.Reason, "too few samples: need >= 4") {
		t.Errorf("n=3: verdict %q reason %q", j.Verdict, j.Reason)
	}
}

func TestNoisySamplesAreTooNoisy(t *testing.T) {
	// The medians differ by 40%, but the runs overlap across the board.
	base := []float64{0.10, 0.30, 0.12, 0.25, 0.15, 0.28}
	cand := []float64{0.09, 0.35, 0.21, 0.32, 0.11, 0.24}
	j := Judge(base, cand, latency)
	if j.Significant || j.Regressed {
		t.Fatalf("noisy: p=%v regressed=%v", *j.P, j.Regressed)
	}
	if !strings.HasPrefix(j.Reason, "too noisy") {
		t.Errorf("reason %q, want too noisy", j.Reason)
	}
	if j.Base.Noise == nil || *j.Base.Noise < 0.3 {
		t.Errorf("base noise %v, want large", j.Base.Noise)
	}
}

func TestHigherIsBetterAndInformational(t *testing.T) {
	base := []float64{600, 600, 600, 600, 600}
	cand := []float64{400, 401, 399, 400, 402}
	if j := Judge(base, cand, Rule{Better: Higher, Tolerance: 0.1, Floor: 1}); !j.Regressed {
		t.Errorf("fewer actions succeeded: %q", j.Verdict)
	}
	if j := Judge(base, cand, Rule{Tolerance: 0.1}); j.Regressed || j.Verdict != NotJudged {
		t.Errorf("informational: %q", j.Verdict)
	}
}

func TestSummarize(t *testing.T) {
	s := Summarize([]float64{3, 1, 2})
	if s.Median != 2 || s.Min != 1 || s.Max != 3 || s.Lo != nil || s.NoiseBasis != "range" {
		t.Fatalf("n=3: %+v", s)
	}
	if got := NoiseText(s); got != "±50% (range)" {
		t.Errorf("noise %q", got)
	}
	if len(s.Warnings) == 0 || !strings.Contains(s.Warnings[0], "need >= 6 samples") {
		t.Errorf("warnings %v", s.Warnings)
	}
	s = Summarize([]float64{10, 11, 9, 10, 10, 10, 11, 9})
	if s.Lo == nil || s.Hi == nil || s.NoiseBasis != "95% CI" {
		t.Fatalf("n=8: %+v", s)
	}
	if got := NoiseText(Summarize([]float64{5})); got != "-" {
		t.Errorf("n=1 noise %q", got)
	}
}

// judged is a judgement as Judge leaves it: significant and regressed when
// p <= Alpha.
func judged(p float64, constant bool) *Judgement {
	j := &Judgement{P: &p, Alpha: Alpha, Significant: p <= Alpha, Verdict: NoChange,
		Base: Summary{Min: 1, Max: 2}, Candidate: Summary{Min: 1, Max: 3}}
	if constant {
		j.Base, j.Candidate = Summary{Min: 1, Max: 1}, Summary{Min: 1, Max: 1}
	}
	if j.Significant {
		j.Verdict, j.Regressed = Regressed, true
	}
	return j
}

func TestControlFalseDiscoveries(t *testing.T) {
	// One figure at the smallest p 5 runs a side can give, among a dozen:
	// chance, as often as not, so it is held back with the reason.
	lone := []*Judgement{judged(0.008, false)}
	for range 11 {
		lone = append(lone, judged(0.5, false))
	}
	ControlFalseDiscoveries(lone)
	if lone[0].Regressed || lone[0].Significant || lone[0].Family != 12 || !strings.Contains(lone[0].Reason, "Benjamini-Hochberg") {
		t.Errorf("lone figure: %+v", lone[0])
	}

	// Six figures at that p among 36 (a real regression moves many): kept.
	// Figures identical in every run cannot be significant and do not
	// count: with them the family would be 40 and the six lost.
	var many []*Judgement
	for range 6 {
		many = append(many, judged(0.008, false))
	}
	for range 30 {
		many = append(many, judged(0.4, false))
	}
	for range 4 {
		many = append(many, judged(1, true))
	}
	ControlFalseDiscoveries(many)
	for i, j := range many[:6] {
		if !j.Regressed || j.Family != 36 {
			t.Errorf("figure %d of six moved together: %+v", i, j)
		}
	}

	// The single-run rule and informational figures are untouched.
	p := 0.001
	fallback := &Judgement{Fallback: true, Verdict: Regressed, Regressed: true}
	info := &Judgement{P: &p, Verdict: NotJudged}
	ControlFalseDiscoveries([]*Judgement{fallback, info, nil})
	if !fallback.Regressed || fallback.Family != 0 || info.Family != 0 {
		t.Errorf("touched what it must not: %+v %+v", fallback, info)
	}
}
