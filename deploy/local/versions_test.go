package local

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// fakeVersionBinDir writes the five binaries as scripts printing what the
// real ones print for --version.
func fakeVersionBinDir(t *testing.T, kwokOutput string) string {
	t.Helper()
	dir := t.TempDir()
	outputs := map[string]string{
		Etcd:              "etcd Version: 3.7.0\nGit SHA: Not provided (use ./build instead of go build)\nGo Version: go1.26.8\n",
		APIServer:         "Kubernetes v1.37.2\n",
		ControllerManager: "Kubernetes v1.37.2\n",
		Scheduler:         "Kubernetes v1.37.2\n",
		KWOK:              kwokOutput,
	}
	for name, out := range outputs {
		body := "#!/bin/sh\ncat <<'EOF'\n" + out + "EOF\n"
		if err := os.WriteFile(filepath.Join(dir, name), []byte(body), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

// The kwok make builds is stamped with its patch level (hack/build-kwok.sh);
// the recorded version must keep it, or a snapshot taken with upstream kwok
// would pass for one taken with the patched one.
func TestBinaryVersionsKeepsKWOKPatchStamp(t *testing.T) {
	for output, want := range map[string]string{
		"kwok version v0.8.0-churn.1 go1.26.8 (linux/amd64)\n":           "v0.8.0-churn.1",
		"kwok version v0.8.0 go1.26.8 (linux/amd64)\n":                   "v0.8.0",
		"kwok version v0.8.0+churn-informer-rv go1.26.8 (linux/amd64)\n": "v0.8.0+churn-informer-rv",
	} {
		got, err := BinaryVersions(context.Background(), fakeVersionBinDir(t, output), "")
		if err != nil {
			t.Fatalf("BinaryVersions with kwok printing %q: %v", output, err)
		}
		if got[KWOK] != want {
			t.Errorf("kwok printing %q: version %q, want %q", output, got[KWOK], want)
		}
		if got[Etcd] != "v3.7.0" || got[APIServer] != "v1.37.2" || got[Scheduler] != "v1.37.2" {
			t.Errorf("other versions wrong: %v", got)
		}
	}
}

func TestBinaryVersionsNamesBinaryWithoutVersion(t *testing.T) {
	_, err := BinaryVersions(context.Background(), fakeVersionBinDir(t, "kwok: unknown flag --version\n"), "")
	if err == nil || !strings.Contains(err.Error(), "printed no version") || !strings.Contains(err.Error(), KWOK) {
		t.Fatalf("err = %v, want kwok named as printing no version", err)
	}
}
