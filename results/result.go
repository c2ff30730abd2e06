// Package results is the data model of one run: what results.json holds and
// what the report, the verdict and compare read. It has no behaviour beyond
// reading and writing that file, so every other package can depend on it.
package results

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/churn-dev/churn/profiles"
)

// SchemaVersion is bumped on any incompatible change to Result. Version 2
// added the mesh install phase (Install), the simulator's validity
// (Validity) and the inconclusive verdict; a version 1 file reads as a run
// without them. Version 3 records faults as disruptions (Disruptions); a
// version 2 file's faults are not read.
const SchemaVersion = 3

// oldestReadable is the oldest schema Read accepts.
const oldestReadable = 1

// FileName is the name of the results file inside a run's output directory.
const FileName = "results.json"

// Result is everything one run recorded.
type Result struct {
	SchemaVersion int              `json:"schemaVersion"`
	RunID         string           `json:"runID"`
	Profile       profiles.Profile `json:"profile"`
	Seed          int64            `json:"seed"`
	Target        Target           `json:"target"`
	Mesh          string           `json:"mesh"`
	Phases        []Phase          `json:"phases"`
	Setup         *SetupSummary    `json:"setup,omitempty"`
	Churn         *ChurnSummary    `json:"churn,omitempty"`
	// Observers holds each observer's own summary and time series, by name.
	Observers    map[string]json.RawMessage `json:"observers,omitempty"`
	SLOs         []SLOResult                `json:"slos,omitempty"`
	Availability *Availability              `json:"availability,omitempty"`
	Processes    []ProcessUsage             `json:"processes,omitempty"`
	// APIServers are the local API servers one by one, when there are
	// several behind a load balancer (controlPlane.apiservers > 1).
	APIServers []APIServerInstance `json:"apiServers,omitempty"`
	MeshStats  *MeshSummary        `json:"meshStats,omitempty"`
	// Install is the mesh install phase (nil without a mesh).
	Install *Install `json:"install,omitempty"`
	// Validity is whether the simulator kept up during churn.
	Validity *Validity `json:"validity,omitempty"`
	// NodeHealth is what the fake nodes went through (local control plane
	// or a cluster with kwok; nil when not watched).
	NodeHealth *NodeHealth `json:"nodeHealth,omitempty"`
	// Disruptions are the plans the run carried out on purpose during
	// churn: faults, upgrades, rollouts.
	Disruptions []Disruption `json:"disruptions,omitempty"`
	Verdict     Verdict      `json:"verdict"`
	// Errors lists what went wrong in the run itself (not SLO breaches).
	Errors []string `json:"errors,omitempty"`
}

// Target says what cluster the run used.
type Target struct {
	Kind              string `json:"kind"` // "local", "kubeconfig" or "in-cluster"
	Server            string `json:"server"`
	KubernetesVersion string `json:"kubernetesVersion,omitempty"`
	// ExtraArgs are the arguments each local control-plane component was
	// started with beyond churn's own, by component; empty when none.
	ExtraArgs map[string][]string `json:"extraArgs,omitempty"`
	// CPUPriority is how the local control plane got CPU, with its CPU
	// budget; nil for a remote target.
	CPUPriority *CPUPriority `json:"cpuPriority,omitempty"`
	// Binaries are the local control plane's binaries' versions as they
	// report them (--version), by process: kwok built with churn's
	// patches reports e.g. v0.8.0-churn.2. Empty for a remote target.
	Binaries map[string]string `json:"binaries,omitempty"`
}

// Phase is one named phase with its wall-clock bounds.
type Phase struct {
	Name  string    `json:"name"`
	Start time.Time `json:"start"`
	End   time.Time `json:"end"`
}

// Verdict is the gate's answer.
type Verdict struct {
	Passed   bool     `json:"passed"`
	Breached []string `json:"breached,omitempty"`
	// Inconclusive is set when the simulator fell behind (Behind names the
	// checks): the SLO figures then measure the bench as much as the API
	// server, and Passed is false whatever they say.
	Inconclusive bool     `json:"inconclusive,omitempty"`
	Behind       []string `json:"behind,omitempty"`
	// Notes qualify the verdict, e.g. a mesh that did not settle before
	// churn started.
	Notes   []string `json:"notes,omitempty"`
	Summary string   `json:"summary"`
}

// Write stores r as dir/results.json, creating dir.
func Write(dir string, r *Result) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("create results dir %s: %w", dir, err)
	}
	b, err := json.MarshalIndent(r, "", "  ")
	if err != nil {
		return fmt.Errorf("encode results: %w", err)
	}
	path := filepath.Join(dir, FileName)
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, b, 0o644); err != nil {
		return fmt.Errorf("write %s: %w", tmp, err)
	}
	if err := os.Rename(tmp, path); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	return nil
}

// Read loads dir/results.json (or the file itself when path is a file).
func Read(path string) (*Result, error) {
	if st, err := os.Stat(path); err == nil && st.IsDir() {
		path = filepath.Join(path, FileName)
	}
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read results: %w", err)
	}
	var r Result
	if err := json.Unmarshal(b, &r); err != nil {
		return nil, fmt.Errorf("decode %s: %w", path, err)
	}
	if r.SchemaVersion < oldestReadable || r.SchemaVersion > SchemaVersion {
		return nil, fmt.Errorf("%s: schemaVersion %d, this churn reads %d to %d", path, r.SchemaVersion, oldestReadable, SchemaVersion)
	}
	return &r, nil
}
