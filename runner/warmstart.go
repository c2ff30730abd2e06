package runner

import (
	"context"
	"errors"
	"fmt"
	"io"
	"time"

	"go.uber.org/zap"
	"k8s.io/apimachinery/pkg/util/validation"

	"github.com/churn-dev/churn/churn"
	"github.com/churn-dev/churn/deploy/local"
	"github.com/churn-dev/churn/fakenodes"
	"github.com/churn-dev/churn/results"
	"github.com/churn-dev/churn/snapshot"
	"github.com/churn-dev/churn/version"
)

// A warm start runs on a copy of a saved setup (Options.FromSnapshot)
// instead of creating one. The rule for run IDs: the run keeps its own run
// ID for its results, output directory and cluster directory; its objects
// are the snapshot's, which carry the snapshot's churn.dev/run label, so
// the run adopts that label value (run.labelID) to select, churn and tear
// down them, and labels whatever it creates itself (observer and mesh
// objects) with it too. A run never touches an object without that label.
// Names derive from the label value as in any run (NamePrefix), so they are
// the saved objects' names.

// ErrSnapshotNeedsLocal is returned for a warm start with a remote target:
// a snapshot is a local control plane's data.
var ErrSnapshotNeedsLocal = errors.New("a snapshot restores a local control plane and cannot be used with a kubeconfig or in-cluster target")

// warmStart is the verified snapshot a run starts from, and the times of
// its restore.
type warmStart struct {
	dir      string
	manifest *snapshot.Manifest
	begin    time.Time // restore started
	restored time.Time // data copied
	bytes    int64
}

// openSnapshot loads and verifies opts.FromSnapshot, before anything
// starts (see CheckSnapshot), and adopts the snapshot's run label.
func (r *run) openSnapshot(ctx context.Context) error {
	if r.opts.FromSnapshot == "" {
		return nil
	}
	dir, m, err := CheckSnapshot(ctx, r.opts)
	if err != nil {
		return err
	}
	r.warm = &warmStart{dir: dir, manifest: m}
	r.labelID = m.RunID
	r.log.Info("starting from snapshot", zap.String("snapshot", m.Name), zap.String("dir", dir),
		zap.String("runLabel", m.RunID), zap.String("setupHash", snapshot.ShortHash(m.SetupHash)))
	return nil
}

// CheckSnapshot is the check Run makes of opts.FromSnapshot before anything
// starts: a local target, the snapshot's format, the versions of the
// binaries the run would start (BinDir, KubernetesVersion), the mesh (a
// snapshot saved with a mesh serves only runs of that mesh), the setup of
// opts.Profile, and a run label this churn can select by. A mismatch is a
// *snapshot.MismatchError naming what differs. Exported so that a caller
// planning several runs on one snapshot (churn compare's arms) refuses
// before the first of them starts. It returns the snapshot's directory and
// manifest.
func CheckSnapshot(ctx context.Context, opts Options) (string, *snapshot.Manifest, error) {
	if opts.Kubeconfig != "" || opts.InCluster {
		return "", nil, fmt.Errorf("snapshot %s: %w", opts.FromSnapshot, ErrSnapshotNeedsLocal)
	}
	dir, m, err := snapshot.Open(snapshot.DefaultRoot, opts.FromSnapshot)
	if err != nil {
		return "", nil, err
	}
	binDir := opts.BinDir
	if binDir == "" {
		binDir = "bin"
	}
	bins, err := local.BinaryVersions(ctx, binDir, opts.KubernetesVersion)
	if err != nil {
		return "", nil, fmt.Errorf("checking the binaries for snapshot %s: %w", m.Name, err)
	}
	versions, err := snapshot.VersionsOf(bins, version.Churn)
	if err != nil {
		return "", nil, fmt.Errorf("checking the binaries in %s for snapshot %s: %w", binDir, m.Name, err)
	}
	setup, err := SetupIdentity(ctx, opts.Profile)
	if err != nil {
		return "", nil, err
	}
	mesh := meshName(opts.Profile)
	if saved := m.MeshName(); saved != "" && saved == mesh {
		// A run of the snapshot's own mesh adopts its objects: they must be
		// what this churn's emulation writes.
		if setup, err = withMesh(setup, mesh); err != nil {
			return "", nil, err
		}
	}
	if err := snapshot.Verify(m, snapshot.Expectation{
		ProfileName: opts.Profile.Name,
		Setup:       setup,
		Mesh:        mesh,
		Versions:    versions,
		BinDir:      binDir,
	}); err != nil {
		return "", nil, err
	}
	// The objects are found by the recorded label and by names derived from
	// it; both must be what this churn derives.
	if len(m.RunID) < 4 || len(validation.IsValidLabelValue(m.RunID)) > 0 || NamePrefix(m.RunID) != m.NamePrefix {
		return "", nil, fmt.Errorf("snapshot %s records run label %q and name prefix %q, which this churn cannot select its objects by; save it again", m.Name, m.RunID, m.NamePrefix)
	}
	return dir, m, nil
}

