package agents

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"time"

	"go.uber.org/zap"
	utilnet "k8s.io/apimachinery/pkg/util/net"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"k8s.io/utils/clock"

	"github.com/churn-dev/churn/agents/crds"
	"github.com/churn-dev/churn/agents/watch"
	"github.com/churn-dev/churn/results"
)

// Mesh is a running emulated mesh.
type Mesh struct {
	cfg             Config
	spec            *MeshSpec
	log             *zap.Logger
	clock           clock.WithTicker
	shared          *shared
	systemNamespace string
	components      []*component
	crdsCreated     []string
	// external is the shards' side of a ComponentsCentral mesh.
	external *externalAgents
	// standIns are the started real processes replacing components
	// (guarded by mu: per-node ones start during the rollout).
	standIns        []StandIn
	standInFailures []string
	// reals are the stand-ins' processes by component, in start order,
	// for rollouts (guarded by mu).
	reals map[string][]*realReplica

	ctx    context.Context
	cancel context.CancelFunc
	wg     sync.WaitGroup

	mu          sync.Mutex
	rolloutTime time.Duration
	rolloutDone chan struct{}
}

// Start sets the mesh up (CRDs, RBAC, its namespace, policies) and starts
// its components: fixed replicas at once, per-node agents paced at
// RolloutPerSecond. It returns once the rollout has begun; Stop ends it.
func Start(ctx context.Context, cfg Config) (*Mesh, error) {
	cfg.setDefaults()
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	spec, _ := Spec(cfg.Mesh)
	m := &Mesh{
		cfg: cfg, spec: spec, log: cfg.Logger.With(zap.String("mesh", spec.Name)), clock: cfg.Clock,
		shared: newShared(cfg.RunLabels), systemNamespace: systemNamespaceName(cfg.RunID),
		rolloutDone: make(chan struct{}),
	}
	if spec.EndpointSlices {
		m.shared.ces = newCESManager(cfg.RunLabels, cfg.RunID, cfg.Clock)
	}
	if len(spec.Components) == 0 {
		close(m.rolloutDone)
		return m, nil
	}
	unserved, err := m.setup(ctx)
	if err != nil {
		return nil, err
	}
	for _, cs := range spec.Components {
		if !cfg.Components.runs(cs) || cfg.standsIn(cs) {
			continue
		}
		c, err := m.newComponent(cs, unserved)
		if err != nil {
			return nil, err
		}
		m.components = append(m.components, c)
	}
	// The mesh outlives Start's context: Stop ends it.
	m.ctx, m.cancel = context.WithCancel(context.WithoutCancel(ctx))
	if cfg.Components == ComponentsCentral {
		if err := m.announce(ctx); err != nil {
			return nil, err
		}
	}
	m.startReplicas()
	if err := m.startStandIns(ctx); err != nil {
		_, _ = m.Stop(ctx)
		return nil, err
	}
	return m, nil
}

// setup installs what the mesh needs and returns the CRD kinds the
// cluster does not serve at the version the emulation watches.
func (m *Mesh) setup(ctx context.Context) (map[string]bool, error) {
	unserved := map[string]bool{}
	if !m.cfg.setsUp() {
		return unserved, nil
	}
	kc, err := kubernetes.NewForConfig(m.cfg.RESTConfig)
	if err != nil {
		return nil, fmt.Errorf("kubernetes client: %w", err)
	}
	if m.spec.CRDSet != "" {
		inst, err := crds.InstallCRDs(ctx, m.cfg.RESTConfig, m.spec.Name, m.cfg.ExtraCRDSets, m.cfg.RunLabels)
		if err != nil {
			return nil, fmt.Errorf("install CRDs: %w", err)
		}
		m.crdsCreated = inst.Created
		for _, k := range inst.Unserved {
			m.log.Warn("existing CRD does not serve the watched version; its watches are dropped",
				zap.String("crd", k.Name()), zap.String("version", k.Version))
			unserved[k.Group+"/"+k.Resource] = true
		}
	}
	if err := ensureSystemNamespace(ctx, kc, m.systemNamespace, m.cfg.RunLabels); err != nil {
		return nil, err
	}
	if !m.cfg.DisableImpersonation {
		if err := setupRBAC(ctx, kc, m.spec, m.cfg.RunID, m.cfg.RunLabels, m.cfg.standInRules); err != nil {
			return nil, fmt.Errorf("%w (set Config.DisableImpersonation to run without RBAC objects)", err)
		}
	}
	if m.spec.Policies && len(m.cfg.Namespaces) > 0 {
		dyn, err := dynamic.NewForConfig(m.cfg.RESTConfig)
		if err != nil {
			return nil, fmt.Errorf("dynamic client: %w", err)
		}
		if err := crds.CreatePolicies(ctx, dyn, m.cfg.Namespaces, m.cfg.RunLabels); err != nil {
			return nil, err
		}
	}
	return unserved, nil
}

