package realcilium

import (
	"context"
	"flag"
	"net/http"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"go.uber.org/zap/zaptest"
	"k8s.io/client-go/rest"

	"github.com/churn-dev/churn/agents"
)

// The test binary doubles as a fake cilium-operator when
// FAKE_CILIUM_OPERATOR is set: it answers /healthz on its API address
// until SIGTERM.
func TestMain(m *testing.M) {
	if os.Getenv("FAKE_CILIUM_OPERATOR") != "" {
		os.Exit(fakeOperator())
	}
	os.Exit(m.Run())
}

func fakeOperator() int {
	fs := flag.NewFlagSet("operator", flag.ContinueOnError)
	addr := fs.String("operator-api-serve-addr", "", "")
	var keep []string
	for _, a := range os.Args[1:] {
		if strings.HasPrefix(a, "--operator-api-serve-addr=") {
			keep = append(keep, a)
		}
	}
	_ = fs.Parse(keep)
	sig := make(chan os.Signal, 1)
	signal.Notify(sig, syscall.SIGTERM)
	mux := http.NewServeMux()
	mux.HandleFunc("/healthz", func(w http.ResponseWriter, _ *http.Request) { w.WriteHeader(http.StatusOK) })
	go func() { _ = http.ListenAndServe(*addr, mux) }()
	<-sig
	return 0
}

// Each operator replica restarts on its own as a new process, reported to
// OnStarted, while the other keeps running; Stop ends them all.
func TestOperatorRestartsAReplica(t *testing.T) {
	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	t.Setenv("FAKE_CILIUM_OPERATOR", "1")
	var mu sync.Mutex
	started := map[string][]int{}
	op, err := NewOperator(OperatorOptions{Binary: self, Dir: filepath.Join(t.TempDir(), "cilium"), ReadyTimeout: time.Minute,
		StopGrace: 2 * time.Second, Logger: zaptest.NewLogger(t),
		OnStarted: func(name string, pid int) {
			mu.Lock()
			defer mu.Unlock()
			started[name] = append(started[name], pid)
		}})
	if err != nil {
		t.Fatal(err)
	}
	id := agents.StandInIdentity{RESTConfig: &rest.Config{Host: "https://127.0.0.1:6443"}, Namespace: "kube-system"}
	ctx := context.Background()
	if err := op.Start(ctx, id); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = op.Stop(context.Background()) })
	if op.Replicas() != DefaultOperatorReplicas {
		t.Fatalf("Replicas() = %d", op.Replicas())
	}
	before := op.Processes()
	if err := op.StartReplica(ctx, 1); err == nil {
		t.Error("StartReplica of a running replica succeeded")
	}
	if err := op.StopReplica(ctx, 1); err != nil {
		t.Fatal(err)
	}
	if _, ok := op.Processes()[replicaName(1)]; ok {
		t.Errorf("replica 1 listed while stopped: %v", op.Processes())
	}
	if err := op.StartReplica(ctx, 1); err != nil {
		t.Fatal(err)
	}
	after := op.Processes()
	if after[replicaName(0)] != before[replicaName(0)] || after[replicaName(1)] == before[replicaName(1)] || after[replicaName(1)] == 0 {
		t.Errorf("processes %v -> %v, want replica 1 alone replaced", before, after)
	}
	mu.Lock()
	if got := started[replicaName(1)]; len(got) != 2 || got[1] != after[replicaName(1)] {
		t.Errorf("OnStarted for replica 1: %v, want its two processes", got)
	}
	mu.Unlock()
	if err := op.Stop(ctx); err != nil {
		t.Fatal(err)
	}
	for name, pid := range after {
		if err := syscall.Kill(pid, 0); err == nil {
			t.Errorf("%s (pid %d) still runs after Stop", name, pid)
		}
	}
	if err := op.StartReplica(ctx, 0); err == nil {
		t.Error("StartReplica after Stop succeeded")
	}
}
