package agents

import (
	"context"
	"errors"
	"fmt"
	"sort"

	"go.uber.org/zap"
	"k8s.io/client-go/rest"
)

// A StandIn is a real process that runs in place of an emulated component
// (the real istiod for the emulated one). The mesh sets everything up as
// for the emulation (CRDs, its namespace, the component's account and
// RBAC), starts the stand-in instead of the component's replicas, and stops
// it in Stop.
type StandIn interface {
	// Start starts the process and returns once it is serving or failed.
	Start(ctx context.Context, id StandInIdentity) error
	// Stop ends the process.
	Stop(ctx context.Context) error
}

// StandInIdentity is what a stand-in needs to act as the component.
type StandInIdentity struct {
	// RESTConfig reaches the API server as the component's account (the
	// impersonation the emulation would use, unless impersonation is off).
	RESTConfig *rest.Config
	// Namespace is the mesh's system namespace (leases, the component's
	// own objects).
	Namespace string
	// ServiceAccount is the component's account, "namespace/name".
	ServiceAccount string
}

// validateStandIns checks that every stand-in names a fixed-replica
// component of the mesh (per-node agents have no stand-ins).
func (c *Config) validateStandIns(spec *MeshSpec) error {
	var errs []error
	for name, s := range c.StandIns {
		cs, ok := spec.component(name)
		switch {
		case s == nil:
			errs = append(errs, fmt.Errorf("agents: StandIns[%s] is nil", name))
		case !ok:
			errs = append(errs, fmt.Errorf("agents: StandIns[%s]: mesh %s has no such component", name, spec.Name))
		case cs.PerNode:
			errs = append(errs, fmt.Errorf("agents: StandIns[%s]: per-node components cannot be replaced", name))
		}
	}
	return errors.Join(errs...)
}

func (s *MeshSpec) component(name string) (ComponentSpec, bool) {
	for _, cs := range s.Components {
		if cs.Name == name {
			return cs, true
		}
	}
	return ComponentSpec{}, false
}

// standsIn reports whether a real process replaces the component.
func (c *Config) standsIn(cs ComponentSpec) bool { return c.StandIns[cs.Name] != nil }

// startStandIns starts the stand-ins of the components this process runs,
// in name order; the started ones are recorded for Stop.
func (m *Mesh) startStandIns(ctx context.Context) error {
	names := make([]string, 0, len(m.cfg.StandIns))
	for name := range m.cfg.StandIns {
		names = append(names, name)
	}
	sort.Strings(names)
	for _, name := range names {
		cs, _ := m.spec.component(name)
		if !m.cfg.Components.runs(cs) {
			continue
		}
		cfg := rest.CopyConfig(m.cfg.RESTConfig)
		if !m.cfg.DisableImpersonation && !m.cfg.SkipSetup {
			cfg.Impersonate = impersonation(cs, m.cfg.RunID)
		}
		ns, sa := serviceAccount(cs, m.cfg.RunID)
		id := StandInIdentity{RESTConfig: cfg, Namespace: m.systemNamespace, ServiceAccount: ns + "/" + sa}
		m.log.Info("starting the real component in place of its emulation", zap.String("component", name))
		if err := m.cfg.StandIns[name].Start(ctx, id); err != nil {
			return fmt.Errorf("start real %s: %w", name, err)
		}
		m.standIns = append(m.standIns, m.cfg.StandIns[name])
	}
	return nil
}

// stopStandIns stops the started stand-ins.
func (m *Mesh) stopStandIns(ctx context.Context) error {
	var errs []error
	for _, s := range m.standIns {
		errs = append(errs, s.Stop(ctx))
	}
	m.standIns = nil
	return errors.Join(errs...)
}
