package runner

import (
	"fmt"

	"go.uber.org/zap"

	"github.com/churn-dev/churn/deploy/local"
	"github.com/churn-dev/churn/observers"
	"github.com/churn-dev/churn/profiles"
	"github.com/churn-dev/churn/results"
)

// cpusField is the profile field of the control plane's CPU budget.
const cpusField = "controlPlane.cpus"

// CPUBudgetRequest turns controlPlane.cpus (or --control-plane-cpus) into
// what the local control plane takes. The error says what is wrong with
// the value; the caller names where it came from.
func CPUBudgetRequest(c profiles.CPUs) (local.CPUBudgetRequest, error) {
	s, err := c.Parse()
	if err != nil {
		return local.CPUBudgetRequest{}, err
	}
	setting := string(c)
	if setting == "" {
		setting = string(profiles.CPUsAuto)
	}
	return local.CPUBudgetRequest{Setting: setting, Auto: s.Auto, Millicores: s.Millicores}, nil
}

// CheckCPUBudget checks a budget setting against this machine, as the
// control plane will when it starts: the error names source (a flag or a
// field path) and the value.
func CheckCPUBudget(source string, c profiles.CPUs, cpuPriority bool) error {
	req, err := CPUBudgetRequest(c)
	if err == nil {
		_, err = local.ResolveCPUBudget(req, local.CPUsOnline())
	}
	if err != nil {
		return fmt.Errorf("%s %q: %w", source, string(c), err)
	}
	if !cpuPriority && req.Explicit() {
		return fmt.Errorf("%s %q conflicts with --cpu-priority=false: the budget is a quota on the control plane's cgroup, which CPU priority creates; drop one of them (--cpu-priority=false alone runs without a budget)", source, string(c))
	}
	return nil
}

// ValidateControlPlaneCPUs checks the profile's controlPlane.cpus (with
// --control-plane-cpus applied) before anything starts: against this
// machine's CPUs and --cpu-priority for a local control plane; a budget of
// a given size is refused for a --kubeconfig or --in-cluster target,
// whose control plane churn does not start.
func ValidateControlPlaneCPUs(o Options) error {
	c := o.Profile.ControlPlane.CPUs
	if o.Kubeconfig != "" || o.InCluster {
		if c.Explicit() {
			target := "--in-cluster"
			if o.Kubeconfig != "" {
				target = "--kubeconfig " + o.Kubeconfig
			}
			return fmt.Errorf("%s %q (or --control-plane-cpus) is the CPU budget of the local control plane churn starts; %s runs on the machines its owner gave it: drop it, or run locally", cpusField, string(c), target)
		}
		return nil
	}
	if err := CheckCPUBudget(cpusField, c, !o.DisableCPUPriority); err != nil {
		return fmt.Errorf("profile %s: %w", o.Profile.Name, err)
	}
	return nil
}

// cpuPriorityRecord copies the cluster's CPU priority into the results.
func cpuPriorityRecord(p local.CPUPriority) *results.CPUPriority {
	b := p.Budget
	return &results.CPUPriority{
		Mechanism: p.Mechanism, Group: p.Group, Reason: p.Reason,
		Budget: results.CPUBudget{
			Asked: b.Asked, Cores: b.Cores, AppliedCores: b.AppliedCores, Mechanism: b.Mechanism,
			QuotaMicros: b.QuotaMicros, PeriodMicros: b.PeriodMicros, CPUs: b.CPUs,
			SimulatorCores: b.SimulatorCores, Reason: b.Reason,
		},
	}
}

// recordThrottle records how long the budget held the control plane back
// in the phase that just ended, from the control-plane cgroup's cpu.stat.
// Without an enforced budget there is nothing to read; a failed read is
// logged and leaves the phase out.
func (r *run) recordThrottle(phase string) {
	rec := r.res.Target.CPUPriority
	if r.cluster == nil || rec == nil || !rec.Budget.Enforced() {
		return
	}
	now, err := r.cluster.ControlPlaneThrottle()
	if err != nil {
		r.log.Warn("reading the control plane's CPU throttling", zap.String("phase", phase), zap.Error(err))
		return
	}
	d := now.Sub(r.throttle)
	r.throttle = now
	rec.Budget.Throttling = append(rec.Budget.Throttling, results.PhaseThrottle{
		Phase: phase, Periods: d.Periods, ThrottledPeriods: d.ThrottledPeriods, ThrottledSeconds: d.ThrottledSeconds,
	})
	r.log.Info("control plane CPU throttling", zap.String("phase", phase), zap.Uint64("periods", d.Periods),
		zap.Uint64("throttledPeriods", d.ThrottledPeriods), zap.Float64("throttledSeconds", d.ThrottledSeconds))
}

// applyBudgetVerdict says in the verdict what size of control plane it is
// about: "a control plane of 1.5 cores held" or "did not hold", with how
// much the budget throttled it during churn. A budget that was asked for
// but not enforced is a note: kwok and churn then had no CPU of their own.
func applyBudgetVerdict(r *results.Result) {
	p := r.Target.CPUPriority
	if p == nil {
		return
	}
	b, v := p.Budget, &r.Verdict
	switch {
	case b.Enforced():
		s := "a control plane of " + results.CoresText(b.AppliedCores)
		switch {
		case v.Inconclusive:
			s += ": not judged, the simulator fell behind"
		case v.Passed:
			s += " held"
		default:
			s += " did not hold"
		}
		if t, ok := b.Phase("churn"); ok && t.ThrottledPeriods > 0 {
			s += fmt.Sprintf(" (throttled in %s of the churn phase's periods, %s in all)",
				observers.FormatPercent(t.ThrottledShare()), observers.FormatSeconds(t.ThrottledSeconds))
		}
		v.Summary += "; " + s
	case b.Cores > 0:
		note := fmt.Sprintf("the control plane's CPU budget of %s was NOT enforced (CPU priority %s), so kwok and churn had no CPU of their own",
			results.CoresText(b.Cores), p.Mechanism)
		v.Notes = append(v.Notes, note)
		v.Summary += "; " + note
	default:
		v.Summary += "; control plane without a CPU budget"
	}
}
