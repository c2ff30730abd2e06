package testenv

import (
	"context"
	"io"
	"path/filepath"
	"strings"
	"testing"

	"go.uber.org/zap/zaptest"

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

// LogWriter sends what is written to it, line by line, to the test log.
func LogWriter(t testing.TB) io.Writer { return logWriter{t} }

type logWriter struct{ t testing.TB }

func (w logWriter) Write(p []byte) (int, error) {
	w.t.Log(strings.TrimRight(string(p), "\n"))
	return len(p), nil
}
