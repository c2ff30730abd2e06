// Package stats judges one figure measured in repeated runs of a base and
// a candidate, the way benchstat judges benchmarks: the median and its
// confidence interval per side, and a Mann-Whitney U test of the change,
// all from golang.org/x/perf/benchmath. A figure regresses only when the
// change is significant and beyond the tolerance and the noise floor. With
// one run on a side no significance can be judged; the single-run rule
// (tolerance and noise floor alone) applies, labelled as such.
package stats

import (
	"fmt"
	"math"
	"slices"
	"strings"

	"golang.org/x/perf/benchmath"
)

// Directions in which a figure improves; "" is informational (never
// judged). They match the report's strings.
const (
	Lower  = "lower"
	Higher = "higher"
)

// Alpha is the significance level, benchstat's default: a change counts
// only when p <= Alpha.
const Alpha = 0.05

// Confidence is the level of the confidence interval around each median.
const Confidence = 0.95

// Verdicts of a judgement.
const (
	Regressed = "regressed"
	Improved  = "improved"
	NoChange  = "no significant change"
	// NotJudged is an informational figure, or one a side did not measure.
	NotJudged = "not judged"
)

// SingleRunRule is how a judgement made without statistics is labelled.
const SingleRunRule = "one run per side: no significance can be judged; single-run rule (worse by more than the tolerance and the noise floor)"

// Rule says how to judge a figure.
type Rule struct {
	// Better is Lower, Higher or "" (informational).
	Better string
	// Tolerance is the allowed relative worsening, 0.1 for 10%.
	Tolerance float64
	// Floor is an absolute change, in the figure's unit, below which a
	// change never regresses whatever its percentage.
	Floor float64
}

// Summary is one side's sample: its median, the confidence interval
// around it, and its noise.
type Summary struct {
	N      int     `json:"n"`
	Median float64 `json:"median"`
	// Lo and Hi bound the confidence interval at Confidence; nil when too
	// few samples give it a finite bound (benchmath needs 6 at 95%).
	Lo *float64 `json:"lo,omitempty"`
	Hi *float64 `json:"hi,omitempty"`
	// Min and Max are the extremes of the sample.
	Min float64 `json:"min"`
	Max float64 `json:"max"`
	// Noise is the relative half-width of the confidence interval, or of
	// the range (min to max) when the interval is not finite; nil when the
	// median is 0 and the values are not all 0.
	Noise *float64 `json:"noise,omitempty"`
	// NoiseBasis is "95% CI" or "range" (or "" with one sample).
	NoiseBasis string   `json:"noiseBasis,omitempty"`
	Warnings   []string `json:"warnings,omitempty"`
}

// Judgement is a figure of the base held against the candidate.
type Judgement struct {
	Base      Summary `json:"base"`
	Candidate Summary `json:"candidate"`
	// Change is (candidate median - base median) / base median; nil when
	// a side is missing, or the base is 0 and the candidate is not.
	Change *float64 `json:"change,omitempty"`
	// P is the Mann-Whitney U test's p-value; nil under the single-run
	// rule.
	P     *float64 `json:"p,omitempty"`
	Alpha float64  `json:"alpha"`
	// Significant is P <= Alpha.
	Significant bool `json:"significant"`
	// Fallback is set when a side has a single run: the single-run rule
	// judged the figure.
	Fallback bool `json:"fallback,omitempty"`
	// Family is how many figures were tested together (ControlFalseDiscoveries);
	// Significant then holds after the Benjamini-Hochberg correction.
	Family    int    `json:"family,omitempty"`
	Verdict   string `json:"verdict"`
	Reason    string `json:"reason"`
	Regressed bool   `json:"regressed"`
}

// Summarize describes a sample. The values are not modified.
func Summarize(values []float64) Summary {
	s := Summary{N: len(values)}
	if len(values) == 0 {
		return s
	}
	vs := slices.Clone(values)
	sample := benchmath.NewSample(vs, &benchmath.DefaultThresholds)
	sum := benchmath.AssumeNothing.Summary(sample, Confidence)
	s.Median, s.Min, s.Max = sum.Center, sample.Values[0], sample.Values[len(sample.Values)-1]
	if len(values) == 1 {
		return s
	}
	finite := !math.IsInf(sum.Lo, 0) && !math.IsInf(sum.Hi, 0)
	lo, hi, basis := sum.Lo, sum.Hi, fmt.Sprintf("%.0f%% CI", Confidence*100)
	if finite {
		s.Lo, s.Hi = new(sum.Lo), new(sum.Hi)
	} else {
		lo, hi, basis = s.Min, s.Max, "range"
	}
	s.NoiseBasis = basis
	switch {
	case s.Median != 0:
		s.Noise = new(math.Max(hi-s.Median, s.Median-lo) / math.Abs(s.Median))
	case lo == 0 && hi == 0:
		s.Noise = new(0.0)
	}
	for _, w := range sum.Warnings {
		s.Warnings = append(s.Warnings, w.Error())
	}
	return s
}

