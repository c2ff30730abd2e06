package local

import (
	"fmt"
	"os"
	"path/filepath"
	"syscall"
	"time"

	"go.uber.org/zap"
)

// Restart backoff for kube-apiserver: Options.RestartDelay (default
// restartBaseDelay), doubling while it keeps dying within restartStableAfter
// of starting, capped at restartMaxDelay.
const (
	restartBaseDelay   = time.Second
	restartMaxDelay    = 30 * time.Second
	restartStableAfter = 30 * time.Second
)

// emit never blocks: a full channel drops the event and counts it.
func (c *Cluster) emit(ev ProcessEvent) {
	select {
	case c.events <- ev:
	default:
		c.dropped.Add(1)
		c.logger.Warn("process event dropped: Events channel full", zap.String("process", ev.Name), zap.String("kind", ev.Kind))
	}
}

// watch starts the monitor goroutine of pr. Caller holds c.mu.
func (c *Cluster) watch(pr *proc) {
	c.wg.Add(1)
	go func() {
		defer c.wg.Done()
		c.monitor(pr, c.opts.RestartDelay)
	}()
}

// monitor waits for pr to exit, reports it and restarts kube-apiserver if
// asked to, then monitors the new instance.
func (c *Cluster) monitor(pr *proc, delay time.Duration) {
	for {
		<-pr.exited
		name := pr.comp.name
		c.mu.Lock()
		stopping := c.stopping
		memKilled := pr.memKilled
		faulted, faultRestart := pr.faulted, pr.faultRestart
		replaced := pr.replaced
		c.mu.Unlock()
		if stopping || replaced || c.downRequested() {
			return
		}
		detail := describeExit(pr)
		if memKilled {
			detail += " (killed by churn: kube-apiserver memory cap)"
		}
		if faulted {
			detail += " (killed by churn: fault injection)"
		}
		lived := time.Since(pr.startedAt)
		c.logger.Warn("control-plane process exited", zap.String("process", name), zap.Int("pid", pr.pid),
			zap.Int("exitCode", pr.exitCode), zap.String("detail", detail), zap.Duration("lived", lived))
		c.emit(ProcessEvent{Time: time.Now(), Name: name, Kind: EventExited, ExitCode: pr.exitCode, Detail: detail})
		wait := delay
		switch {
		case faulted && faultRestart > 0:
			// An injected fault sets its own downtime, whatever the
			// crash-restart policy.
			wait = faultRestart
		case faulted:
			return // left down on purpose
		case !c.restartsOnExit(name):
			return
		case lived >= restartStableAfter:
			delay = c.opts.RestartDelay
			wait = delay
		}
		select {
		case <-c.stopCh:
			return
		case <-time.After(wait):
		}
		next, err := c.restart(pr)
		if err != nil {
			c.logger.Error("restarting kube-apiserver failed", zap.Error(err))
			c.emit(ProcessEvent{Time: time.Now(), Name: name, Kind: EventExited, ExitCode: -1, Detail: "restart failed: " + err.Error()})
			return
		}
		if next == nil {
			return // stopping
		}
		if !faulted {
			delay = min(2*delay, restartMaxDelay)
		}
		pr = next
	}
}

// restartsOnExit says whether the supervisor starts the named process again
// when it exits, as a kubelet restarts a static pod: kube-apiserver when
// asked to (RestartAPIServer), and with leader election the controller
// manager and the scheduler, which exit when they lose their lease (an
// API server outage longer than their renew deadline).
func (c *Cluster) restartsOnExit(name string) bool {
	switch {
	case baseName(name) == APIServer:
		return c.opts.RestartAPIServer
	case name == ControllerManager || name == Scheduler:
		return c.opts.LeaderElection
	}
	return false
}

