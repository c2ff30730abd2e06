package snapshot

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"time"

	"github.com/churn-dev/churn/deploy/local"
	"github.com/churn-dev/churn/profiles"
	"github.com/churn-dev/churn/results"
)

// FormatVersion is the layout of a snapshot directory and its manifest.
// It is bumped on any change that an older or newer churn would misread;
// Verify refuses a snapshot of another format.
const FormatVersion = 1

// ManifestFile names the manifest inside a snapshot directory.
const ManifestFile = "manifest.json"

// Manifest describes one snapshot.
type Manifest struct {
	FormatVersion int       `json:"formatVersion"`
	Name          string    `json:"name"`
	Created       time.Time `json:"created"`
	// ProfileName is the profile the setup was created from; Profile is
	// that profile in full, defaults and flags applied.
	ProfileName string           `json:"profileName"`
	Profile     profiles.Profile `json:"profile"`
	// Setup and SetupHash key the snapshot: a run may start from it only
	// if its own setup hashes the same (see Verify).
	Setup     Setup  `json:"setup"`
	SetupHash string `json:"setupHash"`
	// Mesh is the mesh that ran while the setup ramped and had settled
	// when it was saved; its objects are in the data. nil for a snapshot
	// without a mesh, which serves runs of every mesh.
	Mesh *MeshState `json:"mesh,omitempty"`
	// RunID is the churn.dev/run value every saved object carries;
	// RunLabels are all the run labels, NamePrefix starts the object names.
	// A run from the snapshot adopts them to select its objects.
	RunID      string            `json:"runID"`
	RunLabels  map[string]string `json:"runLabels"`
	NamePrefix string            `json:"namePrefix"`
	Versions   Versions          `json:"versions"`
	Objects    Objects           `json:"objects"`
	Sizes      Sizes             `json:"sizes"`
	// SetupSummary is the setup that made the snapshot: its ramp figures
	// (pods/s, ramp seconds, whole setup duration).
	SetupSummary *results.SetupSummary `json:"setupSummary,omitempty"`
	// SetupSeconds is the whole setup: control plane start, fake nodes,
	// workload and ramp to Ready.
	SetupSeconds float64 `json:"setupSeconds"`
	// SaveSeconds is compaction, stop and storing the data.
	SaveSeconds float64 `json:"saveSeconds"`
}

// MeshState is the mesh a snapshot was saved with. Its name and the
// fingerprint of the objects it writes are also Setup entries (MeshKey,
// MeshObjectsKey), so they are part of the setup hash.
type MeshState struct {
	Name string `json:"name"`
	// Install is the save's wait for the mesh to settle after the ramp:
	// how long, each condition with have/want, the writes of the phase.
	Install *results.Install `json:"install,omitempty"`
	// RolloutSeconds is how long its per-node agents took to all start
	// (during the ramp).
	RolloutSeconds float64 `json:"rolloutSeconds,omitempty"`
}

// MeshName is the mesh the snapshot was saved with, "" for none.
func (m *Manifest) MeshName() string {
	if m.Mesh == nil {
		return ""
	}
	return m.Mesh.Name
}

// Versions are the component versions the data was written by, as the
// binaries reported them (--version), and churn's own.
type Versions struct {
	Kubernetes string `json:"kubernetes"`
	Etcd       string `json:"etcd"`
	KWOK       string `json:"kwok"`
	Churn      string `json:"churn"`
}

// VersionsOf turns local.BinaryVersions into Versions. The three
// Kubernetes binaries must agree: a setup written by mixed releases is no
// release's setup.
func VersionsOf(binaries map[string]string, churnVersion string) (Versions, error) {
	v := Versions{
		Kubernetes: binaries[local.APIServer],
		Etcd:       binaries[local.Etcd],
		KWOK:       binaries[local.KWOK],
		Churn:      churnVersion,
	}
	for _, name := range []string{local.ControllerManager, local.Scheduler} {
		if got := binaries[name]; got != v.Kubernetes {
			return v, fmt.Errorf("the Kubernetes binaries disagree: %s %s, %s %s", local.APIServer, v.Kubernetes, name, got)
		}
	}
	return v, nil
}

// Objects counts what the setup holds.
type Objects struct {
	Nodes       int `json:"nodes"`
	Namespaces  int `json:"namespaces"`
	Deployments int `json:"deployments"`
	Services    int `json:"services"`
	Pods        int `json:"pods"`
}

// Sizes are the bytes stored.
type Sizes struct {
	EtcdBytes  int64 `json:"etcdBytes"`
	PKIBytes   int64 `json:"pkiBytes"`
	TotalBytes int64 `json:"totalBytes"`
}

// ReadManifest reads dir/manifest.json.
func ReadManifest(dir string) (*Manifest, error) {
	b, err := os.ReadFile(filepath.Join(dir, ManifestFile))
	if errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("%s is not a snapshot: no %s (list snapshots with churn snapshot list)", dir, ManifestFile)
	}
	if err != nil {
		return nil, fmt.Errorf("reading snapshot manifest: %w", err)
	}
	var m Manifest
	if err := json.Unmarshal(b, &m); err != nil {
		return nil, fmt.Errorf("parsing snapshot manifest %s: %w", filepath.Join(dir, ManifestFile), err)
	}
	return &m, nil
}

func writeManifest(dir string, m *Manifest) error {
	b, err := json.MarshalIndent(m, "", "  ")
	if err != nil {
		return fmt.Errorf("encoding snapshot manifest: %w", err)
	}
	if err := os.WriteFile(filepath.Join(dir, ManifestFile), append(b, '\n'), 0o600); err != nil {
		return fmt.Errorf("writing snapshot manifest: %w", err)
	}
	return nil
}
