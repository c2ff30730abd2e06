package local

import (
	"os"
	"os/exec"
	"syscall"
	"testing"
	"time"
)

func TestParseProcStatHandlesOddCommandNames(t *testing.T) {
	// Field 2 may contain spaces and parentheses; fields count from the last ')'.
	line := "1234 (we) ird (name) S 1 1234 1234 0 -1 4194560 100 0 0 0 7 3 0 0 20 0 1 0 98765 1000 10 18446744073709551615 0 0 0 0 0 0 0 0 0 0 0 0 17 0 0 0 0 0 0\n"
	s, err := parseProcStat([]byte(line))
	if err != nil {
		t.Fatal(err)
	}
	if s.state != 'S' || s.startTime != 98765 || s.utime != 7 || s.stime != 3 {
		t.Fatalf("parsed %+v", s)
	}
	if _, err := parseProcStat([]byte("1 (x) S 1 2")); err == nil {
		t.Fatal("short stat line accepted")
	}
}

func TestProcAliveChecksStartTime(t *testing.T) {
	self := os.Getpid()
	st, err := procStartTime(self)
	if err != nil {
		t.Fatal(err)
	}
	if !procAlive(self, st) {
		t.Fatal("this process is not alive with its own start time")
	}
	if procAlive(self, st+1) {
		t.Fatal("a different start time (recycled PID) reported alive")
	}
	if procAlive(0, 0) || procAlive(-1, 0) {
		t.Fatal("non-positive PID reported alive")
	}
}

func startSleep(t *testing.T) (*exec.Cmd, uint64) {
	t.Helper()
	cmd := exec.Command("sleep", "60")
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })
	st, err := procStartTime(cmd.Process.Pid)
	if err != nil {
		t.Fatal(err)
	}
	return cmd, st
}

func TestSignalIfSameNeverSignalsARecycledPID(t *testing.T) {
	cmd, st := startSleep(t)
	sent, err := signalIfSame(cmd.Process.Pid, st+1, syscall.SIGKILL)
	if err != nil || sent {
		t.Fatalf("signalled a process with a mismatched start time: sent=%v err=%v", sent, err)
	}
	if !procAlive(cmd.Process.Pid, st) {
		t.Fatal("process died though its start time did not match")
	}
	sent, err = signalIfSame(cmd.Process.Pid, st, syscall.SIGKILL)
	if err != nil || !sent {
		t.Fatalf("matching process not signalled: sent=%v err=%v", sent, err)
	}
}

func TestZombieCountsAsDead(t *testing.T) {
	cmd, st := startSleep(t)
	if err := cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	// Not yet reaped: /proc still has it, as a zombie.
	deadline := time.Now().Add(5 * time.Second)
	for procAlive(cmd.Process.Pid, st) {
		if time.Now().After(deadline) {
			t.Fatal("killed process still reported alive")
		}
		time.Sleep(10 * time.Millisecond)
	}
	if s, err := readProcStat(cmd.Process.Pid); err != nil || s.state != 'Z' {
		t.Logf("state %q err %v (expected a zombie before Wait)", s.state, err)
	}
}

func TestProcRSS(t *testing.T) {
	rss, err := procRSSBytes(os.Getpid())
	if err != nil {
		t.Fatal(err)
	}
	if rss < 1<<20 {
		t.Fatalf("RSS of the test process = %d bytes, implausibly small", rss)
	}
}

func TestTailLines(t *testing.T) {
	p := t.TempDir() + "/log"
	var data []byte
	for i := 0; i < 50; i++ {
		data = append(data, []byte("line "+string(rune('a'+i%26))+"\n")...)
	}
	if err := os.WriteFile(p, data, 0o600); err != nil {
		t.Fatal(err)
	}
	got := tailLines(p, 3)
	if got != "line v\nline w\nline x" {
		t.Fatalf("tail = %q", got)
	}
	if tailLines(p+"-missing", 3) != "" {
		t.Fatal("missing file should give empty tail")
	}
}
