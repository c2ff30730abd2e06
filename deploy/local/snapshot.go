package local

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"syscall"
)

// Saved cluster data: the etcd data and the PKI are all a stopped cluster
// directory needs to start again on the same objects. Everything else
// (kubeconfigs, component configs, state) Up rewrites for its new ports.
// The PKI is kept with the data because the objects depend on it: every
// namespace's kube-root-ca.crt ConfigMap holds the CA, and a new CA would
// make the controller-manager rewrite all of them at start.
const (
	SavedEtcdDir = "etcd"
	SavedPKIDir  = "pki"
)

// ExportData moves the etcd data and the PKI of cluster directory dir into
// dst/etcd and dst/pki. The cluster must have been stopped with keepData
// (Stop or Down), so the data is whole and nothing writes to it. dst must
// not hold either yet. What remains in dir (logs, kubeconfigs, configs) is
// the caller's to remove, e.g. with Down.
func ExportData(dir, dst string) error {
	p := paths{dir: dir}
	if _, err := os.Stat(p.state()); err == nil {
		return fmt.Errorf("cluster directory %s still has a running cluster (state file present); stop it with keepData first", dir)
	}
	if _, err := os.Stat(filepath.Join(p.data(), keptMarker)); err != nil {
		return fmt.Errorf("cluster directory %s has no data stopped with keepData: %w", dir, err)
	}
	if err := os.MkdirAll(dst, 0o700); err != nil {
		return fmt.Errorf("creating %s: %w", dst, err)
	}
	for src, to := range map[string]string{p.etcdData(): SavedEtcdDir, p.pki(): SavedPKIDir} {
		if err := moveDir(src, filepath.Join(dst, to)); err != nil {
			return err
		}
	}
	if err := os.RemoveAll(p.data()); err != nil {
		return fmt.Errorf("removing exported data directory %s: %w", p.data(), err)
	}
	return nil
}

// ImportData copies src/etcd and src/pki (as ExportData left them) into the
// cluster directory dir and marks the data kept, so that the next Up on dir
// starts etcd on it and reuses the PKI. src is only read, so one export can
// be imported any number of times. dir must hold no cluster data: importing
// over a live or kept cluster would lose it. Returns the bytes copied.
func ImportData(src, dir string) (int64, error) {
	abs, err := filepath.Abs(dir)
	if err != nil {
		return 0, fmt.Errorf("resolving cluster directory %q: %w", dir, err)
	}
	p := paths{dir: abs}
	if err := os.MkdirAll(abs, 0o755); err != nil {
		return 0, fmt.Errorf("creating cluster directory: %w", err)
	}
	// The lock keeps a concurrent Up on dir out while data is half copied.
	lock, err := lockDir(abs)
	if err != nil {
		return 0, err
	}
	defer lock.release()
	for _, existing := range []string{p.state(), p.data(), p.pki()} {
		if _, err := os.Stat(existing); err == nil {
			return 0, fmt.Errorf("cluster directory %s already holds a cluster (%s exists); import needs a fresh directory (churn down --dir %s removes it)", abs, filepath.Base(existing), abs)
		}
	}
	var copied int64
	for from, to := range map[string]string{filepath.Join(src, SavedEtcdDir): p.etcdData(), filepath.Join(src, SavedPKIDir): p.pki()} {
		n, err := copyTree(from, to)
		copied += n
		if err != nil {
			return copied, errors.Join(err, os.RemoveAll(p.data()), os.RemoveAll(p.pki()))
		}
	}
	if err := os.WriteFile(filepath.Join(p.data(), keptMarker), nil, 0o600); err != nil {
		return copied, fmt.Errorf("marking imported data as kept: %w", err)
	}
	return copied, nil
}

// moveDir renames src to dst, copying and then removing src when they are
// on different filesystems.
func moveDir(src, dst string) error {
	if _, err := os.Stat(dst); err == nil {
		return fmt.Errorf("moving %s: %s already exists", src, dst)
	}
	err := os.Rename(src, dst)
	if err == nil {
		return nil
	}
	if !errors.Is(err, syscall.EXDEV) {
		return fmt.Errorf("moving %s to %s: %w", src, dst, err)
	}
	if _, err := copyTree(src, dst); err != nil {
		return errors.Join(err, os.RemoveAll(dst))
	}
	if err := os.RemoveAll(src); err != nil {
		return fmt.Errorf("removing %s after copying it to %s: %w", src, dst, err)
	}
	return nil
}

// copyTree copies the directory src to dst (which must not exist), files
// with their permission bits, directories 0700. Symlinks and special files
// are refused: etcd data and the PKI have none. io.Copy between files uses
// copy_file_range, so the kernel copies without a round trip through churn.
func copyTree(src, dst string) (int64, error) {
	var copied int64
	err := filepath.WalkDir(src, func(path string, d fs.DirEntry, walkErr error) error {
		if walkErr != nil {
			return walkErr
		}
		rel, err := filepath.Rel(src, path)
		if err != nil {
			return err
		}
		target := filepath.Join(dst, rel)
		switch {
		case d.IsDir():
			if rel == "." {
				if _, err := os.Stat(target); err == nil {
					return fmt.Errorf("%s already exists", target)
				}
			}
			return os.MkdirAll(target, 0o700)
		case d.Type().IsRegular():
			n, err := copyFile(path, target)
			copied += n
			return err
		default:
			return fmt.Errorf("%s is not a regular file or directory", path)
		}
	})
	if err != nil {
		return copied, fmt.Errorf("copying %s to %s: %w", src, dst, err)
	}
	return copied, nil
}

func copyFile(src, dst string) (int64, error) {
	in, err := os.Open(src)
	if err != nil {
		return 0, err
	}
	defer in.Close()
	st, err := in.Stat()
	if err != nil {
		return 0, err
	}
	out, err := os.OpenFile(dst, os.O_CREATE|os.O_EXCL|os.O_WRONLY, st.Mode().Perm())
	if err != nil {
		return 0, err
	}
	n, err := io.Copy(out, in)
	if cerr := out.Close(); err == nil {
		err = cerr
	}
	return n, err
}
