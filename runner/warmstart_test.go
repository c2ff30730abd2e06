package runner

import (
	"context"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/churn-dev/churn/profiles"
	"github.com/churn-dev/churn/snapshot"
	"github.com/churn-dev/churn/version"
)

func smoke(t *testing.T) profiles.Profile {
	t.Helper()
	p, err := profiles.Load("smoke")
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// The fingerprint is of the templates (code), not of the profile values,
// which are setup fields of their own: it must not move with them, so a
// mismatch names the field alone. What it must follow, a change to the
// objects churn builds, is shown through the setup identity: the same
// profile gives the same identity, a changed one a different hash.
func TestTemplateFingerprintIsTheTemplatesOnly(t *testing.T) {
	ctx := context.Background()
	p := smoke(t)
	base, err := templateFingerprint(ctx, p)
	if err != nil {
		t.Fatal(err)
	}
	if len(base) != 16 {
		t.Errorf("fingerprint %q, want 16 hex digits", base)
	}
	again, err := templateFingerprint(ctx, p)
	if err != nil || again != base {
		t.Fatalf("fingerprint not stable: %s then %s (%v)", base, again, err)
	}
	q := p
	q.Name, q.Churn.Seed, q.Workload.CreateQPS = "other", 42, 5
	q.Nodes.Count, q.Nodes.CPU, q.Nodes.Pods, q.Workload.Replicas, q.Workload.Image = 9, "8", 30, 11, "example.com/app:2"
	if fp, err := templateFingerprint(ctx, q); err != nil || fp != base {
		t.Errorf("fingerprint moved with profile values: %s vs %s (%v)", fp, base, err)
	}
	a, err := SetupIdentity(ctx, p)
	if err != nil {
		t.Fatal(err)
	}
	b, err := SetupIdentity(ctx, q)
	if err != nil {
		t.Fatal(err)
	}
	if a[snapshot.TemplatesKey] != base || a.Hash() == b.Hash() {
		t.Errorf("setup identity: templates %s (want %s), hashes %s and %s (want different)", a[snapshot.TemplatesKey], base, a.Hash(), b.Hash())
	}
}

// fakeBinDir holds scripts that answer --version like the real binaries.
func fakeBinDir(t *testing.T, kubernetes string) string {
	t.Helper()
	dir := t.TempDir()
	for name, out := range map[string]string{
		"etcd":                    "etcd Version: 3.7.0",
		"kube-apiserver":          "Kubernetes " + kubernetes,
		"kube-controller-manager": "Kubernetes " + kubernetes,
		"kube-scheduler":          "Kubernetes " + kubernetes,
		"kwok":                    "kwok version v0.8.0 go1.26.8 (linux/amd64)",
	} {
		script := "#!/bin/sh\necho '" + out + "'\n"
		if err := os.WriteFile(filepath.Join(dir, name), []byte(script), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

// savedSetup writes a snapshot manifest of p as Save would, then edits it.
func savedSetup(t *testing.T, p profiles.Profile, edits ...func(*snapshot.Manifest)) string {
	t.Helper()
	setup, err := SetupIdentity(context.Background(), p)
	if err != nil {
		t.Fatal(err)
	}
	m := snapshot.Manifest{
		FormatVersion: snapshot.FormatVersion, Name: "saved", Created: time.Now(),
		ProfileName: p.Name, Profile: p, Setup: setup, SetupHash: setup.Hash(),
		RunID: "20261125-181400-3fa2", NamePrefix: NamePrefix("20261125-181400-3fa2"),
		Versions: snapshot.Versions{Kubernetes: "v1.37.2", Etcd: "v3.7.0", KWOK: "v0.8.0", Churn: version.Churn},
	}
	for _, edit := range edits {
		edit(&m)
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

func TestRunRefusesAMismatchedSnapshotBeforeStarting(t *testing.T) {
	saved := savedSetup(t, smoke(t))
	for _, tc := range []struct {
		name       string
		kubernetes string
		change     func(*profiles.Profile)
		kind, want string
	}{
		{name: "replicas", kubernetes: "v1.37.2", change: func(p *profiles.Profile) { p.Workload.Replicas = 20 },
			kind: snapshot.MismatchSetup, want: "differs: workload.replicas 10 vs 20"},
		{name: "nodes", kubernetes: "v1.37.2", change: func(p *profiles.Profile) { p.Nodes.Count = 4 },
			kind: snapshot.MismatchSetup, want: "differs: nodes.count 5 vs 4"},
		{name: "kubernetes", kubernetes: "v1.36.3", change: func(*profiles.Profile) {},
			kind: snapshot.MismatchVersions, want: "kubernetes v1.37.2 vs v1.36.3"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			work := t.TempDir()
			p := smoke(t)
			tc.change(&p)
			opts := Options{
				Profile: p, FromSnapshot: saved, BinDir: fakeBinDir(t, tc.kubernetes),
				ClusterDir: filepath.Join(work, "cluster"), OutDir: filepath.Join(work, "out"),
			}
			out, err := Run(context.Background(), opts)
			var me *snapshot.MismatchError
			if !errors.As(err, &me) || me.Kind != tc.kind || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("Run = %v, want a %s mismatch containing %q", err, tc.kind, tc.want)
			}
			if out != nil {
				t.Errorf("Run returned an outcome %+v for a refused snapshot", out)
			}
			for _, p := range []string{opts.ClusterDir, opts.OutDir} {
				if _, err := os.Stat(p); !os.IsNotExist(err) {
					t.Errorf("%s exists after a refusal (%v): something started", p, err)
				}
			}
		})
	}
}

func TestSnapshotNeedsALocalTarget(t *testing.T) {
	work := t.TempDir()
	opts := Options{Profile: smoke(t), FromSnapshot: "saved", Kubeconfig: "staging.yaml", OutDir: filepath.Join(work, "out")}
	if _, err := Run(context.Background(), opts); !errors.Is(err, ErrSnapshotNeedsLocal) {
		t.Errorf("Run with a kubeconfig and a snapshot = %v, want ErrSnapshotNeedsLocal", err)
	}
	if _, err := SetUp(context.Background(), opts); err == nil {
		t.Error("SetUp with a kubeconfig succeeded")
	}
	opts.Kubeconfig, opts.InCluster, opts.AllowRemote = "", true, true
	if _, err := Run(context.Background(), opts); !errors.Is(err, ErrSnapshotNeedsLocal) {
		t.Errorf("Run in-cluster with a snapshot = %v, want ErrSnapshotNeedsLocal", err)
	}
}

func TestRunRefusesASnapshotWhoseLabelItCannotUse(t *testing.T) {
	for name, edit := range map[string]func(*snapshot.Manifest){
		"short run ID":   func(m *snapshot.Manifest) { m.RunID, m.NamePrefix = "x", "churn-x" },
		"invalid label":  func(m *snapshot.Manifest) { m.RunID = "not a label/3fa2" },
		"other prefix":   func(m *snapshot.Manifest) { m.NamePrefix = "churn-ffff" },
		"missing run ID": func(m *snapshot.Manifest) { m.RunID = "" },
	} {
		t.Run(name, func(t *testing.T) {
			saved := savedSetup(t, smoke(t), edit)
			work := t.TempDir()
			opts := Options{Profile: smoke(t), FromSnapshot: saved, BinDir: fakeBinDir(t, "v1.37.2"), ClusterDir: filepath.Join(work, "cluster")}
			_, err := Run(context.Background(), opts)
			if err == nil || !strings.Contains(err.Error(), "cannot select its objects by") {
				t.Fatalf("Run = %v, want a refusal", err)
			}
			if _, err := os.Stat(opts.ClusterDir); !os.IsNotExist(err) {
				t.Errorf("cluster directory created: %v", err)
			}
		})
	}
}
