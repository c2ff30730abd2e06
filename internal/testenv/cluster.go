package testenv

import (
	"context"
	"io"
	"path/filepath"
	"strings"
	"testing"

	"go.uber.org/zap/zaptest"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"

	"github.com/churn-dev/churn/deploy/local"
)

// StartCluster starts churn's local control plane for an integration test
// and stops it when the test ends. Unset fields of opts default to the
// test's own: BinDir from RequireBinaries (which skips or fails without the
// binaries), Dir under t.TempDir(), Logger and Progress to the test log.
func StartCluster(ctx context.Context, t *testing.T, opts local.Options) *local.Cluster {
	t.Helper()
	if opts.BinDir == "" {
		opts.BinDir = RequireBinaries(t)
	}
	if opts.Dir == "" {
		opts.Dir = filepath.Join(t.TempDir(), "cluster")
	}
	if opts.Logger == nil {
		opts.Logger = zaptest.NewLogger(t)
	}
	if opts.Progress == nil {
		opts.Progress = LogWriter(t)
	}
	c, err := local.Up(ctx, opts)
	if err != nil {
		t.Fatalf("local.Up: %v", err)
	}
	t.Cleanup(func() {
		if err := c.Stop(context.WithoutCancel(ctx), false); err != nil {
			t.Errorf("stop local control plane: %v", err)
		}
	})
	return c
}

// AuditedCluster is a local cluster whose API server writes an audit log
// (the fidelity tests read request mixes from it).
type AuditedCluster struct {
	*local.Cluster
	Config   *rest.Config
	Client   kubernetes.Interface
	AuditLog string
}

// StartAuditedCluster starts a local cluster from the binaries in bin,
// under dir, with an audit log in dir/audit.
func StartAuditedCluster(ctx context.Context, t *testing.T, bin, dir string) AuditedCluster {
	t.Helper()
	auditLog := filepath.Join(dir, "audit", "audit.log")
	c := StartCluster(ctx, t, local.Options{Dir: filepath.Join(dir, "cluster"), BinDir: bin,
		Audit: local.AuditOptions{LogPath: auditLog}})
	cfg := c.RESTConfig()
	cs, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return AuditedCluster{Cluster: c, Config: cfg, Client: cs, AuditLog: auditLog}
}

// LogWriter sends what is written to it, line by line, to the test log.
func LogWriter(t testing.TB) io.Writer { return logWriter{t} }

type logWriter struct{ t testing.TB }

func (w logWriter) Write(p []byte) (int, error) {
	w.t.Log(strings.TrimRight(string(p), "\n"))
	return len(p), nil
}
