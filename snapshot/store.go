package snapshot

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"

	"github.com/churn-dev/churn/deploy/local"
)

// DefaultRoot holds snapshots by name, relative to the working directory
// (next to .churn/runs and .churn/cluster).
const DefaultRoot = ".churn/snapshots"

var validName = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._-]{0,62}$`)

// Locate returns the directory and name of a snapshot given by name (a
// directory under root) or by path (anything with a path separator, e.g.
// ./x or /tmp/snaps/x; its name is the last element).
func Locate(root, nameOrPath string) (dir, name string, err error) {
	if strings.ContainsRune(nameOrPath, filepath.Separator) {
		dir = filepath.Clean(nameOrPath)
		name = filepath.Base(dir)
	} else {
		dir, name = filepath.Join(root, nameOrPath), nameOrPath
	}
	if !validName.MatchString(name) {
		return "", "", fmt.Errorf("snapshot name %q: use letters, digits, '.', '_' and '-', starting with a letter or digit, at most 63 characters", name)
	}
	return dir, name, nil
}

// Open reads the manifest of the snapshot nameOrPath (see Locate).
func Open(root, nameOrPath string) (dir string, m *Manifest, err error) {
	dir, _, err = Locate(root, nameOrPath)
	if err != nil {
		return "", nil, err
	}
	m, err = ReadManifest(dir)
	if err != nil {
		return "", nil, err
	}
	return dir, m, nil
}

// Entry is one snapshot found by List; Err says why its manifest could not
// be read.
type Entry struct {
	Dir      string
	Manifest *Manifest
	Err      error
}

// List returns the snapshots under root by name. A missing root is an
// empty list. Directories starting with "." are Save's staging areas and
// are skipped.
func List(root string) ([]Entry, error) {
	des, err := os.ReadDir(root)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("listing snapshots in %s: %w", root, err)
	}
	var out []Entry
	for _, de := range des {
		if !de.IsDir() || strings.HasPrefix(de.Name(), ".") {
			continue
		}
		dir := filepath.Join(root, de.Name())
		m, err := ReadManifest(dir)
		out = append(out, Entry{Dir: dir, Manifest: m, Err: err})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Dir < out[j].Dir })
	return out, nil
}

// Delete removes what Save wrote into the snapshot nameOrPath (manifest,
// etcd data, PKI) and then the directory if that leaves it empty; anything
// else found there is left alone and reported. A directory without a
// manifest is refused: it is not a snapshot.
func Delete(root, nameOrPath string) error {
	dir, _, err := Open(root, nameOrPath)
	if err != nil {
		return err
	}
	// The manifest goes last, so a delete that fails half-way still leaves
	// a directory Delete recognises.
	for _, p := range []string{local.SavedEtcdDir, local.SavedPKIDir, ManifestFile} {
		if err := os.RemoveAll(filepath.Join(dir, p)); err != nil {
			return fmt.Errorf("deleting snapshot %s: %w", dir, err)
		}
	}
	if err := os.Remove(dir); err != nil {
		return fmt.Errorf("deleted the snapshot's data but not %s, which holds other files: %w", dir, err)
	}
	return nil
}

// Restore copies the snapshot in dir into the cluster directory
// clusterDir, which must hold no cluster, so that the next local.Up on
// clusterDir starts on the saved objects. The snapshot is only read.
// Returns the bytes copied.
func Restore(dir, clusterDir string) (int64, error) {
	n, err := local.ImportData(dir, clusterDir)
	if err != nil {
		return n, fmt.Errorf("restoring snapshot %s into %s: %w", dir, clusterDir, err)
	}
	return n, nil
}

// dirSize sums the sizes of the regular files under dir.
func dirSize(dir string) (int64, error) {
	var n int64
	err := filepath.WalkDir(dir, func(_ string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.Type().IsRegular() {
			info, err := d.Info()
			if err != nil {
				return err
			}
			n += info.Size()
		}
		return nil
	})
	if err != nil {
		return 0, fmt.Errorf("measuring %s: %w", dir, err)
	}
	return n, nil
}
