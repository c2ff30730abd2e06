package report

import (
	"fmt"

	"github.com/churn-dev/churn/observers"
	"github.com/churn-dev/churn/results"
)

// nodeIncidentRow is one fake node failure as the report shows it.
type nodeIncidentRow struct {
	Node, What, Phase, Into, Lasted, Detail string
	Excused                                 bool
}

// nodeIncidentRows lists the fake nodes' incidents and a line that counts
// them; nothing when every node stayed healthy.
func nodeIncidentRows(h *results.NodeHealth) ([]nodeIncidentRow, string) {
	if h == nil || h.IncidentsTotal == 0 {
		return nil, ""
	}
	rows := make([]nodeIncidentRow, 0, len(h.Incidents))
	for _, in := range h.Incidents {
		row := nodeIncidentRow{Node: in.Node, Phase: in.Phase, Excused: in.Excused != "",
			Into: observers.FormatSeconds(in.PhaseOffsetSeconds), Lasted: observers.FormatSeconds(in.Seconds), Detail: in.Reason}
		switch in.Kind {
		case results.NodeIncidentLeaseLate:
			row.What = "lease renewed late"
		default:
			row.What = "not Ready"
		}
		if !in.Ended {
			row.Lasted += " (still at the end)"
		}
		if in.Excused != "" {
			row.Detail = "not the simulator's: " + in.Excused
		}
		rows = append(rows, row)
	}
	line := fmt.Sprintf("%d of %d fake nodes left Ready and %d had a lease renewed more than %s after the previous renewal, outside API server outages and faults (%d incidents in all, %d excused).",
		h.NotReadyNodes, h.Nodes, h.LateLeaseNodes, observers.FormatSeconds(h.LateAfterSeconds), h.IncidentsTotal, h.ExcusedIncidents)
	if h.IncidentsTotal > len(h.Incidents) {
		line += fmt.Sprintf(" The first %d are listed.", len(h.Incidents))
	}
	return rows, line
}
