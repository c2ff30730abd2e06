package profiles

import (
	"fmt"
	"math"
	"slices"
	"strings"
	"time"

	"k8s.io/apimachinery/pkg/api/resource"
	"k8s.io/apimachinery/pkg/util/sets"
	"k8s.io/apimachinery/pkg/util/validation"
	"k8s.io/apimachinery/pkg/util/validation/field"
)

// Limits a profile must stay within. Node and pod counts follow the
// Kubernetes scalability thresholds (sig-scalability/slos/slos.md).
const (
	MaxNodes                   = 5000
	MaxPodsPerNode             = 1000
	MaxTotalPods               = 150000
	MaxNamespaces              = 10000
	MaxDeploymentsPerNamespace = 100
	MaxReplicas                = 10000
	MaxInFlight                = 1000
	// MinScaleInterval keeps the pacer well above timer resolution.
	MinScaleInterval = 10 * time.Millisecond
	// MaxScaleFactor stops a typo (115 instead of 1.15) from asking for a
	// hundredfold scale-up.
	MaxScaleFactor = 10
)

var (
	meshNames   = sets.New(MeshNone, MeshIstioAmbient, MeshCilium, MeshCiliumCES)
	istiodModes = sets.New(IstiodEmulated, IstiodReal)
	ciliumModes = sets.New(CiliumEmulated, CiliumReal)
	// ciliumMeshes are the meshes with Cilium components.
	ciliumMeshes = sets.New(MeshCilium, MeshCiliumCES)
	// istioMeshes are the meshes with an istiod, emulated or real.
	istioMeshes = sets.New(MeshIstioAmbient)
)

// Validate reports every problem in p, each with its field path. Observer
// names are not checked here, because the registry of observers lives in
// package observers; use ValidateWith for that.
func (p Profile) Validate() error {
	return p.ValidateWith(nil)
}

// ValidateWith is Validate plus a check of each observer name against
// knownObserver (nil skips that check).
func (p Profile) ValidateWith(knownObserver func(name string) bool) error {
	errs := p.validate(knownObserver)
	if len(errs) == 0 {
		return nil
	}
	name := p.Name
	if name == "" {
		name = "(unnamed)"
	}
	return fmt.Errorf("profile %s is invalid: %w", name, errs.ToAggregate())
}

func (p Profile) validate(knownObserver func(string) bool) field.ErrorList {
	var errs field.ErrorList
	if p.APIVersion != APIVersion {
		errs = append(errs, field.NotSupported(field.NewPath("apiVersion"), p.APIVersion, []string{APIVersion}))
	}
	if p.Kind != Kind {
		errs = append(errs, field.NotSupported(field.NewPath("kind"), p.Kind, []string{Kind}))
	}
	namePath := field.NewPath("name")
	if p.Name == "" {
		errs = append(errs, field.Required(namePath, "a profile needs a name"))
	} else {
		for _, msg := range validation.IsDNS1123Label(p.Name) {
			errs = append(errs, field.Invalid(namePath, p.Name, msg))
		}
	}
	errs = append(errs, p.validateNodes(field.NewPath("nodes"))...)
	errs = append(errs, p.validateWorkload(field.NewPath("workload"))...)
	errs = append(errs, p.validateChurn(field.NewPath("churn"))...)
	errs = append(errs, p.validateMesh(field.NewPath("mesh"))...)
	errs = append(errs, p.validateObservers(field.NewPath("observers"), knownObserver)...)
	errs = append(errs, p.validateControlPlane(field.NewPath("controlPlane", "extraArgs"))...)
	errs = append(errs, p.validateControlPlaneCPUs(field.NewPath("controlPlane", "cpus"))...)
	errs = append(errs, p.validateDisruptions(field.NewPath("disruptions"))...)
	for k := range p.SLOs {
		if k == "" {
			errs = append(errs, field.Invalid(field.NewPath("slos"), k, "SLO names must not be empty"))
		}
	}
	return errs
}

func (p Profile) validateNodes(path *field.Path) field.ErrorList {
	var errs field.ErrorList
	n := p.Nodes
	errs = append(errs, intRange(path.Child("count"), n.Count, 1, MaxNodes)...)
	errs = append(errs, intRange(path.Child("pods"), n.Pods, 1, MaxPodsPerNode)...)
	// Zones are named zone-a..zone-z; more zones than nodes just leaves some empty.
	errs = append(errs, intRange(path.Child("zones"), n.Zones, 1, 26)...)
	errs = append(errs, quantity(path.Child("cpu"), n.CPU)...)
	errs = append(errs, quantity(path.Child("memory"), n.Memory)...)
	if !(n.CreateQPS > 0) {
		errs = append(errs, field.Invalid(path.Child("createQPS"), n.CreateQPS, "must be > 0"))
	}
	// The nodes must hold the workload at its largest churned size.
	peak := int(math.Ceil(float64(p.TargetPods())*p.Churn.Scale.MaxFactor - factorEpsilon))
	if capacity := n.Count * n.Pods; n.Count > 0 && n.Pods > 0 && peak > capacity {
		errs = append(errs, field.Invalid(path.Child("pods"), n.Pods, fmt.Sprintf(
			"%d nodes x %d pods = %d pods of capacity, but the workload peaks at %d pods (%d x churn.scale.maxFactor %g)",
			n.Count, n.Pods, capacity, peak, p.TargetPods(), p.Churn.Scale.MaxFactor)))
	}
	return errs
}

