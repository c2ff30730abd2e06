package cli

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"go.uber.org/zap/zaptest"

	"github.com/churn-dev/churn/internal/testenv"
	"github.com/churn-dev/churn/results"
	"github.com/churn-dev/churn/snapshot"
)

// processesMentioning lists the PIDs whose command line contains s.
func processesMentioning(t *testing.T, s string) []string {
	t.Helper()
	procs, err := os.ReadDir("/proc")
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, p := range procs {
		if _, err := strconv.Atoi(p.Name()); err != nil {
			continue
		}
		b, err := os.ReadFile(filepath.Join("/proc", p.Name(), "cmdline"))
		if err == nil && strings.Contains(string(b), s) {
			out = append(out, p.Name()+": "+strings.ReplaceAll(string(b), "\x00", " "))
		}
	}
	return out
}

// churnError runs the command tree in-process and returns the error its
// command returned (runChurn gives the exit status; the error goes to the
// log).
func churnError(t *testing.T, ctx context.Context, args ...string) error {
	t.Helper()
	cmd := NewRootCommand(zaptest.NewLogger(t))
	var out bytes.Buffer
	cmd.SetOut(&out)
	cmd.SetErr(&out)
	cmd.SetArgs(args)
	err := cmd.ExecuteContext(ctx)
	t.Logf("churn %s: %v\n%s", strings.Join(args, " "), err, out.String())
	return err
}

