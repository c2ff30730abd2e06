package runner

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/churn-dev/churn/profiles"
	"github.com/churn-dev/churn/snapshot"
)

// meshSaved makes savedSetup's manifest one saved with mesh running, as
// a save with --mesh records it.
func meshSaved(t *testing.T, p profiles.Profile, mesh string) func(*snapshot.Manifest) {
	t.Helper()
	q := p
	q.Mesh.Name = mesh
	setup, err := SaveSetupIdentity(context.Background(), q)
	if err != nil {
		t.Fatal(err)
	}
	return func(m *snapshot.Manifest) {
		m.Setup, m.SetupHash = setup, setup.Hash()
		m.Mesh = &snapshot.MeshState{Name: mesh}
	}
}

// A snapshot saved with a mesh serves runs of that mesh only; one saved
// without a mesh serves every mesh. The check is the one Run and churn
// compare make before anything starts.
func TestCheckSnapshotMatchesTheSavedMesh(t *testing.T) {
	ctx := context.Background()
	bins := fakeBinDir(t, "v1.37.2")
	withCilium := savedSetup(t, smoke(t), meshSaved(t, smoke(t), profiles.MeshCilium))
	plain := savedSetup(t, smoke(t))
	for _, tc := range []struct {
		name, snapshot, mesh string
		want                 []string // substrings of a refusal; nil accepts
	}{
		{name: "same mesh", snapshot: withCilium, mesh: profiles.MeshCilium},
		{name: "other mesh", snapshot: withCilium, mesh: profiles.MeshIstioAmbient,
			want: []string{"saved with mesh cilium running", "this run's mesh is istio-ambient", "--mesh istio-ambient"}},
		{name: "cilium-ces is another mesh", snapshot: withCilium, mesh: profiles.MeshCiliumCES,
			want: []string{"saved with mesh cilium running", "this run's mesh is cilium-ces"}},
		{name: "no mesh", snapshot: withCilium, mesh: profiles.MeshNone,
			want: []string{"saved with mesh cilium running", "this run has no mesh"}},
		{name: "plain snapshot, cilium", snapshot: plain, mesh: profiles.MeshCilium},
		{name: "plain snapshot, istio-ambient", snapshot: plain, mesh: profiles.MeshIstioAmbient},
		{name: "plain snapshot, none", snapshot: plain, mesh: profiles.MeshNone},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := smoke(t)
			p.Mesh.Name = tc.mesh
			_, _, err := CheckSnapshot(ctx, Options{Profile: p, FromSnapshot: tc.snapshot, BinDir: bins})
			if tc.want == nil {
				if err != nil {
					t.Fatalf("CheckSnapshot = %v, want the snapshot accepted", err)
				}
				return
			}
			var me *snapshot.MismatchError
			if !errors.As(err, &me) || me.Kind != snapshot.MismatchMesh {
				t.Fatalf("CheckSnapshot = %v, want a mesh mismatch", err)
			}
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not say %q", err, w)
				}
			}
		})
	}
}

// Objects written by another emulation (its fingerprint differs) are not
// adopted: the setup hash keys the mesh's objects too.
func TestCheckSnapshotRefusesStaleMeshObjects(t *testing.T) {
	stale := func(m *snapshot.Manifest) {
		m.Setup[snapshot.MeshObjectsKey] = "0000000000000000"
		m.SetupHash = m.Setup.Hash()
	}
	saved := savedSetup(t, smoke(t), meshSaved(t, smoke(t), profiles.MeshCilium), stale)
	p := smoke(t)
	p.Mesh.Name = profiles.MeshCilium
	_, _, err := CheckSnapshot(context.Background(), Options{Profile: p, FromSnapshot: saved, BinDir: fakeBinDir(t, "v1.37.2")})
	var me *snapshot.MismatchError
	if !errors.As(err, &me) || me.Kind != snapshot.MismatchSetup || !strings.Contains(err.Error(), "the objects mesh cilium writes changed") {
		t.Fatalf("CheckSnapshot = %v, want a setup mismatch naming the mesh's objects", err)
	}
}

// A save's setup identity carries its mesh, so a mesh snapshot never
// hashes like a plain one; without a mesh it is SetupIdentity's.
func TestSaveSetupIdentityKeysTheMesh(t *testing.T) {
	ctx := context.Background()
	p := smoke(t)
	plain, err := SetupIdentity(ctx, p)
	if err != nil {
		t.Fatal(err)
	}
	if got, err := SaveSetupIdentity(ctx, p); err != nil || got.Hash() != plain.Hash() {
		t.Errorf("SaveSetupIdentity without a mesh = %v (%v), want SetupIdentity's hash", got, err)
	}
	hashes := map[string]string{plain.Hash(): "none"}
	for _, mesh := range []string{profiles.MeshCilium, profiles.MeshCiliumCES, profiles.MeshIstioAmbient} {
		q := p
		q.Mesh.Name = mesh
		s, err := SaveSetupIdentity(ctx, q)
		if err != nil {
			t.Fatal(err)
		}
		if s[snapshot.MeshKey] != mesh || s[snapshot.MeshObjectsKey] == "" {
			t.Errorf("mesh %s: setup entries %v", mesh, s)
		}
		if other, dup := hashes[s.Hash()]; dup {
			t.Errorf("mesh %s hashes like %s", mesh, other)
		}
		hashes[s.Hash()] = mesh
	}
}
