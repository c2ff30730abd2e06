package results

import "time"

// NodeHealth is what the run's fake nodes went through: node Leases renewed
// late and nodes whose Ready condition left True, from the start of setup
// to the end of churn. Owned by package runner.
type NodeHealth struct {
	// Nodes is how many fake nodes were watched.
	Nodes int `json:"nodes"`
	// LateAfterSeconds is the renewal gap beyond which a lease is late.
	LateAfterSeconds float64 `json:"lateAfterSeconds"`
	// NotReadyNodes and LateLeaseNodes count distinct nodes with such an
	// incident that is the simulator's (not Excused).
	NotReadyNodes  int `json:"notReadyNodes"`
	LateLeaseNodes int `json:"lateLeaseNodes"`
	// ExcusedIncidents happened while the API server was down or a fault
	// was injected: a real kubelet could not have renewed either.
	ExcusedIncidents int `json:"excusedIncidents,omitempty"`
	// ClockSteps counts jumps of the wall clock ahead of the monotonic one
	// (a paused VM), ClockStepSeconds their total: lease gaps across them
	// were corrected, and every figure of the run lived through them.
	ClockSteps       int     `json:"clockSteps,omitempty"`
	ClockStepSeconds float64 `json:"clockStepSeconds,omitempty"`
	// Incidents lists them by time, at most MaxNodeIncidents, the
	// simulator's before excused ones; IncidentsTotal counts all.
	Incidents      []NodeIncident `json:"incidents,omitempty"`
	IncidentsTotal int            `json:"incidentsTotal"`
}

// MaxNodeIncidents bounds NodeHealth.Incidents: a starved kwok at 1,000
// nodes makes thousands, and the first ones say what happened.
const MaxNodeIncidents = 200

// Node incident kinds.
const (
	NodeIncidentNotReady  = "not-ready"
	NodeIncidentLeaseLate = "lease-late"
)

// NodeIncident is one fake node failing once.
type NodeIncident struct {
	Node string `json:"node"`
	Kind string `json:"kind"`
	// Phase is the run phase it began in; PhaseOffsetSeconds how far into
	// that phase.
	Phase              string    `json:"phase"`
	PhaseOffsetSeconds float64   `json:"phaseOffsetSeconds"`
	At                 time.Time `json:"at"`
	// Seconds is how long the node was not Ready, or the renewal gap.
	Seconds float64 `json:"seconds"`
	// Ended is false when it was still going on at the end of churn.
	Ended  bool   `json:"ended"`
	Reason string `json:"reason,omitempty"`
	// Excused says why it is not the simulator's: an API server outage or
	// an injected fault overlapped it.
	Excused string `json:"excused,omitempty"`
}

// Judged is how many distinct nodes had an incident that is the
// simulator's.
func (h *NodeHealth) Judged() int {
	if h == nil {
		return 0
	}
	nodes := map[string]bool{}
	for _, in := range h.Incidents {
		if in.Excused == "" {
			nodes[in.Node] = true
		}
	}
	if h.IncidentsTotal > len(h.Incidents) {
		// Beyond the cap only the per-kind counts are exact.
		return max(len(nodes), h.NotReadyNodes, h.LateLeaseNodes)
	}
	return len(nodes)
}
