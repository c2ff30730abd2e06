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

// finishData removes the data directory, or marks it kept.
func finishData(p paths, keepData bool) error {
	if !keepData {
		if err := os.RemoveAll(p.data()); err != nil {
			return fmt.Errorf("removing cluster data %s: %w", p.data(), err)
		}
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
