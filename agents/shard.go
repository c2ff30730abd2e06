package agents

import (
	"errors"
	"hash/fnv"
	"sort"
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

// labelSelector renders runLabels as a selector, refusing an empty set
// (which would select everything).
func labelSelector(runLabels map[string]string) (string, error) {
	if len(runLabels) == 0 {
		return "", errEmptyLabels
	}
	parts := make([]string, 0, len(runLabels))
	for k, v := range runLabels {
		parts = append(parts, k+"="+v)
	}
	sort.Strings(parts)
	return strings.Join(parts, ","), nil
}

var errEmptyLabels = errors.New("agents: run labels are empty: refusing to select every object")
