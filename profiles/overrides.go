package profiles

import (
	"slices"
	"strings"
	"time"
)

// Overrides are the flags a user set; nil means "not set", so a flag left at
// its default never overwrites the profile.
type Overrides struct {
	Duration *time.Duration
	Nodes    *int
	Seed     *int64
	Mesh     *string
	// SettleTimeout is --settle-timeout.
	SettleTimeout *time.Duration
	// ExtraArgs are --apiserver-args and --component-args, by component.
	// Per component, an argument replaces the profile's arguments with the
	// same flag name; the others are appended.
	ExtraArgs map[string][]string
	// ControlPlaneCPUs is --control-plane-cpus.
	ControlPlaneCPUs *CPUs
	// APIServers is --apiservers.
	APIServers *int
	// Faults, Upgrade and Rollouts are --fault, --upgrade and --rollout;
	// each replaces the profile's own.
	Faults   *[]string
	Upgrade  *string
	Rollouts *[]string
}

// Apply returns p with every set override applied.
func (o Overrides) Apply(p Profile) Profile {
	if o.Duration != nil {
		p.Churn.Duration.Duration = *o.Duration
	}
	if o.Nodes != nil {
		p.Nodes.Count = *o.Nodes
	}
	if o.Seed != nil {
		p.Churn.Seed = *o.Seed
	}
	if o.Mesh != nil {
		p.Mesh.Name = *o.Mesh
	}
	if o.SettleTimeout != nil {
		p.Mesh.SettleTimeout.Duration = *o.SettleTimeout
	}
	if o.ControlPlaneCPUs != nil {
		p.ControlPlane.CPUs = *o.ControlPlaneCPUs
	}
	if o.APIServers != nil {
		p.ControlPlane.APIServers = *o.APIServers
	}
	if o.Faults != nil {
		p.Disruptions.Faults = slices.Clone(*o.Faults)
	}
	if o.Upgrade != nil {
		p.Disruptions.Upgrade = *o.Upgrade
	}
	if o.Rollouts != nil {
		p.Disruptions.Rollouts = slices.Clone(*o.Rollouts)
	}
	if len(o.ExtraArgs) > 0 {
		p.ControlPlane.ExtraArgs = mergeArgs(p.ControlPlane.ExtraArgs, o.ExtraArgs)
	}
	return p
}

// mergeArgs is base with over applied (see Overrides.ExtraArgs); neither
// input is changed.
func mergeArgs(base, over map[string][]string) map[string][]string {
	out := make(map[string][]string, len(base)+len(over))
	for comp, args := range base {
		out[comp] = slices.Clone(args)
	}
	for comp, args := range over {
		names := map[string]bool{}
		for _, a := range args {
			names[flagOf(a)] = true
		}
		out[comp] = append(slices.DeleteFunc(out[comp], func(a string) bool { return names[flagOf(a)] }), args...)
	}
	return out
}

// flagOf is the name of the flag an argument sets: "--a" for "--a=1".
func flagOf(arg string) string {
	name, _, _ := strings.Cut(arg, "=")
	return name
}
