package local

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"syscall"
	"time"

	"go.uber.org/zap"
)

// downMarker is created by Down before it stops processes, so that the
// supervisor of a still-running owner does not restart what Down stops.
const downMarker = ".down-requested"

const killWait = 10 * time.Second

// Down stops the cluster recorded in dir's state file, in reverse start
// order (SIGTERM, then SIGKILL after a grace period), from any process:
// the owning churn, another churn, or one run after a crash. Only processes
// whose PID and start time match the state file are signalled. The data
// directory is removed unless keepData. A directory without state is not
// an error: nothing is running there.
func Down(ctx context.Context, dir string, keepData bool, logger *zap.Logger) error {
	if logger == nil {
		logger = zap.NewNop()
	}
	abs, err := filepath.Abs(dir)
	if err != nil {
		return fmt.Errorf("resolving cluster directory %q: %w", dir, err)
	}
	p := paths{dir: abs}
	s, err := LoadState(abs)
	switch {
	case errors.Is(err, ErrNoState):
		logger.Info("no local cluster state; nothing to stop", zap.String("dir", abs))
	case err != nil:
		return err
	default:
		if err := os.WriteFile(filepath.Join(abs, downMarker), nil, 0o600); err != nil {
			logger.Warn("could not write down marker; an owning supervisor may restart kube-apiserver", zap.Error(err))
		}
		if err := stopRecorded(ctx, s, logger); err != nil {
			return err
		}
		removeRecordedGroup(s.CPUPriority, logger)
		if err := os.Remove(p.state()); err != nil && !errors.Is(err, os.ErrNotExist) {
			return fmt.Errorf("removing cluster state: %w", err)
		}
	}
	return finishData(p, keepData, false)
}

// stopRecorded stops every live recorded process in reverse order.
func stopRecorded(ctx context.Context, s *State, logger *zap.Logger) error {
	var errs []error
	for i := len(s.Processes) - 1; i >= 0; i-- {
		ps := s.Processes[i]
		if err := terminate(ctx, ps.Name, ps.PID, ps.StartTime, logger); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

// terminate sends SIGTERM, waits up to stopGrace (less if ctx ends), then
// SIGKILL, and waits for the process to be gone. It works for processes
// that are not children of this one by polling /proc; a zombie counts as
// gone.
func terminate(ctx context.Context, name string, pid int, startTime uint64, logger *zap.Logger) error {
	sent, err := signalIfSame(pid, startTime, syscall.SIGTERM)
	if err != nil {
		return fmt.Errorf("stopping %s: %w", name, err)
	}
	if !sent {
		return nil
	}
	logger.Debug("sent SIGTERM", zap.String("process", name), zap.Int("pid", pid))
	if waitGone(ctx, pid, startTime, stopGrace) {
		return nil
	}
	logger.Warn("process did not stop in time; killing", zap.String("process", name), zap.Int("pid", pid), zap.Duration("grace", stopGrace))
	if _, err := signalIfSame(pid, startTime, syscall.SIGKILL); err != nil {
		return fmt.Errorf("killing %s: %w", name, err)
	}
	// The kill must be waited for even if ctx has ended: the caller relies
	// on nothing being left running.
	if waitGone(context.WithoutCancel(ctx), pid, startTime, killWait) {
		return nil
	}
	return fmt.Errorf("%s (pid %d) still alive %s after SIGKILL", name, pid, killWait)
}

func waitGone(ctx context.Context, pid int, startTime uint64, timeout time.Duration) bool {
	deadline := time.NewTimer(timeout)
	defer deadline.Stop()
	tick := time.NewTicker(50 * time.Millisecond)
	defer tick.Stop()
	for {
		if !procAlive(pid, startTime) {
			return true
		}
		select {
		case <-ctx.Done():
			return !procAlive(pid, startTime)
		case <-deadline.C:
			return !procAlive(pid, startTime)
		case <-tick.C:
		}
	}
}
