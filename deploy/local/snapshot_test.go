package local

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"go.uber.org/zap"
)

// stoppedKept lays out a cluster directory as Stop(ctx, true) leaves it.
func stoppedKept(t *testing.T) paths {
	t.Helper()
	p := paths{dir: t.TempDir()}
	for path, content := range map[string]string{
		filepath.Join(p.etcdData(), "member", "snap", "db"): "db",
		filepath.Join(p.data(), keptMarker):                 "",
		p.pkiFile(fileCACert):                               "ca",
		p.admin():                                           "kubeconfig",
		p.log(Etcd):                                         "log",
	} {
		if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	return p
}

func TestExportThenImportStartsOnTheData(t *testing.T) {
	src := stoppedKept(t)
	saved := filepath.Join(t.TempDir(), "saved")
	if err := ExportData(src.dir, saved); err != nil {
		t.Fatalf("ExportData: %v", err)
	}
	for _, p := range []string{filepath.Join(saved, SavedEtcdDir, "member", "snap", "db"), filepath.Join(saved, SavedPKIDir, fileCACert)} {
		if _, err := os.Stat(p); err != nil {
			t.Errorf("exported %s: %v", p, err)
		}
	}
	if _, err := os.Stat(src.data()); !os.IsNotExist(err) {
		t.Errorf("data left in the exported cluster directory: %v", err)
	}

	dst := paths{dir: filepath.Join(t.TempDir(), "restored")}
	n, err := ImportData(saved, dst.dir)
	if err != nil {
		t.Fatalf("ImportData: %v", err)
	}
	if n != int64(len("db")+len("ca")) {
		t.Errorf("ImportData copied %d bytes, want %d", n, len("db")+len("ca"))
	}
	// Up's data preparation must take the import as kept data to reuse,
	// not as a crash's leftovers to remove.
	reuse, err := prepareData(dst, zap.NewNop())
	if err != nil || !reuse {
		t.Fatalf("prepareData after import = %v, %v; want reuse", reuse, err)
	}
	if b, err := os.ReadFile(filepath.Join(dst.etcdData(), "member", "snap", "db")); err != nil || string(b) != "db" {
		t.Errorf("imported db = %q, %v", b, err)
	}
	// The export is only read: a second import works the same.
	if _, err := ImportData(saved, filepath.Join(t.TempDir(), "again")); err != nil {
		t.Errorf("second ImportData: %v", err)
	}
}

func TestExportRefusesDataNotStoppedWithKeep(t *testing.T) {
	p := stoppedKept(t)
	if err := os.Remove(filepath.Join(p.data(), keptMarker)); err != nil {
		t.Fatal(err)
	}
	err := ExportData(p.dir, filepath.Join(t.TempDir(), "saved"))
	if err == nil || !strings.Contains(err.Error(), "no data stopped with keepData") {
		t.Errorf("ExportData without the kept marker: %v, want a refusal", err)
	}
	p = stoppedKept(t)
	if err := os.WriteFile(p.state(), []byte("{}"), 0o600); err != nil {
		t.Fatal(err)
	}
	err = ExportData(p.dir, filepath.Join(t.TempDir(), "saved"))
	if err == nil || !strings.Contains(err.Error(), "still has a running cluster") {
		t.Errorf("ExportData with a state file: %v, want a refusal", err)
	}
}

func TestImportRefusesALockedDirectory(t *testing.T) {
	src := stoppedKept(t)
	saved := filepath.Join(t.TempDir(), "saved")
	if err := ExportData(src.dir, saved); err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	lock, err := lockDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer lock.release()
	if _, err := ImportData(saved, dir); err == nil || !strings.Contains(err.Error(), "in use") {
		t.Errorf("ImportData into a directory another churn holds: %v, want a refusal", err)
	}
	if _, err := os.Stat(paths{dir: dir}.data()); !os.IsNotExist(err) {
		t.Errorf("data written into a locked directory: %v", err)
	}
}

func TestSemverFromVersionOutput(t *testing.T) {
	for out, want := range map[string]string{
		"etcd Version: 3.7.0\nGit SHA: Not provided\n": "v3.7.0",
		"Kubernetes v1.37.2\n":                         "v1.37.2",
		"kwok version v0.8.0 go1.26.8 (linux/amd64)\n": "v0.8.0",
		"Kubernetes v1.38.0-alpha.1+abc\n":             "v1.38.0-alpha.1+abc",
	} {
		m := semver.FindStringSubmatch(out)
		if m == nil || "v"+m[1] != want {
			t.Errorf("version of %q = %v, want %s", out, m, want)
		}
	}
}
