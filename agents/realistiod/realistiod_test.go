package realistiod

import (
	"context"
	"flag"
	"fmt"
	"net/http"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"go.uber.org/zap/zaptest"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"

	"github.com/churn-dev/churn/agents"
)

// The test binary doubles as a fake pilot-discovery when FAKE_ISTIOD is
// set: it records its arguments and environment in its working directory,
// then behaves as FAKE_ISTIOD says.
func TestMain(m *testing.M) {
	if mode := os.Getenv("FAKE_ISTIOD"); mode != "" {
		os.Exit(fakeIstiod(mode))
	}
	os.Exit(m.Run())
}

func fakeIstiod(mode string) int {
	_ = os.WriteFile("args", []byte(strings.Join(os.Args[1:], "\n")), 0o600)
	_ = os.WriteFile("env", []byte(strings.Join(os.Environ(), "\n")), 0o600)
	if mode == "exit" {
		fmt.Println("fake istiod: failing at start")
		return 3
	}
	fs := flag.NewFlagSet("discovery", flag.ContinueOnError)
	httpAddr := fs.String("httpAddr", "", "")
	fs.String("kubeconfig", "", "")
	_ = fs.Parse(filterFlags(os.Args[2:], "httpAddr", "kubeconfig"))
	// Signals are set up before /ready answers, so Stop meets them.
	sig := make(chan os.Signal, 1)
	if mode == "stubborn" {
		signal.Ignore(syscall.SIGTERM)
	} else {
		signal.Notify(sig, syscall.SIGTERM)
	}
	mux := http.NewServeMux()
	mux.HandleFunc("/ready", func(w http.ResponseWriter, _ *http.Request) { w.WriteHeader(http.StatusOK) })
	go func() { _ = http.ListenAndServe(*httpAddr, mux) }()
	<-sig
	return 0
}

// filterFlags keeps only the named --flag=value arguments.
func filterFlags(args []string, names ...string) []string {
	var out []string
	for _, a := range args {
		for _, n := range names {
			if strings.HasPrefix(a, "--"+n+"=") {
				out = append(out, a)
			}
		}
	}
	return out
}

func testIdentity() agents.StandInIdentity {
	cfg := &rest.Config{Host: "https://127.0.0.1:6443", BearerToken: "t0ken",
		TLSClientConfig: rest.TLSClientConfig{CAData: []byte("ca")}}
	cfg.Impersonate = rest.ImpersonationConfig{UserName: "system:serviceaccount:istio-system:istiod-churn-r1",
		Groups: []string{"system:serviceaccounts"}}
	return agents.StandInIdentity{RESTConfig: cfg, Namespace: "churn-mesh-r1", ServiceAccount: "istio-system/istiod-churn-r1"}
}

func newFake(t *testing.T, mode string) (*Istiod, string) {
	t.Helper()
	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	// A binary path relative to the caller's directory (bin/...) must
	// still be found from istiod's own working directory.
	t.Chdir(filepath.Dir(self))
	self = "./" + filepath.Base(self)
	dir := filepath.Join(t.TempDir(), "istiod")
	p, err := New(Options{Binary: self, Dir: dir, Env: []string{"FAKE_ISTIOD=" + mode},
		ReadyTimeout: time.Minute, StopGrace: 500 * time.Millisecond, Logger: zaptest.NewLogger(t)})
	if err != nil {
		t.Fatal(err)
	}
	return p, dir
}