// restoreSnapshot copies the snapshot into the cluster directory before
// the control plane starts on it; without a snapshot it does nothing.
func (r *run) restoreSnapshot(clusterDir string) error {
	w := r.warm
	if w == nil {
		return nil
	}
	m := w.manifest
	fmt.Fprintf(r.progress(), "warm start from snapshot %s (profile %s, %d nodes, %d pods, taken %s)\n",
		m.Name, m.ProfileName, m.Objects.Nodes, m.Objects.Pods, m.Created.Local().Format(time.DateTime))
	w.begin = r.clk.Now()
	n, err := snapshot.Restore(w.dir, clusterDir)
	w.bytes, w.restored = n, r.clk.Now()
	if err != nil {
		return err
	}
	fmt.Fprintf(r.progress(), "restored %s in %s\n", snapshot.FormatBytes(n), w.restored.Sub(w.begin).Round(10*time.Millisecond))
	return nil
}

// warmSetup stands in for setup: it waits until the restored fake nodes
// are Ready again (kwok has restarted and renews their leases) and every
// replica is Ready, and records the warm start.
func (r *run) warmSetup(ctx context.Context) error {
	w := r.warm
	upAt := r.clk.Now()
	for _, ph := range r.res.Phases {
		if ph.Name == "target" {
			upAt = ph.End
		}
	}
	p := r.opts.Profile
	spec := nodeSpec(p, r.labelID)
	r.nodes = make([]string, p.Nodes.Count)
	for i := range r.nodes {
		r.nodes[i] = spec.NodeName(i)
	}
	if err := fakenodes.WaitReady(ctx, r.client, churn.RunSelector(r.labelID), p.Nodes.Count, r.progress()); err != nil {
		return fmt.Errorf("restored fake nodes: %w", err)
	}
	// The engine's ramp lines give a rate over the ramp, which a warm start
	// has not got: this engine waits quietly, the run's churns.
	waiter, err := r.newEngine(io.Discard)
	if err != nil {
		return err
	}
	if r.engine, err = r.newEngine(r.progress()); err != nil {
		return err
	}
	summary, err := waiter.WaitReady(ctx)
	if summary == nil {
		return err
	}
	ready := r.clk.Now()
	// Nothing was created or ramped: the ramp figures are the snapshot's
	// (its manifest), not this run's.
	summary.Nodes = len(r.nodes)
	summary.Services = w.manifest.Objects.Services
	summary.CreateSeconds, summary.RampSeconds, summary.PodsPerSec = 0, 0, 0
	summary.WarmStart = &results.WarmStart{
		Snapshot:            w.manifest.Name,
		SnapshotCreated:     w.manifest.Created,
		SetupHash:           w.manifest.SetupHash,
		RunLabel:            r.labelID,
		RestoredBytes:       w.bytes,
		RestoreSeconds:      w.restored.Sub(w.begin).Seconds(),
		ControlPlaneSeconds: upAt.Sub(w.restored).Seconds(),
		ReadySeconds:        ready.Sub(upAt).Seconds(),
		Seconds:             ready.Sub(w.begin).Seconds(),
	}
	summary.Duration = ready.Sub(w.begin)
	r.res.Setup = summary
	if err != nil {
		return err
	}
	ws := summary.WarmStart
	fmt.Fprintf(r.progress(), "warm start: %d nodes and %d pods Ready in %.1f s (restore %.1f s, control plane %.1f s, Ready %.1f s)\n",
		summary.Nodes, summary.ReadyPods, ws.Seconds, ws.RestoreSeconds, ws.ControlPlaneSeconds, ws.ReadySeconds)
	return nil
}
