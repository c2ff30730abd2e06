package profiles

import (
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// Mesh names accepted in MeshSpec.Name.
const (
	MeshNone         = "none"
	MeshIstioAmbient = "istio-ambient"
	MeshCilium       = "cilium"
	MeshCiliumCES    = "cilium-ces"
)

// Istiod modes accepted in MeshSpec.Istiod.
const (
	IstiodEmulated = "emulated"
	IstiodReal     = "real"
)

// Cilium modes accepted in MeshSpec.Cilium.
const (
	CiliumEmulated = "emulated"
	CiliumReal     = "real"
)

// DefaultCiliumRealAgents is how many nodes get a real cilium-agent with
// mesh.cilium real when mesh.ciliumRealAgents is not set.
const DefaultCiliumRealAgents = 5

// DefaultImage is the pod image. KWOK never pulls it; it only has to be a
// valid reference.
const DefaultImage = "registry.k8s.io/pause:3.10"

// defaultObservers are the observers a profile runs when it names none.
// Their names are defined by package observers. Read-only.
var defaultObservers = []string{
	"apiserver-metrics",
	"probes",
	"availability",
	"watch-propagation",
	"processes",
	"pod-startup",
}

// DefaultObserverNames returns the observers a profile runs when it names none.
func DefaultObserverNames() []string {
	return append([]string(nil), defaultObservers...)
}

// Defaults returns the profile every decoded profile starts from: the smoke
// shape with the public test's churn (scale one deployment every second to
// [0.85, 1.15] x base, relabel one namespace every minute).
func Defaults() Profile {
	observers := make([]ObserverSpec, 0, len(defaultObservers))
	for _, name := range defaultObservers {
		observers = append(observers, ObserverSpec{Name: name})
	}
	return Profile{
		APIVersion: APIVersion,
		Kind:       Kind,
		Nodes: NodesSpec{
			Count: 5,
			// Generous capacity so that pods-per-node, not CPU or memory,
			// is what bounds scheduling, as on the public test's nodes.
			CPU:       "32",
			Memory:    "256Gi",
			Pods:      110,
			Zones:     3,
			CreateQPS: 50,
		},
		Workload: WorkloadSpec{
			Namespaces:              5,
			DeploymentsPerNamespace: 1,
			Replicas:                10,
			Image:                   DefaultImage,
			CreateQPS:               50,
		},
		Churn: ChurnSpec{
			Duration: metav1.Duration{Duration: time.Minute},
			Seed:     1,
			Scale: ScaleSpec{
				Interval:  metav1.Duration{Duration: time.Second},
				MinFactor: 0.85,
				MaxFactor: 1.15,
			},
			Relabel:       RelabelSpec{Interval: metav1.Duration{Duration: time.Minute}},
			MaxInFlight:   8,
			ActionTimeout: metav1.Duration{Duration: 30 * time.Second},
		},
		Mesh: MeshSpec{
			Name:   MeshNone,
			Istiod: IstiodEmulated,
			Cilium: CiliumEmulated,
			// Long enough for 1,000 istio-cni agents to enrol 50,000 pods
			// on two cores; short enough that three arms of 50k-pods, one
			// of which never settles, fit in 40 minutes.
			SettleTimeout: metav1.Duration{Duration: 5 * time.Minute},
			SettleQuiet:   metav1.Duration{Duration: 30 * time.Second},
		},
		Observers: observers,
		// Sized from the machine when the run starts (local.AutoCPUBudget).
		ControlPlane: ControlPlaneSpec{CPUs: CPUsAuto},
	}
}
