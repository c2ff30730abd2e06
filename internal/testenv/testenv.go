// Package testenv finds what integration tests need from the checkout: the
// control-plane binaries in bin/. Tests skip without them, unless
// CHURN_REQUIRE_BINARIES=1 (make test, CI), where a missing binary fails.
package testenv

import (
	"bufio"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/churn-dev/churn/deploy/local"
)

const modulePath = "github.com/churn-dev/churn"

// RepoRoot walks up from the test's directory to churn's go.mod.
func RepoRoot(t testing.TB) string {
	t.Helper()
	dir, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	for {
		if moduleOf(filepath.Join(dir, "go.mod")) == modulePath {
			return dir
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			t.Fatalf("no go.mod of %s above the test directory", modulePath)
		}
		dir = parent
	}
}

func moduleOf(goMod string) string {
	f, err := os.Open(goMod)
	if err != nil {
		return ""
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	if !sc.Scan() {
		return ""
	}
	return strings.TrimSpace(strings.TrimPrefix(sc.Text(), "module"))
}

// RequireBinaries returns bin/ when every control-plane binary is there.
func RequireBinaries(t testing.TB) string {
	t.Helper()
	bin := filepath.Join(RepoRoot(t), "bin")
	if _, err := local.CheckBinaries(bin); err != nil {
		if os.Getenv("CHURN_REQUIRE_BINARIES") == "1" {
			t.Fatalf("CHURN_REQUIRE_BINARIES=1: %v", err)
		}
		t.Skipf("skipping local control-plane test: %v (set CHURN_REQUIRE_BINARIES=1 to fail instead)", err)
	}
	if testing.Short() {
		t.Skip("skipping local control-plane test in -short mode")
	}
	return bin
}

// UpgradeFrom is the release rolling-upgrade tests start from (the
// Makefile's UPGRADE_FROM, built by make upgrade): one minor before the
// default.
const UpgradeFrom = "v1.36.3"

// RequireUpgrade returns bin/ when the binaries of the default release and
// of UpgradeFrom are built and HAProxy is installed, as make upgrade
// leaves them; it skips (or fails under CHURN_REQUIRE_BINARIES=1)
// otherwise.
func RequireUpgrade(t testing.TB) string {
	t.Helper()
	bin := RequireBinaries(t)
	var missing []string
	if _, err := local.CheckBinariesFor(bin, UpgradeFrom); err != nil {
		missing = append(missing, err.Error())
	}
	if _, err := exec.LookPath("haproxy"); err != nil {
		missing = append(missing, "haproxy is not installed")
	}
	if len(missing) > 0 {
		msg := strings.Join(missing, "; ") + " (make upgrade builds and installs both)"
		if os.Getenv("CHURN_REQUIRE_BINARIES") == "1" {
			t.Fatalf("CHURN_REQUIRE_BINARIES=1: %s", msg)
		}
		t.Skipf("skipping upgrade test: %s", msg)
	}
	return bin
}
