// Package profiles defines the Profile a run follows: the cluster shape, the
// workload, the churn, the mesh and the observers and SLOs that judge it.
// Order of precedence: Defaults, then the profile file, then flags the user
// set, then Validate.
package profiles

import (
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// APIVersion and Kind identify a profile document.
const (
	APIVersion = "churn.dev/v1alpha1"
	Kind       = "Profile"
)

// Profile is one versioned run description.
type Profile struct {
	APIVersion  string       `json:"apiVersion"`
	Kind        string       `json:"kind"`
	Name        string       `json:"name"`
	Description string       `json:"description,omitempty"`
	Nodes       NodesSpec    `json:"nodes"`
	Workload    WorkloadSpec `json:"workload"`
	Churn       ChurnSpec    `json:"churn"`
	Mesh        MeshSpec     `json:"mesh"`
	// Not omitempty: an empty list (no observers) must not read back as
	// the default list.
	Observers []ObserverSpec `json:"observers"`
	// ControlPlane adjusts the local control plane churn starts.
	ControlPlane ControlPlaneSpec `json:"controlPlane,omitzero"`
	// SLOs overrides default SLO thresholds by name, e.g.
	// "mutating-p99": "1s", "error-ratio": "0.01".
	SLOs map[string]string `json:"slos,omitempty"`
	// Disruptions are faults, upgrades and rollouts during churn.
	Disruptions DisruptionsSpec `json:"disruptions,omitzero"`
}

// NodesSpec is the set of KWOK fake nodes a run creates.
type NodesSpec struct {
	Count  int    `json:"count"`
	CPU    string `json:"cpu,omitempty"`
	Memory string `json:"memory,omitempty"`
	Pods   int    `json:"pods,omitempty"`
	Zones  int    `json:"zones,omitempty"`
	// CreateQPS bounds node creation.
	CreateQPS float64 `json:"createQPS,omitempty"`
}

// WorkloadSpec is the set of namespaces, deployments and services churned.
type WorkloadSpec struct {
	Namespaces              int    `json:"namespaces"`
	DeploymentsPerNamespace int    `json:"deploymentsPerNamespace"`
	Replicas                int    `json:"replicas"`
	Image                   string `json:"image,omitempty"`
	// CreateQPS bounds object creation during setup.
	CreateQPS float64 `json:"createQPS,omitempty"`
	// ReadyTimeout bounds the ramp until every replica is Ready. Zero scales
	// with the workload size (see Profile.RampTimeout).
	ReadyTimeout metav1.Duration `json:"readyTimeout,omitzero"`
}

// ChurnSpec is the churn phase.
type ChurnSpec struct {
	Duration metav1.Duration `json:"duration"`
	// Seed fixes the action sequence; the same seed gives the same churn.
	// Not omitempty: 0 is a valid seed and must survive a round trip.
	Seed    int64       `json:"seed"`
	Scale   ScaleSpec   `json:"scale"`
	Relabel RelabelSpec `json:"relabel"`
	// MaxInFlight bounds the actions running at once; when it is reached the
	// next action waits and its lag is recorded (never skipped).
	MaxInFlight int `json:"maxInFlight,omitempty"`
	// ActionTimeout bounds one action's API calls; it also bounds how long
	// the end of the phase waits for actions still in flight.
	ActionTimeout metav1.Duration `json:"actionTimeout,omitempty"`
}

// ScaleSpec scales one random deployment every Interval to a uniform random
// count in [MinFactor, MaxFactor] x base replicas.
type ScaleSpec struct {
	Interval  metav1.Duration `json:"interval"`
	MinFactor float64         `json:"minFactor"`
	MaxFactor float64         `json:"maxFactor"`
}

// RelabelSpec relabels one random namespace every Interval (0 disables).
type RelabelSpec struct {
	Interval metav1.Duration `json:"interval"`
}

// MeshSpec selects the emulated mesh control plane.
type MeshSpec struct {
	// Name is one of none, istio-ambient, cilium, cilium-ces.
	Name string `json:"name,omitempty"`
	// AgentRolloutPerSecond paces per-node agent start-up like a DaemonSet.
	AgentRolloutPerSecond float64 `json:"agentRolloutPerSecond,omitempty"`
	// Istiod is "emulated" (default) or "real": with an istio mesh, real
	// runs pilot-discovery (bin/pilot-discovery, make istiod) in place of
	// the emulated istiod; the per-node agents stay emulated.
	Istiod string `json:"istiod,omitempty"`
	// Cilium is "emulated" (default) or "real": with a cilium mesh, real
	// runs the real cilium-operator (bin/cilium-operator-generic) in place
	// of the emulated one, and real cilium-agents (bin/cilium-agent, both
	// built by make cilium) on CiliumRealAgents of the nodes; the other
	// nodes' agents stay emulated.
	Cilium string `json:"cilium,omitempty"`
	// CiliumRealAgents is how many nodes run a real cilium-agent with
	// Cilium real (default DefaultCiliumRealAgents, at most the nodes).
	CiliumRealAgents int `json:"ciliumRealAgents,omitempty"`
	// SettleTimeout bounds the install phase: churn starts once the mesh
	// has settled (every watch synced, its steady-state objects written,
	// no 429 for SettleQuiet) or when this has passed, whichever is first.
	// 0 starts churn as soon as the mesh has started, without waiting.
	SettleTimeout metav1.Duration `json:"settleTimeout"`
	// SettleQuiet is how long the API server must have answered the mesh
	// no 429 for it to count as settled.
	SettleQuiet metav1.Duration `json:"settleQuiet"`
}

// RealCiliumAgents is how many nodes of nodes run a real cilium-agent:
// none unless Cilium is real.
func (m MeshSpec) RealCiliumAgents(nodes int) int {
	if m.Cilium != CiliumReal {
		return 0
	}
	n := m.CiliumRealAgents
	if n == 0 {
		n = DefaultCiliumRealAgents
	}
	return min(n, nodes)
}

// ControlPlaneComponents are the processes of the local control plane
// that take extra arguments.
var ControlPlaneComponents = []string{"etcd", "kube-apiserver", "kube-controller-manager", "kube-scheduler"}

// ControlPlaneSpec adjusts the local control plane. It applies to the
// control plane churn starts itself; a run against a --kubeconfig or
// --in-cluster target with extra arguments is refused.
type ControlPlaneSpec struct {
	// ExtraArgs are arguments appended to a component's command line after
	// churn's own, by component (ControlPlaneComponents), each one flag
	// written --name=value (or --name for a boolean), e.g.
	// kube-apiserver: ["--max-mutating-requests-inflight=100"]. Flags churn
	// sets itself (ports, certificates, data directory, kubeconfigs) are
	// refused.
	ExtraArgs map[string][]string `json:"extraArgs,omitempty"`
	// CPUs is the control plane's CPU budget (see CPUs): a cgroup CPU
	// quota on etcd, kube-apiserver, kube-controller-manager and
	// kube-scheduler together, so that kwok and churn (the simulator) keep
	// the rest of the machine. Default "auto": 75% of the CPUs online.
	CPUs CPUs `json:"cpus,omitempty"`
	// APIServers is how many kube-apiservers the local control plane runs
	// on its one etcd, behind a load balancer (HAProxy) when more than
	// one. Default 1.
	APIServers int `json:"apiservers,omitempty"`
}

// ObserverSpec enables one observer by registered name.
type ObserverSpec struct {
	Name     string            `json:"name"`
	Interval metav1.Duration   `json:"interval,omitzero"`
	Settings map[string]string `json:"settings,omitempty"`
}

// Deployments is the number of deployments the workload creates.
func (p Profile) Deployments() int {
	return p.Workload.Namespaces * p.Workload.DeploymentsPerNamespace
}

// TargetPods is the number of replicas the ramp waits for.
func (p Profile) TargetPods() int {
	return p.Deployments() * p.Workload.Replicas
}

// RampTimeout is Workload.ReadyTimeout, or when that is zero a bound that
// grows with the workload: the measured ramp on a 2-core machine is about
// 23 minutes for 50,000 pods, so allow 2 minutes plus 40 ms per pod
// (35 minutes for 50k), never less than 5 minutes.
func (p Profile) RampTimeout() time.Duration {
	if d := p.Workload.ReadyTimeout.Duration; d > 0 {
		return d
	}
	d := 2*time.Minute + time.Duration(p.TargetPods())*40*time.Millisecond
	return max(d, 5*time.Minute)
}
