package results

import "time"

// SetupSummary records the setup phase and the ramp to Ready.
// Owned by the churn engine (package churn), except Nodes, which the runner
// fills from the fake nodes it created.
type SetupSummary struct {
	Nodes       int `json:"nodes"`
	Namespaces  int `json:"namespaces"`
	Deployments int `json:"deployments"`
	Services    int `json:"services"`
	TargetPods  int `json:"targetPods"`
	// ReadyPods is how many replicas were Ready when the ramp ended; below
	// TargetPods only when the ramp failed.
	ReadyPods int `json:"readyPods"`
	// CreateSeconds is the time to create the namespaces, services and
	// deployments.
	CreateSeconds float64 `json:"createSeconds"`
	// RampSeconds runs from the first deployment created to every replica
	// Ready; PodsPerSec is TargetPods over it.
	RampSeconds float64 `json:"rampSeconds"`
	PodsPerSec  float64 `json:"podsPerSecond"`
	// Duration is the whole setup: creation plus ramp.
	Duration time.Duration `json:"duration"`
	// NodesSeconds runs from the first fake node created to all of them
	// Ready (set by the runner; the workload is created after).
	NodesSeconds float64 `json:"nodesSeconds,omitempty"`
	// WarmStart is set when the run started from a saved setup instead of
	// creating one (set by the runner). Nothing was created or ramped then:
	// CreateSeconds, RampSeconds, PodsPerSec and NodesSeconds stay zero and
	// the snapshot's manifest holds the ramp that made it.
	WarmStart *WarmStart `json:"warmStart,omitempty"`
	// KWOKIdleSeconds is how long churn waited after setup for kwok to be
	// idle (local control plane); KWOKBusy is set when it never was within
	// the bound. Set by the runner.
	KWOKIdleSeconds float64 `json:"kwokIdleSeconds,omitempty"`
	KWOKBusy        bool    `json:"kwokBusy,omitempty"`
	// NodeHealth is the fake nodes' health over a setup that is saved as a
	// snapshot (its manifest keeps it); a run's is Result.NodeHealth.
	NodeHealth *NodeHealth `json:"nodeHealth,omitempty"`
}

// ChurnSummary is the accounting of the churn phase.
// Owned by the churn engine (package churn).
type ChurnSummary struct {
	Seed  int64     `json:"seed"`
	Start time.Time `json:"start"`
	End   time.Time `json:"end"`
	// Duration runs from the start of the phase to the later of its planned
	// end and the end of the last action; the rates below divide by it.
	Duration time.Duration `json:"duration"`
	// MaxInFlight is the concurrency bound the pacer ran with.
	MaxInFlight int `json:"maxInFlight"`

	// Planned = Succeeded + Failed + NotStarted.
	Planned    int `json:"planned"`
	Succeeded  int `json:"succeeded"`
	Failed     int `json:"failed"`
	NotStarted int `json:"notStarted"`
	// Scale and Relabel split the counts by kind.
	Scale   ActionCounts `json:"scale"`
	Relabel ActionCounts `json:"relabel"`
	// Errors counts failed actions by class (see Action.Result).
	Errors map[string]int `json:"errors,omitempty"`

	// Lag is start - scheduled over the actions that started: how late the
	// pacer was. Latency is end - start: how long the API calls took.
	LagP50Seconds float64 `json:"lagP50Seconds"`
	LagP99Seconds float64 `json:"lagP99Seconds"`
	LagMaxSeconds float64 `json:"lagMaxSeconds"`
	// OwnLag is the part of Lag that was churn's own: lateness while no
	// slot was held up by an API call in flight (see Action.OwnLagSeconds).
	OwnLagP99Seconds  float64 `json:"ownLagP99Seconds"`
	OwnLagMaxSeconds  float64 `json:"ownLagMaxSeconds"`
	LatencyP50Seconds float64 `json:"latencyP50Seconds"`
	LatencyP99Seconds float64 `json:"latencyP99Seconds"`

	// ActionsPerSecond is successful actions over Duration.
	ActionsPerSecond float64 `json:"actionsPerSecond"`
	// PodChanges is the sum of |to - from| over successful scale actions:
	// the replicas the churn asked the control plane to add or remove.
	PodChanges          int     `json:"podChanges"`
	PodChangesPerSecond float64 `json:"podChangesPerSecond"`

	Actions []Action `json:"actions"`
}

// ActionCounts is the outcome of the actions of one kind.
type ActionCounts struct {
	Planned    int `json:"planned"`
	Succeeded  int `json:"succeeded"`
	Failed     int `json:"failed"`
	NotStarted int `json:"notStarted"`
}

// Action kinds.
const (
	ActionScale   = "scale"
	ActionRelabel = "relabel"
)

// Action results: ResultOK, or the class of the error.
const (
	ResultOK          = "ok"
	ResultTimeout     = "timeout"
	ResultConflict    = "conflict"
	ResultThrottled   = "429"
	ResultServerError = "5xx"
	// ResultUnreachable is a failed connection: the API server was down.
	ResultUnreachable = "unreachable"
	ResultCanceled    = "canceled"
	ResultOther       = "other"
	// ResultNotStarted marks an action the pacer never started, because the
	// phase ended or was interrupted while it waited for a slot.
	ResultNotStarted = "not-started"
)

// Action is one scheduled churn action.
type Action struct {
	// Seq is the action's position in the plan; the same seed gives the
	// same Seq -> (Kind, Target, To).
	Seq       int       `json:"seq"`
	Kind      string    `json:"kind"` // ActionScale or ActionRelabel
	Target    string    `json:"target"`
	Scheduled time.Time `json:"scheduled"`
	Start     time.Time `json:"start,omitzero"`
	End       time.Time `json:"end,omitzero"`
	// LagSeconds is Start - Scheduled; LatencySeconds is End - Start.
	LagSeconds     float64 `json:"lagSeconds"`
	LatencySeconds float64 `json:"latencySeconds"`
	// OwnLagSeconds is LagSeconds minus the time, since Scheduled, that
	// the pacer waited for a slot held by an earlier action's API calls:
	// the lateness that was churn's (its timers, its CPU), not the API
	// server's.
	OwnLagSeconds float64 `json:"ownLagSeconds"`
	// From and To are replica counts for a scale action; for a relabel, To
	// is the new value of the namespace's churn.dev/generation label.
	From   int    `json:"from"`
	To     int    `json:"to"`
	Result string `json:"result"`
	Error  string `json:"error,omitempty"`
}

// OK reports whether the action succeeded.
func (a Action) OK() bool { return a.Result == ResultOK }
