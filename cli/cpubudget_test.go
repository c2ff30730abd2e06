package cli

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/spf13/cobra"
	"go.uber.org/zap"
)

func execute(t *testing.T, cmd *cobra.Command, args ...string) error {
	t.Helper()
	var out bytes.Buffer
	cmd.SetOut(&out)
	cmd.SetErr(&out)
	cmd.SilenceUsage, cmd.SilenceErrors = true, true
	cmd.SetArgs(args)
	return cmd.ExecuteContext(context.Background())
}

// A bad --control-plane-cpus is refused by every command that starts a
// local control plane, naming the flag and the value, before anything
// starts.
func TestControlPlaneCPUsFlagRefusedBeforeStart(t *testing.T) {
	dir := t.TempDir()
	commands := map[string]func() (*cobra.Command, []string){
		"run": func() (*cobra.Command, []string) {
			return newRunCommand(zap.NewNop()), []string{"--profile", "smoke", "--out", filepath.Join(dir, "out"), "--dir", filepath.Join(dir, "cluster")}
		},
		"up": func() (*cobra.Command, []string) {
			return newUpCommand(zap.NewNop()), []string{"--dir", filepath.Join(dir, "cluster"), "--bin-dir", filepath.Join(dir, "bin")}
		},
		"snapshot save": func() (*cobra.Command, []string) {
			return newSnapshotSaveCommand(zap.NewNop()), []string{filepath.Join(dir, "snap"), "--profile", "smoke", "--bin-dir", filepath.Join(dir, "bin")}
		},
		"compare": func() (*cobra.Command, []string) {
			return newCompareCommand(zap.NewNop()), []string{"--profile", "smoke", "--mesh", "none,cilium", "--out", filepath.Join(dir, "out"), "--bin-dir", filepath.Join(dir, "bin")}
		},
	}
	for name, mk := range commands {
		for _, tc := range []struct{ value, want string }{
			{"-1", "must not be negative"},
			{"NaN", "not a number"},
			{"0.05", "below the minimum of 0.1 cores"},
			{"9999", "9999 cores is more than the"},
			{"lots", "want a number of cores"},
		} {
			cmd, args := mk()
			err := execute(t, cmd, append(args, "--control-plane-cpus", tc.value)...)
			if want := `--control-plane-cpus "` + tc.value + `": `; err == nil || !strings.Contains(err.Error(), want) || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("%s --control-plane-cpus %s: %v, want %q and %q", name, tc.value, err, want, tc.want)
			}
		}
	}
	for _, d := range []string{"out", "cluster", "snap"} {
		if _, err := os.Stat(filepath.Join(dir, d)); err == nil {
			t.Errorf("%s was created although the flag was refused", d)
		}
	}
}

// A budget of a given size conflicts with --cpu-priority=false, whether it
// came from the flag or the profile; auto just goes without a budget.
func TestControlPlaneCPUsConflictsWithCPUPriorityOff(t *testing.T) {
	dir := t.TempDir()
	cmd := newRunCommand(zap.NewNop())
	err := execute(t, cmd, "--profile", "smoke", "--out", filepath.Join(dir, "out"), "--cpu-priority=false", "--control-plane-cpus", "1")
	if err == nil || !strings.Contains(err.Error(), `--control-plane-cpus "1" conflicts with --cpu-priority=false`) {
		t.Errorf("run: %v", err)
	}
	profile := filepath.Join(dir, "p.yaml")
	if err := os.WriteFile(profile, []byte("apiVersion: churn.dev/v1alpha1\nkind: Profile\nname: p\ncontrolPlane:\n  cpus: 1\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	cmd = newRunCommand(zap.NewNop())
	err = execute(t, cmd, "--profile", profile, "--out", filepath.Join(dir, "out"), "--cpu-priority=false")
	if err == nil || !strings.Contains(err.Error(), `the profile's controlPlane.cpus "1" conflicts with --cpu-priority=false`) {
		t.Errorf("run with the profile's budget: %v", err)
	}
	cmd = newUpCommand(zap.NewNop())
	err = execute(t, cmd, "--dir", filepath.Join(dir, "cluster"), "--cpu-priority=false", "--control-plane-cpus", "1.5")
	if err == nil || !strings.Contains(err.Error(), `--control-plane-cpus "1.5" conflicts with --cpu-priority=false`) {
		t.Errorf("up: %v", err)
	}
	// A remote target has no budget to give.
	cmd = newRunCommand(zap.NewNop())
	err = execute(t, cmd, "--profile", "smoke", "--kubeconfig", "/nonexistent/kubeconfig", "--control-plane-cpus", "1")
	if err == nil || !strings.Contains(err.Error(), "CPU budget of the local control plane churn starts") {
		t.Errorf("run --kubeconfig: %v", err)
	}
}
