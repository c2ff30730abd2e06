package cli

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/spf13/cobra"

	"github.com/churn-dev/churn/profiles"
	"github.com/churn-dev/churn/runner"
	"github.com/churn-dev/churn/snapshot"
	"github.com/churn-dev/churn/version"
)

// fakeBins holds scripts that answer --version like the control-plane
// binaries of one Kubernetes release, so a snapshot can be checked without
// building or starting anything. Releases other than the default get their
// Kubernetes binaries in bin/k8s/<release>, as make controlplane puts them.
func fakeBins(t *testing.T, releases ...string) string {
	t.Helper()
	dir := t.TempDir()
	write := func(dir, name, out string) {
		if err := os.MkdirAll(dir, 0o755); err != nil {
			t.Fatal(err)
		}
		script := "#!/bin/sh\necho '" + out + "'\n"
		if err := os.WriteFile(filepath.Join(dir, name), []byte(script), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	write(dir, "etcd", "etcd Version: "+strings.TrimPrefix(version.Etcd, "v"))
	write(dir, "kwok", "kwok version "+version.KWOK+" go1.26.8 (linux/amd64)")
	for _, rel := range append([]string{version.Kubernetes}, releases...) {
		kdir := dir
		if rel != version.Kubernetes {
			kdir = filepath.Join(dir, "k8s", rel)
		}
		for _, name := range []string{"kube-apiserver", "kube-controller-manager", "kube-scheduler"} {
			write(kdir, name, "Kubernetes "+rel)
		}
	}
	return dir
}

// savedSnapshot writes the manifest of a snapshot of profile p taken with
// the default binaries, as churn snapshot save would, and returns its path.
func savedSnapshot(t *testing.T, p profiles.Profile) string {
	t.Helper()
	setup, err := runner.SetupIdentity(context.Background(), p)
	if err != nil {
		t.Fatal(err)
	}
	const runID = "20261125-181400-3fa2"
	m := snapshot.Manifest{
		FormatVersion: snapshot.FormatVersion, Name: "saved", Created: time.Now(),
		ProfileName: p.Name, Profile: p, Setup: setup, SetupHash: setup.Hash(),
		RunID: runID, NamePrefix: runner.NamePrefix(runID),
		Versions: snapshot.Versions{Kubernetes: version.Kubernetes, Etcd: version.Etcd, KWOK: version.KWOK, Churn: version.Churn},
	}
	dir := filepath.Join(t.TempDir(), "saved")
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

func smokeProfile(t *testing.T) profiles.Profile {
	t.Helper()
	p, err := profiles.Load("smoke")
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// planWith parses args as churn compare's arm flags and plans the arms.
func planWith(t *testing.T, args ...string) ([]armSpec, error) {
	t.Helper()
	var a armsFlags
	cmd := &cobra.Command{Use: "compare"}
	registerArmsFlags(cmd, &a)
	if err := cmd.ParseFlags(args); err != nil {
		t.Fatal(err)
	}
	cmd.SetContext(context.Background())
	specs, _, err := a.planArms(cmd)
	return specs, err
}

// Every arm of a warm-started comparison carries the snapshot, mesh none
// included, once it has been checked against each of them.
func TestCompareArmsFromSnapshotPlansEveryArmOnIt(t *testing.T) {
	saved := savedSnapshot(t, smokeProfile(t))
	specs, err := planWith(t, "--profile", "smoke", "--from-snapshot", saved, "--bin-dir", fakeBins(t),
		"--mesh", "none,istio-ambient,cilium")
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, s := range specs {
		names = append(names, s.name)
		if s.fromSnapshot != saved {
			t.Errorf("arm %s starts from %q, want %q", s.name, s.fromSnapshot, saved)
		}
		if s.profile.Mesh.Name != s.name {
			t.Errorf("arm %s runs mesh %q", s.name, s.profile.Mesh.Name)
		}
	}
	if strings.Join(names, ",") != "none,istio-ambient,cilium" {
		t.Errorf("arms %v", names)
	}
	// Without the flag no arm warm-starts.
	specs, err = planWith(t, "--profile", "smoke", "--mesh", "none,cilium")
	if err != nil || specs[0].fromSnapshot != "" || specs[1].fromSnapshot != "" {
		t.Errorf("arms without --from-snapshot: %+v, %v", specs, err)
	}
}

// A snapshot no arm can start from is refused before any arm starts,
// naming the flag and its value.
func TestCompareArmsRefusesABadSnapshot(t *testing.T) {
	saved := savedSnapshot(t, smokeProfile(t))
	bins := fakeBins(t, "v1.36.3")
	missing := filepath.Join(t.TempDir(), "missing")
	for _, tc := range []struct {
		name string
		args []string
		want []string
	}{
		{"unknown name", []string{"--mesh", "none,cilium", "--from-snapshot", "no-such-snapshot"},
			[]string{"--from-snapshot no-such-snapshot", "is not a snapshot"}},
		{"unknown path", []string{"--mesh", "none,cilium", "--from-snapshot", missing},
			[]string{"--from-snapshot " + missing, "is not a snapshot"}},
		{"another setup", []string{"--mesh", "none,cilium", "--from-snapshot", saved, "--nodes", "4"},
			[]string{"--from-snapshot " + saved + ", arm none", "differs: nodes.count 5 vs 4"}},
		{"another profile", []string{"--mesh", "none,cilium", "--from-snapshot", saved, "--profile", "10k-pods"},
			[]string{"--from-snapshot " + saved + ", arm none", "was taken with profile smoke", "profile 10k-pods"}},
		{"another release", []string{"--from-snapshot", saved, "--mesh", "none,cilium", "--kubernetes-version", "v1.36.3"},
			[]string{"--kubernetes-version v1.36.3 with --from-snapshot " + saved, "taken with Kubernetes " + version.Kubernetes}},
		{"release arms", []string{"--from-snapshot", saved, "--kubernetes-version", version.Kubernetes + ",v1.36.3"},
			[]string{"--kubernetes-version v1.36.3", "compare releases without --from-snapshot"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			args := append([]string{"--profile", "smoke", "--bin-dir", bins, "--out", filepath.Join(t.TempDir(), "out")}, tc.args...)
			code, out, _, err := runCompare(t, args...)
			if code != ExitFailure || err == nil {
				t.Fatalf("exit %d, err %v; want exit 1", code, err)
			}
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q lacks %q", err, w)
				}
			}
			if strings.Contains(out, "=== arm") {
				t.Error("an arm started before the refusal")
			}
		})
	}
}

func TestCompareFromSnapshotNeedsArms(t *testing.T) {
	run := compareRun("run", 0.1, 200)
	base, cand := writeRuns(t, run, run)
	code, _, _, err := runCompare(t, base, cand, "--from-snapshot", "saved")
	if code != ExitFailure || err == nil || !strings.Contains(err.Error(), "needs --profile") {
		t.Fatalf("exit %d, err %v; want exit 1 asking for --profile", code, err)
	}
}