// restart starts a new instance of pr's component with the same arguments.
// It returns nil, nil if the cluster began stopping meanwhile.
func (c *Cluster) restart(old *proc) (*proc, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	// Holding mu while starting keeps Stop from missing the new process:
	// Stop sets stopping under mu before it looks at procs.
	if c.stopping || c.downRequested() {
		return nil, nil
	}
	// Replace got there first (a rolling upgrade of a process that had
	// crashed): its successor runs already.
	if c.procs[old.comp.name] != old || old.replaced {
		return nil, nil
	}
	pr, err := startProc(c.spawner, old.comp, c.paths, c.opts.Detach)
	if err != nil {
		return nil, err
	}
	// Back into its group: a new process starts in churn's own.
	pr.priority = c.prio.place(pr.pid, groupOf(pr.comp.name))
	c.procs[pr.comp.name] = pr
	c.recordLocked(pr)
	if err := writeState(c.paths.dir, c.state); err != nil {
		c.logger.Error("recording restarted process in state file", zap.Error(err))
	}
	c.logger.Info("restarted", zap.String("process", pr.comp.name), zap.Int("pid", pr.pid), zap.String("cpuPriority", pr.priority))
	c.emit(ProcessEvent{Time: time.Now(), Name: pr.comp.name, Kind: EventRestarted,
		Detail: fmt.Sprintf("new pid %d (was %d)", pr.pid, old.pid)})
	return pr, nil
}

// Kill SIGKILLs the named process as an injected fault and, when
// restartAfter > 0, starts it again (same arguments, same data) that long
// after it has gone, as a kubelet restarts a crashed static pod. It emits
// EventFault now; the supervisor then emits EventExited and EventRestarted
// as for a crash. reason goes into the event's detail.
func (c *Cluster) Kill(name string, restartAfter time.Duration, reason string) error {
	c.mu.Lock()
	pr, err := c.runningLocked("kill", name)
	if err != nil {
		c.mu.Unlock()
		return err
	}
	pr.faulted, pr.faultRestart = true, restartAfter
	c.mu.Unlock()
	detail := fmt.Sprintf("SIGKILL pid %d: %s", pr.pid, reason)
	if restartAfter > 0 {
		detail += fmt.Sprintf("; restart after %s", restartAfter)
	}
	c.logger.Warn("fault injection: killing a control-plane process", zap.String("process", name), zap.String("detail", detail))
	c.emit(ProcessEvent{Time: time.Now(), Name: name, Kind: EventFault, ExitCode: 128 + int(syscall.SIGKILL), Detail: detail})
	if err := pr.cmd.Process.Signal(syscall.SIGKILL); err != nil {
		return fmt.Errorf("kill %s pid %d: %w", name, pr.pid, err)
	}
	return nil
}

// runningLocked is the named process if it is running and the cluster is
// not stopping; verb names the caller's action in the error. Caller holds
// c.mu.
func (c *Cluster) runningLocked(verb, name string) (*proc, error) {
	pr, ok := c.procs[name]
	switch {
	case c.stopping:
		return nil, fmt.Errorf("%s %s: the cluster is stopping", verb, name)
	case !ok:
		return nil, fmt.Errorf("%s %s: no such process (have %v)", verb, name, c.order)
	case pr.hasExited():
		return nil, fmt.Errorf("%s %s: pid %d has already exited", verb, name, pr.pid)
	}
	return pr, nil
}

func (c *Cluster) downRequested() bool {
	_, err := os.Stat(filepath.Join(c.paths.dir, downMarker))
	return err == nil
}

// memoryWatch enforces APIServerMemoryLimitBytes by polling VmRSS.
func (c *Cluster) memoryWatch() {
	defer c.wg.Done()
	limit := c.opts.APIServerMemoryLimitBytes
	tick := time.NewTicker(memoryPollInterval)
	defer tick.Stop()
	for {
		select {
		case <-c.stopCh:
			return
		case <-tick.C:
		}
		c.mu.Lock()
		pr := c.procs[APIServer]
		c.mu.Unlock()
		if pr == nil || pr.hasExited() {
			continue
		}
		rss, err := procRSSBytes(pr.pid)
		if err != nil || rss <= limit {
			continue
		}
		c.mu.Lock()
		if c.stopping || pr.memKilled || pr.hasExited() {
			c.mu.Unlock()
			continue
		}
		pr.memKilled = true
		c.mu.Unlock()
		detail := fmt.Sprintf("RSS %d MiB above cap %d MiB", rss>>20, limit>>20)
		c.logger.Warn("kube-apiserver over memory cap; killing", zap.Int("pid", pr.pid), zap.String("detail", detail))
		c.emit(ProcessEvent{Time: time.Now(), Name: APIServer, Kind: EventOOMKilled, ExitCode: 128 + int(syscall.SIGKILL), Detail: detail})
		_ = pr.cmd.Process.Signal(syscall.SIGKILL)
	}
}
