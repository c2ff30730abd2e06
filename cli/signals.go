package cli

import (
	"context"
	"fmt"
	"os"
	"os/signal"
	"sync/atomic"
	"syscall"
)

// forceExitNote is what a second interrupt prints before exiting: what the
// skipped clean-up leaves and the command that removes it.
var forceExitNote atomic.Pointer[string]

// setForceExitNote replaces the note a second interrupt prints.
func setForceExitNote(note string) { forceExitNote.Store(&note) }

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
		if note := forceExitNote.Load(); note != nil {
			fmt.Fprintln(os.Stderr, *note)
		}
		os.Exit(ExitInterrupted)
	}()
	return ctx, func() {
		signal.Stop(ch)
		cancel(nil)
	}
}
