package runner

import (
	"context"
	"fmt"
	"time"

	"go.uber.org/zap"
	"k8s.io/client-go/dynamic"

	"github.com/churn-dev/churn/agents"
	"github.com/churn-dev/churn/agents/crds"
	"github.com/churn-dev/churn/churn"
	"github.com/churn-dev/churn/profiles"
	"github.com/churn-dev/churn/results"
	"github.com/churn-dev/churn/snapshot"
)

// A snapshot may be saved with a mesh running (churn snapshot save
// --mesh): as in the public test, the mesh is installed once the fake
// nodes are Ready and before the workload, so its agents write their
// objects while the workload ramps; the save then waits for the mesh to
// settle (the install phase's conditions), stops the agents and keeps
// their objects with the data. A run of the same mesh from that snapshot
// starts its agents on a cluster where the mesh already ran.

// meshStopTimeout bounds stopping a save's emulated mesh.
const meshStopTimeout = time.Minute

// savesMesh: this is a save (SetUp) that runs the profile's mesh during
// the ramp.
func (r *run) savesMesh() bool {
	return r.setupOnly && r.warm == nil && meshName(r.opts.Profile) != profiles.MeshNone
}

// startSaveMesh starts the mesh before the workload in a save with a mesh;
// otherwise it does nothing.
func (r *run) startSaveMesh(ctx context.Context) error {
	if !r.savesMesh() {
		return nil
	}
	fmt.Fprintf(r.progress(), "mesh: starting %s before the workload, so its agents write their objects while it ramps\n", r.opts.Profile.Mesh.Name)
	return r.startMesh(ctx)
}

// meshPolicyNamespaces are the namespaces the mesh writes its policies
// into when it starts: the workload's, except in a save, where the mesh
// starts before they exist (saveMeshPolicies writes them then).
func (r *run) meshPolicyNamespaces() []string {
	if r.savesMesh() {
		return nil
	}
	return r.engine.Namespaces()
}

// saveMeshPolicies writes the mesh's policies into the workload's
// namespaces once they exist, in a save with a mesh that has policies.
func (r *run) saveMeshPolicies(ctx context.Context) error {
	if !r.savesMesh() || r.mesh == nil {
		return nil
	}
	spec, err := agents.Spec(r.opts.Profile.Mesh.Name)
	if err != nil || !spec.Policies {
		return err
	}
	dyn, err := dynamic.NewForConfig(r.target.Config)
	if err != nil {
		return fmt.Errorf("dynamic client for mesh %s policies: %w", spec.Name, err)
	}
	if err := crds.CreatePolicies(ctx, dyn, r.engine.Namespaces(), churn.RunLabels(r.labelID)); err != nil {
		return fmt.Errorf("mesh %s: %w", spec.Name, err)
	}
	return nil
}

// settleSaveMesh waits after the ramp until the save's mesh has settled.
// A snapshot is saved only with its mesh settled: an unsettled one would
// hand every run a part of the install storm.
func (r *run) settleSaveMesh(ctx context.Context) error {
	if err := r.settleMesh(ctx, r.clk.Now()); err != nil {
		return err
	}
	inst := r.res.Install
	if !inst.Settled {
		return fmt.Errorf("mesh %s did not settle within mesh.settleTimeout %s after the ramp (%s); a snapshot is saved only with its mesh settled: raise --settle-timeout, or save without --mesh",
			inst.Mesh, time.Duration(inst.SettleTimeoutSeconds*float64(time.Second)), inst.Why())
	}
	return nil
}

// stopSaveMesh stops a save's mesh, keeping its objects, and records what
// it did. It runs whatever happened before, on a context that survives a
// Ctrl-C: no agent may outlive the save.
func (r *run) stopSaveMesh(ctx context.Context) error {
	if r.mesh == nil {
		return nil
	}
	stopCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), meshStopTimeout)
	defer cancel()
	summary, err := r.mesh.Stop(stopCtx)
	r.res.MeshStats = summary
	if err != nil {
		r.log.Warn("stopping the save's mesh", zap.Error(err))
		return fmt.Errorf("stopping mesh %s: %w", r.opts.Profile.Mesh.Name, err)
	}
	return nil
}

// savedMesh is what the manifest records of a save's mesh (nil without).
func (r *run) savedMesh() *snapshot.MeshState {
	if r.mesh == nil || r.res.Install == nil {
		return nil
	}
	ms := &snapshot.MeshState{Name: r.opts.Profile.Mesh.Name, Install: r.res.Install}
	if s := r.res.MeshStats; s != nil {
		ms.RolloutSeconds = s.RolloutSeconds
	}
	return ms
}

// withMesh adds the entries of a setup saved with mesh running.
func withMesh(setup snapshot.Setup, mesh string) (snapshot.Setup, error) {
	fp, err := agents.SavedObjectsFingerprint(mesh)
	if err != nil {
		return nil, fmt.Errorf("mesh %s: %w", mesh, err)
	}
	return setup.WithMesh(mesh, fp), nil
}

// SaveSetupIdentity is the setup a save of p records: SetupIdentity, with
// p's mesh (when it has one) running during the ramp and saved with it.
func SaveSetupIdentity(ctx context.Context, p profiles.Profile) (snapshot.Setup, error) {
	setup, err := SetupIdentity(ctx, p)
	if err != nil || meshName(p) == profiles.MeshNone {
		return setup, err
	}
	return withMesh(setup, meshName(p))
}

// noteMeshFromSnapshot records that the mesh started on objects a
// snapshot saved with it holds.
func (r *run) noteMeshFromSnapshot() {
	if r.warm == nil || r.warm.manifest.MeshName() == "" || r.res.Install == nil {
		return
	}
	r.res.Install.Snapshot = r.warm.manifest.Name
}

// meshWrites sums the components' successful writes by "verb resource".
func meshWrites(s *results.MeshSummary) map[string]int64 {
	if s == nil {
		return nil
	}
	out := map[string]int64{}
	for _, c := range s.Components {
		for k, n := range c.Writes {
			out[k] += n
		}
	}
	if len(out) == 0 {
		return nil
	}
	return out
}
