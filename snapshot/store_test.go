package snapshot

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/churn-dev/churn/internal/testenv"
)

// fakeSnapshot writes a snapshot directory as Save leaves it: etcd data,
// PKI, manifest.
func fakeSnapshot(t *testing.T, root, name string) string {
	t.Helper()
	dir := filepath.Join(root, name)
	files := map[string]string{
		"etcd/member/snap/db": strings.Repeat("bolt", 4096),
		"etcd/member/wal/0000000000000000-0000000000000000.wal": "wal records",
		"pki/ca.crt": "CA",
		"pki/ca.key": "CA KEY",
		"pki/sa.key": "SA KEY",
	}
	for rel, content := range files {
		p := filepath.Join(dir, rel)
		if err := os.MkdirAll(filepath.Dir(p), 0o700); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	m := manifestFor(name, profile(t, "smoke"))
	if err := writeManifest(dir, m); err != nil {
		t.Fatal(err)
	}
	return dir
}

func TestRestoreNeverModifiesTheSnapshot(t *testing.T) {
	root := t.TempDir()
	dir := fakeSnapshot(t, root, "s")
	before := testenv.TreeDigest(t, dir)

	for i, cluster := range []string{filepath.Join(root, "c1"), filepath.Join(root, "c2")} {
		n, err := Restore(dir, cluster)
		if err != nil {
			t.Fatalf("restore %d: %v", i, err)
		}
		if n == 0 {
			t.Errorf("restore %d copied 0 bytes", i)
		}
		db := filepath.Join(cluster, "data", "etcd", "member", "snap", "db")
		got, err := os.ReadFile(db)
		if err != nil || string(got) != strings.Repeat("bolt", 4096) {
			t.Fatalf("restored db: %v (%d bytes)", err, len(got))
		}
		if _, err := os.Stat(filepath.Join(cluster, "pki", "ca.key")); err != nil {
			t.Errorf("restored PKI: %v", err)
		}
		// What the restored cluster's etcd would do to its copy: write to
		// and truncate the db, append to the WAL, remove files.
		if err := os.WriteFile(db, []byte("rewritten"), 0o600); err != nil {
			t.Fatal(err)
		}
		f, err := os.OpenFile(filepath.Join(cluster, "data", "etcd", "member", "wal", "0000000000000000-0000000000000000.wal"), os.O_APPEND|os.O_WRONLY, 0)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := f.WriteString("more records"); err != nil {
			t.Fatal(err)
		}
		f.Close()
		if err := os.RemoveAll(filepath.Join(cluster, "pki")); err != nil {
			t.Fatal(err)
		}
	}
	if after := testenv.TreeDigest(t, dir); after != before {
		t.Errorf("snapshot changed by restore and use of the copies:\nbefore\n%s\nafter\n%s", before, after)
	}
}

func TestRestoreRefusesADirectoryWithACluster(t *testing.T) {
	root := t.TempDir()
	dir := fakeSnapshot(t, root, "s")
	cluster := filepath.Join(root, "c")
	if err := os.MkdirAll(filepath.Join(cluster, "data", "etcd"), 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(cluster, "data", "etcd", "keep-me"), []byte("x"), 0o600); err != nil {
		t.Fatal(err)
	}
	_, err := Restore(dir, cluster)
	if err == nil || !strings.Contains(err.Error(), "already holds a cluster") {
		t.Fatalf("Restore over existing data: %v, want a refusal", err)
	}
	if _, err := os.Stat(filepath.Join(cluster, "data", "etcd", "keep-me")); err != nil {
		t.Errorf("existing data touched: %v", err)
	}
}

func TestDeleteRemovesOnlyWhatSaveWrote(t *testing.T) {
	root := t.TempDir()
	dir := fakeSnapshot(t, root, "s")
	users := filepath.Join(dir, "notes.txt")
	if err := os.WriteFile(users, []byte("mine"), 0o600); err != nil {
		t.Fatal(err)
	}
	err := Delete(root, "s")
	if err == nil || !strings.Contains(err.Error(), "holds other files") {
		t.Errorf("Delete with a foreign file: %v, want it reported", err)
	}
	if _, err := os.Stat(users); err != nil {
		t.Errorf("user's file removed: %v", err)
	}
	for _, p := range []string{"etcd", "pki", ManifestFile} {
		if _, err := os.Stat(filepath.Join(dir, p)); !os.IsNotExist(err) {
			t.Errorf("%s left behind: %v", p, err)
		}
	}

	clean := fakeSnapshot(t, root, "t")
	if err := Delete(root, clean); err != nil { // by path
		t.Fatalf("Delete: %v", err)
	}
	if _, err := os.Stat(clean); !os.IsNotExist(err) {
		t.Errorf("snapshot directory left: %v", err)
	}
}

func TestDeleteRefusesANonSnapshot(t *testing.T) {
	root := t.TempDir()
	other := filepath.Join(root, "other")
	if err := os.MkdirAll(filepath.Join(other, "etcd"), 0o700); err != nil {
		t.Fatal(err)
	}
	if err := Delete(root, "other"); err == nil || !strings.Contains(err.Error(), "is not a snapshot") {
		t.Errorf("Delete of a directory without manifest: %v, want a refusal", err)
	}
	if _, err := os.Stat(filepath.Join(other, "etcd")); err != nil {
		t.Errorf("non-snapshot touched: %v", err)
	}
}

func TestListSkipsStagingAndReportsBadManifests(t *testing.T) {
	root := t.TempDir()
	fakeSnapshot(t, root, "b")
	fakeSnapshot(t, root, "a")
	if err := os.MkdirAll(filepath.Join(root, ".c.saving"), 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(filepath.Join(root, "broken"), 0o700); err != nil {
		t.Fatal(err)
	}
	entries, err := List(root)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, e := range entries {
		n := filepath.Base(e.Dir)
		if e.Err != nil {
			n += "!"
		}
		names = append(names, n)
	}
	if got := strings.Join(names, ","); got != "a,b,broken!" {
		t.Errorf("List = %s, want a,b,broken!", got)
	}
	if none, err := List(filepath.Join(root, "missing")); err != nil || len(none) != 0 {
		t.Errorf("List of a missing root = %v, %v; want empty", none, err)
	}
}

func TestLocate(t *testing.T) {
	for _, tc := range []struct{ in, dir, name, err string }{
		{in: "10k", dir: "root/10k", name: "10k"},
		{in: "./snaps/x", dir: "snaps/x", name: "x"},
		{in: "/tmp/s/y.1", dir: "/tmp/s/y.1", name: "y.1"},
		{in: ".hidden", err: "snapshot name"},
		{in: "a b", err: "snapshot name"},
		{in: "", err: "snapshot name"},
	} {
		dir, name, err := Locate("root", tc.in)
		if tc.err != "" {
			if err == nil || !strings.Contains(err.Error(), tc.err) {
				t.Errorf("Locate(%q) err %v, want %q", tc.in, err, tc.err)
			}
			continue
		}
		if err != nil || dir != tc.dir || name != tc.name {
			t.Errorf("Locate(%q) = %q, %q, %v; want %q, %q", tc.in, dir, name, err, tc.dir, tc.name)
		}
	}
}

func TestFormatBytes(t *testing.T) {
	for n, want := range map[int64]string{512: "512 B", 2048: "2.0 KiB", 62 << 20: "62.0 MiB", 3 << 30: "3.0 GiB"} {
		if got := FormatBytes(n); got != want {
			t.Errorf("FormatBytes(%d) = %s, want %s", n, got, want)
		}
	}
}
