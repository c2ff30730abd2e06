package stats

import (
	"math"
	"math/rand/v2"
	"testing"
)

// noise is n draws of N(mean, sd) from a seeded source.
func noise(rng *rand.Rand, n int, mean, sd float64) []float64 {
	xs := make([]float64, n)
	for i := range xs {
		xs[i] = mean + sd*rng.NormFloat64()
	}
	return xs
}

func TestChangePointFoundAtKnownShift(t *testing.T) {
	rng := rand.New(rand.NewPCG(7, 7))
	// 10 runs around 130 ms, then 10 around 300 ms: the planted
	// in-flight limit of the README, with 10% noise.
	xs := append(noise(rng, 10, 0.130, 0.013), noise(rng, 10, 0.300, 0.030)...)
	d := DetectChangePoints(xs, DefaultChangePointOptions())
	if len(d.Points) != 1 {
		t.Fatalf("found %d change points %+v, want 1", len(d.Points), d.Points)
	}
	cp := d.Points[0]
	if cp.Index != 10 {
		t.Errorf("change point at index %d, want 10", cp.Index)
	}
	if d.FirstIndex != 10 {
		t.Errorf("strongest split at %d, want 10", d.FirstIndex)
	}
	if cp.P > 0.01 || d.FirstP != cp.P {
		t.Errorf("p = %g (first %g), want <= 0.01 and equal", cp.P, d.FirstP)
	}
	if math.Abs(cp.Before.Median-0.130) > 0.02 || math.Abs(cp.After.Median-0.300) > 0.04 {
		t.Errorf("medians %g -> %g, want about 0.130 -> 0.300", cp.Before.Median, cp.After.Median)
	}
}

func TestChangePointsTwoShifts(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 3))
	xs := append(append(noise(rng, 12, 10, 1), noise(rng, 12, 20, 1)...), noise(rng, 12, 5, 1)...)
	d := DetectChangePoints(xs, DefaultChangePointOptions())
	got := map[int]bool{}
	for _, cp := range d.Points {
		got[cp.Index] = true
	}
	if len(d.Points) != 2 || !got[12] || !got[24] {
		t.Fatalf("change points %+v, want at 12 and 24", d.Points)
	}
	for _, cp := range d.Points {
		// Each side is its own segment in the final segmentation.
		if cp.Before.N != 12 || cp.After.N != 12 {
			t.Errorf("change point %d: segments of %d and %d, want 12 and 12", cp.Index, cp.Before.N, cp.After.N)
		}
	}
}

// A shift in spread alone, not in level: energy distance sees the whole
// distribution, a t-test on means would not.
func TestChangePointInVariance(t *testing.T) {
	rng := rand.New(rand.NewPCG(11, 11))
	xs := append(noise(rng, 30, 100, 1), noise(rng, 30, 100, 15)...)
	d := DetectChangePoints(xs, DefaultChangePointOptions())
	if len(d.Points) == 0 || math.Abs(float64(d.Points[0].Index-30)) > 3 {
		t.Fatalf("change points %+v, want one near 30", d.Points)
	}
}

func TestNoChangePointInConstantOrShortSeries(t *testing.T) {
	o := DefaultChangePointOptions()
	for name, xs := range map[string][]float64{
		"constant": {4, 4, 4, 4, 4, 4, 4, 4, 4, 4},
		"short":    {1, 1, 9, 9, 9},
		"empty":    nil,
	} {
		d := DetectChangePoints(xs, o)
		if len(d.Points) != 0 || d.FirstP != 1 {
			t.Errorf("%s: %+v, want no change point and first p 1", name, d)
		}
	}
}

func TestChangePointDeterministic(t *testing.T) {
	rng := rand.New(rand.NewPCG(5, 5))
	xs := append(noise(rng, 8, 1, 0.3), noise(rng, 8, 1.6, 0.3)...)
	a := DetectChangePoints(xs, DefaultChangePointOptions())
	b := DetectChangePoints(xs, DefaultChangePointOptions())
	if a.FirstP != b.FirstP || len(a.Points) != len(b.Points) {
		t.Fatalf("two runs differ: %+v vs %+v", a, b)
	}
}

// The false-alarm rate on A/A series: independent noise with no change.
// Tested at Alpha, the first split must come out significant in about
// Alpha of the series, no more (the permutation test's level), and the
// Benjamini-Hochberg cut over a family of 20 such figures must flag a
// family about as rarely.
func TestChangePointFalseAlarmRate(t *testing.T) {
	rng := rand.New(rand.NewPCG(2026, 12))
	o := DefaultChangePointOptions()
	o.Permutations = 199
	const series = 400
	alarms := 0
	for s := range series {
		o.Seed = uint64(s) + 1
		if d := DetectChangePoints(noise(rng, 20, 0.13, 0.02), o); len(d.Points) > 0 {
			alarms++
		}
	}
	rate := float64(alarms) / series
	t.Logf("A/A series of 20 points: %d of %d with a change point at α=%g (%.1f%%)", alarms, series, o.Alpha, rate*100)
	// Binomial(400, 0.05) has mean 20 and sd 4.4: 35 is beyond 3 sd.
	if alarms > 35 {
		t.Errorf("false-alarm rate %.1f%%, want about %g%%", rate*100, o.Alpha*100)
	}
	// A test that never alarms is no test: some level must be spent.
	if alarms < 5 {
		t.Errorf("false-alarm rate %.1f%%: the permutation test is far below its level, so it has lost power", rate*100)
	}

	const families, figures = 100, 20
	flagged := 0
	for f := range families {
		ps := make([]float64, figures)
		for i := range ps {
			o.Seed = uint64(f*figures+i) + 1
			ps[i] = DetectChangePoints(noise(rng, 20, 1, 0.1), o).FirstP
		}
		if BenjaminiHochbergCut(ps, Alpha) >= 0 {
			flagged++
		}
	}
	t.Logf("A/A families of %d figures x 20 runs: %d of %d flagged after Benjamini-Hochberg", figures, flagged, families)
	if flagged > 12 {
		t.Errorf("%d of %d A/A families flagged, want about 5 (FDR 5%% under the global null)", flagged, families)
	}
}

func TestBenjaminiHochbergCut(t *testing.T) {
	for _, c := range []struct {
		ps   []float64
		want float64
	}{
		{nil, -1},
		{[]float64{0.2, 0.5}, -1},
		// 0.04 <= 2/2*0.05 passes, and so everything below it.
		{[]float64{0.03, 0.04}, 0.04},
		// 4 tests: 0.02 <= 2/4*0.05 passes, 0.5 > 3/4*0.05 does not.
		{[]float64{0.01, 0.02, 0.5, 0.9}, 0.02},
		{[]float64{0.02, 0.03, 0.5, 0.9}, -1},
	} {
		if got := BenjaminiHochbergCut(c.ps, Alpha); got != c.want {
			t.Errorf("BenjaminiHochbergCut(%v) = %g, want %g", c.ps, got, c.want)
		}
	}
}