func TestIntegrationSnapshotCommands(t *testing.T) {
	bin := testenv.RequireBinaries(t)
	ctx := context.Background()
	work := t.TempDir()
	snaps := filepath.Join(work, "snapshots")
	snap := filepath.Join(snaps, "smoke-setup")

	code, out := runChurn(t, ctx, "snapshot", "save", snap, "--profile", "smoke", "--bin-dir", bin)
	if code != ExitOK {
		t.Fatalf("snapshot save: exit %d", code)
	}
	m, err := snapshot.ReadManifest(snap)
	if err != nil {
		t.Fatal(err)
	}
	if m.Objects.Pods != 50 || m.Objects.Nodes != 5 || m.SetupSummary == nil || m.SetupSummary.PodsPerSec <= 0 {
		t.Errorf("manifest: objects %+v, setup %+v", m.Objects, m.SetupSummary)
	}
	if !strings.Contains(out, "snapshot smoke-setup saved") {
		t.Errorf("save output lacks the saved line")
	}
	before := testenv.TreeDigest(t, snap)

	if code, out := runChurn(t, ctx, "snapshot", "list", snaps); code != ExitOK || !strings.Contains(out, "smoke-setup") || !strings.Contains(out, snapshot.ShortHash(m.SetupHash)) {
		t.Errorf("snapshot list: exit %d, output lacks the snapshot and its hash", code)
	}

	// A run whose setup differs is refused before anything starts.
	refusedDir, refusedOut := filepath.Join(work, "refused-cluster"), filepath.Join(work, "refused-out")
	err = churnError(t, ctx, "run", "--from-snapshot", snap, "--profile", "smoke", "--nodes", "4",
		"--bin-dir", bin, "--dir", refusedDir, "--out", refusedOut)
	if err == nil || !strings.Contains(err.Error(), "was taken with profile smoke") || !strings.Contains(err.Error(), "differs: nodes.count 5 vs 4") {
		t.Errorf("mismatched run: %v, want a refusal naming the differing field", err)
	}
	for _, p := range []string{refusedDir, refusedOut} {
		if _, err := os.Stat(p); !os.IsNotExist(err) {
			t.Errorf("%s exists after a refused run: %v", p, err)
		}
	}
	err = churnError(t, ctx, "run", "--from-snapshot", snap, "--kubeconfig", filepath.Join(work, "kubeconfig"))
	if err == nil || !strings.Contains(err.Error(), "--from-snapshot") || !strings.Contains(err.Error(), "--kubeconfig") {
		t.Errorf("--from-snapshot with --kubeconfig: %v, want a refusal naming both flags", err)
	}

	// The run from the snapshot churns on the restored objects.
	clusterDir, outDir := filepath.Join(work, "cluster"), filepath.Join(work, "out")
	code, out = runChurn(t, ctx, "run", "--from-snapshot", snap, "--profile", "smoke", "--duration", "20s",
		"--bin-dir", bin, "--dir", clusterDir, "--out", outDir)
	if code == ExitFailure {
		t.Fatalf("run --from-snapshot: exit %d", code)
	}
	if !strings.Contains(out, "warm start:") {
		t.Errorf("run output lacks the warm-start line")
	}
	r, err := results.Read(outDir)
	if err != nil {
		t.Fatal(err)
	}
	if r.RunID == m.RunID {
		t.Errorf("the run took the snapshot's run ID %s; it keeps its own", r.RunID)
	}
	if r.Setup == nil || r.Setup.WarmStart == nil || r.Setup.WarmStart.Snapshot != "smoke-setup" || r.Setup.WarmStart.RunLabel != m.RunID ||
		r.Setup.WarmStart.Seconds <= 0 || r.Setup.ReadyPods != 50 || r.Setup.Nodes != 5 {
		t.Fatalf("setup record: %+v (warm start %+v)", r.Setup, r.Setup.WarmStart)
	}
	if r.Churn == nil || r.Churn.Scale.Succeeded == 0 {
		t.Errorf("the run did not churn: %+v", r.Churn)
	}
	if procs := processesMentioning(t, clusterDir); len(procs) > 0 {
		t.Errorf("processes left after the run: %v", procs)
	}
	if _, err := os.Stat(filepath.Join(clusterDir, "data")); !os.IsNotExist(err) {
		t.Errorf("the run's copy of the data is left: %v", err)
	}
	if after := testenv.TreeDigest(t, snap); after != before {
		t.Errorf("the snapshot changed during the run:\nbefore\n%s\nafter\n%s", before, after)
	}

	// Arms side by side warm-start from the same snapshot, the mesh arm
	// with its install phase.
	armsOut := filepath.Join(work, "arms")
	code, _ = runChurn(t, ctx, "compare", "--profile", "smoke", "--from-snapshot", snap, "--mesh", "none,istio-ambient",
		"--duration", "15s", "--settle-timeout", "2m", "--bin-dir", bin, "--out", armsOut, "--dir", filepath.Join(work, "arms-clusters"))
	if code == ExitFailure || code == ExitInterrupted {
		t.Fatalf("compare --from-snapshot: exit %d", code)
	}
	for _, arm := range []string{"none", "istio-ambient"} {
		ar, err := results.Read(filepath.Join(armsOut, arm))
		if err != nil {
			t.Fatalf("arm %s: %v", arm, err)
		}
		if ar.Setup == nil || ar.Setup.WarmStart == nil || ar.Setup.WarmStart.Snapshot != "smoke-setup" || ar.Setup.ReadyPods != 50 {
			t.Errorf("arm %s did not warm-start from the snapshot: %+v", arm, ar.Setup)
		}
		if (ar.Install != nil) != (arm != "none") {
			t.Errorf("arm %s: install phase %+v, want one only with a mesh", arm, ar.Install)
		}
		if ar.Churn == nil || ar.Churn.Scale.Succeeded == 0 {
			t.Errorf("arm %s did not churn", arm)
		}
	}
	if after := testenv.TreeDigest(t, snap); after != before {
		t.Errorf("the snapshot changed during the arms")
	}

	// verify-start prints the warm-start time alone with --format.
	code, out = runChurn(t, ctx, "snapshot", "verify-start", snap, "--bin-dir", bin, "--dir", filepath.Join(work, "verify"), "--format", "{{.Seconds}}")
	lines := strings.Split(strings.TrimSpace(out), "\n")
	if secs, err := strconv.ParseFloat(lines[len(lines)-1], 64); code != ExitOK || err != nil || secs <= 0 {
		t.Errorf("verify-start: exit %d, last line %q (%v), want the seconds", code, lines[len(lines)-1], err)
	}

	if code, _ := runChurn(t, ctx, "snapshot", "delete", snap); code != ExitOK {
		t.Errorf("snapshot delete: exit %d", code)
	}
	if _, err := os.Stat(snap); !os.IsNotExist(err) {
		t.Errorf("snapshot left after delete: %v", err)
	}
}
