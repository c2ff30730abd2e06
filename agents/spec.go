package agents

import (
	"time"

	"github.com/churn-dev/churn/agents/watch"
)

// Mesh names.
const (
	MeshNone         = "none"
	MeshIstioAmbient = "istio-ambient"
	MeshCilium       = "cilium"
	MeshCiliumCES    = "cilium-ces"
)

// Behaviour kinds: the code that turns a component's watch events into its
// writes and periodic work.
const (
	behaviourNone           = ""
	behaviourIstiod         = "istiod"
	behaviourIstioCNI       = "istio-cni"
	behaviourCiliumAgent    = "cilium-agent"
	behaviourCiliumOperator = "cilium-operator"
)

// Feeds name the event streams a behaviour consumes. A watch without a feed
// only produces traffic: its list items are skipped unread.
const (
	feedNone           = ""
	feedLocalPods      = "local-pods"
	feedAllPods        = "all-pods"
	feedOwnNode        = "own-node"
	feedNamespaces     = "namespaces"
	feedRootCertMaps   = "root-cert-configmaps"
	feedIdentities     = "identities"
	feedEndpoints      = "endpoints"
	feedEndpointSlices = "endpoint-slices"
	// feedSavedSlices is cilium-operator's CiliumEndpointSlice watch, from
	// which it adopts the slices that exist when it starts.
	feedSavedSlices = "saved-endpoint-slices"
)

// MeshSpec is one mesh: its components and the CRDs it needs.
type MeshSpec struct {
	Name       string
	Components []ComponentSpec
	// CRDSet names the CRD bundle to install (see package crds).
	CRDSet string
	// Policies: one CiliumNetworkPolicy per run namespace.
	Policies bool
	// EndpointSlices: the operator batches CEPs into CiliumEndpointSlices.
	EndpointSlices bool
}

// ComponentSpec is one component kind of a mesh.
type ComponentSpec struct {
	Name string
	// PerNode runs one replica per node (a DaemonSet); otherwise Replicas.
	PerNode  bool
	Replicas int
	// ServiceAccount is the namespace/name the component impersonates
	// (suffixed with the run so it never matches a real account).
	ServiceAccountNamespace string
	ServiceAccountName      string
	// UserAgent is sent as is, shaped like client-go's
	// "<binary>/<version> (<os>/<arch>) ...".
	UserAgent string
	Clients   []ClientSpec
	Watches   []WatchDef
	// StreamingList: the component's informers sync with streaming
	// WATCHes, as client-go v0.35 and later does by default (see
	// watch.WatchSpec.StreamingList); otherwise LIST then WATCH.
	StreamingList bool
	Behaviour     string
	// Writes are the RBAC rules the behaviour needs beyond its watches.
	Writes []Rule
	// Leases are the leader elections each replica runs.
	Leases []LeaseSpec
}

// ClientSpec is one rest.Config of a component: its own token bucket.
type ClientSpec struct {
	Name  string
	QPS   float64
	Burst int
}

// WatchDef is one informer: what it lists and watches, on which client.
type WatchDef struct {
	Client                   string
	Group, Version, Resource string
	// Namespace scopes the watch; "" is all namespaces.
	Namespace string
	// Selectors may use {{node}}, replaced by the replica's node name.
	LabelSelector string
	FieldSelector string
	// Protobuf for built-in kinds (as the real clients configure); JSON
	// for custom resources.
	Protobuf     bool
	MetadataOnly bool
	Fields       watch.Fields
	Feed         string
	Lag          string
	LagFrom      watch.LagSource
}

// Rule is one RBAC rule.
type Rule struct {
	Group     string
	Resources []string
	Verbs     []string
}

// LeaseSpec is one leader election (coordination.k8s.io Lease in the run's
// mesh namespace).
type LeaseSpec struct {
	Name          string
	LeaseDuration time.Duration
	RenewDeadline time.Duration
	RetryPeriod   time.Duration
	// Gates says the component's periodic work runs only while it leads.
	Gates bool
	// GetBeforeRenew renews with GET then PUT every time, as istio's fork
	// of the elector does, instead of client-go's optimistic PUT.
	GetBeforeRenew bool
}
