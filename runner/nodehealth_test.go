package runner

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/churn-dev/churn/fakenodes/nodehealth"
	"github.com/churn-dev/churn/results"
)

func TestSummarizeIncidentsJudgesAndExcuses(t *testing.T) {
	t0 := time.Date(2026, 12, 7, 10, 0, 0, 0, time.UTC)
	phases := []results.Phase{
		{Name: "setup", Start: t0, End: t0.Add(20 * time.Minute)},
		{Name: "churn", Start: t0.Add(20 * time.Minute), End: t0.Add(30 * time.Minute)},
	}
	outages := []results.Outage{{Start: t0.Add(25 * time.Minute), End: t0.Add(25*time.Minute + 30*time.Second)}}
	faults := []results.Disruption{{Kind: results.DisruptionFault, Spec: "kwok-kill@8m+30s",
		Steps: []results.DisruptionStep{{Started: t0.Add(28 * time.Minute), Ended: t0.Add(28*time.Minute + 30*time.Second)}}}}
	incidents := []nodehealth.Incident{
		// The ramp starved kwok: the simulator's.
		{Node: "n-17", Kind: nodehealth.KindLeaseLate, At: t0.Add(11*time.Minute + 30*time.Second), Seconds: 34, Ended: true},
		{Node: "n-17", Kind: nodehealth.KindNotReady, At: t0.Add(12 * time.Minute), Seconds: 41, Ended: true, Reason: "Ready=Unknown"},
		{Node: "n-3", Kind: nodehealth.KindNotReady, At: t0.Add(22 * time.Minute), Seconds: 90, Ended: false},
		// 40 s after an API server outage ended: its consequence.
		{Node: "n-5", Kind: nodehealth.KindNotReady, At: t0.Add(26*time.Minute + 10*time.Second), Seconds: 20, Ended: true},
		// During the injected kwok kill.
		{Node: "n-6", Kind: nodehealth.KindLeaseLate, At: t0.Add(28*time.Minute + 10*time.Second), Seconds: 35, Ended: true},
	}
	h := summarizeIncidents(incidents, 20, 20*time.Second, phases, outages, faults)
	if h.NotReadyNodes != 2 || h.LateLeaseNodes != 1 || h.ExcusedIncidents != 2 || h.IncidentsTotal != 5 || h.Judged() != 2 {
		t.Fatalf("summary %+v judged %d, want 2 not Ready, 1 late, 2 excused, 2 nodes judged", h, h.Judged())
	}
	if in := h.Incidents[1]; in.Phase != "setup" || in.PhaseOffsetSeconds != 720 {
		t.Errorf("n-17 not Ready in %s at +%v s, want setup +720 s", in.Phase, in.PhaseOffsetSeconds)
	}
	if in := h.Incidents[2]; in.Phase != "churn" || in.PhaseOffsetSeconds != 120 || in.Excused != "" {
		t.Errorf("n-3: %+v", in)
	}
	if ex := h.Incidents[3].Excused; !strings.Contains(ex, "API server outage") {
		t.Errorf("n-5 excused %q, want the outage", ex)
	}
	if ex := h.Incidents[4].Excused; ex != "fault kwok-kill@8m+30s" {
		t.Errorf("n-6 excused %q, want the fault", ex)
	}

	c := nodeHealthCheck(&results.Result{NodeHealth: h}, nil)
	if c.Value != 2 || c.Measured != "2 nodes" {
		t.Errorf("check %+v, want 2 nodes", c)
	}
	for _, want := range []string{"2 not Ready, 1 late leases", "n-17 not Ready 41s in setup minute 13", "n-3 not Ready 90s (still at the end) in churn minute 3", "2 incidents during API server outages or disruptions not counted"} {
		if !strings.Contains(c.Reason, want) {
			t.Errorf("reason %q lacks %q", c.Reason, want)
		}
	}
	if w := NodeHealthWarning(h); !strings.HasPrefix(w, "warning: the fake cluster was not healthy") {
		t.Errorf("warning %q", w)
	}
}

