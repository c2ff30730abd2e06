package observers

import (
	"context"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"
	"time"

	"go.uber.org/zap/zaptest"
	"k8s.io/client-go/rest"
	clocktesting "k8s.io/utils/clock/testing"

	"github.com/churn-dev/churn/profiles"
	"github.com/churn-dev/churn/results"
)

// Two API servers behind a load balancer: the second's own /readyz fails
// for two checks (it is being replaced) while the load balancer, sending
// clients to the first, stays up. Clients saw no outage; the second server
// had one of 2 s, of which 1 s inside the churn phase.
func TestAvailabilityPerServer(t *testing.T) {
	var replacing atomic.Bool
	healthy := func(w http.ResponseWriter, r *http.Request) { w.Write([]byte("ok")) }
	lb := httptest.NewServer(http.HandlerFunc(healthy))
	defer lb.Close()
	s1 := httptest.NewServer(http.HandlerFunc(healthy))
	defer s1.Close()
	var livez atomic.Int32
	s2 := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/livez" {
			livez.Add(1)
		}
		if replacing.Load() {
			http.Error(w, "[-]poststarthook/start-apiextensions-controllers failed", http.StatusInternalServerError)
			return
		}
		w.Write([]byte("ok"))
	}))
	defer s2.Close()

	t0 := time.Date(2026, 1, 1, 12, 0, 0, 0, time.UTC)
	clk := clocktesting.NewFakeClock(t0)
	o, err := New(profiles.ObserverSpec{Name: AvailabilityName})
	if err != nil {
		t.Fatal(err)
	}
	av := o.(*availability)
	checked := make(chan struct{}, 1)
	av.afterCheck = func() { checked <- struct{}{} }
	env := Env{
		Config: &rest.Config{Host: lb.URL}, Clock: clk, Logger: zaptest.NewLogger(t),
		APIServers: []APIServerEndpoint{{Name: "kube-apiserver", URL: s1.URL}, {Name: "kube-apiserver-2", URL: s2.URL}},
	}
	ctx := context.Background()
	if err := o.Start(ctx, env); err != nil {
		t.Fatal(err)
	}
	<-checked // t0
	for s := 1; s <= 4; s++ {
		replacing.Store(s == 1 || s == 2)
		clk.Step(time.Second)
		<-checked
	}
	if err := o.Stop(ctx); err != nil {
		t.Fatal(err)
	}
	r := &results.Result{Phases: []results.Phase{{Name: ChurnPhase, Start: t0.Add(2 * time.Second), End: t0.Add(4 * time.Second)}}}
	if err := o.Summarize(r); err != nil {
		t.Fatal(err)
	}
	if a := r.Availability; a == nil || len(a.Outages) != 0 || a.Checks != 5 {
		t.Errorf("through the load balancer: %+v, want 5 checks, no outage", a)
	}
	if livez.Load() != 0 {
		t.Errorf("a server's own /livez was probed %d times, want only /readyz", livez.Load())
	}
	var s AvailabilitySummary
	if found, err := GetObserver(r, AvailabilityName, &s); !found || err != nil {
		t.Fatalf("summary found=%v err=%v", found, err)
	}
	if len(s.Servers) != 2 {
		t.Fatalf("servers = %+v, want 2", s.Servers)
	}
	first, second := s.Servers[0], s.Servers[1]
	if first.Name != "kube-apiserver" || len(first.Outages) != 0 || first.Checks != 5 {
		t.Errorf("first server = %+v, want 5 checks, no outage", first)
	}
	if second.FailedChecks != 2 || len(second.Outages) != 1 || second.DowntimeSeconds != 2 {
		t.Fatalf("second server = %+v, want one outage of 2 s", second)
	}
	out := second.Outages[0]
	if !out.Start.Equal(t0.Add(time.Second)) || !out.End.Equal(t0.Add(3*time.Second)) || out.FirstError == "" {
		t.Errorf("second server's outage = %+v, want t0+1s..t0+3s with its error", out)
	}
	if len(r.APIServers) != 2 || r.APIServers[0].OutageSeconds != 0 || r.APIServers[1].OutageSeconds != 1 {
		t.Errorf("r.APIServers = %+v, want outages 0 and 1 s (inside churn)", r.APIServers)
	}
}
