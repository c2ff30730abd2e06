package agents

import "fmt"

// Components selects which of a mesh's components Start runs, so that the
// per-node agents can run in other processes (churn agents shards) than
// the central components and the setup (churn run --agents external).
type Components string

const (
	// ComponentsAll is the setup and every component, in this process.
	ComponentsAll Components = ""
	// ComponentsCentral is the setup and the replicated components
	// (istiod, cilium-operator). The per-node agents are left to shards:
	// Start announces the run to them and grants their service account
	// the impersonation it needs (external.go); Stop collects their
	// counters into the summary.
	ComponentsCentral Components = "central"
	// ComponentsPerNode is only the per-node agents, for Config.Nodes,
	// with no setup: the run that announced them did it, including the
	// RBAC of the accounts they impersonate.
	ComponentsPerNode Components = "per-node"
)

// Where the per-node agents of a run go (churn run --agents).
const (
	AgentsInternal = "internal"
	AgentsExternal = "external"
)

// ComponentsFor maps a run's --agents value to what it starts itself.
func ComponentsFor(agents string) (Components, error) {
	switch agents {
	case AgentsInternal, "":
		return ComponentsAll, nil
	case AgentsExternal:
		return ComponentsCentral, nil
	}
	return "", fmt.Errorf("must be %s or %s", AgentsInternal, AgentsExternal)
}

func (c Components) valid() bool {
	switch c {
	case ComponentsAll, ComponentsCentral, ComponentsPerNode:
		return true
	}
	return false
}

// runs reports whether c includes the component cs.
func (c Components) runs(cs ComponentSpec) bool {
	switch c {
	case ComponentsCentral:
		return !cs.PerNode
	case ComponentsPerNode:
		return cs.PerNode
	}
	return true
}

// setsUp reports whether Start installs CRDs, RBAC, the namespace and
// policies.
func (c *Config) setsUp() bool { return !c.SkipSetup && c.Components != ComponentsPerNode }