func (p Profile) validateWorkload(path *field.Path) field.ErrorList {
	var errs field.ErrorList
	w := p.Workload
	errs = append(errs, intRange(path.Child("namespaces"), w.Namespaces, 1, MaxNamespaces)...)
	errs = append(errs, intRange(path.Child("deploymentsPerNamespace"), w.DeploymentsPerNamespace, 1, MaxDeploymentsPerNamespace)...)
	errs = append(errs, intRange(path.Child("replicas"), w.Replicas, 1, MaxReplicas)...)
	if total := p.TargetPods(); total > MaxTotalPods {
		errs = append(errs, field.Invalid(path, total, fmt.Sprintf(
			"namespaces x deploymentsPerNamespace x replicas = %d pods, above the %d-pod scalability threshold", total, MaxTotalPods)))
	}
	if w.Image == "" {
		errs = append(errs, field.Required(path.Child("image"), ""))
	}
	if !(w.CreateQPS > 0) {
		errs = append(errs, field.Invalid(path.Child("createQPS"), w.CreateQPS, "must be > 0"))
	}
	if w.ReadyTimeout.Duration < 0 {
		errs = append(errs, field.Invalid(path.Child("readyTimeout"), w.ReadyTimeout.Duration.String(), "must be >= 0 (0 scales with the workload)"))
	}
	return errs
}

func (p Profile) validateChurn(path *field.Path) field.ErrorList {
	var errs field.ErrorList
	c := p.Churn
	if c.Duration.Duration <= 0 {
		errs = append(errs, field.Invalid(path.Child("duration"), c.Duration.Duration.String(), "must be > 0"))
	}
	scale := path.Child("scale")
	if c.Scale.Interval.Duration < MinScaleInterval {
		errs = append(errs, field.Invalid(scale.Child("interval"), c.Scale.Interval.Duration.String(), fmt.Sprintf("must be >= %s", MinScaleInterval)))
	}
	minOK := c.Scale.MinFactor > 0 && c.Scale.MinFactor <= c.Scale.MaxFactor
	if !minOK {
		errs = append(errs, field.Invalid(scale.Child("minFactor"), c.Scale.MinFactor, fmt.Sprintf("must be > 0 and <= maxFactor (%g)", c.Scale.MaxFactor)))
	}
	if !(c.Scale.MaxFactor > 0 && c.Scale.MaxFactor <= MaxScaleFactor) {
		errs = append(errs, field.Invalid(scale.Child("maxFactor"), c.Scale.MaxFactor, fmt.Sprintf("must be > 0 and <= %d", MaxScaleFactor)))
	}
	if minOK && p.Workload.Replicas > 0 {
		lo, hi := ReplicaRange(p.Workload.Replicas, c.Scale.MinFactor, c.Scale.MaxFactor)
		if lo > hi {
			errs = append(errs, field.Invalid(scale, fmt.Sprintf("[%g, %g]", c.Scale.MinFactor, c.Scale.MaxFactor), fmt.Sprintf(
				"no whole replica count lies in [%g, %g] x %d replicas", c.Scale.MinFactor, c.Scale.MaxFactor, p.Workload.Replicas)))
		}
	}
	if c.Relabel.Interval.Duration < 0 {
		errs = append(errs, field.Invalid(path.Child("relabel", "interval"), c.Relabel.Interval.Duration.String(), "must be >= 0 (0 disables relabelling)"))
	}
	errs = append(errs, intRange(path.Child("maxInFlight"), c.MaxInFlight, 1, MaxInFlight)...)
	if c.ActionTimeout.Duration <= 0 {
		errs = append(errs, field.Invalid(path.Child("actionTimeout"), c.ActionTimeout.Duration.String(), "must be > 0"))
	}
	return errs
}

