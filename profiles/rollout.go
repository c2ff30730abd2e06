package profiles

import (
	"fmt"
	"strconv"
	"strings"
	"time"

	"k8s.io/apimachinery/pkg/util/validation/field"
)

// Mesh components a rollout restarts: the DaemonSets' per-node agents and
// the Deployments' replicas, emulated or real processes.
const (
	RolloutCiliumAgent    = "cilium-agent"
	RolloutCiliumOperator = "cilium-operator"
	RolloutIstioCNI       = "istio-cni"
	RolloutIstiod         = "istiod"
)

// rolloutMeshes are the meshes that run each component.
var rolloutMeshes = map[string][]string{
	RolloutCiliumAgent:    {MeshCilium, MeshCiliumCES},
	RolloutCiliumOperator: {MeshCilium, MeshCiliumCES},
	RolloutIstioCNI:       {MeshIstioAmbient},
	RolloutIstiod:         {MeshIstioAmbient},
}

// DefaultMaxUnavailable is a rollout's wave size when the spec gives none:
// the DaemonSet controller's default.
const DefaultMaxUnavailable = 1

// RolloutSpec is one parsed rollout: At into churn, restart every replica
// (emulated or real process) of Component, MaxUnavailable (or Percent of
// them) at a time.
type RolloutSpec struct {
	Spec      string
	Component string
	At        time.Duration
	// MaxUnavailable is the wave size as a count; 0 when Percent is set.
	MaxUnavailable int
	// Percent is the wave size as a percentage of the replicas (1-100).
	Percent int
}

// ParseRollout reads COMPONENT@AT[,maxUnavailable=N|P%], e.g.
// cilium-agent@3m,maxUnavailable=10%. COMPONENT is one of cilium-agent,
// cilium-operator, istio-cni, istiod; maxUnavailable defaults to
// DefaultMaxUnavailable.
func ParseRollout(spec string) (RolloutSpec, error) {
	s := strings.TrimSpace(spec)
	head, opts, _ := strings.Cut(s, ",")
	what, when, ok := strings.Cut(head, "@")
	if !ok {
		return RolloutSpec{}, fmt.Errorf("%q: want COMPONENT@AT[,maxUnavailable=N|P%%], e.g. cilium-agent@3m,maxUnavailable=10%%", spec)
	}
	what = strings.TrimSpace(what)
	if what == "ztunnel" {
		// ztunnel takes its configuration from istiod over xDS and calls
		// no API server; churn does not emulate it.
		return RolloutSpec{}, fmt.Errorf("%q: ztunnel is not emulated (it talks to istiod, not to the API server); the istio-ambient node agent churn restarts is istio-cni", spec)
	}
	if _, ok := rolloutMeshes[what]; !ok {
		return RolloutSpec{}, fmt.Errorf("%q: unknown component %q; want one of %s, %s, %s, %s", spec, what,
			RolloutCiliumAgent, RolloutCiliumOperator, RolloutIstioCNI, RolloutIstiod)
	}
	r := RolloutSpec{Spec: s, Component: what, MaxUnavailable: DefaultMaxUnavailable}
	at, err := time.ParseDuration(strings.TrimSpace(when))
	if err != nil || at < 0 {
		return RolloutSpec{}, fmt.Errorf("%q: time %q: want a duration from the start of churn, e.g. 3m", spec, when)
	}
	r.At = at
	for _, opt := range strings.Split(opts, ",") {
		opt = strings.TrimSpace(opt)
		if opt == "" && opts == "" {
			continue
		}
		key, val, _ := strings.Cut(opt, "=")
		if key != "maxUnavailable" {
			return RolloutSpec{}, fmt.Errorf("%q: unknown setting %q; the one setting is maxUnavailable=N or P%%", spec, opt)
		}
		if p, isPct := strings.CutSuffix(val, "%"); isPct {
			n, err := strconv.Atoi(p)
			if err != nil || n < 1 || n > 100 {
				return RolloutSpec{}, fmt.Errorf("%q: maxUnavailable %q: want a percentage from 1%% to 100%%", spec, val)
			}
			r.MaxUnavailable, r.Percent = 0, n
			continue
		}
		n, err := strconv.Atoi(val)
		if err != nil || n < 1 {
			return RolloutSpec{}, fmt.Errorf("%q: maxUnavailable %q: want a count of at least 1 or a percentage, e.g. 2 or 10%%", spec, val)
		}
		r.MaxUnavailable, r.Percent = n, 0
	}
	return r, nil
}

// MaxUnavailableString is the wave size as written: "2" or "10%".
func (r RolloutSpec) MaxUnavailableString() string {
	if r.Percent > 0 {
		return strconv.Itoa(r.Percent) + "%"
	}
	return strconv.Itoa(r.MaxUnavailable)
}

// WaveSize is how many of replicas restart at a time: a percentage rounds
// up, as the DaemonSet controller scales maxUnavailable, and a wave holds
// at least one replica and at most all of them.
func (r RolloutSpec) WaveSize(replicas int) int {
	n := r.MaxUnavailable
	if r.Percent > 0 {
		n = (replicas*r.Percent + 99) / 100
	}
	return max(1, min(n, replicas))
}

// Waves splits replicas, in order, into the rollout's waves.
func (r RolloutSpec) Waves(replicas []string) [][]string {
	if len(replicas) == 0 {
		return nil
	}
	size := r.WaveSize(len(replicas))
	var out [][]string
	for i := 0; i < len(replicas); i += size {
		out = append(out, replicas[i:min(i+size, len(replicas))])
	}
	return out
}

// validateRollouts checks disruptions.rollouts: each parses, names a
// component the profile's mesh runs, and is due within churn. Real
// components (mesh.cilium real, mesh.istiod real) restart as processes.
func (p Profile) validateRollouts(path *field.Path) field.ErrorList {
	var errs field.ErrorList
	mesh := p.Mesh.Name
	if mesh == "" {
		mesh = MeshNone
	}
	churnFor := p.Churn.Duration.Duration
	for i, s := range p.Disruptions.Rollouts {
		fp := path.Index(i)
		r, err := ParseRollout(s)
		if err != nil {
			errs = append(errs, field.Invalid(fp, s, err.Error()))
			continue
		}
		runs := false
		for _, m := range rolloutMeshes[r.Component] {
			runs = runs || m == mesh
		}
		switch {
		case !runs:
			errs = append(errs, field.Invalid(fp, s, fmt.Sprintf("mesh %s runs no %s (mesh.name; %s runs in %s)",
				mesh, r.Component, r.Component, strings.Join(rolloutMeshes[r.Component], ", "))))
		}
		if churnFor > 0 && r.At >= churnFor {
			errs = append(errs, field.Invalid(fp, s, fmt.Sprintf("%s is not within the churn phase (%s)", r.At, churnFor)))
		}
	}
	return errs
}
