package results

import "time"

// WarmStart records a run that started from a saved setup (churn run
// --from-snapshot): which one, and how long it took from copying the data
// to every node and replica Ready.
type WarmStart struct {
	Snapshot string `json:"snapshot"`
	// SnapshotCreated and SetupHash identify the snapshot's content.
	SnapshotCreated time.Time `json:"snapshotCreated"`
	SetupHash       string    `json:"setupHash"`
	// RunLabel is the churn.dev/run value of the restored objects, which
	// the run adopted to select, churn and tear down its objects; the run
	// keeps its own RunID for its results.
	RunLabel string `json:"runLabel"`
	// RestoredBytes is the etcd data and PKI copied.
	RestoredBytes int64 `json:"restoredBytes"`
	// RestoreSeconds copies the snapshot into the cluster directory;
	// ControlPlaneSeconds starts the control plane on it; ReadySeconds waits
	// for the restored nodes and replicas to be Ready again.
	RestoreSeconds      float64 `json:"restoreSeconds"`
	ControlPlaneSeconds float64 `json:"controlPlaneSeconds"`
	ReadySeconds        float64 `json:"readySeconds"`
	// Seconds is the whole warm start, restore to Ready: what a run from
	// the snapshot spends before it can churn, in place of the setup.
	Seconds float64 `json:"seconds"`
}
