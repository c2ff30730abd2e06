package local

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"

	"go.uber.org/zap"
)

// GCOptions adjust GC.
type GCOptions struct {
	// Logs also removes the logs a finished run keeps for its post-mortem,
	// and with them the directory.
	Logs bool
	// DryRun reports what would be removed and removes nothing.
	DryRun bool
}

// GCDir is what GC found in one cluster directory.
type GCDir struct {
	Dir string
	// Action is "removed", "removed logs", "would remove", or "skipped".
	Action string
	// Why says why it was skipped, or what was stale about it.
	Why   string
	Bytes int64
}

// GC removes what dead runs left under root (each subdirectory one run's
// cluster directory, as churn run creates them): the etcd data,
// certificates, kubeconfigs and state of a run whose churn process died
// (SIGKILL, OOM, power loss), and with opts.Logs the logs of finished runs.
// A directory is never touched while its lock is held (its churn process
// lives), while a detached cluster (churn up) in it still runs, or when its
// data was kept on purpose. Processes of a dead owner that are somehow
// still alive are stopped first, as Up does for a leftover.
func GC(ctx context.Context, root string, opts GCOptions, logger *zap.Logger) ([]GCDir, error) {
	if logger == nil {
		logger = zap.NewNop()
	}
	entries, err := os.ReadDir(root)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("gc: list %s: %w", root, err)
	}
	var out []GCDir
	var errs []error
	for _, e := range entries {
		if !e.IsDir() {
			continue
		}
		d, err := gcDir(ctx, filepath.Join(root, e.Name()), opts, logger)
		if err != nil {
			errs = append(errs, err)
		}
		if d.Action != "" {
			out = append(out, d)
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Dir < out[j].Dir })
	return out, errors.Join(errs...)
}

func gcDir(ctx context.Context, dir string, opts GCOptions, logger *zap.Logger) (GCDir, error) {
	d := GCDir{Dir: dir}
	p := paths{dir: dir}
	if _, err := os.Stat(filepath.Join(p.data(), keptMarker)); err == nil {
		d.Action, d.Why = "skipped", "its data was kept on purpose; remove it with churn down --dir "+dir
		return d, nil
	}
	// Holding the lock proves no churn process owns the directory, and
	// keeps one from starting there while we clean.
	lock, err := lockDir(dir)
	if err != nil {
		d.Action, d.Why = "skipped", "in use by a running churn process"
		return d, nil
	}
	defer lock.release()
	s, err := LoadState(dir)
	stale := err == nil
	switch {
	case err != nil && !errors.Is(err, ErrNoState):
		d.Action, d.Why = "skipped", fmt.Sprintf("unreadable state: %v", err)
		return d, nil
	case stale && s.Detached && s.AnyAlive():
		d.Action, d.Why = "skipped", "a cluster started by churn up runs there; stop it with churn down --dir "+dir
		return d, nil
	}
	hasData := exists(p.data()) || exists(p.pki())
	if !stale && !hasData && !opts.Logs {
		return d, nil // a finished run's logs: kept for its post-mortem
	}
	d.Bytes = du(dir)
	if !opts.Logs {
		d.Bytes -= du(p.logs())
	}
	d.Why = "left by a churn process that died"
	if !stale && !hasData {
		d.Why = "logs of a finished run"
	}
	if opts.DryRun {
		d.Action = "would remove"
		return d, nil
	}
	if stale {
		if s.AnyAlive() {
			logger.Warn("stopping leftover processes of a run whose churn process died", zap.String("dir", dir), zap.Int("ownerPID", s.Owner.PID))
			if err := stopRecorded(ctx, s, logger); err != nil {
				d.Action, d.Why = "skipped", fmt.Sprintf("could not stop its leftover processes: %v", err)
				return d, fmt.Errorf("gc %s: %w", dir, err)
			}
		}
		removeRecordedGroup(s.CPUPriority, logger)
		if err := os.Remove(p.state()); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return d, fmt.Errorf("gc %s: remove state: %w", dir, err)
		}
	}
	// The lock file goes with the logs; release first so removal of an
	// emptied directory can succeed.
	lock.release()
	if err := finishData(p, false, !opts.Logs); err != nil {
		return d, fmt.Errorf("gc %s: %w", dir, err)
	}
	d.Action = "removed"
	if !opts.Logs {
		d.Action = "removed (logs kept)"
	}
	return d, nil
}

func exists(path string) bool {
	_, err := os.Stat(path)
	return err == nil
}

// du is the apparent size of the files under path.
func du(path string) int64 {
	var n int64
	_ = filepath.WalkDir(path, func(_ string, e fs.DirEntry, err error) error {
		if err != nil {
			return nil
		}
		if info, err := e.Info(); err == nil && info.Mode().IsRegular() {
			n += info.Size()
		}
		return nil
	})
	return n
}
