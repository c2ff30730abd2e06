package results

import "time"

// SLO statuses. A skipped SLO had no signal (its observer was not enabled or
// never got data); it is shown as such and never counted as held.
const (
	SLOPassed   = "passed"
	SLOBreached = "breached"
	SLOSkipped  = "skipped"
	SLODisabled = "disabled"
)

// SLOResult is one SLO's verdict. Owned by package observers.
type SLOResult struct {
	Name        string `json:"name"`
	Description string `json:"description,omitempty"`
	// Threshold and Measured are human-readable ("1s", "0.35%").
	Threshold string `json:"threshold"`
	Measured  string `json:"measured"`
	// Value and Limit are in Unit ("seconds" or "ratio").
	Value  float64 `json:"value"`
	Limit  float64 `json:"limit"`
	Unit   string  `json:"unit,omitempty"`
	Passed bool    `json:"passed"`
	// Status is one of SLOPassed, SLOBreached, SLOSkipped, SLODisabled.
	Status string `json:"status,omitempty"`
	// Reason explains a skipped SLO or qualifies a measurement.
	Reason string `json:"reason,omitempty"`
	// Worst names what was worst, e.g. "PATCH apps/deployments (scope=resource)".
	Worst string `json:"worst,omitempty"`
	// Breaches lists every key that exceeded the limit (capped).
	Breaches []string `json:"breaches,omitempty"`
	// WorstWindowStart/End bound the window where the SLO was worst.
	WorstWindowStart time.Time `json:"worstWindowStart,omitzero"`
	WorstWindowEnd   time.Time `json:"worstWindowEnd,omitzero"`
}

// Availability records API server outages. Owned by package observers.
type Availability struct {
	Outages []Outage `json:"outages"`
	// Checks counts probe rounds (one /readyz plus one /livez each).
	Checks          int     `json:"checks"`
	FailedChecks    int     `json:"failedChecks"`
	DowntimeSeconds float64 `json:"downtimeSeconds"`
	LongestSeconds  float64 `json:"longestOutageSeconds"`
	// Events are process exits, restarts and OOM kills of the local control
	// plane (empty for remote clusters).
	Events []ProcessEvent `json:"events,omitempty"`
}

// Outage is one window where /readyz or /livez failed: Start is the first
// failed check, End the first successful one (or the last check when the
// run ended during the outage; Open is then true).
type Outage struct {
	Start           time.Time `json:"start"`
	End             time.Time `json:"end"`
	DurationSeconds float64   `json:"durationSeconds"`
	// Failed lists the endpoints that failed at least once ("readyz", "livez").
	Failed     []string `json:"failed,omitempty"`
	FirstError string   `json:"firstError,omitempty"`
	Open       bool     `json:"open,omitempty"`
}

// ProcessEvent is one control-plane process lifecycle event.
type ProcessEvent struct {
	Time     time.Time `json:"time"`
	Name     string    `json:"name"`
	Kind     string    `json:"kind"` // e.g. "exited", "restarted", "oom-killed"
	ExitCode int       `json:"exitCode,omitempty"`
	Detail   string    `json:"detail,omitempty"`
}

// ProcessUsage is the cost of one process. Owned by package observers.
type ProcessUsage struct {
	Name       string  `json:"name"`
	CPUSeconds float64 `json:"cpuSeconds"`
	PeakRSS    int64   `json:"peakRSSBytes"`
	// Role is "tester" for churn itself, "simulator" for kwok, "mesh" for
	// a real mesh component the run started, "control-plane" otherwise.
	Role string `json:"role,omitempty"`
	// Priority is the CPU priority as read back from the OS, e.g.
	// "cpu.shares 4096 (cgroup v1 /churn-ab12cd34/control-plane)", "nice -5",
	// "none: <reason>", or "normal (not changed)" for churn itself.
	Priority string `json:"priority,omitempty"`
	// AvgCores is CPUSeconds over the sampled wall time; PeakCores the
	// highest rate over a window of at least half a second between two
	// samples, timed at the /proc reads and capped at the CPUs online.
	AvgCores  float64 `json:"avgCores"`
	PeakCores float64 `json:"peakCores"`
	// PIDs seen over the run (more than one after restarts).
	PIDs []int `json:"pids,omitempty"`
}
