package report

import (
	"math"
	"strconv"
	"strings"
	"testing"
)

// FuzzParseTolerance reads compare's --tolerance. An accepted tolerance is
// finite and non-negative; a bare fraction is at most 1 and reads back
// from its shortest decimal form.
func FuzzParseTolerance(f *testing.F) {
	for _, s := range []string{"10%", "0.1", "0", "1", "1.5", "150%", "-1%", "NaN", "Inf%", "1e-300", " 5 % ", "%", ""} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		v, err := ParseTolerance(s)
		if err != nil {
			return
		}
		if math.IsNaN(v) || math.IsInf(v, 0) || v < 0 {
			t.Fatalf("%q accepted as %v", s, v)
		}
		if strings.HasSuffix(strings.TrimSpace(s), "%") {
			return
		}
		if v > 1 {
			t.Fatalf("bare %q accepted as %v, above 1", s, v)
		}
		if back, err := ParseTolerance(strconv.FormatFloat(v, 'g', -1, 64)); err != nil || back != v {
			t.Fatalf("%v reads back as %v, %v", v, back, err)
		}
	})
}
