package runner

import (
	"context"
	"fmt"
	"sort"
	"strings"
	"time"

	"go.uber.org/zap"
	"k8s.io/client-go/kubernetes"

	"github.com/churn-dev/churn/churn"
	"github.com/churn-dev/churn/fakenodes"
	"github.com/churn-dev/churn/fakenodes/nodehealth"
	"github.com/churn-dev/churn/observers"
	"github.com/churn-dev/churn/results"
)

// CheckFakeNodes is the validity check of the fake nodes' health.
const CheckFakeNodes = "fake-nodes-healthy"

// outageReach is how long after an API server outage or an injected fault
// a node incident is still its consequence: a lease that could not be
// renewed turns the node NotReady after the node lifecycle controller's
// grace period (50 s), and the node is Ready again one renewal after the
// API server is back.
const outageReach = time.Minute

// startNodeHealth watches the run's fake nodes from the start of setup.
// It never fails the run: without the watch the check is skipped.
func (r *run) startNodeHealth(ctx context.Context) {
	if r.nodeHealth != nil || r.clientConfig == nil {
		return
	}
	cs, err := kubernetes.NewForConfig(observers.DedicatedConfig(r.clientConfig, "nodehealth"))
	if err == nil {
		r.nodeHealth, err = nodehealth.Start(ctx, nodehealth.Config{
			Client: cs, Clock: r.clk, Logger: r.log.Named("nodehealth"),
			NodeSelector: fakenodes.LabelSelector + "," + churn.RunSelector(r.labelID),
		})
	}
	if err != nil {
		r.nodeHealthErr = err
		r.log.Warn("fake node health is not watched", zap.Error(err))
	}
}

// stopNodeHealth ends the watch; the incidents stay.
func (r *run) stopNodeHealth() {
	if r.nodeHealth != nil {
		r.nodeHealth.Stop()
	}
}

// summarizeNodeHealth records the fake nodes' incidents, excusing those an
// API server outage or an injected fault explains.
func (r *run) summarizeNodeHealth() *results.NodeHealth {
	if r.nodeHealth == nil {
		return nil
	}
	var outages []results.Outage
	if r.res.Availability != nil {
		outages = r.res.Availability.Outages
	}
	h := summarizeIncidents(r.nodeHealth.Incidents(), r.nodeHealth.Nodes(), r.nodeHealth.LateAfter(),
		r.res.Phases, outages, r.res.Disruptions)
	for _, st := range r.nodeHealth.ClockSteps() {
		h.ClockSteps++
		h.ClockStepSeconds += st.Seconds
	}
	return h
}

func summarizeIncidents(incidents []nodehealth.Incident, nodes int, lateAfter time.Duration,
	phases []results.Phase, outages []results.Outage, disruptions []results.Disruption) *results.NodeHealth {
	h := &results.NodeHealth{Nodes: nodes, LateAfterSeconds: lateAfter.Seconds(), IncidentsTotal: len(incidents)}
	notReady, late := map[string]bool{}, map[string]bool{}
	var excused []results.NodeIncident
	for _, in := range incidents {
		ni := results.NodeIncident{Node: in.Node, Kind: in.Kind, At: in.At, Seconds: in.Seconds, Ended: in.Ended, Reason: in.Reason}
		ni.Phase, ni.PhaseOffsetSeconds = phaseAt(phases, in.At)
		// The window in which the node should have been renewing.
		from, to := in.At.Add(-lateAfter), in.At.Add(time.Duration(in.Seconds*float64(time.Second)))
		ni.Excused = excuse(from, to, outages, disruptions)
		switch {
		case ni.Excused != "":
			h.ExcusedIncidents++
			excused = append(excused, ni)
			continue
		case in.Kind == nodehealth.KindNotReady:
			notReady[in.Node] = true
		default:
			late[in.Node] = true
		}
		if len(h.Incidents) < results.MaxNodeIncidents {
			h.Incidents = append(h.Incidents, ni)
		}
	}
	// The list keeps the simulator's own incidents first; excused ones
	// fill what room is left.
	for _, ni := range excused {
		if len(h.Incidents) == results.MaxNodeIncidents {
			break
		}
		h.Incidents = append(h.Incidents, ni)
	}
	sort.SliceStable(h.Incidents, func(i, j int) bool { return h.Incidents[i].At.Before(h.Incidents[j].At) })
	h.NotReadyNodes, h.LateLeaseNodes = len(notReady), len(late)
	return h
}

