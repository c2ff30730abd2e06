package manifests

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"testing/fstest"
)

const kustomizationHeader = "apiVersion: kustomize.config.k8s.io/v1beta1\nkind: Kustomization\n"

func file(s string) *fstest.MapFile { return &fstest.MapFile{Data: []byte(s)} }

func TestLoadFSFollowsResourcesInOrder(t *testing.T) {
	fsys := fstest.MapFS{
		"base/kustomization.yaml": file(kustomizationHeader + "resources:\n- b.yaml\n- sub\n- a.yaml\n"),
		"base/a.yaml":             file("apiVersion: v1\nkind: ServiceAccount\nmetadata:\n  name: a\n  namespace: x\n"),
		// A comment-only document and an empty one are skipped.
		"base/b.yaml": file("# only a comment\n---\napiVersion: v1\nkind: Namespace\nmetadata:\n  name: x\n---\n---\n" +
			"apiVersion: rbac.authorization.k8s.io/v1\nkind: ClusterRole\nmetadata:\n  name: r\nrules: []\n"),
		"base/sub/kustomization.yml": file("resources:\n- c.yaml\n"),
		"base/sub/c.yaml":            file("apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: c\n  namespace: x\ndata:\n  n: \"1\"\n"),
	}
	rs, err := LoadFS(fsys, "base")
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, r := range rs {
		got = append(got, r.File+":"+r.Object.GetKind()+"/"+r.Object.GetName())
	}
	want := []string{
		"base/b.yaml:Namespace/x",
		"base/b.yaml:ClusterRole/r",
		"base/sub/c.yaml:ConfigMap/c",
		"base/a.yaml:ServiceAccount/a",
	}
	if strings.Join(got, " ") != strings.Join(want, " ") {
		t.Fatalf("loaded\n  %v\nwant\n  %v", got, want)
	}
	if rs[2].Object.GetNamespace() != "x" {
		t.Errorf("namespace lost: %v", rs[2].Object.Object)
	}
}

func TestLoadFSRefusesWhatItDoesNotUnderstand(t *testing.T) {
	obj := "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: c\n  namespace: x\n"
	for name, tc := range map[string]struct {
		fsys fstest.MapFS
		want []string
	}{
		"generator": {fstest.MapFS{
			"k/kustomization.yaml": file(kustomizationHeader + "resources:\n- c.yaml\nconfigMapGenerator:\n- name: x\n  files: [c.yaml]\n"),
			"k/c.yaml":             file(obj),
		}, []string{"k/kustomization.yaml", "configMapGenerator"}},
		"patches and prefix": {fstest.MapFS{
			"k/kustomization.yaml": file(kustomizationHeader + "namePrefix: p-\npatches:\n- path: p.yaml\nresources:\n- c.yaml\n"),
			"k/c.yaml":             file(obj),
		}, []string{"namePrefix", "patches"}},
		"namespace transformer": {fstest.MapFS{
			"k/kustomization.yaml": file(kustomizationHeader + "namespace: other\nresources:\n- c.yaml\n"),
			"k/c.yaml":             file(obj),
		}, []string{"field namespace"}},
		"missing file": {fstest.MapFS{
			"k/kustomization.yaml": file("resources:\n- gone.yaml\n"),
		}, []string{"gone.yaml"}},
		"directory without kustomization": {fstest.MapFS{
			"k/kustomization.yaml": file("resources:\n- d\n"),
			"k/d/c.yaml":           file(obj),
		}, []string{"k/d: no kustomization"}},
		"remote": {fstest.MapFS{
			"k/kustomization.yaml": file("resources:\n- https://github.com/x/y//deploy\n"),
		}, []string{"only local files"}},
		"escape": {fstest.MapFS{
			"k/kustomization.yaml": file("resources:\n- ../../etc/x.yaml\n"),
		}, []string{"leaves the directory tree"}},
		"cycle": {fstest.MapFS{
			"k/kustomization.yaml": file("resources:\n- ../j\n"),
			"j/kustomization.yaml": file("resources:\n- ../k\n"),
		}, []string{"includes itself"}},
		"duplicate": {fstest.MapFS{
			"k/kustomization.yaml": file("resources:\n- c.yaml\n- d.yaml\n"),
			"k/c.yaml":             file(obj),
			"k/d.yaml":             file(obj),
		}, []string{"ConfigMap x/c is also defined in k/c.yaml"}},
		"no kind": {fstest.MapFS{
			"k/kustomization.yaml": file("resources:\n- c.yaml\n"),
			"k/c.yaml":             file("apiVersion: v1\nmetadata:\n  name: c\n"),
		}, []string{"k/c.yaml", "document 1"}},
		"no name": {fstest.MapFS{
			"k/kustomization.yaml": file("resources:\n- c.yaml\n"),
			"k/c.yaml":             file(obj + "---\napiVersion: v1\nkind: ConfigMap\nmetadata:\n  namespace: x\n"),
		}, []string{"k/c.yaml", "document 2", "metadata.name"}},
		"list": {fstest.MapFS{
			"k/kustomization.yaml": file("resources:\n- c.yaml\n"),
			"k/c.yaml":             file("apiVersion: v1\nkind: List\nitems: []\n"),
		}, []string{"lists are not supported"}},
		"wrong kind": {fstest.MapFS{
			"k/kustomization.yaml": file("apiVersion: kustomize.config.k8s.io/v1alpha1\nkind: Component\nresources: []\n"),
		}, []string{"v1alpha1"}},
	} {
		t.Run(name, func(t *testing.T) {
			_, err := LoadFS(tc.fsys, "k")
			if err == nil {
				t.Fatal("loaded; want an error")
			}
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not mention %q", err, w)
				}
			}
		})
	}
}

// On disk a base may name a sibling base, as kustomize allows.
func TestLoadReadsSiblingBasesOnDisk(t *testing.T) {
	root := t.TempDir()
	write := func(rel, s string) {
		p := filepath.Join(root, rel)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(s), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write("a/kustomization.yaml", "resources:\n- ../b\n- x.yaml\n")
	write("a/x.yaml", "apiVersion: v1\nkind: Namespace\nmetadata:\n  name: x\n")
	write("b/kustomization.yaml", "resources:\n- y.yaml\n")
	write("b/y.yaml", "apiVersion: v1\nkind: Namespace\nmetadata:\n  name: why\n")
	rs, err := LoadResources(filepath.Join(root, "a"))
	if err != nil {
		t.Fatal(err)
	}
	if len(rs) != 2 || rs[0].File != filepath.Join(root, "b", "y.yaml") || rs[1].Object.GetName() != "x" {
		t.Fatalf("loaded %+v", rs)
	}
}

func TestKustomizationsSkipsModulesAndHiddenDirectories(t *testing.T) {
	root := t.TempDir()
	for _, p := range []string{
		"kwok/kustomization.yaml",
		"job/kustomization.yaml",
		"job/mesh/kustomization.yaml",
		"controlplane/go.mod",
		"controlplane/x/kustomization.yaml",
		".cache/kustomization.yaml",
		"testdata/kustomization.yaml",
		"local/components.go",
	} {
		full := filepath.Join(root, p)
		if err := os.MkdirAll(filepath.Dir(full), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(full, nil, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	got, err := Kustomizations(root)
	if err != nil {
		t.Fatal(err)
	}
	want := []string{filepath.Join(root, "job"), filepath.Join(root, "job", "mesh"), filepath.Join(root, "kwok")}
	if strings.Join(got, " ") != strings.Join(want, " ") {
		t.Fatalf("Kustomizations = %v, want %v", got, want)
	}
}
