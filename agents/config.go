package agents

import (
	"errors"
	"fmt"
	"strings"
	"time"

	"go.uber.org/zap"
	"k8s.io/client-go/rest"
	"k8s.io/utils/clock"
)

// Defaults.
const (
	DefaultRolloutPerSecond         = 20
	DefaultIdentityGCInterval       = 15 * time.Minute
	DefaultIdentityHeartbeatTimeout = 30 * time.Minute
	DefaultEndpointGCInterval       = 5 * time.Minute
	DefaultEndpointSyncInterval     = 10 * time.Second
	DefaultShardServiceAccount      = "churn/churn-agents"
	DefaultShardReportTimeout       = 30 * time.Second
)

// Config is what Start needs.
type Config struct {
	RESTConfig *rest.Config
	// Mesh is one of Meshes().
	Mesh string
	// Nodes are the nodes per-node agents run for (after any sharding).
	Nodes []string
	RunID string
	// RunLabels mark everything the emulation creates; writes only touch
	// objects and namespaces that carry them.
	RunLabels map[string]string
	// Namespaces are the run's workload namespaces (policies go there).
	Namespaces []string
	// RolloutPerSecond paces per-node agent start-up like a DaemonSet
	// rollout (default 20/s).
	RolloutPerSecond float64
	Clock            clock.WithTicker
	Logger           *zap.Logger

	// IdentityGCInterval is cilium-operator's identity GC period (15 min).
	IdentityGCInterval time.Duration
	// IdentityHeartbeatTimeout is how long an identity stays marked unused
	// before it is deleted (30 min).
	IdentityHeartbeatTimeout time.Duration
	// EndpointGCInterval is the orphan CiliumEndpoint GC period (5 min).
	EndpointGCInterval time.Duration
	// EndpointSyncInterval is cilium-agent's CiliumEndpoint sync (10 s).
	EndpointSyncInterval time.Duration
	// DisableImpersonation runs every component with RESTConfig's own
	// identity (no RBAC objects; an admin is exempt from APF).
	DisableImpersonation bool
	// NetHTTPWatches carries watches over net/http (two goroutines and a
	// few kilobytes per open watch) instead of watch.Mux (one reader per
	// HTTP/2 connection). For comparison and as a fallback.
	NetHTTPWatches bool
	// SkipSetup leaves CRDs, RBAC, the mesh namespace and policies to the
	// caller (tests, or a cluster prepared beforehand).
	SkipSetup bool

	// Components selects what Start runs (default all; see Components).
	Components Components
	// ShardServiceAccount ("namespace/name") is the identity of the churn
	// agents shards a ComponentsCentral run grants impersonation of its
	// per-node accounts (default DefaultShardServiceAccount).
	ShardServiceAccount string
	// ShardReportTimeout bounds how long Stop waits for the shards' final
	// counters (default 30 s).
	ShardReportTimeout time.Duration
	// StandIns maps a component name to a real process that runs instead
	// of its emulated replicas (see StandIn).
	StandIns map[string]StandIn
	// NodeStandIns replaces a per-node component with real processes on
	// some nodes (component name -> node -> stand-in); the other nodes
	// keep the emulation. Each starts in the rollout, in its node's turn.
	NodeStandIns map[string]map[string]StandIn
	// ExtraCRDSets are CRD sets (agents/crds) installed beside the mesh's
	// own, for what real stand-ins wait for.
	ExtraCRDSets []string
}

func (c *Config) setDefaults() {
	if c.RolloutPerSecond <= 0 {
		c.RolloutPerSecond = DefaultRolloutPerSecond
	}
	if c.Clock == nil {
		c.Clock = clock.RealClock{}
	}
	if c.Logger == nil {
		c.Logger = zap.NewNop()
	}
	if c.IdentityGCInterval <= 0 {
		c.IdentityGCInterval = DefaultIdentityGCInterval
	}
	if c.IdentityHeartbeatTimeout <= 0 {
		c.IdentityHeartbeatTimeout = DefaultIdentityHeartbeatTimeout
	}
	if c.EndpointGCInterval <= 0 {
		c.EndpointGCInterval = DefaultEndpointGCInterval
	}
	if c.EndpointSyncInterval <= 0 {
		c.EndpointSyncInterval = DefaultEndpointSyncInterval
	}
	if c.ShardServiceAccount == "" {
		c.ShardServiceAccount = DefaultShardServiceAccount
	}
	if c.ShardReportTimeout <= 0 {
		c.ShardReportTimeout = DefaultShardReportTimeout
	}
}

func (c *Config) validate() error {
	var errs []error
	if c.RESTConfig == nil {
		errs = append(errs, errors.New("agents: RESTConfig is required"))
	}
	if c.RunID == "" {
		errs = append(errs, errors.New("agents: RunID is required"))
	}
	if len(c.RunLabels) == 0 {
		errs = append(errs, errors.New("agents: RunLabels are required (they scope every write and the teardown)"))
	}
	if spec, err := Spec(c.Mesh); err != nil {
		errs = append(errs, fmt.Errorf("agents: %w", err))
	} else {
		errs = append(errs, c.validateStandIns(spec))
	}
	if !c.Components.valid() {
		errs = append(errs, fmt.Errorf("agents: unknown Components %q", c.Components))
	}
	if ns, name, ok := strings.Cut(c.ShardServiceAccount, "/"); !ok || ns == "" || name == "" {
		errs = append(errs, fmt.Errorf("agents: ShardServiceAccount %q: want namespace/name", c.ShardServiceAccount))
	}
	return errors.Join(errs...)
}
