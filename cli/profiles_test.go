package cli

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/churn-dev/churn/profiles"
)

func runProfiles(t *testing.T, args ...string) (string, error) {
	t.Helper()
	cmd := newProfilesCommand()
	var out bytes.Buffer
	cmd.SetOut(&out)
	cmd.SetErr(&out)
	cmd.SetArgs(args)
	err := cmd.Execute()
	return out.String(), err
}

func TestProfilesListsOneLineEach(t *testing.T) {
	out, err := runProfiles(t)
	if err != nil {
		t.Fatalf("churn profiles: %v", err)
	}
	lines := strings.Split(strings.TrimSpace(out), "\n")
	if len(lines) != 1+len(profiles.Names()) {
		t.Fatalf("got %d lines, want header + %d:\n%s", len(lines), len(profiles.Names()), out)
	}
	if f := strings.Fields(lines[len(lines)-1]); len(f) < 4 || f[0] != "50k-pods" || f[1] != "1000" || f[2] != "50000" || f[3] != "10m0s" {
		t.Errorf("last line = %q, want 50k-pods 1000 50000 10m0s ...", lines[len(lines)-1])
	}
}

func TestProfilesShowPrintsDecodableYAMLWithDefaults(t *testing.T) {
	path := filepath.Join(t.TempDir(), "small.yaml")
	if err := os.WriteFile(path, []byte("apiVersion: churn.dev/v1alpha1\nkind: Profile\nworkload:\n  replicas: 3\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	out, err := runProfiles(t, "show", path)
	if err != nil {
		t.Fatalf("show: %v\n%s", err, out)
	}
	p, err := profiles.Decode([]byte(out))
	if err != nil {
		t.Fatalf("show printed undecodable YAML: %v\n%s", err, out)
	}
	if p.Workload.Replicas != 3 || p.Workload.Image != profiles.DefaultImage || p.Name != "small" {
		t.Errorf("show lost fields or defaults: %+v", p)
	}
}

func TestProfilesShowFailsOnInvalidProfile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "bad.yaml")
	if err := os.WriteFile(path, []byte("apiVersion: churn.dev/v1alpha1\nkind: Profile\nmesh:\n  name: linkerd\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := runProfiles(t, "show", path); err == nil || !strings.Contains(err.Error(), "mesh.name") {
		t.Errorf("show of an invalid profile = %v, want a mesh.name error", err)
	}
	if _, err := runProfiles(t, "show", "nope"); err == nil {
		t.Error("show of an unknown name succeeded")
	}
}