// Judge holds the candidate's values of a figure against the base's.
func Judge(base, cand []float64, r Rule) Judgement {
	j := Judgement{Base: Summarize(base), Candidate: Summarize(cand), Alpha: Alpha}
	if len(base) == 0 || len(cand) == 0 {
		j.Verdict, j.Reason = NotJudged, "not measured on both sides"
		return j
	}
	b, c := j.Base.Median, j.Candidate.Median
	switch {
	case b != 0:
		j.Change = new((c - b) / b)
	case c == 0:
		j.Change = new(0.0)
	}
	if len(base) < 2 || len(cand) < 2 {
		j.Fallback = true
		j.Verdict, j.Reason = NoChange, SingleRunRule
		switch {
		case r.Better == "":
			j.Verdict, j.Reason = NotJudged, "informational"
		case Beyond(b, c, r):
			j.Verdict, j.Regressed = Regressed, true
		case worse(b, c, r.Better) < 0:
			j.Verdict = Improved
		}
		return j
	}
	bs := benchmath.NewSample(slices.Clone(base), &benchmath.DefaultThresholds)
	cs := benchmath.NewSample(slices.Clone(cand), &benchmath.DefaultThresholds)
	cmp := benchmath.AssumeNothing.Compare(bs, cs)
	j.P, j.Alpha = new(cmp.P), cmp.Alpha
	j.Significant = cmp.P <= cmp.Alpha
	if r.Better == "" {
		j.Verdict, j.Reason = NotJudged, "informational"
		return j
	}
	if !j.Significant {
		j.Verdict, j.Reason = NoChange, notSignificant(j, cmp, r)
		return j
	}
	pText := fmt.Sprintf("p=%.3f <= α=%g", cmp.P, cmp.Alpha)
	switch d := worse(b, c, r.Better); {
	case d < 0:
		j.Verdict, j.Reason = Improved, pText
	case Beyond(b, c, r):
		j.Verdict, j.Regressed = Regressed, true
		j.Reason = pText + ", beyond the tolerance and the noise floor"
	case b == 0:
		j.Verdict, j.Reason = NoChange, pText+", but the base median is 0: no relative scale"
	case math.Abs(c-b) <= r.Floor:
		j.Verdict, j.Reason = NoChange, pText+", but within the noise floor"
	default:
		j.Verdict, j.Reason = NoChange, pText+", but within the tolerance"
	}
	return j
}

// notSignificant says why a change was not significant: too few samples
// for the test to ever reach Alpha, samples identical, or noise hiding a
// change that would matter.
func notSignificant(j Judgement, cmp benchmath.Comparison, r Rule) string {
	for _, w := range cmp.Warnings {
		if strings.HasPrefix(w.Error(), "need ") {
			return "too few samples: " + w.Error() + fmt.Sprintf(" (have %d+%d)", cmp.N1, cmp.N2)
		}
	}
	if j.Base.Min == j.Base.Max && j.Candidate.Min == j.Candidate.Max && j.Base.Min == j.Candidate.Min {
		return "identical samples"
	}
	p := fmt.Sprintf("p=%.3f > α=%g", cmp.P, cmp.Alpha)
	if j.Change == nil || math.Abs(*j.Change) > r.Tolerance {
		return fmt.Sprintf("too noisy: %s; noise base %s, candidate %s", p, NoiseText(j.Base), NoiseText(j.Candidate))
	}
	return "no difference detected: " + p
}

// Beyond is the single-run rule, also the size test of a significant
// change: c is worse than b by more than the tolerance and by more than
// the noise floor. A base of 0 gives no relative scale, so it never is.
func Beyond(b, c float64, r Rule) bool {
	if b == 0 {
		return false
	}
	switch r.Better {
	case Lower:
		return c > b*(1+r.Tolerance) && c-b > r.Floor
	case Higher:
		return c < b*(1-r.Tolerance) && b-c > r.Floor
	}
	return false
}

// worse is positive when c is worse than b, negative when better, 0 when
// equal or informational.
func worse(b, c float64, better string) int {
	switch {
	case b == c:
		return 0
	case better == Lower && c > b, better == Higher && c < b:
		return 1
	case better == "":
		return 0
	}
	return -1
}

// NoiseText renders a side's noise: "±12% (95% CI)", "±30% (range)", "?"
// when it has no relative scale, "-" with a single run.
func NoiseText(s Summary) string {
	switch {
	case s.N < 2:
		return "-"
	case s.Noise == nil:
		return "?"
	}
	return fmt.Sprintf("±%.0f%% (%s)", *s.Noise*100, s.NoiseBasis)
}

// ControlFalseDiscoveries corrects the judgements of one comparison for
// being many: with thirty figures tested at Alpha, two runs of the same
// build would "regress" somewhere in most comparisons. It applies the
// Benjamini-Hochberg procedure at Alpha over every judgement with a
// p-value and a direction (those the single-run rule judged, and
// informational ones, are left alone; so are figures identical in every
// run, whose test cannot reach any p below 1 and so, after Tarone, does
// not count towards the family): a change stays significant only
// when its p-value is at most k/m * Alpha for the largest k such that the
// k-th smallest p-value is, m being the family's size. A real regression
// usually moves several figures at once, which this keeps; a lone figure
// needs a smaller p-value, that is more runs. Judgements that lose their
// significance become no significant change, with the reason.
func ControlFalseDiscoveries(js []*Judgement) {
	var family []*Judgement
	for _, j := range js {
		if j != nil && j.P != nil && !j.Fallback && j.Verdict != NotJudged && !constantAndEqual(j) {
			family = append(family, j)
		}
	}
	m := len(family)
	if m == 0 {
		return
	}
	ps := make([]float64, m)
	for i, j := range family {
		ps[i] = *j.P
	}
	cut := BenjaminiHochbergCut(ps, Alpha)
	for _, j := range family {
		j.Family = m
		if !j.Significant || *j.P <= cut {
			continue
		}
		j.Significant = false
		if j.Verdict == Regressed || j.Verdict == Improved {
			j.Verdict, j.Regressed = NoChange, false
			j.Reason = fmt.Sprintf("p=%.3f <= α=%g alone, but not among %d figures tested together (Benjamini-Hochberg, false discovery rate %g%%): more runs would tell",
				*j.P, Alpha, m, Alpha*100)
		}
	}
}

func constantAndEqual(j *Judgement) bool {
	b, c := j.Base, j.Candidate
	return b.Min == b.Max && c.Min == c.Max && b.Min == c.Min
}
