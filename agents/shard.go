package agents

import (
	"errors"
	"fmt"
	"hash/fnv"
	"strconv"
	"strings"
)

// SelectNodes returns the nodes shard (0-based) of total owns, by a hash of
// the node name, so several emulator processes can split the agents with
// no coordination; every node lands in exactly one shard.
func SelectNodes(nodes []string, shard, total int) []string {
	if total <= 1 {
		return append([]string(nil), nodes...)
	}
	var out []string
	for _, n := range nodes {
		h := fnv.New32a()
		_, _ = h.Write([]byte(n))
		if int(h.Sum32()%uint32(total)) == shard {
			out = append(out, n)
		}
	}
	return out
}

var errEmptyLabels = errors.New("agents: run labels are empty: refusing to select every object")

// Shard is one share of a run's per-node agents: Index of Total.
type Shard struct {
	Index, Total int
}

// ParseShard reads "index/total" (0 <= index < total).
func ParseShard(s string) (Shard, error) {
	is, ts, ok := strings.Cut(s, "/")
	if !ok {
		return Shard{}, errors.New("want index/total, e.g. 0/4")
	}
	i, err := strconv.Atoi(strings.TrimSpace(is))
	if err != nil {
		return Shard{}, fmt.Errorf("index %q is not a number", is)
	}
	t, err := strconv.Atoi(strings.TrimSpace(ts))
	if err != nil {
		return Shard{}, fmt.Errorf("total %q is not a number", ts)
	}
	sh := Shard{Index: i, Total: t}
	return sh, sh.validate()
}

func (s Shard) validate() error {
	switch {
	case s.Total < 1:
		return errors.New("total must be at least 1")
	case s.Index < 0:
		return errors.New("index must be >= 0")
	case s.Index >= s.Total:
		return errors.New("index must be < total")
	}
	return nil
}

func (s Shard) String() string { return fmt.Sprintf("%d/%d", s.Index, s.Total) }

// Select returns the nodes this shard owns.
func (s Shard) Select(nodes []string) []string { return SelectNodes(nodes, s.Index, s.Total) }

// key names the shard's entry in a run's announcement.
func (s Shard) key() string { return fmt.Sprintf("%s%d-of-%d", shardKeyPrefix, s.Index, s.Total) }
