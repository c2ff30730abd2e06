package runner

import (
	"context"
	"os"
	"strings"
	"testing"
)

func TestRunRefusesAnUnwritableResultsDirBeforeStarting(t *testing.T) {
	file := t.TempDir() + "/a-file"
	if err := os.WriteFile(file, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	out, err := Run(context.Background(), Options{OutDir: file + "/results", ClusterDir: t.TempDir() + "/never"})
	if err == nil || out != nil || !strings.Contains(err.Error(), "--out "+file+"/results") {
		t.Fatalf("Run = %v, %v; want a refusal naming --out", out, err)
	}
	if err := CheckOutDir(t.TempDir() + "/new/results"); err != nil {
		t.Errorf("a creatable directory: %v", err)
	}
}
