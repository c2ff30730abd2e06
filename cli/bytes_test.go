package cli

import "testing"

func TestParseBytes(t *testing.T) {
	for s, want := range map[string]int64{"4Gi": 4 << 30, "512M": 512e6, "0.5": 1, "1.5Ki": 1536, "7Ei": 7 << 60} {
		if got, err := parseBytes(s); err != nil || got != want {
			t.Errorf("parseBytes(%q) = %d, %v; want %d", s, got, err, want)
		}
	}
	// Past int64, Quantity.Value wraps (100E became 7766279631452241920).
	for _, s := range []string{"0", "-1Gi", "Gi", "100000000000000000000", "1e30"} {
		if got, err := parseBytes(s); err == nil {
			t.Errorf("parseBytes(%q) = %d, want an error", s, got)
		}
	}
}
