package local

import (
	"context"
	"errors"
	"fmt"
	"os"
	"syscall"
	"time"

	"go.uber.org/zap"
)

// Stop stops every process in reverse start order (SIGTERM, SIGKILL after
// a grace period; at once if ctx has ended), waits for them, removes the
// state file and, unless keepData, the data directory, then closes Events.
// Safe to call more than once.
func (c *Cluster) Stop(ctx context.Context, keepData bool) error {
	c.stopOnce.Do(func() { c.stopErr = c.stop(ctx, keepData) })
	return c.stopErr
}

func (c *Cluster) stop(ctx context.Context, keepData bool) error {
	c.mu.Lock()
	c.stopping = true
	close(c.stopCh)
	c.mu.Unlock()

	var errs []error
	for i := len(c.order) - 1; i >= 0; i-- {
		c.mu.Lock()
		pr := c.procs[c.order[i]]
		c.mu.Unlock()
		if pr == nil {
			continue
		}
		if err := c.stopProc(ctx, pr); err != nil {
			errs = append(errs, err)
		}
	}
	// Supervisor goroutines end once stopping is set and processes are
	// gone; a restart in flight sees stopCh and stops what it started.
	c.wg.Wait()
	c.mu.Lock()
	var alive []string
	for name, pr := range c.procs {
		if !pr.hasExited() {
			alive = append(alive, fmt.Sprintf("%s (pid %d)", name, pr.pid))
		}
	}
	c.mu.Unlock()
	if len(alive) == 0 {
		// Only now: retiring the spawner thread would SIGKILL survivors.
		c.spawner.close()
		if err := os.Remove(c.paths.state()); err != nil && !errors.Is(err, os.ErrNotExist) {
			errs = append(errs, fmt.Errorf("removing cluster state: %w", err))
		}
		if err := finishData(c.paths, keepData, true); err != nil {
			errs = append(errs, err)
		}
		// Priority never fails a run; a group left behind is swept by the
		// next Up once empty.
		if err := c.prio.cleanup(); err != nil {
			c.logger.Warn("could not remove the cluster's cgroups", zap.Error(err))
		}
	} else {
		errs = append(errs, fmt.Errorf("processes still running after stop: %v", alive))
	}
	close(c.events)
	c.lock.release()
	if len(errs) > 0 {
		return fmt.Errorf("stopping local control plane: %w", errors.Join(errs...))
	}
	c.progressf("control plane stopped")
	return nil
}

// stopProc stops one child: SIGTERM, wait, SIGKILL. Being the parent, it
// waits on the reaper instead of polling /proc.
func (c *Cluster) stopProc(ctx context.Context, pr *proc) error {
	if pr.hasExited() {
		return nil
	}
	name := pr.comp.name
	_ = pr.cmd.Process.Signal(syscall.SIGTERM)
	grace := time.NewTimer(stopGrace)
	defer grace.Stop()
	select {
	case <-pr.exited:
		return nil
	case <-grace.C:
		c.logger.Warn("process did not stop in time; killing", zap.String("process", name), zap.Int("pid", pr.pid))
	case <-ctx.Done():
	}
	_ = pr.cmd.Process.Kill()
	kill := time.NewTimer(killWait)
	defer kill.Stop()
	select {
	case <-pr.exited:
		return nil
	case <-kill.C:
		return fmt.Errorf("%s (pid %d) still alive %s after SIGKILL", name, pr.pid, killWait)
	}
}
