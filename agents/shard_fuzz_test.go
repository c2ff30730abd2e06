package agents

import (
	"fmt"
	"testing"
)

// FuzzParseShard reads --shard index/total. An accepted shard is in range
// and reads back from its canonical form.
func FuzzParseShard(f *testing.F) {
	for _, s := range []string{"0/4", " 3 / 4 ", "4/4", "-1/4", "0/0", "1/", "/", "x/2", "0/9223372036854775807", "0/99999999999999999999"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		sh, err := ParseShard(s)
		if err != nil {
			return
		}
		if sh.Total < 1 || sh.Index < 0 || sh.Index >= sh.Total {
			t.Fatalf("%q accepted as %+v", s, sh)
		}
		back, err := ParseShard(fmt.Sprintf("%d/%d", sh.Index, sh.Total))
		if err != nil || back != sh {
			t.Fatalf("%+v reads back as %+v, %v", sh, back, err)
		}
	})
}
