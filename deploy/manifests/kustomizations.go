package manifests

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"
)

// Kustomizations returns every directory under root (root included) that
// holds a kustomization, sorted. It does not descend into hidden
// directories, testdata, or nested Go modules (deploy/controlplane): those
// hold code and fixtures, not manifests.
func Kustomizations(root string) ([]string, error) {
	var dirs []string
	err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if !d.IsDir() {
			return nil
		}
		if p != root {
			name := d.Name()
			if strings.HasPrefix(name, ".") || name == "testdata" {
				return filepath.SkipDir
			}
			if _, err := os.Stat(filepath.Join(p, "go.mod")); err == nil {
				return filepath.SkipDir
			} else if !errors.Is(err, fs.ErrNotExist) {
				return err
			}
		}
		for _, name := range KustomizationFiles {
			if st, err := os.Stat(filepath.Join(p, name)); err == nil && !st.IsDir() {
				dirs = append(dirs, p)
				break
			}
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("find kustomizations under %s: %w", root, err)
	}
	sort.Strings(dirs)
	return dirs, nil
}
