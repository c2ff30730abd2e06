package results

import "time"

// Disruption kinds: what a plan did to the cluster on purpose during churn.
const (
	// DisruptionFault kills one process and starts it again (--fault).
	DisruptionFault = "fault"
	// DisruptionUpgrade replaces each control-plane process in turn with
	// another release (--upgrade).
	DisruptionUpgrade = "upgrade"
	// DisruptionRollout restarts mesh agents in waves (--rollout).
	DisruptionRollout = "rollout"
)

// Disruption is one plan of steps carried out during churn: a fault is a
// plan of one step, an upgrade one step per process it replaces, a rollout
// one step per wave. Steps run in order, each after the previous ended.
type Disruption struct {
	Kind string `json:"kind"`
	// Spec is the plan as the user wrote it, e.g. "etcd-kill@3m" or
	// "kubernetes=v1.37.2@3m".
	Spec string `json:"spec"`
	// AtSeconds is when the plan was due, from the start of churn.
	AtSeconds float64 `json:"atSeconds"`
	// Settings are what the plan ran with that a reader needs to judge it,
	// e.g. the API servers' shutdown flags during an upgrade.
	Settings map[string]string `json:"settings,omitempty"`
	Steps    []DisruptionStep  `json:"steps"`
	// Error says why the plan did not complete: not due before churn
	// ended, interrupted, or the step that failed.
	Error string `json:"error,omitempty"`
}

// Started is when the first step began; zero when none did.
func (d Disruption) Started() time.Time {
	if len(d.Steps) == 0 {
		return time.Time{}
	}
	return d.Steps[0].Started
}

// Ended is when the last step that began ended; zero when none did.
func (d Disruption) Ended() time.Time {
	var end time.Time
	for _, s := range d.Steps {
		if !s.Ended.IsZero() {
			end = s.Ended
		}
	}
	return end
}

// DisruptionStep is one step of a plan: stop something, start something
// (maybe another release), wait until it is ready.
type DisruptionStep struct {
	// Name says what the step does, e.g. "kube-apiserver-2 v1.36.3 ->
	// v1.37.2" or "wave 2/5".
	Name string `json:"name"`
	// Targets are the processes or agents the step stops and starts.
	Targets []string `json:"targets,omitempty"`
	// From and To are the releases before and after, for upgrades.
	From string `json:"from,omitempty"`
	To   string `json:"to,omitempty"`
	// Started is when the step began, Stopped when what it stops had gone,
	// Ready when what it started answered ready, Ended when the step was
	// over (Ready, or the failure). A zero time means not reached.
	Started time.Time `json:"started"`
	Stopped time.Time `json:"stopped,omitzero"`
	Ready   time.Time `json:"ready,omitzero"`
	Ended   time.Time `json:"ended,omitzero"`
	Error   string    `json:"error,omitempty"`
	// Impact is what the API server went through during the step, filled
	// in after the run from the observers' series and the audit log.
	Impact *StepImpact `json:"impact,omitempty"`
	// Rollout is a rollout wave's agents and their start-up requests.
	Rollout *RolloutWave `json:"rollout,omitempty"`
}

// StepImpact is what clients saw from Started to Ended of a step.
type StepImpact struct {
	// OutageSeconds is how long /readyz failed through the address
	// clients use (the load balancer when there is one).
	OutageSeconds float64 `json:"outageSeconds"`
	// OutageByServer is how long each API server's own /readyz failed.
	OutageByServer map[string]float64 `json:"outageByServer,omitempty"`
	// Throttled counts 429 answers; APFRejected those APF rejected.
	Throttled   float64 `json:"throttled"`
	APFRejected float64 `json:"apfRejected"`
	// Lists and Watches count LIST requests and watch establishments by
	// client (user agent product, e.g. "kube-controller-manager"), from
	// the API servers' audit logs; nil when the run kept none.
	Lists   map[string]int `json:"lists,omitempty"`
	Watches map[string]int `json:"watches,omitempty"`
	// PeakPerSecond is the most LISTs and watch establishments together
	// in any one second of the step: how aligned the clients' relists
	// were.
	PeakPerSecond int `json:"peakPerSecond,omitempty"`
	// RecoverySeconds is how long after Ended the mutating p99 took to
	// return within 20% of its level before the plan began; -1 when it
	// did not before churn ended.
	RecoverySeconds float64 `json:"recoverySeconds"`
}
