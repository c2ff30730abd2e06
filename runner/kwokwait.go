package runner

import (
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/churn-dev/churn/deploy/local"
	"github.com/churn-dev/churn/observers"
)

// runQueueWait is how long kwok's threads waited on a run queue for a CPU
// over the churn phase: whether kwok was starved, or had its CPU and only
// waited on the API server's answers, which the kwok checks cannot tell
// apart by themselves.
type runQueueWait struct {
	Seconds     float64
	WallSeconds float64
	OK          bool
}

// String reads as a clause of a check's reason.
func (w runQueueWait) String() string {
	if !w.OK || w.WallSeconds <= 0 {
		return ""
	}
	return fmt.Sprintf("kwok's threads waited %s in all for a CPU over the churn phase (%.1f%% of its length)",
		observers.FormatSeconds(w.Seconds), 100*w.Seconds/w.WallSeconds)
}

// kwokPID is the running kwok of the local cluster, 0 without one.
func (r *run) kwokPID() int {
	if r.cluster == nil {
		return 0
	}
	for _, p := range r.cluster.Processes() {
		if p.Name == local.KWOK {
			return p.PID
		}
	}
	return 0
}

// threadsRunQueueWait sums the run-queue wait (second field of schedstat,
// nanoseconds) over every thread of pid. Threads that ended are not
// counted, which Go's long-lived threads make rare.
func threadsRunQueueWait(procRoot string, pid int) (time.Duration, error) {
	dir := filepath.Join(procRoot, strconv.Itoa(pid), "task")
	tasks, err := os.ReadDir(dir)
	if err != nil {
		return 0, fmt.Errorf("threads of pid %d: %w", pid, err)
	}
	var total time.Duration
	for _, t := range tasks {
		b, err := os.ReadFile(filepath.Join(dir, t.Name(), "schedstat"))
		if err != nil {
			continue // the thread ended meanwhile
		}
		f := strings.Fields(string(b))
		if len(f) < 2 {
			return 0, fmt.Errorf("%s/%s/schedstat: %q: want 3 fields", dir, t.Name(), b)
		}
		ns, err := strconv.ParseInt(f[1], 10, 64)
		if err != nil {
			return 0, fmt.Errorf("%s/%s/schedstat: %w", dir, t.Name(), err)
		}
		total += time.Duration(ns)
	}
	return total, nil
}

// measureKWOKWait returns a function that, called at the end of the phase,
// gives kwok's run-queue wait since now; not OK when kwok restarted or
// /proc could not be read.
func (r *run) measureKWOKWait() func() runQueueWait {
	pid := r.kwokPID()
	if pid == 0 {
		return func() runQueueWait { return runQueueWait{} }
	}
	start := time.Now()
	before, err := threadsRunQueueWait("/proc", pid)
	if err != nil {
		return func() runQueueWait { return runQueueWait{} }
	}
	return func() runQueueWait {
		if r.kwokPID() != pid {
			return runQueueWait{}
		}
		after, err := threadsRunQueueWait("/proc", pid)
		if err != nil || after < before {
			return runQueueWait{}
		}
		return runQueueWait{Seconds: (after - before).Seconds(), WallSeconds: time.Since(start).Seconds(), OK: true}
	}
}
