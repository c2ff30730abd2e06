package results

// RolloutWave is one wave of a mesh rollout: the agents it restarted and
// what their start-up requests cost, as the agents measured them.
type RolloutWave struct {
	Component string `json:"component"`
	// Agents were restarted by the wave; Ready of them reported ready
	// (every watch synced, their own start-up work done) before it ended.
	Agents int `json:"agents"`
	Ready  int `json:"ready"`
	// ReadyP50Seconds and ReadyMaxSeconds are the agents' times from the
	// wave's start until each was ready.
	ReadyP50Seconds float64 `json:"readyP50Seconds"`
	ReadyMaxSeconds float64 `json:"readyMaxSeconds"`
	// Lists are the restarted agents' initial LISTs (or streaming list
	// WATCHes) of every informer, one per informer per agent.
	Lists StartupRequests `json:"lists"`
	// ByResource splits Lists by resource, the largest bytes first.
	ByResource []StartupResource `json:"byResource,omitempty"`
	// Calls are the other requests the agents made from their restart
	// until ready: the GETs and writes of their resyncs (a cilium-agent's
	// CiliumNode and each of its CiliumEndpoints), lease requests.
	Calls int64 `json:"calls"`
	// Real of the Agents are real processes (--cilium real, --istiod
	// real), restarted as processes. Their requests are not visible from
	// inside them, so Lists, ByResource and Calls are the emulated agents'
	// only; the step's impact counts every client's LISTs and WATCHes,
	// real ones included, from the API servers' audit logs.
	Real int `json:"real,omitempty"`
}

// StartupRequests sum a set of start-up list requests. Latency runs from
// sending the request to the last byte of the list (to the end-of-initial-
// events bookmark of a streaming list), as the agent saw it.
type StartupRequests struct {
	Count int   `json:"count"`
	Bytes int64 `json:"bytes"`
	Items int64 `json:"items"`
	// Errors are failed attempts before the list succeeded.
	Errors     int64   `json:"errors,omitempty"`
	MaxBytes   int64   `json:"maxBytes"`
	P50Seconds float64 `json:"p50Seconds"`
	P99Seconds float64 `json:"p99Seconds"`
	MaxSeconds float64 `json:"maxSeconds"`
}

// StartupResource is the start-up lists of one resource.
type StartupResource struct {
	Resource string `json:"resource"`
	StartupRequests
}
