package local

import (
	"errors"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"

	"go.uber.org/zap"
)

// The control plane's CPU budget. Weights (cpupriority.go) only order the
// processes waiting for a CPU: under saturation kwok got about 0.18 cores
// and fake nodes went NotReady. A CFS quota on the control-plane cgroup
// caps etcd, kube-apiserver, kube-controller-manager and kube-scheduler
// together, like a control-plane VM of N cores, so kwok and churn (the
// simulator) keep the rest of the machine whatever the control plane does.

const (
	// cfsPeriodMicros is the quota period: the kernel's default, short
	// enough that a throttled API server stalls for tens of milliseconds,
	// not seconds.
	cfsPeriodMicros = 100_000
	// autoBudgetShare of the CPUs online goes to the control plane by
	// default: 1.5 of 2 cores leaves kwok and churn half a core.
	autoBudgetShare = 0.75
	// minBudgetMillicores is the smallest budget accepted.
	minBudgetMillicores = 100
)

// Budget mechanisms (CPUBudget.Mechanism).
const (
	BudgetCgroupV1 = "cgroup v1 cpu.cfs_quota_us"
	BudgetCgroupV2 = "cgroup v2 cpu.max"
)

// CPUBudgetRequest asks for a control-plane CPU budget (Options). The zero
// value asks for none; churn's commands ask for Auto unless told otherwise.
type CPUBudgetRequest struct {
	// Setting is the value as the user gave it ("auto", "1.5", "1500m",
	// "off"), kept for the record; empty is derived from the fields.
	Setting string
	// Auto asks for AutoCPUBudget of the CPUs online.
	Auto bool
	// Millicores is an explicit budget (Auto false); 0 asks for none.
	Millicores int64
}

// Explicit reports whether r asks for a budget of a given size.
func (r CPUBudgetRequest) Explicit() bool { return !r.Auto && r.Millicores != 0 }

func (r CPUBudgetRequest) setting() string {
	switch {
	case r.Setting != "":
		return r.Setting
	case r.Auto:
		return "auto"
	case r.Millicores == 0:
		return "off"
	}
	return formatCores(float64(r.Millicores) / 1000)
}

// CPUBudget is the control plane's CPU budget: asked, applied, and what it
// leaves the simulator.
type CPUBudget struct {
	// Asked is the setting ("auto", "1.5", "off").
	Asked string `json:"asked"`
	// Cores is what Asked came to on this machine; 0 for no budget.
	Cores float64 `json:"cores"`
	// AppliedCores is the quota in force on the control-plane cgroup; 0
	// when none was set or it could not be (Reason says why).
	AppliedCores float64 `json:"appliedCores"`
	// Mechanism is BudgetCgroupV1 or BudgetCgroupV2 when applied.
	Mechanism string `json:"mechanism,omitempty"`
	// QuotaMicros per PeriodMicros is the quota as written.
	QuotaMicros  int64 `json:"quotaMicros,omitempty"`
	PeriodMicros int64 `json:"periodMicros,omitempty"`
	// CPUs is the number of CPUs online (runtime.NumCPU: the CPUs this
	// process may run on).
	CPUs int `json:"cpus"`
	// SimulatorCores is CPUs - AppliedCores: what the control plane
	// cannot take from kwok and churn. 0 when no budget is applied.
	SimulatorCores float64 `json:"simulatorCores,omitempty"`
	// Reason says why no budget applies, or why it is not enforced.
	Reason string `json:"reason,omitempty"`
}

// Enforced reports whether a quota caps the control plane.
func (b CPUBudget) Enforced() bool { return b.AppliedCores > 0 }

// String is a one-line description for progress output and logs.
func (b CPUBudget) String() string {
	if b.Enforced() {
		return fmt.Sprintf("%s of %d CPUs for the control plane (%s %d per %d µs); kwok and churn keep %s",
			formatCores(b.AppliedCores), b.CPUs, b.Mechanism, b.QuotaMicros, b.PeriodMicros, formatCores(b.SimulatorCores))
	}
	if b.Cores > 0 {
		return fmt.Sprintf("%s cores asked, NOT enforced: %s", formatCores(b.Cores), b.Reason)
	}
	if b.Reason != "" {
		return "none: " + b.Reason
	}
	return "none"
}

// formatCores renders cores with as many decimals as they need: "1.5",
// "2", "1.25".
func formatCores(c float64) string {
	return strconv.FormatFloat(math.Round(c*1000)/1000, 'f', -1, 64)
}

// CPUsOnline is the number of CPUs the control plane's processes can run on.
func CPUsOnline() int { return runtime.NumCPU() }

// AutoCPUBudget is the default budget on a machine with cpus CPUs online,
// in millicores: 75% of them, rounded to a tenth of a core, at least one
// core. Below 2 CPUs it is 0 with the reason: a budget would leave the
// simulator nothing worth guaranteeing.
func AutoCPUBudget(cpus int) (int64, string) {
	if cpus < 2 {
		return 0, fmt.Sprintf("auto: only %d CPU online, too few to split between the control plane and the simulator; CPU weights only", cpus)
	}
	tenths := math.Round(float64(cpus) * autoBudgetShare * 10)
	return max(int64(tenths)*100, 1000), ""
}

