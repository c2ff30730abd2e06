package snapshot

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"time"

	"go.uber.org/zap"

	"github.com/churn-dev/churn/deploy/local"
	"github.com/churn-dev/churn/profiles"
	"github.com/churn-dev/churn/results"
)

// SaveInput is a running local cluster whose setup is Ready, and what the
// manifest records about it.
type SaveInput struct {
	// Dir and Name are where the snapshot goes (see Locate); Dir must not
	// exist yet.
	Dir  string
	Name string
	// Cluster is stopped by Save, whatever happens.
	Cluster *local.Cluster
	// Profile is the resolved profile the setup was made from; Setup its
	// SetupOf.
	Profile profiles.Profile
	Setup   Setup
	// Versions of the binaries the cluster runs.
	Versions Versions
	// RunID, RunLabels and NamePrefix identify the saved objects.
	RunID        string
	RunLabels    map[string]string
	NamePrefix   string
	SetupSummary *results.SetupSummary
	// Mesh is the mesh that ran during the setup and settled (nil for
	// none); Setup then carries its entries (Setup.WithMesh).
	Mesh *MeshState
	// SetupSeconds is the whole setup, control plane start included.
	SetupSeconds float64
	Logger       *zap.Logger
	Progress     io.Writer
}

// Save compacts and defragments the cluster's etcd, stops the cluster
// keeping its data, moves the etcd data and the PKI into in.Dir with a
// manifest, and removes the rest of the cluster directory. The snapshot is
// assembled in a staging directory next to in.Dir and renamed into place
// last, so in.Dir either does not exist or is complete. On failure the
// cluster is stopped and its directory (data, logs) is left for a
// post-mortem; the error names it.
func Save(ctx context.Context, in SaveInput) (*Manifest, error) {
	log := in.Logger
	if log == nil {
		log = zap.NewNop()
	}
	progress := in.Progress
	if progress == nil {
		progress = io.Discard
	}
	start := time.Now()
	clusterDir := in.Cluster.Dir()
	// Stop must finish even after a Ctrl-C: a half-stopped etcd is no
	// snapshot and no process may stay behind.
	stopCtx := context.WithoutCancel(ctx)
	if _, err := os.Stat(in.Dir); err == nil {
		return nil, errors.Join(fmt.Errorf("snapshot %s already exists; delete it first (churn snapshot delete %s)", in.Dir, in.Name),
			in.Cluster.Stop(stopCtx, false))
	}
	if before, after, err := in.Cluster.CompactEtcd(ctx); err != nil {
		// A larger snapshot is still a correct one.
		log.Warn("etcd compaction before saving failed; the snapshot keeps etcd's history", zap.Error(err))
	} else {
		fmt.Fprintf(progress, "etcd compacted and defragmented: backend %s -> %s\n", FormatBytes(before), FormatBytes(after))
	}
	if err := ctx.Err(); err != nil {
		return nil, errors.Join(fmt.Errorf("saving snapshot %s: %w", in.Name, context.Cause(ctx)), in.Cluster.Stop(stopCtx, false))
	}
	if err := in.Cluster.Stop(stopCtx, true); err != nil {
		return nil, fmt.Errorf("stopping the control plane to save snapshot %s (its directory %s is left as is): %w", in.Name, clusterDir, err)
	}

	staging := filepath.Join(filepath.Dir(in.Dir), "."+in.Name+".saving")
	// A staging directory of this name is only ever Save's, left by a save
	// that died.
	if err := os.RemoveAll(staging); err != nil {
		return nil, fmt.Errorf("removing a stale staging directory %s: %w", staging, err)
	}
	if err := local.ExportData(clusterDir, staging); err != nil {
		return nil, fmt.Errorf("saving snapshot %s (the stopped cluster is left in %s): %w", in.Name, clusterDir, err)
	}
	m, err := in.manifest(staging)
	if err != nil {
		return nil, errors.Join(err, os.RemoveAll(staging))
	}
	m.SaveSeconds = time.Since(start).Seconds()
	if err := writeManifest(staging, m); err != nil {
		return nil, errors.Join(err, os.RemoveAll(staging))
	}
	if err := os.Rename(staging, in.Dir); err != nil {
		return nil, errors.Join(fmt.Errorf("moving snapshot into %s: %w", in.Dir, err), os.RemoveAll(staging))
	}
	if err := local.Down(stopCtx, clusterDir, false, log); err != nil {
		log.Warn("removing the saved cluster's directory", zap.String("dir", clusterDir), zap.Error(err))
	}
	fmt.Fprintf(progress, "snapshot %s saved in %s: %s (etcd %s), %d nodes, %d pods\n",
		in.Name, time.Since(start).Round(100*time.Millisecond), in.Dir, FormatBytes(m.Sizes.EtcdBytes), m.Objects.Nodes, m.Objects.Pods)
	return m, nil
}

// manifest describes the data now in staging.
func (in SaveInput) manifest(staging string) (*Manifest, error) {
	etcdBytes, err := dirSize(filepath.Join(staging, local.SavedEtcdDir))
	if err != nil {
		return nil, err
	}
	pkiBytes, err := dirSize(filepath.Join(staging, local.SavedPKIDir))
	if err != nil {
		return nil, err
	}
	m := &Manifest{
		FormatVersion: FormatVersion,
		Name:          in.Name,
		Created:       time.Now().UTC(),
		ProfileName:   in.Profile.Name,
		Profile:       in.Profile,
		Setup:         in.Setup,
		SetupHash:     in.Setup.Hash(),
		RunID:         in.RunID,
		RunLabels:     in.RunLabels,
		NamePrefix:    in.NamePrefix,
		Versions:      in.Versions,
		Sizes:         Sizes{EtcdBytes: etcdBytes, PKIBytes: pkiBytes, TotalBytes: etcdBytes + pkiBytes},
		SetupSummary:  in.SetupSummary,
		SetupSeconds:  in.SetupSeconds,
		Mesh:          in.Mesh,
	}
	if s := in.SetupSummary; s != nil {
		m.Objects = Objects{Nodes: s.Nodes, Namespaces: s.Namespaces, Deployments: s.Deployments, Services: s.Services, Pods: s.ReadyPods}
	}
	return m, nil
}

// FormatBytes prints a size in binary units, e.g. "118.3 MiB".
func FormatBytes(n int64) string {
	const unit = 1024
	if n < unit {
		return fmt.Sprintf("%d B", n)
	}
	div, exp := int64(unit), 0
	for v := n / unit; v >= unit; v /= unit {
		div *= unit
		exp++
	}
	return fmt.Sprintf("%.1f %ciB", float64(n)/float64(div), "KMGTPE"[exp])
}
