// Package version records churn's own version and the versions of the
// control-plane components it builds (deploy/controlplane/go.mod pins them;
// a test keeps the two in step).
package version

// Churn is set at build time with -ldflags "-X .../version.Churn=...".
var Churn = "dev"

// Pinned component versions, as required by deploy/controlplane/go.mod.
const (
	Kubernetes = "v1.37.2"
	Etcd       = "v3.7.0"
	KWOK       = "v0.8.0"
)

// Component is one binary of the local control plane.
type Component struct {
	Name    string
	Version string
}

// Components lists the binaries `make controlplane` builds into bin/.
func Components() []Component {
	return []Component{
		{"etcd", Etcd},
		{"kube-apiserver", Kubernetes},
		{"kube-controller-manager", Kubernetes},
		{"kube-scheduler", Kubernetes},
		{"kwok", KWOK},
	}
}
