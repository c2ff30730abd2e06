package local

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"time"

	"k8s.io/client-go/rest"
)

// stateVersion is bumped when State changes incompatibly.
const stateVersion = 1

// State is the content of Dir/state.json. It is written at every start and
// restart of a process so that another churn process (churn status, churn
// down) or a later Up can find and stop exactly these processes.
type State struct {
	Version int       `json:"version"`
	Dir     string    `json:"dir"`
	Created time.Time `json:"created"`
	// Owner is the churn process that ran Up; its children die with it
	// (Pdeathsig), so a dead owner means the cluster is a leftover.
	Owner OwnerState `json:"owner"`
	// Detached clusters (churn up) outlive their owner on purpose; a later
	// Up refuses to touch them and only Down stops them.
	Detached     bool           `json:"detached,omitempty"`
	APIServerURL string         `json:"apiServerURL"`
	Kubeconfig   string         `json:"kubeconfig"`
	Ports        Ports          `json:"ports"`
	DataDir      string         `json:"dataDir"`
	Processes    []ProcessState `json:"processes"` // in start order
	// CPUPriority is how the processes were prioritised; Down removes the
	// cgroups it names.
	CPUPriority *CPUPriority `json:"cpuPriority,omitempty"`
}

// OwnerState identifies the churn process that owns a cluster.
type OwnerState struct {
	PID       int    `json:"pid"`
	StartTime uint64 `json:"startTime"`
}

// ProcessState records one started process.
type ProcessState struct {
	Name string `json:"name"`
	PID  int    `json:"pid"`
	// StartTime is field 22 of /proc/<pid>/stat at start: a PID is only
	// signalled while its start time still matches.
	StartTime  uint64    `json:"startTime"`
	StartedAt  time.Time `json:"startedAt"`
	Binary     string    `json:"binary"`
	Args       []string  `json:"args"`
	Ports      []int     `json:"ports"`
	Kubeconfig string    `json:"kubeconfig,omitempty"`
	LogFile    string    `json:"logFile"`
	HealthURL  string    `json:"healthURL"`
}

// Alive reports whether the recorded process is still the one running.
func (p ProcessState) Alive() bool { return procAlive(p.PID, p.StartTime) }

// OwnerAlive reports whether the churn process that ran Up still runs.
func (s *State) OwnerAlive() bool { return procAlive(s.Owner.PID, s.Owner.StartTime) }

// AnyAlive reports whether any recorded process still runs.
func (s *State) AnyAlive() bool {
	for _, p := range s.Processes {
		if p.Alive() {
			return true
		}
	}
	return false
}

// Process returns the recorded process with that name.
func (s *State) Process(name string) (ProcessState, bool) {
	for _, p := range s.Processes {
		if p.Name == name {
			return p, true
		}
	}
	return ProcessState{}, false
}

// RESTConfig loads the admin kubeconfig of the cluster.
func (s *State) RESTConfig() (*rest.Config, error) {
	return restConfigFromKubeconfig(s.Kubeconfig)
}

// ErrNoState is returned (wrapped) when a directory has no state file.
var ErrNoState = errors.New("no local cluster state")

// LoadState reads Dir/state.json.
func LoadState(dir string) (*State, error) {
	p := paths{dir: dir}
	b, err := os.ReadFile(p.state())
	if errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("%w in %s (is a cluster running there? start one with churn up)", ErrNoState, dir)
	}
	if err != nil {
		return nil, fmt.Errorf("reading cluster state: %w", err)
	}
	var s State
	if err := json.Unmarshal(b, &s); err != nil {
		return nil, fmt.Errorf("parsing cluster state %s: %w", p.state(), err)
	}
	if s.Version != stateVersion {
		return nil, fmt.Errorf("cluster state %s has version %d, this churn understands %d", p.state(), s.Version, stateVersion)
	}
	return &s, nil
}

// Attach reads the state of a running cluster and checks that every
// recorded process is alive, so the caller can use its kubeconfig.
func Attach(dir string) (*State, error) {
	s, err := LoadState(dir)
	if err != nil {
		return nil, err
	}
	for _, p := range s.Processes {
		if !p.Alive() {
			return nil, fmt.Errorf("local cluster in %s is not running: %s (pid %d) has exited", dir, p.Name, p.PID)
		}
	}
	if len(s.Processes) < len(startOrder) {
		return nil, fmt.Errorf("local cluster in %s is incomplete: %d of %d processes recorded", dir, len(s.Processes), len(startOrder))
	}
	return s, nil
}

func writeState(dir string, s *State) error {
	b, err := json.MarshalIndent(s, "", "  ")
	if err != nil {
		return fmt.Errorf("encoding cluster state: %w", err)
	}
	return writeFile0600(paths{dir: dir}.state(), append(b, '\n'))
}

// ProcessStatus is one line of StatusReport.
type ProcessStatus struct {
	Name    string    `json:"name"`
	PID     int       `json:"pid"`
	Alive   bool      `json:"alive"`
	Since   time.Time `json:"since"`
	Ports   []int     `json:"ports"`
	LogFile string    `json:"logFile"`
}

// Status is what churn status prints.
type Status struct {
	Dir          string          `json:"dir"`
	APIServerURL string          `json:"apiServerURL"`
	Kubeconfig   string          `json:"kubeconfig"`
	OwnerPID     int             `json:"ownerPID"`
	OwnerAlive   bool            `json:"ownerAlive"`
	Processes    []ProcessStatus `json:"processes"`
}

// Running reports whether every process is alive.
func (s *Status) Running() bool {
	if len(s.Processes) == 0 {
		return false
	}
	for _, p := range s.Processes {
		if !p.Alive {
			return false
		}
	}
	return true
}

// StatusReport reads the state of dir and checks each process.
func StatusReport(dir string) (*Status, error) {
	s, err := LoadState(dir)
	if err != nil {
		return nil, err
	}
	st := &Status{
		Dir:          s.Dir,
		APIServerURL: s.APIServerURL,
		Kubeconfig:   s.Kubeconfig,
		OwnerPID:     s.Owner.PID,
		OwnerAlive:   s.OwnerAlive(),
	}
	for _, p := range s.Processes {
		st.Processes = append(st.Processes, ProcessStatus{
			Name: p.Name, PID: p.PID, Alive: p.Alive(), Since: p.StartedAt, Ports: p.Ports, LogFile: p.LogFile,
		})
	}
	return st, nil
}
