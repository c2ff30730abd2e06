package local

import (
	"context"
	"fmt"
	"syscall"
	"time"

	"go.uber.org/zap"
)

// EventReplaced is a process churn stopped gracefully and started again,
// maybe from another release (Cluster.Replace); no EventExited precedes it.
const EventReplaced = "replaced"

// WaitHealthy waits until the named process runs with a PID other than
// notPID (0: any) and its health endpoint answers, as after a fault's
// restart. It gives up when ctx ends.
func (c *Cluster) WaitHealthy(ctx context.Context, name string, notPID int) error {
	client, err := healthClient(c.pki)
	if err != nil {
		return err
	}
	defer client.CloseIdleConnections()
	tick := time.NewTicker(healthPollInterval)
	defer tick.Stop()
	var lastErr error
	for {
		c.mu.Lock()
		pr := c.procs[name]
		c.mu.Unlock()
		switch {
		case pr == nil:
			return fmt.Errorf("wait for %s: no such process", name)
		case pr.pid == notPID || pr.hasExited():
			lastErr = fmt.Errorf("%s not running again yet", name)
		default:
			if lastErr = probe(ctx, client, pr.comp); lastErr == nil {
				return nil
			}
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("waiting for %s to be healthy: %w (last: %v)", name, ctx.Err(), lastErr)
		case <-tick.C:
		}
	}
}

// PID is the named process' current PID, 0 when it is not running.
func (c *Cluster) PID(name string) int {
	c.mu.Lock()
	defer c.mu.Unlock()
	if pr, ok := c.procs[name]; ok && !pr.hasExited() {
		return pr.pid
	}
	return 0
}

// Replace stops the named process the way a kubelet stops a static pod
// (SIGTERM, then SIGKILL after its grace period) and starts it again with
// the same arguments from the binary of kubernetesVersion ("" keeps the
// binary it runs), then waits until it is healthy. onStopped is called
// once the old process has gone. It is how a rolling upgrade replaces one
// process; the supervisor does not treat the stop as a crash.
func (c *Cluster) Replace(ctx context.Context, name, kubernetesVersion string, onStopped func()) error {
	binary := ""
	if kubernetesVersion != "" {
		if !isKubernetes(baseName(name)) {
			return fmt.Errorf("replace %s: not a Kubernetes binary; only kube-apiserver, kube-controller-manager and kube-scheduler change release", name)
		}
		bins, err := CheckBinariesFor(c.opts.BinDir, kubernetesVersion)
		if err != nil {
			return fmt.Errorf("replace %s with %s: %w", name, kubernetesVersion, err)
		}
		binary = bins[baseName(name)]
	}
	c.mu.Lock()
	old, ok := c.procs[name]
	switch {
	case c.stopping:
		c.mu.Unlock()
		return fmt.Errorf("replace %s: the cluster is stopping", name)
	case !ok:
		c.mu.Unlock()
		return fmt.Errorf("replace %s: no such process (have %v)", name, c.order)
	}
	// A process that crashed (a controller that lost its lease) is
	// replaced all the same, as a kubelet starts the new manifest.
	old.replaced = true
	c.mu.Unlock()

	grace := c.stopGraceOf(name)
	c.logger.Info("replacing a control-plane process", zap.String("process", name), zap.Int("pid", old.pid),
		zap.String("release", kubernetesVersion), zap.Duration("grace", grace))
	_ = old.cmd.Process.Signal(syscall.SIGTERM)
	timer := time.NewTimer(grace)
	defer timer.Stop()
	select {
	case <-old.exited:
	case <-timer.C:
		c.logger.Warn("process did not stop within its grace period; killing", zap.String("process", name), zap.Int("pid", old.pid), zap.Duration("grace", grace))
		_ = old.cmd.Process.Kill()
		<-old.exited
	case <-ctx.Done():
		// Leave nothing half-replaced behind a cancelled step: the old
		// process keeps stopping and a new one starts below.
		<-old.exited
	}
	if onStopped != nil {
		onStopped()
	}

	c.mu.Lock()
	if c.stopping {
		c.mu.Unlock()
		return fmt.Errorf("replace %s: the cluster began stopping", name)
	}
	comp := old.comp
	if binary != "" {
		comp.binary = binary
	}
	pr, err := startProc(c.spawner, comp, c.paths, c.opts.Detach)
	if err != nil {
		c.mu.Unlock()
		return fmt.Errorf("replace %s: %w", name, err)
	}
	pr.priority = c.prio.place(pr.pid, groupOf(name))
	c.procs[name] = pr
	c.recordLocked(pr)
	if err := writeState(c.paths.dir, c.state); err != nil {
		c.logger.Error("recording replaced process in state file", zap.Error(err))
	}
	c.watch(pr)
	c.mu.Unlock()
	detail := fmt.Sprintf("new pid %d (was %d, exit %s)", pr.pid, old.pid, describeExit(old))
	if kubernetesVersion != "" {
		detail += " from " + kubernetesVersion
	}
	c.emit(ProcessEvent{Time: time.Now(), Name: name, Kind: EventReplaced, Detail: detail})

	client, err := healthClient(c.pki)
	if err != nil {
		return err
	}
	defer client.CloseIdleConnections()
	if err := waitHealthy(ctx, client, pr); err != nil {
		return fmt.Errorf("replace %s: %w", name, err)
	}
	return nil
}

// APIServerTerminationGrace is how long a replaced kube-apiserver gets
// between SIGTERM and SIGKILL: a kubelet's default for a static pod
// (kubeadm's manifest sets none), unless its shutdown delay and watch
// termination grace period need longer. An API server whose clients hold
// watches does not exit by itself sooner: it waits up to its request
// timeout (60 s) for them, so without a watch grace period the kill cuts
// its watches all at once, as on such a cluster.
const APIServerTerminationGrace = 30 * time.Second

// stopGraceOf is how long the named process gets between SIGTERM and
// SIGKILL when it is replaced.
func (c *Cluster) stopGraceOf(name string) time.Duration {
	if baseName(name) != APIServer {
		return stopGrace
	}
	return max(APIServerTerminationGrace, c.apiServerShutdownWait()+5*time.Second)
}

// APIServerTerminationGraceOf is the grace a replaced kube-apiserver gets.
func (c *Cluster) APIServerTerminationGraceOf() time.Duration { return c.stopGraceOf(APIServer) }
