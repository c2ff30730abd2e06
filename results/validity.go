package results

// Validity statuses of a check of the simulator.
const (
	ValidityOK      = "ok"
	ValidityBehind  = "behind"
	ValiditySkipped = "skipped"
)

// Validity says whether the simulated rest of the cluster (kwok standing in
// for the kubelets, churn's engine, the emulated mesh agents) kept up
// during the churn phase. When it did not, the SLO verdict is about the
// bench as much as the API server, and the run is inconclusive. Owned by
// package runner.
type Validity struct {
	// Valid is false when any check is ValidityBehind.
	Valid  bool            `json:"valid"`
	Checks []ValidityCheck `json:"checks"`
}

// ValidityCheck is one measure of the simulator's own lag against its
// threshold. Value and Limit are in seconds.
type ValidityCheck struct {
	Name        string  `json:"name"`
	Description string  `json:"description"`
	Threshold   string  `json:"threshold"`
	Measured    string  `json:"measured"`
	Value       float64 `json:"value"`
	Limit       float64 `json:"limit"`
	// Status is ValidityOK, ValidityBehind or ValiditySkipped.
	Status string `json:"status"`
	// Reason qualifies the measurement, or says why it was skipped.
	Reason string `json:"reason,omitempty"`
}

// Behind lists the names of the checks that fell behind.
func (v *Validity) Behind() []string {
	if v == nil {
		return nil
	}
	var out []string
	for _, c := range v.Checks {
		if c.Status == ValidityBehind {
			out = append(out, c.Name)
		}
	}
	return out
}
