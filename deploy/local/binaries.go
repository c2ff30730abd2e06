package local

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"github.com/churn-dev/churn/version"
)

// BuildHint tells a user how to produce the binaries.
const BuildHint = "build them with `make controlplane`"

// MissingBinariesError lists the control-plane binaries absent from BinDir.
type MissingBinariesError struct {
	BinDir  string
	Missing []string
	// KubernetesVersion is set when a release other than the default was
	// asked for.
	KubernetesVersion string
}

func (e *MissingBinariesError) Error() string {
	hint := BuildHint
	if e.KubernetesVersion != "" {
		hint = fmt.Sprintf("build them with `make controlplane K8S_VERSION=%s`", e.KubernetesVersion)
	}
	return fmt.Sprintf("control-plane binaries missing from %s: %s; %s", e.BinDir, strings.Join(e.Missing, ", "), hint)
}

// CheckBinaries returns the path of each binary of the default release by
// process name, or a *MissingBinariesError naming every binary that is
// absent or not executable.
func CheckBinaries(binDir string) (map[string]string, error) {
	return CheckBinariesFor(binDir, "")
}

// ReleaseDir is where `make controlplane K8S_VERSION=v` puts the Kubernetes
// binaries of a release other than the default; etcd and kwok are shared.
func ReleaseDir(binDir, kubernetesVersion string) string {
	return filepath.Join(binDir, "k8s", kubernetesVersion)
}

// isKubernetes says whether a process is one of the Kubernetes binaries,
// which come per release.
func isKubernetes(name string) bool {
	return name == APIServer || name == ControllerManager || name == Scheduler
}

// CheckBinariesFor is CheckBinaries for a Kubernetes release: "" or the
// pinned default (version.Kubernetes) use binDir itself, any other release
// ReleaseDir(binDir, release) for the Kubernetes binaries.
func CheckBinariesFor(binDir, kubernetesVersion string) (map[string]string, error) {
	if kubernetesVersion == version.Kubernetes {
		kubernetesVersion = ""
	}
	out := make(map[string]string, len(startOrder))
	var missing []string
	for _, name := range startOrder {
		dir := binDir
		if kubernetesVersion != "" && isKubernetes(name) {
			dir = ReleaseDir(binDir, kubernetesVersion)
		}
		p := filepath.Join(dir, name)
		st, err := os.Stat(p)
		switch {
		case errors.Is(err, fs.ErrNotExist):
			missing = append(missing, strings.TrimPrefix(p, binDir+string(filepath.Separator)))
			continue
		case err != nil:
			return nil, fmt.Errorf("checking %s: %w", p, err)
		case st.IsDir() || st.Mode().Perm()&0o111 == 0:
			missing = append(missing, name+" (not an executable file)")
			continue
		}
		out[name] = p
	}
	if len(missing) > 0 {
		return nil, &MissingBinariesError{BinDir: binDir, Missing: missing, KubernetesVersion: kubernetesVersion}
	}
	return out, nil
}