// ResolveCPUBudget is the budget r comes to on a machine with cpus CPUs
// online, not yet applied. An explicit budget that is negative, below 0.1
// cores or more than the CPUs online is an error; the caller names the
// flag or field it came from.
func ResolveCPUBudget(r CPUBudgetRequest, cpus int) (CPUBudget, error) {
	b := CPUBudget{Asked: r.setting(), CPUs: cpus}
	milli := r.Millicores
	switch {
	case r.Auto:
		milli, b.Reason = AutoCPUBudget(cpus)
	case milli < 0:
		return b, fmt.Errorf("must not be negative")
	case milli == 0:
		b.Reason = "off: CPU weights only"
		return b, nil
	case milli < minBudgetMillicores:
		return b, fmt.Errorf("below the minimum of 0.1 cores")
	case milli > int64(cpus)*1000:
		return b, fmt.Errorf("%s cores is more than the %d CPUs online", formatCores(float64(milli)/1000), cpus)
	}
	b.Cores = float64(milli) / 1000
	return b, nil
}

// quota is the CFS quota of b per cfsPeriodMicros.
func (b CPUBudget) quota() int64 {
	return int64(math.Round(b.Cores * cfsPeriodMicros))
}

// CPUThrottle is the control-plane cgroup's cpu.stat: how often the quota
// held the control plane back. The counters run from the cgroup's
// creation at Up.
type CPUThrottle struct {
	// Periods is the number of quota periods in which the group ran.
	Periods uint64 `json:"periods"`
	// ThrottledPeriods is how many of them ended with the quota used up.
	ThrottledPeriods uint64 `json:"throttledPeriods"`
	// ThrottledSeconds is the total time its threads were held back.
	ThrottledSeconds float64 `json:"throttledSeconds"`
}

// errNoBudget: the cluster has no enforced budget, so nothing is throttled.
var errNoBudget = errors.New("no CPU budget is enforced")

// ControlPlaneThrottle reads the control-plane cgroup's cpu.stat. It fails
// with an error wrapping errNoBudget when no quota is enforced.
func (c *Cluster) ControlPlaneThrottle() (CPUThrottle, error) {
	p := c.prio
	if p == nil || p.dir == "" || !p.info.Budget.Enforced() {
		return CPUThrottle{}, errNoBudget
	}
	return readCPUStat(filepath.Join(p.dir, GroupControlPlane, "cpu.stat"))
}

// readCPUStat parses a cgroup cpu.stat: v1 reports throttled_time in
// nanoseconds, v2 throttled_usec in microseconds.
func readCPUStat(path string) (CPUThrottle, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return CPUThrottle{}, fmt.Errorf("reading %s: %w", path, err)
	}
	var t CPUThrottle
	var seen bool
	for line := range strings.SplitSeq(string(b), "\n") {
		k, v, ok := strings.Cut(strings.TrimSpace(line), " ")
		if !ok {
			continue
		}
		n, err := strconv.ParseUint(strings.TrimSpace(v), 10, 64)
		if err != nil {
			return CPUThrottle{}, fmt.Errorf("%s: %s: %w", path, k, err)
		}
		switch k {
		case "nr_periods":
			t.Periods, seen = n, true
		case "nr_throttled":
			t.ThrottledPeriods = n
		case "throttled_time":
			t.ThrottledSeconds = float64(n) / 1e9
		case "throttled_usec":
			t.ThrottledSeconds = float64(n) / 1e6
		}
	}
	if !seen {
		return CPUThrottle{}, fmt.Errorf("%s has no nr_periods: the kernel does not account CPU bandwidth there", path)
	}
	return t, nil
}

// Sub is the throttling between an earlier reading and t. Counters that
// went backwards (the group was made again) count from zero.
func (t CPUThrottle) Sub(earlier CPUThrottle) CPUThrottle {
	if t.Periods < earlier.Periods || t.ThrottledPeriods < earlier.ThrottledPeriods || t.ThrottledSeconds < earlier.ThrottledSeconds {
		return t
	}
	return CPUThrottle{
		Periods:          t.Periods - earlier.Periods,
		ThrottledPeriods: t.ThrottledPeriods - earlier.ThrottledPeriods,
		ThrottledSeconds: t.ThrottledSeconds - earlier.ThrottledSeconds,
	}
}

// logBudget logs the budget once at Up; a budget asked for but not
// enforced is a warning, since the simulator then has no CPU of its own.
func logBudget(logger *zap.Logger, b CPUBudget) {
	fields := []zap.Field{zap.String("asked", b.Asked), zap.Float64("cores", b.Cores), zap.Float64("appliedCores", b.AppliedCores),
		zap.Int("cpus", b.CPUs), zap.String("mechanism", b.Mechanism), zap.String("reason", b.Reason)}
	if b.Cores > 0 && !b.Enforced() {
		logger.Warn("the control plane's CPU budget is not enforced; kwok and churn get no CPU of their own", fields...)
		return
	}
	logger.Info("control-plane CPU budget", fields...)
}
