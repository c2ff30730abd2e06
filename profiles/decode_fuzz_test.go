package profiles

import (
	"fmt"
	"reflect"
	"strings"
	"testing"
)

// FuzzDecode reads a profile file, which users write by hand. A document
// that decodes can be validated without a panic, and a valid one survives
// Marshal and Decode unchanged (what `churn profiles show` prints, and a
// results file records, reads back as the same profile); one that does not
// decode gets an error naming the step that failed.
func FuzzDecode(f *testing.F) {
	for _, name := range embeddedNames() {
		b, err := builtinFS.ReadFile("builtin/" + name + ".yaml")
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	for _, s := range []string{
		header + "name: tiny\nworkload:\n  replicas: 3\n",
		header + "name: x\nname: y\n",
		header + "name: x\nchurn:\n  scale:\n    interval: 1y\n",
		header + "name: x\nobservers: ~\n",
		header + "name: x\nslos:\n  mutating-p99: 1s\n",
		"", "~", "[]", "apiVersion: [", "a: &a [*a, *a]\n",
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		p, err := Decode(data)
		if err != nil {
			if msg := err.Error(); !strings.HasPrefix(msg, "parse profile") && !strings.HasPrefix(msg, "decode profile") {
				t.Fatalf("error without context: %v", err)
			}
			return
		}
		if p.Validate() != nil {
			return // only a valid profile is shown or run
		}
		b, err := Marshal(p)
		if err != nil {
			t.Fatalf("decoded, then Marshal: %v", err)
		}
		back, err := Decode(b)
		if err != nil {
			t.Fatalf("Decode(Marshal(p)): %v\n%s", err, b)
		}
		if !reflect.DeepEqual(back, p) {
			t.Fatalf("does not round-trip:\n got %s\nwant %s\nvia\n%s", fmt.Sprintf("%+v", back), fmt.Sprintf("%+v", p), b)
		}
	})
}
