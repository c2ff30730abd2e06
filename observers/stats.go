package observers

import (
	"math"
	"sort"
	"time"

	"github.com/churn-dev/churn/results"
)

// sloWindow is the window the Kubernetes SLOs are stated over ("99th
// percentile over the last 5 minutes").
const sloWindow = 5 * time.Minute

// nearestRank is the q-quantile of sorted values by the nearest-rank method
// (the smallest value with at least q of the values at or below it), so a
// p99 never understates the tail by interpolating towards faster samples.
func nearestRank(sorted []float64, q float64) float64 {
	n := len(sorted)
	if n == 0 {
		return math.NaN()
	}
	i := int(math.Ceil(q*float64(n))) - 1
	if i < 0 {
		i = 0
	}
	if i >= n {
		i = n - 1
	}
	return sorted[i]
}

// Quantiles are the usual latency figures, in seconds.
type Quantiles struct {
	Count int     `json:"count"`
	P50   float64 `json:"p50"`
	P90   float64 `json:"p90"`
	P99   float64 `json:"p99"`
	Max   float64 `json:"max"`
}

func quantilesOf(values []float64) Quantiles {
	if len(values) == 0 {
		return Quantiles{}
	}
	s := append([]float64(nil), values...)
	sort.Float64s(s)
	return Quantiles{
		Count: len(s),
		P50:   nearestRank(s, 0.50),
		P90:   nearestRank(s, 0.90),
		P99:   nearestRank(s, 0.99),
		Max:   s[len(s)-1],
	}
}

// histogramQuantile estimates the q-quantile from cumulative bucket counts
// the way Prometheus' histogram_quantile does: find the bucket holding rank
// q*total and interpolate linearly inside it (from 0 for the first bucket).
// Ranks in the +Inf bucket return the highest finite bound. upper must be
// ascending and may end with +Inf. The result is NaN when there are no
// observations.
func histogramQuantile(q float64, upper, cumulative []float64) float64 {
	n := len(upper)
	if n == 0 || n != len(cumulative) {
		return math.NaN()
	}
	total := cumulative[n-1]
	if total <= 0 {
		return math.NaN()
	}
	rank := q * total
	i := sort.Search(n, func(i int) bool { return cumulative[i] >= rank })
	if i >= n {
		i = n - 1
	}
	if math.IsInf(upper[i], 1) {
		if i == 0 {
			return math.NaN()
		}
		return upper[i-1]
	}
	lower, below := 0.0, 0.0
	if i > 0 {
		lower, below = upper[i-1], cumulative[i-1]
	}
	inBucket := cumulative[i] - below
	if inBucket <= 0 {
		return upper[i]
	}
	return lower + (upper[i]-lower)*(rank-below)/inBucket
}

// timedValue is one sample at a time.
type timedValue struct {
	T time.Time
	V float64
}

// windowResult is the worst window found by worstWindowQuantile.
type windowResult struct {
	Value      float64
	Start, End time.Time
	Count      int
	Found      bool
}

// worstWindowQuantile slides a window of length w in steps of w/10 over the
// samples inside [from, to] and returns the window with the highest
// q-quantile. A span shorter than w is judged as one window. samples must
// be sorted by time.
func worstWindowQuantile(samples []timedValue, q float64, w time.Duration, from, to time.Time) windowResult {
	lo := sort.Search(len(samples), func(i int) bool { return !samples[i].T.Before(from) })
	hi := sort.Search(len(samples), func(i int) bool { return samples[i].T.After(to) })
	in := samples[lo:hi]
	var best windowResult
	if len(in) == 0 {
		return best
	}
	eval := func(start, end time.Time) {
		a := sort.Search(len(in), func(i int) bool { return !in[i].T.Before(start) })
		b := sort.Search(len(in), func(i int) bool { return in[i].T.After(end) })
		if a >= b {
			return
		}
		vals := make([]float64, 0, b-a)
		for _, s := range in[a:b] {
			vals = append(vals, s.V)
		}
		sort.Float64s(vals)
		v := nearestRank(vals, q)
		if !best.Found || v > best.Value {
			best = windowResult{Value: v, Start: start, End: end, Count: len(vals), Found: true}
		}
	}
	if to.Sub(from) <= w {
		eval(from, to)
		return best
	}
	step := w / 10
	for end := from.Add(w); ; end = end.Add(step) {
		if end.After(to) {
			end = to
		}
		eval(end.Add(-w), end)
		if !end.Before(to) {
			break
		}
	}
	return best
}

// judgedSpan returns the churn phase bounds from the run's phases, or the
// whole span [first, last] when there is no churn phase (and says so).
func judgedSpan(phases []results.Phase, first, last time.Time) (from, to time.Time, label string) {
	for _, p := range phases {
		if p.Name == ChurnPhase && !p.Start.IsZero() {
			end := p.End
			if end.IsZero() {
				end = last
			}
			return p.Start, end, "churn phase"
		}
	}
	return first, last, "whole run (no churn phase recorded)"
}

// ChurnPhase is the phase name SLOs are judged on.
const ChurnPhase = "churn"

func sortTimed(v []timedValue) {
	sort.SliceStable(v, func(i, j int) bool { return v[i].T.Before(v[j].T) })
}
