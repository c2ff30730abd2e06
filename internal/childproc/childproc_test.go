package childproc

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"
)

// A child that exits on SIGTERM is stopped without SIGKILL; its output and
// the header line are in the log; it has a process group of its own.
func TestStartStopGraceful(t *testing.T) {
	log := filepath.Join(t.TempDir(), "child.log")
	p, err := Start("sleeper", exec.Command("sh", "-c", "echo hello; exec sleep 60"), log, 0)
	if err != nil {
		t.Fatal(err)
	}
	if pgid, err := syscall.Getpgid(p.PID()); err != nil || pgid != p.PID() {
		t.Errorf("process group %d (%v), want its own (%d)", pgid, err, p.PID())
	}
	if p.ExitError() != nil {
		t.Errorf("ExitError() = %v while running, want nil", p.ExitError())
	}
	killed, err := p.Stop(context.Background(), 10*time.Second)
	if err != nil || killed {
		t.Fatalf("Stop() = %v, %v; want a clean SIGTERM stop", killed, err)
	}
	select {
	case <-p.Exited():
	default:
		t.Fatal("Exited() not closed after Stop")
	}
	out, _ := os.ReadFile(log)
	if !strings.Contains(string(out), "=== churn: starting sleeper") || !strings.Contains(string(out), "hello") {
		t.Errorf("log = %q, want the header and the child's output", out)
	}
	if killed, err := p.Stop(context.Background(), time.Second); killed || err != nil {
		t.Errorf("second Stop() = %v, %v; want a no-op", killed, err)
	}
}

// A child that ignores SIGTERM is killed after the grace period.
func TestStopKillsAfterGrace(t *testing.T) {
	p, err := Start("stubborn", exec.Command("sh", "-c", "trap '' TERM; while :; do sleep 1; done"), filepath.Join(t.TempDir(), "log"), 0)
	if err != nil {
		t.Fatal(err)
	}
	time.Sleep(200 * time.Millisecond) // let the shell install its trap
	killed, err := p.Stop(context.Background(), 300*time.Millisecond)
	if err != nil || !killed {
		t.Fatalf("Stop() = %v, %v; want SIGKILL after the grace", killed, err)
	}
	if p.ExitError() == nil {
		t.Error("ExitError() = nil after the kill")
	}
}

func TestStartRefusesMissingProgram(t *testing.T) {
	if _, err := Start("none", exec.Command("/nonexistent/program"), filepath.Join(t.TempDir(), "log"), 0); err == nil {
		t.Fatal("Start of a missing program succeeded")
	}
}

func TestWriteKubeconfigRoundTrip(t *testing.T) {
	path := filepath.Join(t.TempDir(), "kubeconfig")
	cfg := &rest.Config{Host: "https://127.0.0.1:6443", BearerToken: "t0ken",
		Impersonate: rest.ImpersonationConfig{UserName: "system:serviceaccount:kube-system:cilium", Groups: []string{"system:serviceaccounts"}}}
	cfg.CAData = []byte("ca")
	if err := WriteKubeconfig(path, cfg); err != nil {
		t.Fatal(err)
	}
	if fi, err := os.Stat(path); err != nil || fi.Mode().Perm() != 0o600 {
		t.Errorf("kubeconfig mode %v (%v), want 0600", fi.Mode().Perm(), err)
	}
	got, err := clientcmd.BuildConfigFromFlags("", path)
	if err != nil {
		t.Fatal(err)
	}
	if got.Host != cfg.Host || got.BearerToken != "t0ken" || got.Impersonate.UserName != cfg.Impersonate.UserName ||
		len(got.Impersonate.Groups) != 1 || string(got.CAData) != "ca" {
		t.Errorf("read back %+v", got)
	}
	if err := WriteKubeconfig(path, nil); err == nil {
		t.Error("WriteKubeconfig(nil) succeeded")
	}
}

func TestFreePortsAreDistinct(t *testing.T) {
	ports, err := FreePorts(5)
	if err != nil {
		t.Fatal(err)
	}
	seen := map[int]bool{}
	for _, p := range ports {
		if p <= 0 || seen[p] {
			t.Errorf("ports %v: %d repeated or invalid", ports, p)
		}
		seen[p] = true
	}
}

// WaitReady returns once the probe says ready, names the child and its log
// when it exits first, and gives up after the timeout.
func TestWaitReady(t *testing.T) {
	log := filepath.Join(t.TempDir(), "log")
	p, err := Start("sleeper", exec.Command("sleep", "60"), log, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer p.Stop(context.Background(), time.Second)
	calls := 0
	if err := p.WaitReady(context.Background(), 5*time.Second, 10*time.Millisecond, func(context.Context) bool { calls++; return calls == 3 }); err != nil {
		t.Errorf("WaitReady = %v, want ready on the third probe", err)
	}
	never := func(context.Context) bool { return false }
	if err := p.WaitReady(context.Background(), 50*time.Millisecond, 10*time.Millisecond, never); err == nil || !strings.Contains(err.Error(), "not ready after") {
		t.Errorf("WaitReady = %v, want a timeout", err)
	}
	quitter, err := Start("quitter", exec.Command("sh", "-c", "exit 3"), log, 0)
	if err != nil {
		t.Fatal(err)
	}
	err = quitter.WaitReady(context.Background(), 5*time.Second, 10*time.Millisecond, never)
	if err == nil || !strings.Contains(err.Error(), "quitter exited before it was ready (exit status 3); see "+log) {
		t.Errorf("WaitReady = %v, want the exit named with the log", err)
	}
}
