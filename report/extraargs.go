package report

import (
	"maps"
	"slices"
	"strings"

	"github.com/churn-dev/churn/results"
)

// ExtraArgsText renders the extra control-plane arguments of a run by
// component, e.g. "kube-apiserver --max-requests-inflight=5; etcd
// --snapshot-count=5000"; "" when there are none.
func ExtraArgsText(args map[string][]string) string {
	var parts []string
	for _, comp := range slices.Sorted(maps.Keys(args)) {
		if len(args[comp]) > 0 {
			parts = append(parts, comp+" "+strings.Join(args[comp], " "))
		}
	}
	return strings.Join(parts, "; ")
}

// extraArgsWarning says when two runs started their control planes with
// different extra arguments; "" when they did not.
func extraArgsWarning(base, cand *results.Result) string {
	b, c := ExtraArgsText(base.Target.ExtraArgs), ExtraArgsText(cand.Target.ExtraArgs)
	if b == c {
		return ""
	}
	return extraArgsDiffer + " (base " + orDefault(b, "none") + ", candidate " + orDefault(c, "none") + "): the figures compare the arguments"
}

const extraArgsDiffer = "control-plane arguments differ"

// armsAreArgs says whether the arms are named by kube-apiserver arguments
// (churn compare --apiserver-args): "default", or flags.
func armsAreArgs(arms []Arm) bool {
	for _, a := range arms {
		if a.Name != "default" && !strings.HasPrefix(a.Name, "--") {
			return false
		}
	}
	return true
}
