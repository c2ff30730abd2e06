package cli

import (
	"fmt"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/churn-dev/churn/deploy/local"
	"github.com/churn-dev/churn/profiles"
	"github.com/churn-dev/churn/results"
	"github.com/churn-dev/churn/runner"
)

// controlPlaneCPUsFlag sets the local control plane's CPU budget; it
// overrides the profile's controlPlane.cpus.
const controlPlaneCPUsFlag = "control-plane-cpus"

// controlPlaneCPUsHelp says what auto comes to on this machine.
func controlPlaneCPUsHelp() string {
	cpus := local.CPUsOnline()
	here := "none here"
	if milli, _ := local.AutoCPUBudget(cpus); milli > 0 {
		here = results.FormatCores(float64(milli)/1000) + " here"
	}
	return fmt.Sprintf("local control plane: its CPU budget, a cgroup CPU quota on etcd, kube-apiserver, kube-controller-manager and kube-scheduler together, "+
		"like a control-plane VM of that many cores, so that kwok and churn keep the rest of the machine: cores (1.5 or 1500m, 0.1 up to the %d CPUs online), "+
		"auto (75%% of the CPUs online rounded to 0.1, at least 1, none below 2 CPUs: %s) or off (or 0: CPU weights only). "+
		"Where no cgroup cpu controller is usable the budget is recorded as not enforced", cpus, here)
}

// registerControlPlaneCPUs adds --control-plane-cpus; def is its default
// ("" for commands that take it from the profile).
func registerControlPlaneCPUs(f *pflag.FlagSet, v *string, def, extra string) {
	f.StringVar(v, controlPlaneCPUsFlag, def, controlPlaneCPUsHelp()+extra)
}

// controlPlaneCPUsOverride checks --control-plane-cpus when it was given,
// naming the flag and the value, and returns it as a profile override
// (nil when not given, so the profile's setting stands).
func controlPlaneCPUsOverride(cmd *cobra.Command, v string) (*profiles.CPUs, error) {
	if !cmd.Flags().Changed(controlPlaneCPUsFlag) {
		return nil, nil
	}
	c := profiles.CPUs(v)
	if err := runner.CheckCPUBudget("--"+controlPlaneCPUsFlag, c, true); err != nil {
		return nil, err
	}
	return &c, nil
}

// checkBudgetWithPriority refuses a budget of a given size with
// --cpu-priority=false, naming where the budget came from.
func checkBudgetWithPriority(cmd *cobra.Command, c profiles.CPUs, cpuPriority bool) error {
	source := "the profile's controlPlane.cpus"
	if cmd.Flags().Changed(controlPlaneCPUsFlag) {
		source = "--" + controlPlaneCPUsFlag
	}
	return runner.CheckCPUBudget(source, c, cpuPriority)
}
