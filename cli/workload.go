package cli

import (
	"fmt"
	"time"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/churn-dev/churn/observers"
	"github.com/churn-dev/churn/profiles"
	"github.com/churn-dev/churn/runner"
)

// workloadFlags are the flags that pick and adjust a profile, shared by
// churn run and the arms of churn compare so both resolve it the same way.
type workloadFlags struct {
	profile  string
	duration time.Duration
	nodes    int
	seed     int64
	slos     []string
	settle   time.Duration
	// cpus is --control-plane-cpus.
	cpus string
	// apiservers, faults and upgrade are --apiservers, --fault and
	// --upgrade.
	apiservers int
	faults     []string
	upgrade    string
	// rollouts are --rollout; churn compare makes an arm of each when
	// there are several (compare_arms.go).
	rollouts []string
}

func (w *workloadFlags) register(f *pflag.FlagSet, defaultProfile string) {
	f.StringVar(&w.profile, "profile", defaultProfile, "built-in profile name (see: churn profiles) or a profile YAML file")
	f.DurationVar(&w.duration, "duration", 0, "override the churn phase duration")
	f.IntVar(&w.nodes, "nodes", 0, "override the number of fake nodes")
	f.Int64Var(&w.seed, "seed", 0, "override the seed of the churn sequence (same seed, same actions)")
	f.DurationVar(&w.settle, "settle-timeout", 0, "override mesh.settleTimeout: how long churn waits for the mesh to settle (watches synced, its objects written, no 429 for mesh.settleQuiet) before it starts anyway; 0 does not wait (default from the profile, 5m)")
	registerControlPlaneCPUs(f, &w.cpus, "", "; overrides the profile's controlPlane.cpus (default auto)")
	f.IntVar(&w.apiservers, "apiservers", 1, fmt.Sprintf("local control plane: run this many kube-apiservers on the one etcd, behind an HAProxy load balancer that every client goes through (1 to %d); overrides the profile's controlPlane.apiservers", profiles.MaxAPIServers))
	f.StringArrayVar(&w.faults, "fault", nil, "kill a local control-plane process during churn and start it again: PROCESS-kill@AT[+DOWN], PROCESS one of etcd, kube-apiserver (kube-apiserver-2 ... with --apiservers), kube-controller-manager, kube-scheduler, kwok; AT from the start of churn; DOWN default "+profiles.DefaultFaultDowntime.String()+" (e.g. etcd-kill@3m, kwok-kill@90s+30s; repeatable; replaces the profile's disruptions.faults)")
	f.StringVar(&w.upgrade, "upgrade", "", "rolling upgrade of the local control plane during churn: kubernetes=VERSION@AT replaces each kube-apiserver in turn (graceful termination, wait until Ready), then kube-controller-manager and kube-scheduler, with the release built by make controlplane K8S_VERSION=VERSION (e.g. --kubernetes-version v1.36.3 --upgrade kubernetes=v1.37.2@3m); overrides the profile's disruptions.upgrade")
	f.StringArrayVar(&w.rollouts, "rollout", nil, "restart the mesh's agents during churn in waves, as a DaemonSet or Deployment rollout does (real ones, with --cilium real or --istiod real, as processes): COMPONENT@AT[,maxUnavailable=N|P%], COMPONENT one of cilium-agent, cilium-operator (cilium meshes), istio-cni, istiod (istio-ambient); each wave of maxUnavailable (default 1; a percentage rounds up) starts when the previous wave's agents are ready (e.g. cilium-agent@3m,maxUnavailable=10%; repeatable; replaces the profile's disruptions.rollouts; with churn compare --profile, several make one arm each)")
	f.StringArrayVar(&w.slos, "slo", nil, "override an SLO threshold, NAME=VALUE (repeatable), e.g. mutating-p99=1s, error-ratio=1%")
}

// resolve loads the profile with the flags the user set (mesh may be nil)
// and validates it and the SLO overrides.
func (w *workloadFlags) resolve(cmd *cobra.Command, mesh *string) (profiles.Profile, map[string]string, error) {
	flags := cmd.Flags()
	var o profiles.Overrides
	if flags.Changed("duration") {
		o.Duration = &w.duration
	}
	if flags.Changed("nodes") {
		o.Nodes = &w.nodes
	}
	if flags.Changed("seed") {
		o.Seed = &w.seed
	}
	if flags.Changed("settle-timeout") {
		o.SettleTimeout = &w.settle
	}
	o.Mesh = mesh
	if flags.Changed("apiservers") {
		o.APIServers = &w.apiservers
	}
	if flags.Changed("fault") {
		o.Faults = &w.faults
	}
	if flags.Changed("upgrade") {
		o.Upgrade = &w.upgrade
	}
	if flags.Changed("rollout") {
		o.Rollouts = &w.rollouts
	}
	cpus, err := controlPlaneCPUsOverride(cmd, w.cpus)
	if err != nil {
		return profiles.Profile{}, nil, err
	}
	o.ControlPlaneCPUs = cpus
	p, err := profiles.Resolve(w.profile, o, observers.Known)
	if err != nil {
		return profiles.Profile{}, nil, fmt.Errorf("--profile %s: %w", w.profile, err)
	}
	overrides, err := observers.ParseSLOFlags(w.slos)
	if err != nil {
		return profiles.Profile{}, nil, err
	}
	if err := observers.ValidateOverrides(runner.MergeSLOs(p.SLOs, overrides)); err != nil {
		return profiles.Profile{}, nil, err
	}
	return p, overrides, nil
}
