package cli

import (
	"context"
	"fmt"
	"os"
	"os/signal"
	"syscall"
)

// SignalContext returns a context cancelled by the first SIGINT or SIGTERM so
// that teardown can run; a second signal exits at once with status 130.
func SignalContext(parent context.Context) (context.Context, context.CancelFunc) {
	ctx, cancel := context.WithCancelCause(parent)
	ch := make(chan os.Signal, 2)
	signal.Notify(ch, os.Interrupt, syscall.SIGTERM)
	go func() {
		select {
		case sig := <-ch:
			fmt.Fprintf(os.Stderr, "\nchurn: %s received, cleaning up (press Ctrl-C again to exit at once)\n", sig)
			cancel(ErrInterrupted)
		case <-ctx.Done():
			return
		}
		<-ch
		fmt.Fprintln(os.Stderr, "churn: second interrupt, exiting without cleanup")
		os.Exit(ExitInterrupted)
	}()
	return ctx, func() {
		signal.Stop(ch)
		cancel(nil)
	}
}
