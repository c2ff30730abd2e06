package observers

import (
	"math"
	"strings"
	"testing"
)

// FuzzParseSLOFlags reads one --slo name=value flag. An accepted value is
// a finite, non-negative threshold (a ratio at most 1), and the text the
// report prints for it reads back as the same threshold within the
// rounding of that text, so a reader can paste it into --slo again.
func FuzzParseSLOFlags(f *testing.F) {
	for _, d := range sloDefs {
		f.Add(d.name + "=" + d.threshold)
	}
	for _, s := range []string{"mutating-p99=500ms", "error-ratio=0.5%", "error-ratio=0.01", "max-outage=off",
		" pod-startup-p99 = 1h30m ", "error-ratio=NaN%", "error-ratio=1e-9", "mutating-p99=-1s", "max-outage=2562047h", "max-outage=2562047h47m16.854775807s",
		"read-cluster-p99=0.0000001s", "nope=1s", "=", "error-ratio=", "mutating-p99=1s=2s"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, flag string) {
		m, err := ParseSLOFlags([]string{flag})
		if err != nil {
			if err.Error() == "" {
				t.Fatal("empty error")
			}
			return
		}
		if len(m) != 1 {
			t.Fatalf("one flag gave %v", m)
		}
		for name, value := range m {
			d, ok := sloByName(name)
			if !ok {
				t.Fatalf("accepted unknown SLO %q", name)
			}
			limit, off, err := parseThreshold(d, value)
			if err != nil {
				t.Fatalf("accepted %q, then: %v", flag, err)
			}
			if off {
				continue
			}
			if math.IsNaN(limit) || math.IsInf(limit, 0) || limit < 0 || (d.unit == UnitRatio && limit > 1) {
				t.Fatalf("%q gave threshold %v", flag, limit)
			}
			shown := formatValue(d.unit, limit)
			back, _, err := parseThreshold(d, shown)
			if err != nil {
				t.Fatalf("%q is shown as %q, which does not read back: %v", flag, shown, err)
			}
			if tol := shownPrecision(d.unit, limit); math.Abs(back-limit) > tol*(1+1e-9)+1e-12*limit {
				t.Fatalf("%q (%v) is shown as %q, which reads back as %v", flag, limit, shown, back)
			}
			if strings.Contains(shown, "-") {
				t.Fatalf("%q is shown as %q", flag, shown)
			}
		}
	})
}

// shownPrecision is half the last digit FormatSeconds or FormatPercent
// prints for v.
func shownPrecision(unit string, v float64) float64 {
	if unit == UnitRatio {
		switch p := v * 100; {
		case p < 0.01:
			return 0.00005 / 100
		case p < 1:
			return 0.005 / 100
		}
		return 0.05 / 100
	}
	switch {
	case v < 0.001:
		return 0.5e-6
	case v < 1:
		return 0.5e-3
	case v < 10:
		return 0.005
	case v < 120:
		return 0.05
	}
	return 0.5
}
