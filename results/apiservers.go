package results

// APIServerInstance is one kube-apiserver of a local control plane with
// several behind a load balancer, as seen directly (not through the load
// balancer): its own /metrics and /readyz.
type APIServerInstance struct {
	// Name is its process name, e.g. "kube-apiserver-2".
	Name string `json:"name"`
	URL  string `json:"url"`
	// Requests counts the requests it answered during churn; Throttled
	// those answered 429.
	Requests  float64 `json:"requests"`
	Throttled float64 `json:"throttled"`
	// WatchesPeak is the most watches it held at once
	// (apiserver_longrunning_requests, verb WATCH).
	WatchesPeak float64 `json:"watchesPeak"`
	// OutageSeconds is how long its own /readyz failed during churn.
	OutageSeconds float64 `json:"outageSeconds"`
	// Restarts counts how often its process started again (a replacement
	// during an upgrade is one); Versions are the releases it served, in
	// the order seen (two after an upgrade).
	Restarts int      `json:"restarts"`
	Versions []string `json:"versions,omitempty"`
}
