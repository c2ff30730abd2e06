package results

import (
	"fmt"
	"strings"
	"time"
)

// Install is the mesh's install phase: from the mesh's start until it
// settled or its settle timeout ran out. It is reported, never judged: the
// SLOs judge the churn phase that follows. Owned by package runner, which
// assembles it from the mesh's settle conditions and the observers'
// figures over the phase.
type Install struct {
	Mesh  string    `json:"mesh"`
	Start time.Time `json:"start"`
	End   time.Time `json:"end"`
	// Seconds is End - Start.
	Seconds float64 `json:"seconds"`
	// Settled is true when every condition held and the API server had
	// answered no 429 for QuietSeconds before the timeout.
	Settled bool `json:"settled"`
	// SettleTimeoutSeconds bounds the wait (mesh.settleTimeout).
	SettleTimeoutSeconds float64 `json:"settleTimeoutSeconds"`
	// QuietSeconds is how long no 429 had to be seen (mesh.settleQuiet).
	QuietSeconds float64 `json:"quietSeconds"`
	// Throttled429 counts the 429s the mesh's components got during the
	// phase; QuietAtEndSeconds is how long none had come when it ended.
	Throttled429      int64   `json:"throttled429"`
	QuietAtEndSeconds float64 `json:"quietAtEndSeconds"`
	// Conditions are what settling waited for, as last seen.
	Conditions []SettleCondition `json:"conditions,omitempty"`
	// Figures are the control plane's figures over the install phase.
	Figures *PhaseFigures `json:"figures,omitempty"`
	// Snapshot names the snapshot the run warm-started from when it was
	// saved with this mesh running: the mesh's objects (CRDs,
	// CiliumEndpoints, identities, CiliumNodes, root-cert ConfigMaps...)
	// were present and its agents started as a DaemonSet rollout on a
	// cluster where it already ran, adopting them. Empty for an install
	// on a cluster without them.
	Snapshot string `json:"snapshot,omitempty"`
	// Writes are the successful writes the mesh's components made from
	// their start to the end of the phase, by "verb resource" (e.g.
	// "create ciliumendpoints").
	Writes map[string]int64 `json:"writes,omitempty"`
}

// Why says what kept the mesh from settling: its unmet conditions, and a
// quiet period shorter than required.
func (i *Install) Why() string {
	var parts []string
	if u := DescribeUnmet(i.Conditions); u != "" {
		parts = append(parts, u)
	}
	if i.QuietAtEndSeconds < i.QuietSeconds {
		parts = append(parts, fmt.Sprintf("no 429 for only %s of the %s required (%d 429s in the phase)",
			secs(i.QuietAtEndSeconds), secs(i.QuietSeconds), i.Throttled429))
	}
	if len(parts) == 0 {
		return "all conditions met"
	}
	return strings.Join(parts, ", ")
}

func secs(s float64) string {
	return time.Duration(s * float64(time.Second)).Round(time.Second).String()
}

// DescribeUnmet lists the unmet conditions as "name have/want", or "" when
// every one is met.
func DescribeUnmet(conds []SettleCondition) string {
	var parts []string
	for _, c := range conds {
		if !c.Met {
			parts = append(parts, fmt.Sprintf("%s %d/%d", c.Name, c.Have, c.Want))
		}
	}
	return strings.Join(parts, ", ")
}

// Unmet names the conditions that did not hold at the end of the phase.
func (i *Install) Unmet() []SettleCondition {
	var out []SettleCondition
	for _, c := range i.Conditions {
		if !c.Met {
			out = append(out, c)
		}
	}
	return out
}

// SettleCondition is one thing a settled mesh has: "CiliumEndpoints" with
// Have of Want, met after MetAfterSeconds from the mesh's start.
type SettleCondition struct {
	Name   string `json:"name"`
	Want   int64  `json:"want"`
	Have   int64  `json:"have"`
	Met    bool   `json:"met"`
	Detail string `json:"detail,omitempty"`
	// MetAfterSeconds is when it first held, from the start of the phase.
	MetAfterSeconds float64 `json:"metAfterSeconds,omitempty"`
}

// PhaseFigures are what the control plane did during one phase, from the
// observers' time series over its span.
type PhaseFigures struct {
	// PeakP99 is the worst p99 per SLO category (mutating, read-resource,
	// read-namespace, read-cluster) in any 5-minute window inside the
	// phase, or over the whole phase when it is shorter.
	PeakP99 []CategoryP99 `json:"peakP99,omitempty"`
	// Requests, Requests429, Requests5xx and APFRejected count the API
	// server's answers inside the phase.
	Requests    float64 `json:"requests"`
	Requests429 float64 `json:"requests429"`
	Requests5xx float64 `json:"requests5xx"`
	APFRejected float64 `json:"apfRejected"`
	// APIServerCPUSeconds is kube-apiserver's CPU over the phase (from its
	// process_cpu_seconds_total).
	APIServerCPUSeconds float64 `json:"apiServerCPUSeconds"`
	// Outages and DowntimeSeconds count /readyz or /livez outages that
	// overlapped the phase, and their time inside it.
	Outages         int     `json:"outages"`
	DowntimeSeconds float64 `json:"downtimeSeconds"`
}

// CategoryP99 is one SLO category's worst request key.
type CategoryP99 struct {
	Category string  `json:"category"`
	Key      string  `json:"key"`
	P99      float64 `json:"p99Seconds"`
}