func TestStartServesOnLoopbackAndStops(t *testing.T) {
	p, dir := newFake(t, "serve")
	if err := p.Start(context.Background(), testIdentity()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = p.Stop(context.Background()) })
	args, err := os.ReadFile(filepath.Join(dir, "args"))
	if err != nil {
		t.Fatal(err)
	}
	var kubeconfig string
	for _, a := range strings.Split(string(args), "\n") {
		name, value, _ := strings.Cut(a, "=")
		switch {
		case strings.HasSuffix(name, "Addr"):
			if !strings.HasPrefix(value, "127.0.0.1:") {
				t.Errorf("%s listens on %q, want loopback", name, value)
			}
		case name == "--ctrlz_address" && value != "127.0.0.1":
			t.Errorf("ctrlz listens on %q", value)
		case name == "--kubeconfig":
			kubeconfig = value
		}
	}
	if !strings.HasPrefix(string(args), "discovery\n") {
		t.Errorf("args do not start with the discovery command: %q", args)
	}
	kc, err := clientcmd.LoadFromFile(kubeconfig)
	if err != nil {
		t.Fatalf("kubeconfig %q: %v", kubeconfig, err)
	}
	auth := kc.AuthInfos[kc.Contexts[kc.CurrentContext].AuthInfo]
	if auth.Impersonate != "system:serviceaccount:istio-system:istiod-churn-r1" || auth.Token != "t0ken" {
		t.Errorf("kubeconfig user = %+v, want the token impersonating istiod's account", auth)
	}
	if fi, err := os.Stat(kubeconfig); err != nil || fi.Mode().Perm() != 0o600 || strings.HasPrefix(kubeconfig, dir) {
		t.Errorf("kubeconfig %s: %v, mode %v; want 0600 outside the working directory", kubeconfig, err, fi.Mode())
	}
	env, err := os.ReadFile(filepath.Join(dir, "env"))
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"POD_NAMESPACE=churn-mesh-r1", "SERVICE_ACCOUNT=istiod-churn-r1", "PILOT_ENABLE_AMBIENT=true", "KUBECONFIG=" + kubeconfig} {
		if !strings.Contains(string(env), want+"\n") {
			t.Errorf("environment lacks %s", want)
		}
	}
	if p.PID() == 0 {
		t.Error("PID() = 0 after Start")
	}
	if err := p.Start(context.Background(), testIdentity()); err == nil {
		t.Error("a second Start succeeded")
	}
	if err := p.Stop(context.Background()); err != nil {
		t.Fatal(err)
	}
	select {
	case <-p.Exited():
	default:
		t.Error("process still running after Stop")
	}
	if _, err := os.Stat(kubeconfig); !os.IsNotExist(err) {
		t.Errorf("kubeconfig left after Stop: %v", err)
	}
	if err := p.Stop(context.Background()); err != nil {
		t.Errorf("second Stop: %v", err)
	}
}

func TestStartFailsWhenIstiodExits(t *testing.T) {
	p, _ := newFake(t, "exit")
	err := p.Start(context.Background(), testIdentity())
	if err == nil || !strings.Contains(err.Error(), "exited before it was ready") || !strings.Contains(err.Error(), p.LogPath()) {
		t.Fatalf("Start() = %v, want an early-exit error naming the log", err)
	}
	log, rerr := os.ReadFile(p.LogPath())
	if rerr != nil || !strings.Contains(string(log), "failing at start") {
		t.Errorf("log %s lacks istiod's output: %v %q", p.LogPath(), rerr, log)
	}
}

// A process that ignores SIGTERM is killed once the grace period ends.
func TestStopKillsAStubbornIstiod(t *testing.T) {
	p, _ := newFake(t, "stubborn")
	if err := p.Start(context.Background(), testIdentity()); err != nil {
		t.Fatal(err)
	}
	if err := p.Stop(context.Background()); err != nil {
		t.Fatal(err)
	}
	select {
	case <-p.Exited():
	default:
		t.Fatal("process still running after Stop")
	}
}

func TestNewNeedsTheBinary(t *testing.T) {
	_, err := New(Options{Binary: filepath.Join(t.TempDir(), BinaryName), Dir: t.TempDir()})
	if err == nil || !strings.Contains(err.Error(), "make istiod") {
		t.Fatalf("New() = %v, want an error pointing at make istiod", err)
	}
}

// A restart stops the process and starts a new one as a new pod (a new
// POD_NAME, so a new leader-election holder), with the same kubeconfig,
// until Stop ends it for good.
func TestRestartIsANewPod(t *testing.T) {
	p, dir := newFake(t, "serve")
	var pids []int
	p.opts.OnStarted = func(pid int) { pids = append(pids, pid) }
	if err := p.Start(context.Background(), testIdentity()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = p.Stop(context.Background()) })
	if err := p.StartReplica(context.Background(), 0); err == nil {
		t.Error("StartReplica of a running istiod succeeded")
	}
	first := p.PID()
	exited := p.Exited()
	if err := p.StopReplica(context.Background(), 0); err != nil {
		t.Fatal(err)
	}
	select {
	case <-exited:
	default:
		t.Fatal("process still running after StopReplica")
	}
	if err := p.StartReplica(context.Background(), 0); err != nil {
		t.Fatal(err)
	}
	if p.PID() == first || len(pids) != 2 || pids[1] != p.PID() || p.Restarts() != 1 {
		t.Errorf("PID %d (first %d), started %v, restarts %d; want a new process reported", p.PID(), first, pids, p.Restarts())
	}
	env, err := os.ReadFile(filepath.Join(dir, "env"))
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(env), "POD_NAME=istiod-churn-1\n") {
		t.Errorf("restarted istiod's environment lacks POD_NAME=istiod-churn-1")
	}
	if err := p.Stop(context.Background()); err != nil {
		t.Fatal(err)
	}
	if err := p.StartReplica(context.Background(), 0); err == nil {
		t.Error("StartReplica after Stop succeeded")
	}
}