func (m *Mesh) newComponent(cs ComponentSpec, unserved map[string]bool) (*component, error) {
	cfg := rest.CopyConfig(m.cfg.RESTConfig)
	cfg.UserAgent = cs.UserAgent
	if !m.cfg.DisableImpersonation && !m.cfg.SkipSetup {
		cfg.Impersonate = impersonation(cs, m.cfg.RunID)
	}
	// A Proxy function makes the config uncacheable in client-go's TLS
	// transport cache, so each component kind gets its own connection pool
	// instead of sharing the caller's.
	cfg.Proxy = utilnet.NewProxierWithNoProxyCIDR(http.ProxyFromEnvironment)
	hc, err := rest.HTTPClientFor(cfg)
	if err != nil {
		return nil, fmt.Errorf("%s: http client: %w", cs.Name, err)
	}
	u, _, err := rest.DefaultServerUrlFor(cfg)
	if err != nil {
		return nil, fmt.Errorf("%s: server URL: %w", cs.Name, err)
	}
	c := &component{spec: cs, mesh: m, stats: &watch.Stats{}, http: hc, baseURL: strings.TrimRight(u.String(), "/")}
	if !m.cfg.NetHTTPWatches {
		// nil when the config is not plain HTTPS: net/http carries watches.
		if c.mux, err = watch.NewMux(cfg); err != nil {
			return nil, fmt.Errorf("%s: watch mux: %w", cs.Name, err)
		}
	}
	for _, w := range cs.Watches {
		if w.Group != "" && unserved[w.Group+"/"+w.Resource] {
			continue
		}
		c.watches = append(c.watches, w)
	}
	return c, nil
}

// startReplicas starts fixed-size components now and per-node ones paced
// like a DaemonSet rollout.
func (m *Mesh) startReplicas() {
	var perNode []*component
	for _, c := range m.components {
		if c.spec.PerNode {
			perNode = append(perNode, c)
			continue
		}
		for i := 0; i < c.spec.Replicas; i++ {
			c.newReplica(fmt.Sprintf("%s-%d", c.spec.Name, i), "").start(m.ctx, &m.wg)
		}
	}
	m.wg.Add(1)
	go func() {
		defer m.wg.Done()
		defer close(m.rolloutDone)
		if len(perNode) == 0 {
			return
		}
		start := m.clock.Now()
		interval := time.Duration(float64(time.Second) / m.cfg.RolloutPerSecond)
		for i, node := range m.cfg.Nodes {
			if i > 0 && !m.sleep(interval) {
				return
			}
			for _, c := range perNode {
				if s := m.cfg.NodeStandIns[c.spec.Name][node]; s != nil {
					m.startNodeStandIn(c.spec, node, s)
					continue
				}
				c.newReplica(c.spec.Name+"-"+node, node).start(m.ctx, &m.wg)
			}
		}
		m.mu.Lock()
		m.rolloutTime = m.clock.Since(start)
		m.mu.Unlock()
		if len(perNode) > 0 {
			m.log.Info("agent rollout complete", zap.Int("nodes", len(m.cfg.Nodes)), zap.Duration("took", m.clock.Since(start)))
		}
	}()
}

func (m *Mesh) sleep(d time.Duration) bool {
	t := m.clock.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C():
		return true
	case <-m.ctx.Done():
		return false
	}
}

// RolloutDone is closed once every per-node agent has started (or the
// mesh stopped first).
func (m *Mesh) RolloutDone() <-chan struct{} { return m.rolloutDone }

// Running returns the number of started replicas per component.
func (m *Mesh) Running() map[string]int {
	out := map[string]int{}
	for _, c := range m.components {
		c.mu.Lock()
		out[c.spec.Name] = c.replicas
		c.mu.Unlock()
	}
	return out
}

// Summary returns the counters so far.
func (m *Mesh) Summary() *results.MeshSummary { return m.summary() }

// Stop ends every component and returns what they did. Objects the mesh
// created stay until Teardown (the run's namespaces take most with them).
func (m *Mesh) Stop(ctx context.Context) (*results.MeshSummary, error) {
	if m.cancel == nil {
		return m.summary(), nil
	}
	if m.external != nil {
		// First, so the shards stop alongside the central components.
		m.external.markStopping(ctx)
	}
	standInErr := m.stopStandIns(ctx)
	m.cancel()
	done := make(chan struct{})
	go func() {
		m.wg.Wait()
		close(done)
	}()
	select {
	case <-done:
	case <-ctx.Done():
		return m.summary(), errors.New("agents: stop timed out waiting for components")
	}
	for _, c := range m.components {
		c.http.CloseIdleConnections()
		if c.mux != nil {
			c.mux.Close()
		}
	}
	if m.external != nil {
		m.external.collect(ctx)
	}
	return m.summary(), standInErr
}
