package stats

import (
	"math"
	"math/rand/v2"
	"slices"
)

// Change points by E-divisive means (Matteson and James, "A Nonparametric
// Approach for Multiple Change Point Analysis of Multivariate Data", JASA
// 2014), the method Hunter and Apache Otava run over performance history.
// It makes no assumption about the distribution: a split of a series is
// scored by the energy distance between the two sides (with exponent 1,
// mean absolute differences), and a split counts only when a permutation
// test finds that score unlikely for a series without change. Splits are
// found one at a time (bisection), each tested against permutations within
// the segments found so far, until one is not significant.
//
// Its false-alarm rate is the test's level: under no change, the first
// split is significant with probability at most Alpha (exactly so up to
// the permutation p-value's resolution, 1/(Permutations+1)). The tests
// measure it on independent noise.

// ChangePointOptions tune the detector. The zero value is not usable;
// start from DefaultChangePointOptions.
type ChangePointOptions struct {
	// MinSize is the fewest points a segment may hold. Below 3, one
	// outlying run alone becomes a segment.
	MinSize int
	// Permutations is how many shuffled series each test draws; the
	// smallest p-value it can give is 1/(Permutations+1).
	Permutations int
	// Alpha is the level each split is tested at.
	Alpha float64
	// Seed seeds the permutations, so a series always gives the same
	// answer.
	Seed uint64
}

// DefaultChangePointOptions: 999 permutations resolve p down to 0.001,
// enough for the Benjamini-Hochberg cut over a few dozen figures.
func DefaultChangePointOptions() ChangePointOptions {
	return ChangePointOptions{MinSize: 3, Permutations: 999, Alpha: Alpha, Seed: 1}
}

// ChangePoint is a point where the series' distribution changed: Index is
// the first point of the new segment.
type ChangePoint struct {
	Index int `json:"index"`
	// Q is the split's energy statistic; P its permutation p-value.
	Q float64 `json:"q"`
	P float64 `json:"p"`
	// Before and After summarize the segments on either side of it in the
	// final segmentation.
	Before Summary `json:"before"`
	After  Summary `json:"after"`
}

// Detection is the outcome of E-divisive on one series.
type Detection struct {
	// Points are the accepted change points in the order they were found
	// (most pronounced first), each with P <= the Alpha used.
	Points []ChangePoint
	// FirstP is the p-value of the strongest split, accepted or not: the
	// test of "this series has no change point", which a caller corrects
	// for the number of series tested together. 1 when no split can be
	// tested (too short, or every value the same). Above Alpha it is an
	// estimate: the test stops drawing once the split cannot be significant.
	FirstP float64
	// FirstIndex is where the strongest split falls (the first point of
	// its right side), accepted or not; -1 when none could be tested.
	FirstIndex int
}

// DetectChangePoints runs E-divisive means over xs.
func DetectChangePoints(xs []float64, o ChangePointOptions) Detection {
	d := Detection{FirstP: 1, FirstIndex: -1}
	n := len(xs)
	min := max(o.MinSize, 1)
	if n < 2*min || constant(xs) {
		return d
	}
	rng := rand.New(rand.NewPCG(o.Seed, 0x9e3779b97f4a7c15))
	bounds := []int{0, n} // segment boundaries, sorted
	var found []ChangePoint
	perm := make([]float64, n)
	for first := true; ; first = false {
		idx, q := bestSplit(xs, bounds, min)
		if idx < 0 {
			break
		}
		// The permutation test: shuffle within each current segment (a
		// change already found is kept) and see how often the best split
		// of the shuffled series scores at least as high.
		// Once more shuffles have exceeded it than a p-value of Alpha
		// allows, the split cannot be significant: stop there (the
		// p-value is then an estimate above Alpha, which no false-discovery
		// cut at level Alpha can pass either). Series without change, the
		// common case, cost a fraction of the permutations.
		exceed, drawn, limit := 0, 0, o.Alpha*float64(o.Permutations+1)
		for range o.Permutations {
			if float64(exceed+1) > limit {
				break
			}
			drawn++
			copy(perm, xs)
			for s := 0; s+1 < len(bounds); s++ {
				seg := perm[bounds[s]:bounds[s+1]]
				rng.Shuffle(len(seg), func(i, j int) { seg[i], seg[j] = seg[j], seg[i] })
			}
			if _, pq := bestSplit(perm, bounds, min); pq >= q {
				exceed++
			}
		}
		p := float64(exceed+1) / float64(drawn+1)
		if first {
			d.FirstP, d.FirstIndex = p, idx
		}
		if p > o.Alpha {
			break
		}
		found = append(found, ChangePoint{Index: idx, Q: q, P: p})
		bounds = append(bounds, idx)
		slices.Sort(bounds)
	}
	for _, cp := range found {
		i := slices.Index(bounds, cp.Index)
		cp.Before = Summarize(xs[bounds[i-1]:cp.Index])
		cp.After = Summarize(xs[cp.Index:bounds[i+1]])
		d.Points = append(d.Points, cp)
	}
	return d
}

