package local

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func writeFiles(t *testing.T, dir string, names ...string) {
	t.Helper()
	for _, n := range names {
		path := filepath.Join(dir, n)
		if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, []byte("x"), 0o600); err != nil {
			t.Fatal(err)
		}
	}
}

func gcState(t *testing.T, dir string, detached bool, procs ...ProcessState) {
	t.Helper()
	s := &State{Version: stateVersion, Dir: dir, Created: time.Now(), Detached: detached,
		// An owner that cannot be alive: our PID with another start time.
		Owner: OwnerState{PID: os.Getpid(), StartTime: 1}, Processes: procs}
	if err := writeState(dir, s); err != nil {
		t.Fatal(err)
	}
}

func TestGCRemovesOnlyDeadRuns(t *testing.T) {
	root := t.TempDir()
	self, err := procStartTime(os.Getpid())
	if err != nil {
		t.Fatal(err)
	}
	alive := ProcessState{Name: Etcd, PID: os.Getpid(), StartTime: self}
	dead := ProcessState{Name: Etcd, PID: os.Getpid(), StartTime: 1}
	cluster := []string{"data/etcd/member/wal", "pki/ca.crt", "admin.kubeconfig", "kwok/kwok.yaml", "scheduler.yaml", "logs/etcd.log"}
	dir := func(name string) string { return filepath.Join(root, name) }

	writeFiles(t, dir("killed"), cluster...)
	gcState(t, dir("killed"), false, dead)
	writeFiles(t, dir("finished"), "logs/etcd.log", ".lock")
	writeFiles(t, dir("live"), cluster...)
	gcState(t, dir("live"), false, alive)
	liveLock, err := lockDir(dir("live"))
	if err != nil {
		t.Fatal(err)
	}
	defer liveLock.release()
	writeFiles(t, dir("up"), cluster...)
	gcState(t, dir("up"), true, alive)
	writeFiles(t, dir("kept"), append(cluster, "data/"+keptMarker)...)

	dry, err := GC(context.Background(), root, GCOptions{DryRun: true}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if len(dry) != 4 || dry[1].Dir != dir("killed") || dry[1].Action != "would remove" {
		t.Fatalf("dry run = %+v", dry)
	}
	if !exists(filepath.Join(dir("killed"), "data")) {
		t.Fatal("a dry run removed data")
	}

	got, err := GC(context.Background(), root, GCOptions{}, nil)
	if err != nil {
		t.Fatal(err)
	}
	actions := map[string]string{}
	for _, d := range got {
		actions[filepath.Base(d.Dir)] = d.Action + ": " + d.Why
	}
	for name, want := range map[string]string{
		"killed": "removed (logs kept): left by a churn process that died",
		"live":   "skipped: in use by a running churn process",
		"up":     "skipped: a cluster started by churn up",
		"kept":   "skipped: its data was kept on purpose",
	} {
		if !strings.HasPrefix(actions[name], want) {
			t.Errorf("%s: %q, want %q", name, actions[name], want)
		}
	}
	if _, ok := actions["finished"]; ok {
		t.Errorf("a finished run's logs were touched without --logs: %s", actions["finished"])
	}
	for _, gone := range []string{"data", "pki", "admin.kubeconfig", "state.json", "kwok", "scheduler.yaml"} {
		if exists(filepath.Join(dir("killed"), gone)) {
			t.Errorf("killed/%s survived", gone)
		}
	}
	if !exists(filepath.Join(dir("killed"), "logs", "etcd.log")) {
		t.Error("the dead run's logs were removed without --logs")
	}
	for _, name := range []string{"live", "up", "kept"} {
		if !exists(filepath.Join(dir(name), "data", "etcd", "member", "wal")) {
			t.Errorf("%s: data removed", name)
		}
	}

	if _, err := GC(context.Background(), root, GCOptions{Logs: true}, nil); err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"killed", "finished"} {
		if exists(dir(name)) {
			t.Errorf("%s: directory left after gc --logs", name)
		}
	}
	if !exists(filepath.Join(dir("live"), "logs")) {
		t.Error("gc --logs removed a live run's logs")
	}
}

func TestGCOfMissingRootIsNothing(t *testing.T) {
	got, err := GC(context.Background(), filepath.Join(t.TempDir(), "none"), GCOptions{}, nil)
	if err != nil || len(got) != 0 {
		t.Errorf("GC = %v, %v", got, err)
	}
}
