package results

// MeshSummary is what the emulated mesh components did and saw.
// Owned by package agents.
type MeshSummary struct {
	Name       string             `json:"name"`
	Components []ComponentSummary `json:"components"`
	// RolloutSeconds is how long the per-node agents took to all start.
	RolloutSeconds float64 `json:"rolloutSeconds,omitempty"`
	// CRDsCreated are the CRDs the run installed (and removes at teardown).
	CRDsCreated []string `json:"crdsCreated,omitempty"`
	// Notes say what the figures mean (lag sources, compromises).
	Notes []string `json:"notes,omitempty"`
	// PerNodeAgents is "external" when churn agents shards ran the
	// per-node agents (churn run --agents external); the counters the
	// shards reported in time are summed into Components.
	PerNodeAgents string `json:"perNodeAgents,omitempty"`
	// Shards are the churn agents shards that served the run.
	Shards []ShardSummary `json:"shards,omitempty"`
	// Real are the real processes that ran in place of emulated
	// components (churn run --cilium real); their requests are not in
	// Components.
	Real []RealComponent `json:"real,omitempty"`
}

// RealComponent is one real process (or replica set) that ran in place of
// an emulated component.
type RealComponent struct {
	// Name is the program: cilium-agent, cilium-operator-generic.
	Name string `json:"name"`
	// Node is the node a per-node component ran for.
	Node     string `json:"node,omitempty"`
	Replicas int    `json:"replicas,omitempty"`
	// ReadySeconds is how long it took from start to serving.
	ReadySeconds float64 `json:"readySeconds,omitempty"`
	// Restarts are the times a rollout started its process (or, for the
	// operator, one of its replicas' processes) again.
	Restarts int `json:"restarts,omitempty"`
	// Error is why it did not start ("" if it did).
	Error string `json:"error,omitempty"`
	// CNIAdds and CNIDeletes are the pods the CNI stand-in set up and
	// tore down through a real agent's API; CNIErrors the calls that
	// failed after retries.
	CNIAdds    int64  `json:"cniAdds,omitempty"`
	CNIDeletes int64  `json:"cniDeletes,omitempty"`
	CNIErrors  int64  `json:"cniErrors,omitempty"`
	CNILast    string `json:"cniLastError,omitempty"`
	Log        string `json:"log,omitempty"`
}

// ShardSummary is one churn agents shard as it reported to the run.
type ShardSummary struct {
	// Shard is "index/total".
	Shard string `json:"shard"`
	// Nodes is how many nodes' agents it ran.
	Nodes int `json:"nodes"`
	// Reported: its final counters arrived before the run stopped waiting.
	Reported bool `json:"reported"`
}

// ComponentSummary aggregates all replicas of one mesh component.
type ComponentSummary struct {
	Name      string `json:"name"`
	Replicas  int    `json:"replicas"`
	UserAgent string `json:"userAgent,omitempty"`
	// Informers is the number of list/watch loops per replica.
	Informers int `json:"informers,omitempty"`

	EventsReceived int64 `json:"eventsReceived"`
	Bookmarks      int64 `json:"bookmarks,omitempty"`
	ListItems      int64 `json:"listItems,omitempty"`
	BytesReceived  int64 `json:"bytesReceived"`
	// Lists counts LIST requests (each page); Relists the LISTs a
	// reflector made after its first (after a 410, a broken stream or a
	// very short watch); Gone the 410 Expired answers.
	Lists         int64 `json:"lists"`
	Relists       int64 `json:"relists"`
	Gone          int64 `json:"gone410,omitempty"`
	WatchRequests int64 `json:"watchRequests,omitempty"`
	WatchRestarts int64 `json:"watchRestarts"`
	Throttled429  int64 `json:"throttled429"`
	Errors        int64 `json:"errors"`
	// ClientThrottleSeconds is time spent waiting on client-side rate
	// limiters (all replicas).
	ClientThrottleSeconds float64 `json:"clientThrottleSeconds,omitempty"`
	Gets                  int64   `json:"gets,omitempty"`
	// Writes counts successful writes by "verb resource".
	Writes map[string]int64 `json:"writes,omitempty"`

	// LagP50/LagP99 are the component's primary event lag in seconds (the
	// first of Lags); Lags has every lag it measured.
	LagP50 float64      `json:"lagP50Seconds,omitempty"`
	LagP99 float64      `json:"lagP99Seconds,omitempty"`
	Lags   []LagSummary `json:"lags,omitempty"`
}

// LagSummary is one measured propagation delay.
type LagSummary struct {
	Name string `json:"name"`
	// Source says what the lag is measured from.
	Source  string  `json:"source"`
	Samples int64   `json:"samples"`
	P50     float64 `json:"p50Seconds"`
	P99     float64 `json:"p99Seconds"`
	Max     float64 `json:"maxSeconds"`
	Mean    float64 `json:"meanSeconds"`
}
