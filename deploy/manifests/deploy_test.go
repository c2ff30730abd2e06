package manifests

import (
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"testing"
)

// deployDir is deploy/, seen from this package's directory.
const deployDir = ".."

// deployKustomizations is every kustomization under deploy/, which must
// include at least churn's own.
func deployKustomizations(t *testing.T) []string {
	t.Helper()
	dirs, err := Kustomizations(deployDir)
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"kwok", "job", filepath.Join("job", "mesh"), filepath.Join("job", "fetch")} {
		if !slices.Contains(dirs, filepath.Join(deployDir, want)) {
			t.Errorf("no kustomization found in deploy/%s (found %v)", want, dirs)
		}
	}
	return dirs
}

// Every base loads, and every YAML file under deploy/ is a resource of
// the kustomization in its own directory: a manifest left out of its list
// is silently never applied by kubectl apply -k, nor by churn.
func TestEveryManifestIsListedInItsKustomization(t *testing.T) {
	dirs := deployKustomizations(t)
	listed := map[string]bool{}
	for _, dir := range dirs {
		rs, err := LoadResources(dir)
		if err != nil {
			t.Errorf("%s: %v", dir, err)
			continue
		}
		if len(rs) == 0 {
			t.Errorf("%s: no objects", dir)
		}
		file, err := kustomizationFile(os.DirFS(dir), ".")
		if err != nil {
			t.Fatal(err)
		}
		b, err := os.ReadFile(filepath.Join(dir, file))
		if err != nil {
			t.Fatal(err)
		}
		k, err := parseKustomization(b)
		if err != nil {
			t.Fatalf("%s: %v", dir, err)
		}
		for _, r := range k.Resources {
			listed[filepath.Clean(filepath.Join(dir, r))] = true
		}
	}
	var orphans []string
	err := filepath.WalkDir(deployDir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() {
			if p == deployDir {
				return nil
			}
			if strings.HasPrefix(d.Name(), ".") || d.Name() == "testdata" {
				return filepath.SkipDir
			}
			if _, err := os.Stat(filepath.Join(p, "go.mod")); err == nil {
				return filepath.SkipDir
			}
			return nil
		}
		ext := filepath.Ext(p)
		if (ext != ".yaml" && ext != ".yml") || slices.Contains(KustomizationFiles, d.Name()) {
			return nil
		}
		if !listed[filepath.Clean(p)] {
			orphans = append(orphans, p)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	sort.Strings(orphans)
	for _, o := range orphans {
		t.Errorf("%s is not in the resources of the kustomization in its directory", o)
	}
}
