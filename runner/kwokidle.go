package runner

import (
	"context"
	"fmt"
	"time"

	"go.uber.org/zap"

	"github.com/churn-dev/churn/deploy/local"
)

// kwok lists every bound pod when it starts (50,000 at 50k-pods; churn's
// patched kwok no longer does so at every later watch restart, see
// deploy/controlplane/patches/kwok). Until kwok has worked through them, a
// pod bound now waits behind them for its Ready, which is the simulator's
// lag, not the API server's. Churn therefore starts once kwok is idle.
const (
	// kwokIdleCores: 1,000 nodes' lease renewals cost kwok about 0.1 core.
	kwokIdleCores  = 0.25
	kwokIdleWindow = 5 * time.Second
	// kwokIdleWindows in a row: kwok's first list may begin some seconds
	// after the nodes are Ready, so one quiet window proves nothing.
	kwokIdleWindows = 3
	kwokIdleTimeout = 5 * time.Minute
)

// waitKWOKIdle waits, on a local control plane, until kwok has used less
// than kwokIdleCores over kwokIdleWindow, bounded by kwokIdleTimeout, and
// records how long that took. A kwok that stays busy is reported and the
// run goes on: the validity checks judge what it then costs the run.
func (r *run) waitKWOKIdle(ctx context.Context) error {
	if r.cluster == nil || r.setupOnly {
		return nil
	}
	pid := 0
	for _, p := range r.cluster.Processes() {
		if p.Name == local.KWOK {
			pid = p.PID
		}
	}
	if pid == 0 {
		return nil
	}
	start := r.clk.Now()
	last, err := local.ProcessCPUSeconds(pid)
	if err != nil {
		r.log.Warn("kwok CPU unreadable; not waiting for it to be idle", zap.Error(err))
		return nil
	}
	fmt.Fprintf(r.progress(), "kwok: waiting until it is idle (< %.2f cores for %s; it handles every pod once when it starts)\n",
		kwokIdleCores, kwokIdleWindows*kwokIdleWindow)
	quiet := 0
	for {
		t := r.clk.NewTimer(kwokIdleWindow)
		select {
		case <-ctx.Done():
			t.Stop()
			return context.Cause(ctx)
		case <-t.C():
		}
		now, err := local.ProcessCPUSeconds(pid)
		if err != nil {
			r.log.Warn("kwok CPU unreadable; not waiting for it to be idle", zap.Error(err))
			return nil
		}
		cores := (now - last) / kwokIdleWindow.Seconds()
		last = now
		waited := r.clk.Since(start)
		if cores < kwokIdleCores {
			quiet++
		} else {
			quiet = 0
		}
		if quiet >= kwokIdleWindows {
			r.res.Setup.KWOKIdleSeconds = waited.Seconds()
			fmt.Fprintf(r.progress(), "kwok: idle after %s (%.2f cores)\n", waited.Round(time.Second), cores)
			return nil
		}
		if waited >= kwokIdleTimeout {
			r.res.Setup.KWOKIdleSeconds = waited.Seconds()
			r.res.Setup.KWOKBusy = true
			fmt.Fprintf(r.progress(), "kwok: still busy after %s (%.2f cores); going on\n", waited.Round(time.Second), cores)
			r.log.Warn("kwok still busy; churn starts anyway", zap.Float64("cores", cores))
			return nil
		}
	}
}
