package cli

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/churn-dev/churn/internal/testenv"
	"github.com/churn-dev/churn/results"
	"github.com/churn-dev/churn/snapshot"
)

// A snapshot saved with cilium running holds the mesh's objects, settled;
// a run of another mesh is refused before anything starts; a cilium run
// from it starts its agents on those objects: they create no
// CiliumEndpoint or CiliumNode in the install phase, which settles, and
// the run's verdict is valid.
func TestIntegrationSnapshotWithMesh(t *testing.T) {
	bin := testenv.RequireBinaries(t)
	ctx := context.Background()
	work := t.TempDir()
	snap := filepath.Join(work, "snapshots", "smoke-cilium")

	code, out := runChurn(t, ctx, "snapshot", "save", snap, "--profile", "smoke", "--mesh", "cilium", "--settle-timeout", "3m", "--bin-dir", bin)
	if code != ExitOK {
		t.Fatalf("snapshot save --mesh cilium: exit %d", code)
	}
	m, err := snapshot.ReadManifest(snap)
	if err != nil {
		t.Fatal(err)
	}
	if m.Mesh == nil || m.Mesh.Name != "cilium" || m.Mesh.Install == nil || !m.Mesh.Install.Settled || m.Setup[snapshot.MeshKey] != "cilium" {
		t.Fatalf("manifest mesh %+v, setup %v: want cilium, settled, in the setup", m.Mesh, m.Setup)
	}
	if w := m.Mesh.Install.Writes; w["create ciliumendpoints"] < 50 || w["create ciliumnodes"] != 5 {
		t.Errorf("the save's mesh wrote %v, want the 50 endpoints and 5 CiliumNodes created", w)
	}
	if !strings.Contains(out, "only runs with --mesh cilium start from it") {
		t.Errorf("save output does not say which runs the snapshot serves")
	}
	if procs := processesMentioning(t, filepath.Join(work, "snapshots")); len(procs) > 0 {
		t.Errorf("processes left after the save: %v", procs)
	}
	before := testenv.TreeDigest(t, snap)

	// Another mesh is refused, naming both, before anything starts.
	refusedDir, refusedOut := filepath.Join(work, "refused-cluster"), filepath.Join(work, "refused-out")
	err = churnError(t, ctx, "run", "--from-snapshot", snap, "--profile", "smoke", "--mesh", "istio-ambient",
		"--bin-dir", bin, "--dir", refusedDir, "--out", refusedOut)
	if err == nil || !strings.Contains(err.Error(), "saved with mesh cilium") || !strings.Contains(err.Error(), "this run's mesh is istio-ambient") {
		t.Errorf("istio-ambient run from a cilium snapshot: %v, want a refusal naming both meshes", err)
	}
	for _, p := range []string{refusedDir, refusedOut} {
		if _, err := os.Stat(p); !os.IsNotExist(err) {
			t.Errorf("%s exists after a refused run: %v", p, err)
		}
	}

	clusterDir, outDir := filepath.Join(work, "cluster"), filepath.Join(work, "out")
	code, out = runChurn(t, ctx, "run", "--from-snapshot", snap, "--profile", "smoke", "--mesh", "cilium", "--duration", "20s",
		"--settle-timeout", "2m", "--bin-dir", bin, "--dir", clusterDir, "--out", outDir)
	if code == ExitFailure || code == ExitInterrupted {
		t.Fatalf("run --from-snapshot --mesh cilium: exit %d", code)
	}
	if !strings.Contains(out, "its objects are present and its agents adopt them") {
		t.Errorf("run output does not say the mesh's objects were present")
	}
	r, err := results.Read(outDir)
	if err != nil {
		t.Fatal(err)
	}
	inst := r.Install
	if inst == nil || inst.Snapshot != "smoke-cilium" || !inst.Settled {
		t.Fatalf("install record %+v: want settled, from snapshot smoke-cilium", inst)
	}
	for _, w := range []string{"create ciliumendpoints", "create ciliumnodes", "create ciliumidentities"} {
		if inst.Writes[w] != 0 {
			t.Errorf("install phase: %d %q, want none: the objects existed (writes %v)", inst.Writes[w], w, inst.Writes)
		}
	}
	for _, c := range inst.Conditions {
		if c.Name == "CiliumEndpoints" && (c.Want != 50 || c.Have != 50) {
			t.Errorf("install condition %+v, want all 50 endpoints", c)
		}
	}
	if r.Validity == nil || !r.Validity.Valid {
		t.Errorf("verdict validity %+v, want valid (behind: %v)", r.Validity, r.Validity.Behind())
	}
	if r.Churn == nil || r.Churn.Scale.Succeeded == 0 {
		t.Errorf("the run did not churn: %+v", r.Churn)
	}
	if procs := processesMentioning(t, clusterDir); len(procs) > 0 {
		t.Errorf("processes left after the run: %v", procs)
	}
	if after := testenv.TreeDigest(t, snap); after != before {
		t.Errorf("the snapshot changed during the run")
	}
}
