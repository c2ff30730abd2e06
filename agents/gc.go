package agents

import (
	"os"
	"runtime/debug"
)

// GCPercent is the garbage collector target churn runs at unless GOGC is
// set. The emulation's garbage is short-lived (event buffers, list pages)
// and its live heap small, so collecting at three times the live heap
// instead of twice roughly halves the collector's CPU for a few tens of
// MiB; meshmem measures the idle RSS target with the same setting.
const GCPercent = 200

// TuneGC applies GCPercent unless the GOGC environment variable is set.
func TuneGC() {
	if os.Getenv("GOGC") == "" {
		debug.SetGCPercent(GCPercent)
	}
}
