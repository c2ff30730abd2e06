package local

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"go.uber.org/zap"
)

func TestLoadStateMissing(t *testing.T) {
	_, err := LoadState(t.TempDir())
	if !errors.Is(err, ErrNoState) {
		t.Fatalf("err = %v, want ErrNoState", err)
	}
}

func TestStateRoundTripAndVersion(t *testing.T) {
	dir := t.TempDir()
	in := &State{Version: stateVersion, Dir: dir, Ports: Ports{Etcd: 1, APIServer: 2},
		Processes: []ProcessState{{Name: Etcd, PID: 42, StartTime: 7, Args: []string{"--a"}}}}
	if err := writeState(dir, in); err != nil {
		t.Fatal(err)
	}
	out, err := LoadState(dir)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(out.Ports, in.Ports) || len(out.Processes) != 1 || out.Processes[0].StartTime != 7 {
		t.Fatalf("round trip: %+v", out)
	}
	in.Version = 99
	if err := writeState(dir, in); err != nil {
		t.Fatal(err)
	}
	if _, err := LoadState(dir); err == nil || !strings.Contains(err.Error(), "version 99") {
		t.Fatalf("err = %v, want a version error", err)
	}
}

// stateWithSleeps records two live sleep processes, the second under a
// wrong start time (standing in for a recycled PID).
func stateWithSleeps(t *testing.T, dir string) (*State, uint64, uint64) {
	t.Helper()
	a, aStart := startSleep(t)
	b, bStart := startSleep(t)
	s := &State{
		Version: stateVersion,
		Dir:     dir,
		Processes: []ProcessState{
			{Name: Etcd, PID: a.Process.Pid, StartTime: aStart, StartedAt: time.Now()},
			{Name: APIServer, PID: b.Process.Pid, StartTime: bStart + 1, StartedAt: time.Now()},
		},
	}
	if err := writeState(dir, s); err != nil {
		t.Fatal(err)
	}
	return s, aStart, bStart
}

func TestStatusReport(t *testing.T) {
	dir := t.TempDir()
	s, _, _ := stateWithSleeps(t, dir)
	st, err := StatusReport(dir)
	if err != nil {
		t.Fatal(err)
	}
	if len(st.Processes) != 2 || !st.Processes[0].Alive || st.Processes[1].Alive {
		t.Fatalf("status = %+v; want first alive, second (mismatched start time) not", st.Processes)
	}
	if st.Running() {
		t.Fatal("Running() with a dead process")
	}
	if _, err := Attach(dir); err == nil {
		t.Fatal("Attach succeeded on a cluster with a dead process")
	}
	_ = s
}

func TestDownStopsOnlyRecordedProcesses(t *testing.T) {
	dir := t.TempDir()
	s, aStart, bStart := stateWithSleeps(t, dir)
	data := filepath.Join(dir, "data", "etcd")
	if err := os.MkdirAll(data, 0o700); err != nil {
		t.Fatal(err)
	}
	if err := Down(context.Background(), dir, false, nil); err != nil {
		t.Fatalf("Down: %v", err)
	}
	if procAlive(s.Processes[0].PID, aStart) {
		t.Error("recorded process still alive after Down")
	}
	if !procAlive(s.Processes[1].PID, bStart) {
		t.Error("Down killed a process whose start time did not match the record")
	}
	if _, err := os.Stat(filepath.Join(dir, "data")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("data dir not removed: %v", err)
	}
	if _, err := LoadState(dir); !errors.Is(err, ErrNoState) {
		t.Errorf("state not removed: %v", err)
	}
	// Down again: nothing recorded, not an error.
	if err := Down(context.Background(), dir, false, nil); err != nil {
		t.Fatalf("second Down: %v", err)
	}
}

func TestDownKeepData(t *testing.T) {
	dir := t.TempDir()
	stateWithSleeps(t, dir)
	data := filepath.Join(dir, "data", "etcd")
	if err := os.MkdirAll(data, 0o700); err != nil {
		t.Fatal(err)
	}
	if err := Down(context.Background(), dir, true, nil); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(data); err != nil {
		t.Fatalf("keepData removed data: %v", err)
	}
}

func TestLockDirExcludesSecondOwner(t *testing.T) {
	dir := t.TempDir()
	l, err := lockDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := lockDir(dir); err == nil || !strings.Contains(err.Error(), "churn down --dir") {
		t.Fatalf("second lock: err = %v, want an in-use error naming churn down", err)
	}
	l.release()
	l2, err := lockDir(dir)
	if err != nil {
		t.Fatalf("lock after release: %v", err)
	}
	l2.release()
}

func TestDataKeptOnlyOnPurpose(t *testing.T) {
	p := paths{dir: t.TempDir()}
	mk := func() {
		if err := os.MkdirAll(p.etcdData(), 0o700); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(p.etcdData(), "db"), []byte("x"), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	// Left by a crash (no marker): removed.
	mk()
	reuse, err := prepareData(p, zap.NewNop())
	if err != nil || reuse {
		t.Fatalf("crash leftovers: reuse=%v err=%v", reuse, err)
	}
	if _, err := os.Stat(filepath.Join(p.etcdData(), "db")); !errors.Is(err, os.ErrNotExist) {
		t.Fatal("crash leftovers not removed")
	}
	// Kept on purpose: reused once.
	mk()
	if err := finishData(p, true, false); err != nil {
		t.Fatal(err)
	}
	reuse, err = prepareData(p, zap.NewNop())
	if err != nil || !reuse {
		t.Fatalf("kept data: reuse=%v err=%v", reuse, err)
	}
	if _, err := os.Stat(filepath.Join(p.etcdData(), "db")); err != nil {
		t.Fatalf("kept data removed: %v", err)
	}
	if err := finishData(p, false, false); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(p.data()); !errors.Is(err, os.ErrNotExist) {
		t.Fatal("data not removed")
	}
}