func (p Profile) validateMesh(path *field.Path) field.ErrorList {
	var errs field.ErrorList
	if !meshNames.Has(p.Mesh.Name) {
		errs = append(errs, field.NotSupported(path.Child("name"), p.Mesh.Name, sets.List(meshNames)))
	}
	switch {
	case p.Mesh.Istiod == IstiodReal && !istioMeshes.Has(p.Mesh.Name):
		// Refused rather than silently ignored: only istio meshes run istiod.
		errs = append(errs, field.Invalid(path.Child("istiod"), p.Mesh.Istiod,
			fmt.Sprintf("the real istiod runs with an istio mesh (%s), not with mesh %q", strings.Join(sets.List(istioMeshes), ", "), p.Mesh.Name)))
	case !istiodModes.Has(p.Mesh.Istiod):
		errs = append(errs, field.NotSupported(path.Child("istiod"), p.Mesh.Istiod, sets.List(istiodModes)))
	}
	switch {
	case p.Mesh.Cilium == CiliumReal && !ciliumMeshes.Has(p.Mesh.Name):
		errs = append(errs, field.Invalid(path.Child("cilium"), p.Mesh.Cilium,
			fmt.Sprintf("real Cilium runs with a cilium mesh (%s), not with mesh %q", strings.Join(sets.List(ciliumMeshes), ", "), p.Mesh.Name)))
	case !ciliumModes.Has(p.Mesh.Cilium):
		errs = append(errs, field.NotSupported(path.Child("cilium"), p.Mesh.Cilium, sets.List(ciliumModes)))
	}
	switch {
	case p.Mesh.CiliumRealAgents < 0:
		errs = append(errs, field.Invalid(path.Child("ciliumRealAgents"), p.Mesh.CiliumRealAgents, "must be >= 0 (0: the default, 5)"))
	case p.Mesh.CiliumRealAgents > 0 && p.Mesh.Cilium != CiliumReal:
		errs = append(errs, field.Invalid(path.Child("ciliumRealAgents"), p.Mesh.CiliumRealAgents, "applies with mesh.cilium real only"))
	}
	if p.Mesh.SettleTimeout.Duration < 0 {
		errs = append(errs, field.Invalid(path.Child("settleTimeout"), p.Mesh.SettleTimeout.Duration.String(), "must be >= 0 (0 starts churn without waiting for the mesh to settle)"))
	}
	if p.Mesh.SettleQuiet.Duration < 0 {
		errs = append(errs, field.Invalid(path.Child("settleQuiet"), p.Mesh.SettleQuiet.Duration.String(), "must be >= 0"))
	}
	if p.Mesh.AgentRolloutPerSecond < 0 {
		errs = append(errs, field.Invalid(path.Child("agentRolloutPerSecond"), p.Mesh.AgentRolloutPerSecond, "must be >= 0"))
	}
	return errs
}

func (p Profile) validateObservers(path *field.Path, known func(string) bool) field.ErrorList {
	var errs field.ErrorList
	seen := sets.New[string]()
	for i, o := range p.Observers {
		namePath := path.Index(i).Child("name")
		switch {
		case o.Name == "":
			errs = append(errs, field.Required(namePath, ""))
		case seen.Has(o.Name):
			errs = append(errs, field.Duplicate(namePath, o.Name))
		case known != nil && !known(o.Name):
			errs = append(errs, field.Invalid(namePath, o.Name, "no observer is registered under this name"))
		}
		seen.Insert(o.Name)
		if o.Interval.Duration < 0 {
			errs = append(errs, field.Invalid(path.Index(i).Child("interval"), o.Interval.Duration.String(), "must be >= 0"))
		}
	}
	return errs
}

// validateControlPlane checks the shape of the extra arguments: known
// components, one flag per entry. Which flags churn sets itself is known
// to the package that builds the command lines (local.ValidateExtraArgs),
// which a run also applies.
func (p Profile) validateControlPlane(path *field.Path) field.ErrorList {
	var errs field.ErrorList
	for comp, args := range p.ControlPlane.ExtraArgs {
		if !slices.Contains(ControlPlaneComponents, comp) {
			errs = append(errs, field.NotSupported(path.Key(comp), comp, ControlPlaneComponents))
			continue
		}
		for i, a := range args {
			if !strings.HasPrefix(a, "--") || len(a) == 2 || a[2] == '=' {
				errs = append(errs, field.Invalid(path.Key(comp).Index(i), a, "each argument is one flag, written --name=value, or --name for a boolean"))
			}
		}
	}
	return errs
}

func intRange(path *field.Path, v, lo, hi int) field.ErrorList {
	if v < lo || v > hi {
		return field.ErrorList{field.Invalid(path, v, fmt.Sprintf("must be between %d and %d", lo, hi))}
	}
	return nil
}

func quantity(path *field.Path, v string) field.ErrorList {
	if v == "" {
		return field.ErrorList{field.Required(path, "")}
	}
	q, err := resource.ParseQuantity(v)
	if err != nil {
		return field.ErrorList{field.Invalid(path, v, err.Error())}
	}
	if q.Sign() <= 0 {
		return field.ErrorList{field.Invalid(path, v, "must be > 0")}
	}
	return nil
}

// factorEpsilon absorbs binary floating point error: 1.15 x 100 is
// 114.99999999999999 in float64, which must still allow 115 replicas.
const factorEpsilon = 1e-9

// ReplicaRange is the whole replica counts in [minFactor, maxFactor] x base,
// the range a scale action draws from. lo > hi means the range is empty.
func ReplicaRange(base int, minFactor, maxFactor float64) (lo, hi int) {
	lo = int(math.Ceil(float64(base)*minFactor - factorEpsilon))
	hi = int(math.Floor(float64(base)*maxFactor + factorEpsilon))
	return lo, hi
}
