package agents

import (
	"strings"
	"testing"
)

func TestParseShard(t *testing.T) {
	for _, tc := range []struct {
		in      string
		want    Shard
		wantErr string
	}{
		{in: "0/1", want: Shard{0, 1}},
		{in: "3/4", want: Shard{3, 4}},
		{in: " 1 / 2 ", want: Shard{1, 2}},
		{in: "3/2", wantErr: "index must be < total"},
		{in: "2/2", wantErr: "index must be < total"},
		{in: "-1/2", wantErr: "index must be >= 0"},
		{in: "0/0", wantErr: "total must be at least 1"},
		{in: "1", wantErr: "want index/total"},
		{in: "$(SHARD_INDEX)/4", wantErr: `index "$(SHARD_INDEX)" is not a number`},
		{in: "1/x", wantErr: `total "x" is not a number`},
	} {
		got, err := ParseShard(tc.in)
		if tc.wantErr != "" {
			if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
				t.Errorf("ParseShard(%q) error = %v, want %q", tc.in, err, tc.wantErr)
			}
			continue
		}
		if err != nil || got != tc.want {
			t.Errorf("ParseShard(%q) = %v, %v; want %v", tc.in, got, err, tc.want)
		}
		if got.String() != strings.ReplaceAll(tc.in, " ", "") {
			t.Errorf("String() = %q", got.String())
		}
	}
}

func TestShardSelectMatchesSelectNodes(t *testing.T) {
	all := nodes(50)
	var union []string
	for i := 0; i < 3; i++ {
		part := Shard{i, 3}.Select(all)
		if strings.Join(part, ",") != strings.Join(SelectNodes(all, i, 3), ",") {
			t.Errorf("shard %d/3 differs from SelectNodes", i)
		}
		union = append(union, part...)
	}
	if len(union) != len(all) {
		t.Errorf("union of 3 shards has %d nodes, want %d", len(union), len(all))
	}
}

func TestComponentsFor(t *testing.T) {
	for in, want := range map[string]Components{"": ComponentsAll, "internal": ComponentsAll, "external": ComponentsCentral} {
		if got, err := ComponentsFor(in); err != nil || got != want {
			t.Errorf("ComponentsFor(%q) = %q, %v; want %q", in, got, err, want)
		}
	}
	if _, err := ComponentsFor("shards"); err == nil || !strings.Contains(err.Error(), "internal or external") {
		t.Errorf("ComponentsFor(shards) error = %v", err)
	}
}