// bestSplit is the split with the highest statistic over every segment
// between bounds, each side holding at least min points; -1 when no
// segment can be split.
func bestSplit(xs []float64, bounds []int, min int) (int, float64) {
	best, bestQ := -1, math.Inf(-1)
	for s := 0; s+1 < len(bounds); s++ {
		lo := bounds[s]
		if i, q := splitSegment(xs[lo:bounds[s+1]], min); i >= 0 && q > bestQ {
			best, bestQ = lo+i, q
		}
	}
	return best, bestQ
}

// splitSegment scores every split t of z (left z[:t], right z[t:]) by
//
//	Q(t) = m k / (m + k) * (2/(m k) * between - within(left)/C(m,2) - within(right)/C(k,2))
//
// where m and k are the sides' sizes, between the sum of |x - y| over
// pairs across the split and within(side) that over pairs inside a side:
// the scaled sample energy distance of the paper with exponent 1. The
// sums are kept running, O(len(z)^2) for all splits together.
func splitSegment(z []float64, min int) (int, float64) {
	n := len(z)
	if n < 2*min {
		return -1, 0
	}
	// rowLeft[t] = sum over i < t of |z_i - z_t|; rowRight[t] = over j > t.
	rowLeft, rowRight := make([]float64, n), make([]float64, n)
	total := 0.0
	for i := range n {
		for j := i + 1; j < n; j++ {
			d := math.Abs(z[i] - z[j])
			rowLeft[j] += d
			rowRight[i] += d
			total += d
		}
	}
	// withinLeft for t points, withinRight for the n-t points from t.
	withinLeft := 0.0
	withinRight := total
	best, bestQ := -1, math.Inf(-1)
	for t := 1; t < n; t++ {
		withinLeft += rowLeft[t-1]
		withinRight -= rowRight[t-1]
		if t < min || n-t < min {
			continue
		}
		between := total - withinLeft - withinRight
		m, k := float64(t), float64(n-t)
		e := 2 / (m * k) * between
		if t > 1 {
			e -= withinLeft / (m * (m - 1) / 2)
		}
		if n-t > 1 {
			e -= withinRight / (k * (k - 1) / 2)
		}
		if q := m * k / (m + k) * e; q > bestQ {
			best, bestQ = t, q
		}
	}
	return best, bestQ
}

func constant(xs []float64) bool {
	for _, x := range xs[1:] {
		if x != xs[0] {
			return false
		}
	}
	return true
}

// BenjaminiHochbergCut is the largest p-value that survives the
// Benjamini-Hochberg procedure at level alpha over ps (the k-th smallest
// p-value passes when it is at most k/m * alpha, with every smaller one),
// or -1 when none does. It is the cut ControlFalseDiscoveries applies.
func BenjaminiHochbergCut(ps []float64, alpha float64) float64 {
	m := len(ps)
	if m == 0 {
		return -1
	}
	sorted := slices.Clone(ps)
	slices.Sort(sorted)
	for k := m; k >= 1; k-- {
		if sorted[k-1] <= float64(k)/float64(m)*alpha {
			return sorted[k-1]
		}
	}
	return -1
}
