package runner

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestThreadsRunQueueWait(t *testing.T) {
	root := t.TempDir()
	for tid, stat := range map[string]string{"100": "5000 2500000000 7\n", "101": "9 500000000 3\n"} {
		dir := filepath.Join(root, "100", "task", tid)
		if err := os.MkdirAll(dir, 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, "schedstat"), []byte(stat), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	got, err := threadsRunQueueWait(root, 100)
	if err != nil || got != 3*time.Second {
		t.Fatalf("wait = %v, %v; want 3s", got, err)
	}
	if _, err := threadsRunQueueWait(root, 7); err == nil {
		t.Error("a missing pid gave no error")
	}
	if s := (runQueueWait{Seconds: 3, WallSeconds: 600, OK: true}).String(); !strings.Contains(s, "waited 3s in all") || !strings.Contains(s, "0.5%") {
		t.Errorf("String() = %q", s)
	}
	if s := (runQueueWait{}).String(); s != "" {
		t.Errorf("unmeasured String() = %q", s)
	}
}

// The process running this test has threads with schedstat on Linux.
func TestThreadsRunQueueWaitOfSelf(t *testing.T) {
	if _, err := os.Stat("/proc/self/task"); err != nil {
		t.Skip("no /proc")
	}
	if _, err := threadsRunQueueWait("/proc", os.Getpid()); err != nil {
		t.Fatal(err)
	}
}