func TestNodeHealthCheckInValidity(t *testing.T) {
	healthy := &results.NodeHealth{Nodes: 1000, LateAfterSeconds: 20}
	v := judgeValidity(&results.Result{NodeHealth: healthy}, 0, false, nil, runQueueWait{})
	c := checkNamed(t, v, CheckFakeNodes)
	if c.Status != results.ValidityOK || c.Measured != "0 nodes" || c.Threshold != "0 nodes" || !strings.Contains(c.Reason, "1000 nodes, every lease renewed within 20s") {
		t.Errorf("healthy nodes: %+v", c)
	}
	if NodeHealthWarning(healthy) != "" {
		t.Error("a healthy setup warns")
	}

	sick := &results.NodeHealth{Nodes: 1000, LateAfterSeconds: 20, NotReadyNodes: 1, IncidentsTotal: 1,
		Incidents: []results.NodeIncident{{Node: "n-1", Kind: results.NodeIncidentNotReady, Phase: "setup", Seconds: 50, Ended: true}}}
	r := &results.Result{NodeHealth: sick, Verdict: results.Verdict{Passed: true, Summary: "PASS"}}
	r.Validity = judgeValidity(r, 0, false, nil, runQueueWait{})
	applyVerdictQualifiers(r)
	if !r.Verdict.Inconclusive || !strings.Contains(r.Verdict.Summary, "fake-nodes-healthy 1 nodes > 0 nodes") {
		t.Errorf("a node NotReady: verdict %+v", r.Verdict)
	}

	v = judgeValidity(&results.Result{}, 0, false, errors.New("nodes did not sync"), runQueueWait{})
	if c := checkNamed(t, v, CheckFakeNodes); c.Status != results.ValiditySkipped || !strings.Contains(c.Reason, "nodes did not sync") {
		t.Errorf("unwatched: %+v", c)
	}
}

func TestSummarizeIncidentsKeepsTheSimulatorsFirst(t *testing.T) {
	t0 := time.Date(2026, 12, 7, 10, 0, 0, 0, time.UTC)
	outages := []results.Outage{{Start: t0, End: t0.Add(10 * time.Second)}}
	var incidents []nodehealth.Incident
	for i := range results.MaxNodeIncidents + 50 {
		incidents = append(incidents, nodehealth.Incident{Node: "excused", Kind: nodehealth.KindLeaseLate,
			At: t0.Add(time.Duration(i) * time.Millisecond), Seconds: 25, Ended: true})
	}
	incidents = append(incidents, nodehealth.Incident{Node: "starved", Kind: nodehealth.KindLeaseLate,
		At: t0.Add(10 * time.Minute), Seconds: 30, Ended: true})
	h := summarizeIncidents(incidents, 2, 20*time.Second, nil, outages, nil)
	if len(h.Incidents) != results.MaxNodeIncidents || h.IncidentsTotal != results.MaxNodeIncidents+51 {
		t.Fatalf("%d listed of %d", len(h.Incidents), h.IncidentsTotal)
	}
	if last := h.Incidents[len(h.Incidents)-1]; last.Node != "starved" || last.Excused != "" {
		t.Errorf("last listed %+v, want the simulator's own incident kept", last)
	}
	if !strings.Contains(describeIncidents(h), "starved lease renewed after 30s") {
		t.Errorf("reason %q does not name the starved node", describeIncidents(h))
	}
}

func TestKWOKChecksSayWhetherKWOKWaitedForCPU(t *testing.T) {
	sick := &results.NodeHealth{Nodes: 10, LateAfterSeconds: 20, LateLeaseNodes: 1, IncidentsTotal: 1,
		Incidents: []results.NodeIncident{{Node: "n-1", Kind: results.NodeIncidentLeaseLate, Phase: "churn", Seconds: 30, Ended: true}}}
	v := judgeValidity(&results.Result{NodeHealth: sick}, 0, false, nil, runQueueWait{Seconds: 1.2, WallSeconds: 600, OK: true})
	if c := checkNamed(t, v, CheckFakeNodes); !strings.Contains(c.Reason, "kwok's threads waited 1.2s in all for a CPU over the churn phase (0.2% of its length)") {
		t.Errorf("reason %q lacks kwok's run-queue wait", c.Reason)
	}
	if c := checkNamed(t, v, CheckKWOKPodReady); strings.Contains(c.Reason, "waited") {
		t.Errorf("a skipped check got the wait: %q", c.Reason)
	}
}
