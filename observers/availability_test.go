package observers

import (
	"context"
	"net/http"
	"net/http/httptest"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"go.uber.org/zap/zaptest"
	"k8s.io/client-go/rest"
	clocktesting "k8s.io/utils/clock/testing"

	"github.com/churn-dev/churn/profiles"
	"github.com/churn-dev/churn/results"
)

type fakeControlPlane struct {
	mu     sync.Mutex
	procs  []Process
	events chan ProcessEvent
}

func (f *fakeControlPlane) Processes() []Process {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]Process(nil), f.procs...)
}

func (f *fakeControlPlane) set(p []Process) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.procs = p
}

func (f *fakeControlPlane) Events() <-chan ProcessEvent { return f.events }

// /readyz fails for three checks (t0+2s, +3s, +4s) and recovers at t0+5s:
// one outage from the first failed check to the first good one, 3 s.
func TestAvailabilityOutageFromFailingReadyz(t *testing.T) {
	var failing atomic.Bool
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/readyz" && failing.Load() {
			http.Error(w, "[-]etcd failed: reason withheld\nreadyz check failed", http.StatusInternalServerError)
			return
		}
		w.Write([]byte("ok"))
	}))
	defer srv.Close()

	t0 := time.Date(2026, 1, 1, 12, 0, 0, 0, time.UTC)
	clk := clocktesting.NewFakeClock(t0)
	o, err := New(profiles.ObserverSpec{Name: AvailabilityName})
	if err != nil {
		t.Fatal(err)
	}
	av := o.(*availability)
	checked := make(chan struct{}, 1)
	av.afterCheck = func() { checked <- struct{}{} }
	cp := &fakeControlPlane{events: make(chan ProcessEvent, 1)}
	env := Env{Config: &rest.Config{Host: srv.URL}, Clock: clk, Logger: zaptest.NewLogger(t), ControlPlane: cp}
	ctx := context.Background()
	if err := o.Start(ctx, env); err != nil {
		t.Fatal(err)
	}
	<-checked // t0: ok
	for s := 1; s <= 6; s++ {
		failing.Store(s >= 2 && s <= 4)
		clk.Step(time.Second)
		<-checked
	}
	killed := ProcessEvent{Time: t0.Add(2 * time.Second), Name: "kube-apiserver", Kind: "oom-killed", ExitCode: 137}
	cp.events <- killed
	waitFor(t, func() bool { av.mu.Lock(); defer av.mu.Unlock(); return len(av.events) == 1 })
	if err := o.Stop(ctx); err != nil {
		t.Fatal(err)
	}
	r := &results.Result{}
	if err := o.Summarize(r); err != nil {
		t.Fatal(err)
	}
	a := r.Availability
	if a == nil || len(a.Outages) != 1 {
		t.Fatalf("outages = %+v, want exactly one", a)
	}
	out := a.Outages[0]
	if !out.Start.Equal(t0.Add(2*time.Second)) || !out.End.Equal(t0.Add(5*time.Second)) || out.DurationSeconds != 3 || out.Open {
		t.Errorf("outage = %+v, want %s..%s, 3s, closed", out, t0.Add(2*time.Second), t0.Add(5*time.Second))
	}
	if len(out.Failed) != 1 || out.Failed[0] != "readyz" || out.FirstError == "" {
		t.Errorf("outage failed endpoints %v error %q, want readyz with its error", out.Failed, out.FirstError)
	}
	if a.Checks != 7 || a.FailedChecks != 3 || a.LongestSeconds != 3 || a.DowntimeSeconds != 3 {
		t.Errorf("checks %d failed %d longest %v downtime %v, want 7 3 3 3", a.Checks, a.FailedChecks, a.LongestSeconds, a.DowntimeSeconds)
	}
	if len(a.Events) != 1 || a.Events[0] != killed {
		t.Errorf("events = %+v, want the OOM kill", a.Events)
	}
}

func TestOutagesOpenAtEnd(t *testing.T) {
	t0 := time.Unix(1000, 0)
	checks := []healthCheck{
		{T: t0},
		{T: t0.Add(time.Second), LiveErr: "connection refused"},
		{T: t0.Add(2 * time.Second)},
		{T: t0.Add(3 * time.Second), ReadyErr: "x"},
		{T: t0.Add(4 * time.Second), ReadyErr: "x", LiveErr: "y"},
	}
	a := outagesOf(checks)
	if len(a.Outages) != 2 {
		t.Fatalf("outages = %+v, want 2", a.Outages)
	}
	if a.Outages[0].DurationSeconds != 1 || a.Outages[0].Failed[0] != "livez" {
		t.Errorf("first outage = %+v", a.Outages[0])
	}
	last := a.Outages[1]
	if !last.Open || last.DurationSeconds != 1 || len(last.Failed) != 2 {
		t.Errorf("last outage = %+v, want open, 1s, both endpoints", last)
	}
	if a.LongestSeconds != 1 || a.DowntimeSeconds != 2 {
		t.Errorf("longest %v downtime %v, want 1 and 2", a.LongestSeconds, a.DowntimeSeconds)
	}
}

func TestOnlyShuttingDown(t *testing.T) {
	draining := "[+]ping ok\n[+]log ok\n[+]etcd ok\n[-]shutdown failed: reason withheld\nreadyz check failed"
	quoted := `an error on the server ("[+]ping ok\n[+]etcd ok\n[-]shutdown failed: reason withheld\nreadyz check failed") has prevented the request from succeeding`
	for text, want := range map[string]bool{
		draining: true,
		quoted:   true,
		"[+]ping ok\n[-]etcd failed: reason withheld\n[-]shutdown failed: reason withheld": false,
		"[+]ping ok\n[-]informer-sync failed: reason withheld":                             false,
		"connection refused": false,
	} {
		if got := onlyShuttingDown(text); got != want {
			t.Errorf("onlyShuttingDown(%q) = %v, want %v", text, got, want)
		}
	}
}
