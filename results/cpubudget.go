package results

import (
	"fmt"
	"math"
	"strconv"
)

// CPUPriority is how the local control plane was given CPU: a copy of
// local.CPUPriority (the priority mechanism and the control plane's CPU
// budget), with how long the budget held the control plane back in each
// phase. Absent for a remote target.
type CPUPriority struct {
	// Mechanism is cgroup-v1, cgroup-v2, nice, none or off.
	Mechanism string `json:"mechanism"`
	// Group is the per-cluster cgroup (cgroup mechanisms only).
	Group string `json:"group,omitempty"`
	// Reason says why the preferred mechanisms were not used.
	Reason string    `json:"reason,omitempty"`
	Budget CPUBudget `json:"budget"`
}

// CPUBudget is the control plane's CPU quota, like a control-plane VM of
// N cores: what was asked, what was applied, and what it left kwok and
// churn (the simulator).
type CPUBudget struct {
	// Asked is the setting: "auto", "off", or cores ("1.5", "1500m").
	Asked string `json:"asked"`
	// Cores is what Asked came to on this machine; 0 for no budget.
	Cores float64 `json:"cores"`
	// AppliedCores is the quota in force; 0 when none was set or it could
	// not be (Reason says why).
	AppliedCores float64 `json:"appliedCores"`
	// Mechanism is "cgroup v1 cpu.cfs_quota_us" or "cgroup v2 cpu.max".
	Mechanism    string `json:"mechanism,omitempty"`
	QuotaMicros  int64  `json:"quotaMicros,omitempty"`
	PeriodMicros int64  `json:"periodMicros,omitempty"`
	// CPUs is the number of CPUs online.
	CPUs int `json:"cpus"`
	// SimulatorCores is CPUs - AppliedCores: what the control plane could
	// not take from kwok and churn.
	SimulatorCores float64 `json:"simulatorCores,omitempty"`
	// Reason says why no budget applied, or why it was not enforced.
	Reason string `json:"reason,omitempty"`
	// Throttling is the control-plane cgroup's cpu.stat over each phase.
	Throttling []PhaseThrottle `json:"throttling,omitempty"`
}

// PhaseThrottle is how much the budget held the control plane back in one
// phase: periods that ended with the quota used up, and the time its
// threads waited for the next period.
type PhaseThrottle struct {
	Phase            string  `json:"phase"`
	Periods          uint64  `json:"periods"`
	ThrottledPeriods uint64  `json:"throttledPeriods"`
	ThrottledSeconds float64 `json:"throttledSeconds"`
}

// Enforced reports whether a quota capped the control plane.
func (b CPUBudget) Enforced() bool { return b.AppliedCores > 0 }

// ThrottledShare is the share of the phase's periods that ended throttled.
func (t PhaseThrottle) ThrottledShare() float64 {
	if t.Periods == 0 {
		return 0
	}
	return float64(t.ThrottledPeriods) / float64(t.Periods)
}

// Phase returns the throttling of the named phase.
func (b CPUBudget) Phase(name string) (PhaseThrottle, bool) {
	for _, t := range b.Throttling {
		if t.Phase == name {
			return t, true
		}
	}
	return PhaseThrottle{}, false
}

// FormatCores renders cores with only the decimals they need: "1.5", "2".
func FormatCores(c float64) string {
	return strconv.FormatFloat(math.Round(c*1000)/1000, 'f', -1, 64)
}

// CoresText is "1 core" or "1.5 cores".
func CoresText(c float64) string {
	if FormatCores(c) == "1" {
		return "1 core"
	}
	return FormatCores(c) + " cores"
}

// Short is the budget in a few words for tables and verdicts: "1.5 of 2
// cores", "1.5 cores, not enforced", "none (off)".
func (b CPUBudget) Short() string {
	switch {
	case b.Enforced():
		return fmt.Sprintf("%s of %d cores", FormatCores(b.AppliedCores), b.CPUs)
	case b.Cores > 0:
		return CoresText(b.Cores) + ", not enforced"
	case b.Asked != "":
		return "none (" + b.Asked + ")"
	}
	return "none"
}