// phaseAt names the phase t falls in and how far into it.
func phaseAt(phases []results.Phase, t time.Time) (string, float64) {
	for _, p := range phases {
		if !t.Before(p.Start) && (p.End.IsZero() || t.Before(p.End)) {
			return p.Name, t.Sub(p.Start).Seconds()
		}
	}
	if n := len(phases); n > 0 && !t.Before(phases[n-1].End) {
		// After the last recorded phase: the phase still running (SetUp
		// records none while inside setup).
		return "after " + phases[n-1].Name, t.Sub(phases[n-1].End).Seconds()
	}
	return "", 0
}

// excuse names the outage or fault that overlaps [from, to], or "".
func excuse(from, to time.Time, outages []results.Outage, disruptions []results.Disruption) string {
	overlaps := func(start, end time.Time) bool {
		return !from.After(end.Add(outageReach)) && !to.Before(start)
	}
	for _, o := range outages {
		if overlaps(o.Start, o.End) {
			return fmt.Sprintf("API server outage %s to %s", o.Start.Format(time.TimeOnly), o.End.Format(time.TimeOnly))
		}
	}
	for _, d := range disruptions {
		start, end := d.Started(), d.Ended()
		if start.IsZero() {
			continue
		}
		if end.IsZero() {
			end = start
		}
		if overlaps(start, end) {
			return d.Kind + " " + d.Spec
		}
	}
	return ""
}

// nodeHealthCheck: every fake node kept its lease fresh and stayed Ready,
// except where the API server itself was down.
func nodeHealthCheck(r *results.Result, watchErr error) results.ValidityCheck {
	c := results.ValidityCheck{Name: CheckFakeNodes, Threshold: "0 nodes",
		Description: "fake nodes whose lease kwok renewed late or that left Ready, from setup to the end of churn, outside API server outages and disruptions (faults, upgrades, rollouts)"}
	h := r.NodeHealth
	if h == nil {
		c.Status = results.ValiditySkipped
		c.Reason = "fake nodes not watched"
		if watchErr != nil {
			c.Reason += ": " + watchErr.Error()
		}
		return c
	}
	c.Value = float64(h.Judged())
	c.Measured = fmt.Sprintf("%d nodes", h.Judged())
	c.Reason = describeIncidents(h)
	return c
}

// describeIncidents says which nodes failed, how and when, in a line.
func describeIncidents(h *results.NodeHealth) string {
	steps := ""
	if h.ClockSteps > 0 {
		steps = fmt.Sprintf("; the wall clock jumped %d times, %s in all (a paused VM?), which lease gaps were corrected for",
			h.ClockSteps, observers.FormatSeconds(h.ClockStepSeconds))
	}
	if h.IncidentsTotal == 0 {
		return fmt.Sprintf("%d nodes, every lease renewed within %s and every node Ready throughout",
			h.Nodes, observers.FormatSeconds(h.LateAfterSeconds)) + steps
	}
	var parts []string
	shown := 0
	for _, in := range h.Incidents {
		if in.Excused != "" {
			continue
		}
		if shown == 5 {
			parts = append(parts, "...")
			break
		}
		shown++
		what := fmt.Sprintf("not Ready %s", observers.FormatSeconds(in.Seconds))
		if in.Kind == results.NodeIncidentLeaseLate {
			what = fmt.Sprintf("lease renewed after %s", observers.FormatSeconds(in.Seconds))
		}
		if !in.Ended {
			what += " (still at the end)"
		}
		parts = append(parts, fmt.Sprintf("%s %s in %s minute %d", in.Node, what, in.Phase, int(in.PhaseOffsetSeconds/60)+1))
	}
	s := fmt.Sprintf("%d not Ready, %d late leases (renewal gap over %s) among %d nodes",
		h.NotReadyNodes, h.LateLeaseNodes, observers.FormatSeconds(h.LateAfterSeconds), h.Nodes)
	if len(parts) > 0 {
		s += ": " + strings.Join(parts, ", ")
	}
	if h.ExcusedIncidents > 0 {
		s += fmt.Sprintf("; %d incidents during API server outages or disruptions not counted", h.ExcusedIncidents)
	}
	return s + steps
}

// NodeHealthWarning is what a save prints about its fake nodes: "" when
// they stayed healthy.
func NodeHealthWarning(h *results.NodeHealth) string {
	if h == nil || h.IncidentsTotal == 0 {
		return ""
	}
	return "warning: the fake cluster was not healthy during setup: " + describeIncidents(h)
}
