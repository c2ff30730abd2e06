package local

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"syscall"
)

// dirLock is an exclusive flock on Dir/.lock held by the churn process that
// owns the cluster for its whole life. The kernel drops it when that
// process dies, so a held lock means "owner alive" without trusting PIDs,
// and two Ups on one directory cannot race.
// lockFile is held (flock) by the churn process that owns the cluster.
const lockFile = ".lock"

type dirLock struct{ f *os.File }

func lockDir(dir string) (*dirLock, error) {
	path := filepath.Join(dir, lockFile)
	f, err := os.OpenFile(path, os.O_CREATE|os.O_RDWR, 0o600)
	if err != nil {
		return nil, fmt.Errorf("cluster directory %s is not writable: %w", dir, err)
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		f.Close()
		if errors.Is(err, syscall.EWOULDBLOCK) {
			return nil, errDirInUse(dir)
		}
		return nil, fmt.Errorf("locking cluster directory %s: %w", dir, err)
	}
	return &dirLock{f: f}, nil
}

func errDirInUse(dir string) error {
	owner := ""
	if s, err := LoadState(dir); err == nil && s.OwnerAlive() {
		owner = fmt.Sprintf(" (churn pid %d)", s.Owner.PID)
	}
	return fmt.Errorf("a local cluster in %s is in use by another churn process%s; stop it with `churn down --dir %s`", dir, owner, dir)
}

func (l *dirLock) release() {
	if l == nil || l.f == nil {
		return
	}
	_ = syscall.Flock(int(l.f.Fd()), syscall.LOCK_UN)
	_ = l.f.Close()
	l.f = nil
}
