package runner

import (
	"testing"
	"time"

	"github.com/churn-dev/churn/internal/auditmix"
	"github.com/churn-dev/churn/results"
)

func TestCountStepRequests(t *testing.T) {
	t0 := time.Date(2026, 12, 7, 10, 0, 0, 0, time.UTC)
	at := func(s float64) time.Time { return t0.Add(time.Duration(s * float64(time.Second))) }
	kcm := "kube-controller-manager/v1.37.2 (linux/amd64) kubernetes/abc/system:serviceaccount:kube-system:deployment-controller"
	reqs := []auditmix.Request{
		{Verb: "list", UserAgent: "kwok/v0.8.0", Received: at(1)},
		{Verb: "watch", UserAgent: kcm, Received: at(10.1)},
		{Verb: "watch", UserAgent: kcm, Received: at(10.5)},
		{Verb: "watchlist", UserAgent: "cilium-agent/1.15", Received: at(10.9)},
		{Verb: "list", UserAgent: "kube-scheduler/v1.37.2", Received: at(12)},
		{Verb: "get", UserAgent: kcm, Received: at(12)},
		{Verb: "list", UserAgent: "", Received: at(30)},
	}
	ds := []results.Disruption{{Steps: []results.DisruptionStep{
		{Name: "a", Started: at(5), Ended: at(20), Impact: &results.StepImpact{OutageSeconds: 3}},
		{Name: "b", Started: at(20), Ended: at(40)},
		{Name: "never ended", Started: at(40)},
	}}}
	countStepRequests(ds, reqs)
	a, b, c := ds[0].Steps[0].Impact, ds[0].Steps[1].Impact, ds[0].Steps[2].Impact
	if a.OutageSeconds != 3 {
		t.Errorf("the other figures of an impact were lost: %+v", a)
	}
	if a.Lists["kube-scheduler"] != 1 || a.Watches["kube-controller-manager"] != 2 || a.Watches["cilium-agent"] != 1 || len(a.Lists) != 1 {
		t.Errorf("step a: lists %v, watches %v", a.Lists, a.Watches)
	}
	if a.PeakPerSecond != 3 {
		t.Errorf("step a peak = %d, want 3 (three watches in second 10)", a.PeakPerSecond)
	}
	if b.Lists["unknown"] != 1 || len(b.Watches) != 0 || b.PeakPerSecond != 1 {
		t.Errorf("step b: %+v", b)
	}
	if c != nil {
		t.Errorf("a step that never ended got counts: %+v", c)
	}
}
