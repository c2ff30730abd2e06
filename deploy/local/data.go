package local

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"go.uber.org/zap"
)

// keptMarker in the data directory says it was kept on purpose (Stop or
// Down with keepData). Only then does the next Up reuse it; data left by a
// crash is removed, so a new run never starts with another run's objects.
const keptMarker = ".churn-kept"

// prepareData readies Dir/data for Up and reports whether kept etcd data
// is reused.
func prepareData(p paths, logger *zap.Logger) (bool, error) {
	marker := filepath.Join(p.data(), keptMarker)
	_, markerErr := os.Stat(marker)
	_, dataErr := os.Stat(p.etcdData())
	reuse := markerErr == nil && dataErr == nil
	switch {
	case reuse:
		logger.Info("reusing kept etcd data", zap.String("dir", p.etcdData()))
		if err := os.Remove(marker); err != nil {
			return false, fmt.Errorf("removing kept-data marker: %w", err)
		}
	case dataErr == nil || markerErr == nil:
		logger.Warn("removing leftover data of a cluster that was not stopped with keepData", zap.String("dir", p.data()))
		if err := os.RemoveAll(p.data()); err != nil {
			return false, fmt.Errorf("removing leftover cluster data %s: %w", p.data(), err)
		}
	}
	if err := os.MkdirAll(p.data(), 0o700); err != nil {
		return false, fmt.Errorf("creating data directory: %w", err)
	}
	return reuse, nil
}

// finishData removes everything Up wrote into the cluster directory (data,
// certificates, kubeconfigs, configs, and logs unless keepLogs) and the
// directory itself when that leaves it empty, or marks the data kept. Only
// names Up creates are removed, so a --dir that also holds the user's files
// keeps them. Stop keeps logs for the post-mortem of a run or a failed Up;
// Down, the explicit clean-up, removes them too.
func finishData(p paths, keepData, keepLogs bool) error {
	if !keepData {
		written := []string{p.data(), p.pki(), p.kwokDir(), p.schedulerConfig(),
			filepath.Join(p.dir, downMarker)}
		if !keepLogs {
			written = append(written, p.logs(), filepath.Join(p.dir, lockFile))
		}
		kubeconfigs, _ := filepath.Glob(filepath.Join(p.dir, "*.kubeconfig"))
		for _, path := range append(written, kubeconfigs...) {
			if err := os.RemoveAll(path); err != nil {
				return fmt.Errorf("removing %s: %w", path, err)
			}
		}
		_ = os.Remove(p.dir) // fails, harmlessly, when the user keeps files there
		return nil
	}
	if _, err := os.Stat(p.data()); errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err := os.WriteFile(filepath.Join(p.data(), keptMarker), nil, 0o600); err != nil {
		return fmt.Errorf("marking cluster data as kept: %w", err)
	}
	return nil
}
