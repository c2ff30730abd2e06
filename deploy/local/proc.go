package local

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"
	"syscall"
)

// procStat is what churn reads from /proc/<pid>/stat.
type procStat struct {
	state     byte   // field 3: R, S, D, Z, X, ...
	startTime uint64 // field 22: start time in clock ticks after boot
	utime     uint64 // field 14, clock ticks
	stime     uint64 // field 15, clock ticks
	nice      int    // field 19
}

// readProcStat parses /proc/<pid>/stat. The command name (field 2) is in
// parentheses and may itself contain spaces and parentheses, so fields are
// counted from the last ')'.
func readProcStat(pid int) (procStat, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return procStat{}, err
	}
	return parseProcStat(b)
}

func parseProcStat(b []byte) (procStat, error) {
	i := bytes.LastIndexByte(b, ')')
	if i < 0 {
		return procStat{}, errors.New("malformed /proc stat: no command name")
	}
	// rest[0] is field 3 (state).
	rest := strings.Fields(string(b[i+1:]))
	if len(rest) < 20 {
		return procStat{}, fmt.Errorf("malformed /proc stat: %d fields after command name", len(rest))
	}
	var s procStat
	if len(rest[0]) != 1 {
		return procStat{}, fmt.Errorf("malformed /proc stat: state %q", rest[0])
	}
	s.state = rest[0][0]
	var err error
	if s.utime, err = strconv.ParseUint(rest[11], 10, 64); err != nil {
		return procStat{}, fmt.Errorf("malformed /proc stat utime: %w", err)
	}
	if s.stime, err = strconv.ParseUint(rest[12], 10, 64); err != nil {
		return procStat{}, fmt.Errorf("malformed /proc stat stime: %w", err)
	}
	if s.nice, err = strconv.Atoi(rest[16]); err != nil {
		return procStat{}, fmt.Errorf("malformed /proc stat nice %q: %w", rest[16], err)
	}
	if s.startTime, err = strconv.ParseUint(rest[19], 10, 64); err != nil {
		return procStat{}, fmt.Errorf("malformed /proc stat starttime: %w", err)
	}
	return s, nil
}

// clockTicksPerSecond is USER_HZ, the unit of utime and stime.
const clockTicksPerSecond = 100

// ProcessCPUSeconds is the user plus system CPU time pid has used.
func ProcessCPUSeconds(pid int) (float64, error) {
	s, err := readProcStat(pid)
	if err != nil {
		return 0, err
	}
	return float64(s.utime+s.stime) / clockTicksPerSecond, nil
}

// procStartTime returns the start time of pid (clock ticks after boot).
func procStartTime(pid int) (uint64, error) {
	s, err := readProcStat(pid)
	if err != nil {
		return 0, fmt.Errorf("reading start time of pid %d: %w", pid, err)
	}
	return s.startTime, nil
}

// procAlive reports whether pid is a running (not zombie) process that
// started at startTime. A PID that was recycled by another process has a
// different start time and reports false, so it is never signalled.
func procAlive(pid int, startTime uint64) bool {
	if pid <= 0 {
		return false
	}
	s, err := readProcStat(pid)
	if err != nil {
		return false
	}
	if s.state == 'Z' || s.state == 'X' {
		return false
	}
	return s.startTime == startTime
}

// signalIfSame sends sig to pid only if it is still the process recorded
// with startTime. It reports whether the signal was sent.
func signalIfSame(pid int, startTime uint64, sig syscall.Signal) (bool, error) {
	if !procAlive(pid, startTime) {
		return false, nil
	}
	if err := syscall.Kill(pid, sig); err != nil {
		if errors.Is(err, syscall.ESRCH) {
			return false, nil
		}
		return false, fmt.Errorf("signalling pid %d: %w", pid, err)
	}
	return true, nil
}

// procRSSBytes returns the resident set size of pid from VmRSS in
// /proc/<pid>/status.
func procRSSBytes(pid int) (int64, error) {
	f, err := os.Open(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0, err
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := sc.Text()
		if !strings.HasPrefix(line, "VmRSS:") {
			continue
		}
		f := strings.Fields(line[len("VmRSS:"):])
		if len(f) < 1 {
			break
		}
		kb, err := strconv.ParseInt(f[0], 10, 64)
		if err != nil {
			return 0, fmt.Errorf("parsing VmRSS %q: %w", line, err)
		}
		return kb * 1024, nil
	}
	if err := sc.Err(); err != nil {
		return 0, err
	}
	return 0, fmt.Errorf("no VmRSS in /proc/%d/status", pid)
}

// tailLines returns the last n lines of the file at path (reading at most
// the last 64 KiB), for error messages about a process that died.
func tailLines(path string, n int) string {
	f, err := os.Open(path)
	if err != nil {
		return ""
	}
	defer f.Close()
	const maxRead = 64 << 10
	st, err := f.Stat()
	if err != nil {
		return ""
	}
	off := st.Size() - maxRead
	if off < 0 {
		off = 0
	}
	buf := make([]byte, st.Size()-off)
	if _, err := f.ReadAt(buf, off); err != nil && !errors.Is(err, io.EOF) {
		return ""
	}
	lines := strings.Split(strings.TrimRight(string(buf), "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}
