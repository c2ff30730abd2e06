package results

import "time"

// SetupSummary records the setup phase and the ramp to Ready.
// Owned by the churn engine (package churn).
type SetupSummary struct {
	Nodes       int           `json:"nodes"`
	Namespaces  int           `json:"namespaces"`
	Deployments int           `json:"deployments"`
	TargetPods  int           `json:"targetPods"`
	RampSeconds float64       `json:"rampSeconds"`
	PodsPerSec  float64       `json:"podsPerSecond"`
	Duration    time.Duration `json:"duration"`
}

// ChurnSummary is the accounting of the churn phase.
// Owned by the churn engine (package churn).
type ChurnSummary struct {
	Planned   int      `json:"planned"`
	Succeeded int      `json:"succeeded"`
	Failed    int      `json:"failed"`
	Actions   []Action `json:"actions"`
}

// Action is one scheduled churn action.
type Action struct {
	Kind      string    `json:"kind"` // "scale" or "relabel"
	Target    string    `json:"target"`
	Scheduled time.Time `json:"scheduled"`
	Start     time.Time `json:"start"`
	End       time.Time `json:"end"`
	From      int       `json:"from,omitempty"`
	To        int       `json:"to,omitempty"`
	Error     string    `json:"error,omitempty"`
}
