package snapshot

import (
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/churn-dev/churn/profiles"
)

func profile(t *testing.T, name string) profiles.Profile {
	t.Helper()
	p, err := profiles.Load(name)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

var versions = Versions{Kubernetes: "v1.37.2", Etcd: "v3.7.0", KWOK: "v0.8.0", Churn: "dev"}

// manifestFor is what Save would record for a setup of p.
func manifestFor(name string, p profiles.Profile) *Manifest {
	s := SetupOf(p, "tmpl-1")
	return &Manifest{FormatVersion: FormatVersion, Name: name, ProfileName: p.Name, Setup: s, SetupHash: s.Hash(), Versions: versions, RunID: "20261125-181400-3fa2"}
}

func expectationFor(p profiles.Profile) Expectation {
	return Expectation{ProfileName: p.Name, Setup: SetupOf(p, "tmpl-1"), Versions: versions, BinDir: "bin"}
}

func mismatch(t *testing.T, err error, kind string) *MismatchError {
	t.Helper()
	var me *MismatchError
	if !errors.As(err, &me) {
		t.Fatalf("Verify: %v, want a *MismatchError of kind %s", err, kind)
	}
	if me.Kind != kind {
		t.Fatalf("mismatch kind %s (%v), want %s", me.Kind, err, kind)
	}
	return me
}

func TestVerifyAcceptsTheSameSetup(t *testing.T) {
	p := profile(t, "10k-pods")
	// Everything after setup is free: seed, churn, mesh, SLOs, pacing.
	q := p
	q.Name = "my-10k"
	q.Churn.Seed = 99
	q.Churn.Duration.Duration *= 3
	q.Mesh.Name = profiles.MeshCilium
	q.Workload.CreateQPS = 7
	q.Workload.ReadyTimeout.Duration = 0
	q.Nodes.CreateQPS = 3
	q.SLOs = map[string]string{"mutating-p99": "2s"}
	if err := Verify(manifestFor("x", p), expectationFor(q)); err != nil {
		t.Fatalf("Verify: %v, want nil for a run whose setup is the snapshot's", err)
	}
}

func TestVerifySetupMismatchNamesTheField(t *testing.T) {
	p := profile(t, "10k-pods")
	q := p
	q.Name = "smaller"
	q.Workload.Replicas = 50
	err := Verify(manifestFor("x", p), expectationFor(q))
	me := mismatch(t, err, MismatchSetup)
	want := `snapshot "x" was taken with profile 10k-pods (setup hash ` + ShortHash(manifestFor("x", p).SetupHash) + `) but this run's setup (profile smaller, setup hash ` +
		ShortHash(SetupOf(q, "tmpl-1").Hash()) + `) differs: workload.replicas 100 vs 50`
	if err.Error() != want {
		t.Errorf("message\n got %s\nwant %s", err, want)
	}
	if strings.Contains(err.Error(), "objects churn builds") {
		t.Errorf("message %q blames the templates, which did not change", err)
	}
	if len(me.Differences) != 1 {
		t.Errorf("differences %q, want exactly the replicas", me.Differences)
	}
}

func TestVerifySetupMismatchListsEveryField(t *testing.T) {
	p := profile(t, "smoke")
	q := p
	q.Nodes.Count = 4
	q.Workload.Image = "example.com/other:1"
	m := manifestFor("s", p)
	e := expectationFor(q)
	e.Setup[TemplatesKey] = "tmpl-2"
	me := mismatch(t, Verify(m, e), MismatchSetup)
	want := []string{
		"nodes.count 5 vs 4",
		"templates tmpl-1 vs tmpl-2",
		"workload.image " + profiles.DefaultImage + " vs example.com/other:1",
	}
	if strings.Join(me.Differences, "; ") != strings.Join(want, "; ") {
		t.Errorf("differences\n got %q\nwant %q", me.Differences, want)
	}
	if !strings.HasSuffix(me.Error(), "; the objects churn builds (nodes, namespaces, services, deployments) changed since churn dev took it: save it again") {
		t.Errorf("message %q does not explain the templates difference", me.Error())
	}
}

func TestVerifyVersionMismatch(t *testing.T) {
	p := profile(t, "smoke")
	e := expectationFor(p)
	e.Versions.Kubernetes, e.Versions.Etcd = "v1.36.3", "v3.6.5"
	e.BinDir = "/opt/bin"
	err := Verify(manifestFor("s", p), e)
	me := mismatch(t, err, MismatchVersions)
	want := `snapshot "s" was taken with kubernetes v1.37.2, etcd v3.7.0, kwok v0.8.0 but the binaries in /opt/bin differ: kubernetes v1.37.2 vs v1.36.3, etcd v3.7.0 vs v3.6.5; use the binaries it was taken with, or save it again with these`
	if err.Error() != want {
		t.Errorf("message\n got %s\nwant %s", err, want)
	}
	if len(me.Differences) != 2 {
		t.Errorf("differences %q, want kubernetes and etcd", me.Differences)
	}
}

func TestVerifyIgnoresChurnVersion(t *testing.T) {
	p := profile(t, "smoke")
	e := expectationFor(p)
	e.Versions.Churn = "v9.9.9"
	if err := Verify(manifestFor("s", p), e); err != nil {
		t.Fatalf("Verify: %v; churn's version is recorded, not compared", err)
	}
}

func TestVerifyFormatMismatchComesFirst(t *testing.T) {
	p := profile(t, "smoke")
	m := manifestFor("s", p)
	m.FormatVersion = FormatVersion + 1
	e := expectationFor(p)
	e.Versions.Kubernetes = "v1.36.3" // would also fail, later
	err := Verify(m, e)
	mismatch(t, err, MismatchFormat)
	if !strings.Contains(err.Error(), "format version 2 but this churn reads format 1") {
		t.Errorf("message %q does not name both formats", err)
	}
}

func TestVerifyTamperedHash(t *testing.T) {
	p := profile(t, "smoke")
	m := manifestFor("s", p)
	m.SetupHash = strings.Repeat("0", 64)
	me := mismatch(t, Verify(m, expectationFor(p)), MismatchSetup)
	if len(me.Differences) != 1 || !strings.HasPrefix(me.Differences[0], "setup hash 000000000000 vs ") {
		t.Errorf("differences %q, want the hashes when no field differs", me.Differences)
	}
}

func TestSetupHashStableAcrossFieldOrder(t *testing.T) {
	p := profile(t, "10k-pods")
	s := SetupOf(p, "tmpl")
	// The same entries, written in another order, as a manifest edited or
	// encoded by another tool would hold them.
	reordered := `{"workload.replicas":"100","templates":"tmpl","nodes.zones":"3","workload.image":"` + profiles.DefaultImage + `",` +
		`"nodes.pods":"110","workload.namespaces":"100","nodes.memory":"256Gi","workload.deploymentsPerNamespace":"1","nodes.cpu":"32","nodes.count":"200"}`
	var decoded Setup
	if err := json.Unmarshal([]byte(reordered), &decoded); err != nil {
		t.Fatal(err)
	}
	if got, want := decoded.Hash(), s.Hash(); got != want {
		t.Errorf("hash of reordered entries %s, want %s", got, want)
	}
	// And the same profile written in another field order decodes to the
	// same setup.
	yamlA := "apiVersion: churn.dev/v1alpha1\nkind: Profile\nname: a\nnodes:\n  count: 7\n  zones: 2\nworkload:\n  replicas: 3\n  namespaces: 2\n"
	yamlB := "kind: Profile\nworkload:\n  namespaces: 2\n  replicas: 3\nnodes:\n  zones: 2\n  count: 7\nname: b\napiVersion: churn.dev/v1alpha1\n"
	pa, err := profiles.Decode([]byte(yamlA))
	if err != nil {
		t.Fatal(err)
	}
	pb, err := profiles.Decode([]byte(yamlB))
	if err != nil {
		t.Fatal(err)
	}
	if a, b := SetupOf(pa, "t").Hash(), SetupOf(pb, "t").Hash(); a != b {
		t.Errorf("profiles differing only in field order hash %s and %s", a, b)
	}
}

func TestSetupHashChangesWithEverySetupField(t *testing.T) {
	p := profile(t, "10k-pods")
	base := SetupOf(p, "tmpl").Hash()
	for name, change := range map[string]func(*profiles.Profile){
		"replicas":    func(p *profiles.Profile) { p.Workload.Replicas = 50 },
		"namespaces":  func(p *profiles.Profile) { p.Workload.Namespaces++ },
		"perNS":       func(p *profiles.Profile) { p.Workload.DeploymentsPerNamespace++ },
		"image":       func(p *profiles.Profile) { p.Workload.Image += "x" },
		"nodes":       func(p *profiles.Profile) { p.Nodes.Count++ },
		"node cpu":    func(p *profiles.Profile) { p.Nodes.CPU = "16" },
		"node memory": func(p *profiles.Profile) { p.Nodes.Memory = "128Gi" },
		"node pods":   func(p *profiles.Profile) { p.Nodes.Pods = 250 },
		"zones":       func(p *profiles.Profile) { p.Nodes.Zones = 1 },
	} {
		q := p
		change(&q)
		if SetupOf(q, "tmpl").Hash() == base {
			t.Errorf("changing %s left the setup hash unchanged", name)
		}
	}
	if SetupOf(p, "tmpl-other").Hash() == base {
		t.Error("changing the templates fingerprint left the setup hash unchanged")
	}
}

func TestVersionsOfRefusesMixedKubernetes(t *testing.T) {
	bins := map[string]string{"etcd": "v3.7.0", "kube-apiserver": "v1.37.2", "kube-controller-manager": "v1.37.2", "kube-scheduler": "v1.36.3", "kwok": "v0.8.0"}
	if _, err := VersionsOf(bins, "dev"); err == nil || !strings.Contains(err.Error(), "kube-scheduler v1.36.3") {
		t.Errorf("VersionsOf: %v, want an error naming the odd binary", err)
	}
	bins["kube-scheduler"] = "v1.37.2"
	v, err := VersionsOf(bins, "dev")
	if err != nil || v != versions {
		t.Errorf("VersionsOf = %+v, %v; want %+v", v, err, versions)
	}
}

func TestVerifyMeshSnapshotServesOnlyItsMesh(t *testing.T) {
	p := profile(t, "10k-pods")
	m := manifestFor("x", p)
	m.Setup = m.Setup.WithMesh("cilium", "objs-1")
	m.SetupHash = m.Setup.Hash()
	m.Mesh = &MeshState{Name: "cilium"}
	want := expectationFor(p)
	want.Setup = want.Setup.WithMesh("cilium", "objs-1")
	want.Mesh = "cilium"
	if err := Verify(m, want); err != nil {
		t.Fatalf("Verify: %v, want nil for a run of the saved mesh", err)
	}

	other := expectationFor(p)
	other.Mesh = "istio-ambient"
	err := Verify(m, other)
	me := mismatch(t, err, MismatchMesh)
	wantMsg := `snapshot "x" was saved with mesh cilium running and holds its objects, but this run's mesh is istio-ambient (--mesh istio-ambient): ` +
		`start it from a snapshot saved with --mesh istio-ambient, or from one saved without a mesh (the run then pays the mesh's install)`
	if err.Error() != wantMsg {
		t.Errorf("message\n got %s\nwant %s", err, wantMsg)
	}
	if len(me.Differences) != 1 || me.Differences[0] != "mesh cilium vs istio-ambient" {
		t.Errorf("differences %q", me.Differences)
	}
	none := expectationFor(p)
	if err := Verify(m, none); !strings.Contains(fmt.Sprint(err), "this run has no mesh") {
		t.Errorf("Verify for a run without a mesh = %v, want a refusal saying it has none", err)
	}

	// A snapshot without a mesh serves every mesh, its hash unchanged.
	plain := manifestFor("y", p)
	for _, mesh := range []string{"", "none", "cilium", "istio-ambient"} {
		e := expectationFor(p)
		e.Mesh = mesh
		if err := Verify(plain, e); err != nil {
			t.Errorf("mesh %q from a snapshot without a mesh: %v", mesh, err)
		}
	}
}
