package report

import (
	"fmt"
	"reflect"
	"regexp"

	"github.com/churn-dev/churn/results"
)

// planWarnings says where two runs did not follow the same churn. Such
// runs still compare, but the figures then measure the difference in
// workload as much as the difference in Kubernetes or mesh version.
func planWarnings(base, cand *results.Result) []string {
	var w []string
	add := func(format string, args ...any) { w = append(w, fmt.Sprintf(format, args...)) }
	bp, cp := base.Profile, cand.Profile
	if bp.Name != cp.Name {
		add("profiles differ (base %q, candidate %q)", bp.Name, cp.Name)
	}
	if base.Seed != cand.Seed {
		add("seeds differ (base %d, candidate %d): the churn sequences differ", base.Seed, cand.Seed)
	}
	if !reflect.DeepEqual(bp.Nodes, cp.Nodes) {
		add("node specs differ (base %d nodes, candidate %d nodes)", bp.Nodes.Count, cp.Nodes.Count)
	}
	if !reflect.DeepEqual(bp.Workload, cp.Workload) {
		add("workload specs differ (base %d target pods, candidate %d)", bp.TargetPods(), cp.TargetPods())
	}
	// The seed is reported above; compare the rest of the churn spec.
	bc, cc := bp.Churn, cp.Churn
	bc.Seed, cc.Seed = 0, 0
	if !reflect.DeepEqual(bc, cc) {
		add("churn specs differ (base %s, candidate %s of churn)", bc.Duration.Duration, cc.Duration.Duration)
	}
	if bm, cm := meshName(base), meshName(cand); bm != cm {
		add("meshes differ (base %q, candidate %q): the figures compare the meshes", bm, cm)
	}
	if msg := extraArgsWarning(base, cand); msg != "" {
		add("%s", msg)
	}
	if b, c := budgetShort(base.Target.CPUPriority), budgetShort(cand.Target.CPUPriority); b != "" && c != "" && b != c {
		add("control-plane CPU budgets differ (base %s, candidate %s): the figures compare the budgets", b, c)
	}
	if base.Target.Kind != cand.Target.Kind {
		add("targets differ (base %q, candidate %q)", base.Target.Kind, cand.Target.Kind)
	}
	if msg := actionsDiffer(base.Churn, cand.Churn); msg != "" {
		add("%s", msg)
	}
	for _, side := range []struct {
		name string
		r    *results.Result
	}{{"base", base}, {"candidate", cand}} {
		if n := len(side.r.Errors); n > 0 {
			add("the %s run recorded %d error(s), first: %s", side.name, n, side.r.Errors[0])
		}
	}
	return w
}

// actionsDiffer compares the planned churn action by action. Kind, target
// and replica count come from the seeded plan; From and the timings depend
// on the cluster and are not compared.
func actionsDiffer(base, cand *results.ChurnSummary) string {
	if base == nil || cand == nil {
		return ""
	}
	if base.Planned != cand.Planned {
		return fmt.Sprintf("churn plans differ: base planned %d actions, candidate %d", base.Planned, cand.Planned)
	}
	type step struct {
		kind, target string
		to           int
	}
	planned := make(map[int]step, len(base.Actions))
	for _, a := range base.Actions {
		planned[a.Seq] = step{a.Kind, planTarget(a.Target), a.To}
	}
	for _, a := range cand.Actions {
		b, ok := planned[a.Seq]
		if ok && b != (step{a.Kind, planTarget(a.Target), a.To}) {
			return fmt.Sprintf("churn plans differ from action %d (base %s %s to %d, candidate %s %s to %d)",
				a.Seq, b.kind, b.target, b.to, a.Kind, a.Target, a.To)
		}
	}
	return ""
}

// runPrefix is the per-run prefix of the names a run gives its namespaces
// ("churn-" and four hex digits of the run ID, see runner.NamePrefix).
var runPrefix = regexp.MustCompile(`^churn-[0-9a-f]{4}-`)

// planTarget is an action's target without the run's own name prefix, so
// two runs of one plan name the same targets.
func planTarget(target string) string {
	return runPrefix.ReplaceAllString(target, "")
}

// meshName is r.Mesh, with "" (older results) read as "none".
func meshName(r *results.Result) string {
	if r.Mesh == "" {
		return "none"
	}
	return r.Mesh
}
