package cli

import (
	"strconv"
	"testing"

	"k8s.io/apimachinery/pkg/api/resource"
)

// FuzzParseBytes reads a byte quantity flag (--apiserver-memory-limit). An
// accepted value is a positive byte count that reads back from its decimal
// form, and is no smaller than the quantity written (fractions of a byte
// round up, as Quantity.Value does); a quantity too large for an int64
// must be refused rather than wrapped.
func FuzzParseBytes(f *testing.F) {
	for _, s := range []string{"4Gi", "512M", "1", "0.5", "1e3", "0", "-1Gi", "", "Gi", "8Ei", "9Ei", "1e30", "100000000000000000000", "1.5Ki"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		n, err := parseBytes(s)
		if err != nil {
			return
		}
		if n <= 0 {
			t.Fatalf("%q read as %d", s, n)
		}
		q := resource.MustParse(s)
		if v, ok := q.AsInt64(); ok && v != n {
			t.Fatalf("%q read as %d, the quantity is %d", s, n, v)
		}
		if q.Cmp(*resource.NewQuantity(n, resource.BinarySI)) > 0 {
			t.Fatalf("%q read as %d, less than the quantity %s", s, n, q.String())
		}
		back, err := parseBytes(strconv.FormatInt(n, 10))
		if err != nil || back != n {
			t.Fatalf("%d reads back as %d, %v", n, back, err)
		}
	})
}
