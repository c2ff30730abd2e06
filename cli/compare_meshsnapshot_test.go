package cli

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/churn-dev/churn/runner"
	"github.com/churn-dev/churn/snapshot"
	"github.com/churn-dev/churn/version"
)

// savedMeshSnapshot writes the manifest of a smoke snapshot saved with
// mesh running, as churn snapshot save --mesh would, under name.
func savedMeshSnapshot(t *testing.T, name, mesh string) string {
	t.Helper()
	p := smokeProfile(t)
	p.Mesh.Name = mesh
	setup, err := runner.SaveSetupIdentity(context.Background(), p)
	if err != nil {
		t.Fatal(err)
	}
	const runID = "20261125-181400-3fa2"
	m := snapshot.Manifest{
		FormatVersion: snapshot.FormatVersion, Name: name, Created: time.Now(),
		ProfileName: p.Name, Profile: p, Setup: setup, SetupHash: setup.Hash(), Mesh: &snapshot.MeshState{Name: mesh},
		RunID: runID, NamePrefix: runner.NamePrefix(runID),
		Versions: snapshot.Versions{Kubernetes: version.Kubernetes, Etcd: version.Etcd, KWOK: version.KWOK, Churn: version.Churn},
	}
	dir := filepath.Join(t.TempDir(), name)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		t.Fatal(err)
	}
	b, err := json.Marshal(m)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, snapshot.ManifestFile), b, 0o600); err != nil {
		t.Fatal(err)
	}
	return dir
}

// Mesh arms each start from their own mesh's snapshot with
// --from-snapshot MESH=NAME,...; a snapshot saved with a mesh is refused
// for any other arm before the first starts.
func TestCompareArmsFromSnapshotsPerMesh(t *testing.T) {
	plain := savedSnapshot(t, smokeProfile(t))
	cilium := savedMeshSnapshot(t, "smoke-cilium", "cilium")
	bins := fakeBins(t)
	specs, err := planWith(t, "--profile", "smoke", "--bin-dir", bins, "--mesh", "none,cilium",
		"--from-snapshot", "none="+plain+",cilium="+cilium)
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]string{"none": plain, "cilium": cilium}
	for _, s := range specs {
		if s.fromSnapshot != want[s.name] {
			t.Errorf("arm %s starts from %q, want %q", s.name, s.fromSnapshot, want[s.name])
		}
	}
	// A snapshot without a mesh serves any arm.
	if _, err := planWith(t, "--profile", "smoke", "--bin-dir", bins, "--mesh", "none,cilium",
		"--from-snapshot", "none="+plain+",cilium="+plain); err != nil {
		t.Errorf("a plain snapshot for every arm: %v", err)
	}

	for _, tc := range []struct {
		name string
		from string
		want []string
	}{
		{"mesh snapshot for every arm", cilium, []string{"arm none", "saved with mesh cilium", "this run has no mesh"}},
		{"mesh snapshot for another mesh", "none=" + plain + ",cilium=" + savedMeshSnapshot(t, "smoke-istio", "istio-ambient"),
			[]string{"arm cilium", "saved with mesh istio-ambient", "this run's mesh is cilium"}},
		{"an arm left out", "none=" + plain, []string{"names no snapshot for the cilium arm"}},
		{"a mesh no arm runs", "none=" + plain + ",cilium=" + cilium + ",istio-ambient=" + plain, []string{"names mesh istio-ambient, which is not one of the arms"}},
		{"not a pair", "none=" + plain + ",cilium", []string{`"cilium" is not MESH=SNAPSHOT`}},
		{"twice", "none=" + plain + ",cilium=" + cilium + ",cilium=" + plain, []string{"names mesh cilium twice"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := planWith(t, "--profile", "smoke", "--bin-dir", bins, "--mesh", "none,cilium", "--from-snapshot", tc.from)
			if err == nil {
				t.Fatal("planned; want a refusal")
			}
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not say %q", err, w)
				}
			}
		})
	}
}
