package observers

import (
	"testing"
	"time"

	"github.com/churn-dev/churn/results"
)

// A synthetic run: scrapes every 10 s; between +5m and +6m clients got one
// 429 a second (half of them APF rejections), the load balancer was down
// 10 s and the second API server 40 s, and the pooled mutating p99 went
// from 0.1 s to 1 s until +7m30s.
func TestFillStepImpacts(t *testing.T) {
	t0 := time.Date(2026, 1, 1, 12, 0, 0, 0, time.UTC)
	at := func(d time.Duration) time.Time { return t0.Add(d) }
	inflight := Series{Name: SeriesInflight, Unit: UnitCount}
	throttled := Series{Name: Series429Rate, Unit: UnitPerSec}
	apf := Series{Name: SeriesAPFRejectedRate, Unit: UnitPerSec}
	pooled := Series{Name: SeriesMutatingP99Pooled, Unit: UnitSeconds}
	for d := -2 * time.Minute; d <= 20*time.Minute; d += 10 * time.Second {
		inflight.Points = append(inflight.Points, Point{T: at(d), V: 5})
		if d == -2*time.Minute {
			continue
		}
		rate, p99 := 0.0, 0.1
		if d > 5*time.Minute && d <= 6*time.Minute {
			rate = 1
		}
		switch {
		case d > 5*time.Minute && d < 7*time.Minute+30*time.Second:
			p99 = 1
		case d >= 7*time.Minute+30*time.Second:
			p99 = 0.11
		}
		throttled.Points = append(throttled.Points, Point{T: at(d), V: rate})
		apf.Points = append(apf.Points, Point{T: at(d), V: rate / 2})
		pooled.Points = append(pooled.Points, Point{T: at(d), V: p99})
	}
	// The worst-key 5-minute series stays high far longer; the pooled one
	// is preferred.
	slow := Series{Name: SeriesMutatingP99, Unit: UnitSeconds, Points: []Point{{T: at(0), V: 0.1}, {T: at(19 * time.Minute), V: 5}}}
	r := &results.Result{
		Phases: []results.Phase{{Name: ChurnPhase, Start: at(0), End: at(20 * time.Minute)}},
		Availability: &results.Availability{Outages: []results.Outage{
			{Start: at(5*time.Minute + 10*time.Second), End: at(5*time.Minute + 20*time.Second)},
		}},
		Disruptions: []results.Disruption{{
			Kind: results.DisruptionUpgrade,
			Steps: []results.DisruptionStep{
				{Name: "kube-apiserver-2", Started: at(5 * time.Minute), Ended: at(6 * time.Minute),
					Impact: &results.StepImpact{Lists: map[string]int{"kube-controller-manager": 3}}},
				{Name: "short", Started: at(5*time.Minute + 30*time.Second), Ended: at(5*time.Minute + 35*time.Second)},
				{Name: "kube-apiserver", Started: at(8 * time.Minute), Ended: at(9 * time.Minute)},
				{Name: "never began"},
			},
		}},
	}
	if err := putObserver(r, APIServerMetricsName, APIServerSummary{Series: []Series{slow, throttled, apf, inflight, pooled}}); err != nil {
		t.Fatal(err)
	}
	if err := putObserver(r, AvailabilityName, AvailabilitySummary{Servers: []ServerAvailability{
		{Name: "kube-apiserver"},
		{Name: "kube-apiserver-2", Outages: []results.Outage{{Start: at(5 * time.Minute), End: at(5*time.Minute + 40*time.Second)}}},
	}}); err != nil {
		t.Fatal(err)
	}
	if err := FillStepImpacts(r); err != nil {
		t.Fatal(err)
	}
	steps := r.Disruptions[0].Steps
	im := steps[0].Impact
	if im.OutageSeconds != 10 || im.OutageByServer["kube-apiserver-2"] != 40 || im.OutageByServer["kube-apiserver"] != 0 || len(im.OutageByServer) != 2 {
		t.Errorf("outages = %v %v, want 10 s through the load balancer, 0 and 40 s per server", im.OutageSeconds, im.OutageByServer)
	}
	if !near(im.Throttled, 60) || !near(im.APFRejected, 30) {
		t.Errorf("429s %v APF %v, want 60 and 30", im.Throttled, im.APFRejected)
	}
	// Level before: 0.1; back within 20% at +7m30s, 90 s after the end.
	if im.RecoverySeconds != 90 {
		t.Errorf("recovery = %v s, want 90", im.RecoverySeconds)
	}
	if im.Lists["kube-controller-manager"] != 3 {
		t.Errorf("lists = %v, want the ones filled before kept", im.Lists)
	}
	// 5 s inside one 10 s scrape interval at 1/s.
	if short := steps[1].Impact; !near(short.Throttled, 5) || short.OutageSeconds != 0 || short.OutageByServer["kube-apiserver-2"] != 5 {
		t.Errorf("short step = %+v, want 5 x 429, no outage, 5 s of kube-apiserver-2", short)
	}
	if calm := steps[2].Impact; calm.Throttled != 0 || calm.OutageSeconds != 0 || calm.RecoverySeconds != 0 {
		t.Errorf("calm step = %+v, want nothing and latency already back", calm)
	}
	if steps[3].Impact != nil {
		t.Errorf("a step that never began has impact %+v", steps[3].Impact)
	}
}

// Latency that never comes back before churn ends gives -1; without the
// pooled series the worst key's 5-minute p99 is used.
func TestStepRecoveryNever(t *testing.T) {
	t0 := time.Date(2026, 1, 1, 12, 0, 0, 0, time.UTC)
	at := func(m int) time.Time { return t0.Add(time.Duration(m) * time.Minute) }
	p99 := Series{Name: SeriesMutatingP99, Unit: UnitSeconds}
	for m := 0; m <= 10; m++ {
		v := 0.2
		if m >= 4 {
			v = 0.5
		}
		p99.Points = append(p99.Points, Point{T: at(m), V: v})
	}
	r := &results.Result{
		Phases:      []results.Phase{{Name: ChurnPhase, Start: at(0), End: at(8)}},
		Disruptions: []results.Disruption{{Kind: results.DisruptionFault, Steps: []results.DisruptionStep{{Started: at(4), Ended: at(5)}}}},
	}
	if err := putObserver(r, APIServerMetricsName, APIServerSummary{Series: []Series{p99}}); err != nil {
		t.Fatal(err)
	}
	if err := FillStepImpacts(r); err != nil {
		t.Fatal(err)
	}
	im := r.Disruptions[0].Steps[0].Impact
	if im.RecoverySeconds != -1 || im.OutageByServer != nil {
		t.Errorf("impact = %+v, want recovery -1 and no per-server outages", im)
	}
}
