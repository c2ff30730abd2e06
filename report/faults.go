package report

import (
	"fmt"
	"time"

	"github.com/churn-dev/churn/results"
)

// faultRow is one injected fault as the summary and report show it.
type faultRow struct{ Spec, Outcome string }

func faultRows(faults []results.Fault) []faultRow {
	out := make([]faultRow, 0, len(faults))
	for _, f := range faults {
		at := time.Duration(f.AtSeconds * float64(time.Second))
		down := time.Duration(f.DownSeconds * float64(time.Second))
		var outcome string
		switch {
		case f.InjectedAt.IsZero():
			outcome = f.Error
		case f.Error != "":
			outcome = fmt.Sprintf("kill at +%s of churn failed: %s", at, f.Error)
		default:
			outcome = fmt.Sprintf("killed %s at +%s of churn (%s UTC), restarted %s later", f.Process, at, f.InjectedAt.UTC().Format("15:04:05"), down)
		}
		out = append(out, faultRow{Spec: f.Spec, Outcome: outcome})
	}
	return out
}
