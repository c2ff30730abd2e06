package selfmetrics

import (
	"context"
	"errors"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"go.uber.org/zap/zaptest"
)

func TestObserveActionValues(t *testing.T) {
	m := New()
	m.ObserveAction("scale", nil, 200*time.Millisecond, time.Second)
	m.ObserveAction("scale", nil, 0, 2*time.Second)
	m.ObserveAction("scale", errors.New("boom"), 0, time.Second)
	m.ObserveAction("relabel", nil, 0, time.Second)

	if got := testutil.ToFloat64(m.Actions.WithLabelValues("scale", ResultSuccess)); got != 2 {
		t.Errorf("scale success = %v, want 2", got)
	}
	if got := testutil.ToFloat64(m.Actions.WithLabelValues("scale", ResultError)); got != 1 {
		t.Errorf("scale error = %v, want 1", got)
	}
	if got := testutil.ToFloat64(m.Actions.WithLabelValues("relabel", ResultSuccess)); got != 1 {
		t.Errorf("relabel success = %v, want 1", got)
	}
	want := `
# HELP churn_action_duration_seconds Wall time of one churn action, by kind.
# TYPE churn_action_duration_seconds histogram
churn_action_duration_seconds_bucket{kind="relabel",le="0.001"} 0
churn_action_duration_seconds_bucket{kind="relabel",le="0.002"} 0
churn_action_duration_seconds_bucket{kind="relabel",le="0.004"} 0
churn_action_duration_seconds_bucket{kind="relabel",le="0.008"} 0
churn_action_duration_seconds_bucket{kind="relabel",le="0.016"} 0
churn_action_duration_seconds_bucket{kind="relabel",le="0.032"} 0
churn_action_duration_seconds_bucket{kind="relabel",le="0.064"} 0
churn_action_duration_seconds_bucket{kind="relabel",le="0.128"} 0
churn_action_duration_seconds_bucket{kind="relabel",le="0.256"} 0
churn_action_duration_seconds_bucket{kind="relabel",le="0.512"} 0
churn_action_duration_seconds_bucket{kind="relabel",le="1.024"} 1
churn_action_duration_seconds_bucket{kind="relabel",le="2.048"} 1
churn_action_duration_seconds_bucket{kind="relabel",le="4.096"} 1
churn_action_duration_seconds_bucket{kind="relabel",le="8.192"} 1
churn_action_duration_seconds_bucket{kind="relabel",le="16.384"} 1
churn_action_duration_seconds_bucket{kind="relabel",le="32.768"} 1
churn_action_duration_seconds_bucket{kind="relabel",le="65.536"} 1
churn_action_duration_seconds_bucket{kind="relabel",le="+Inf"} 1
churn_action_duration_seconds_sum{kind="relabel"} 1
churn_action_duration_seconds_count{kind="relabel"} 1
churn_action_duration_seconds_bucket{kind="scale",le="0.001"} 0
churn_action_duration_seconds_bucket{kind="scale",le="0.002"} 0
churn_action_duration_seconds_bucket{kind="scale",le="0.004"} 0
churn_action_duration_seconds_bucket{kind="scale",le="0.008"} 0
churn_action_duration_seconds_bucket{kind="scale",le="0.016"} 0
churn_action_duration_seconds_bucket{kind="scale",le="0.032"} 0
churn_action_duration_seconds_bucket{kind="scale",le="0.064"} 0
churn_action_duration_seconds_bucket{kind="scale",le="0.128"} 0
churn_action_duration_seconds_bucket{kind="scale",le="0.256"} 0
churn_action_duration_seconds_bucket{kind="scale",le="0.512"} 0
churn_action_duration_seconds_bucket{kind="scale",le="1.024"} 2
churn_action_duration_seconds_bucket{kind="scale",le="2.048"} 3
churn_action_duration_seconds_bucket{kind="scale",le="4.096"} 3
churn_action_duration_seconds_bucket{kind="scale",le="8.192"} 3
churn_action_duration_seconds_bucket{kind="scale",le="16.384"} 3
churn_action_duration_seconds_bucket{kind="scale",le="32.768"} 3
churn_action_duration_seconds_bucket{kind="scale",le="65.536"} 3
churn_action_duration_seconds_bucket{kind="scale",le="+Inf"} 3
churn_action_duration_seconds_sum{kind="scale"} 4
churn_action_duration_seconds_count{kind="scale"} 3
`
	if err := testutil.CollectAndCompare(m.ActionDuration, strings.NewReader(want)); err != nil {
		t.Error(err)
	}
	if err := testutil.CollectAndCompare(m.ActionLag, strings.NewReader(lagWant)); err != nil {
		t.Error(err)
	}
}

const lagWant = `
# HELP churn_action_lag_seconds Delay between an action's scheduled time and its start.
# TYPE churn_action_lag_seconds histogram
churn_action_lag_seconds_bucket{le="0.001"} 3
churn_action_lag_seconds_bucket{le="0.002"} 3
churn_action_lag_seconds_bucket{le="0.004"} 3
churn_action_lag_seconds_bucket{le="0.008"} 3
churn_action_lag_seconds_bucket{le="0.016"} 3
churn_action_lag_seconds_bucket{le="0.032"} 3
churn_action_lag_seconds_bucket{le="0.064"} 3
churn_action_lag_seconds_bucket{le="0.128"} 3
churn_action_lag_seconds_bucket{le="0.256"} 4
churn_action_lag_seconds_bucket{le="0.512"} 4
churn_action_lag_seconds_bucket{le="1.024"} 4
churn_action_lag_seconds_bucket{le="2.048"} 4
churn_action_lag_seconds_bucket{le="4.096"} 4
churn_action_lag_seconds_bucket{le="8.192"} 4
churn_action_lag_seconds_bucket{le="16.384"} 4
churn_action_lag_seconds_bucket{le="32.768"} 4
churn_action_lag_seconds_bucket{le="65.536"} 4
churn_action_lag_seconds_bucket{le="+Inf"} 4
churn_action_lag_seconds_sum{} 0.2
churn_action_lag_seconds_count{} 4
`

func TestProbeAndObserverValues(t *testing.T) {
	m := New()
	m.ObserveProbe("get", 10*time.Millisecond, "")
	m.ObserveProbe("get", 10*time.Second, "timeout")
	m.ObserveProbe("list-cluster", time.Millisecond, "429")
	m.ObserveProbe("list-cluster", time.Millisecond, "429")
	m.SetObserverUp("probes", true)
	m.SetObserverUp("availability", true)
	m.SetObserverUp("availability", false)
	m.ObserverError("availability")
	m.ObserverError("availability")

	checks := []struct {
		name string
		c    prometheus.Collector
		want float64
	}{
		{"get timeout", m.ProbeErrors.WithLabelValues("get", "timeout"), 1},
		{"list-cluster 429", m.ProbeErrors.WithLabelValues("list-cluster", "429"), 2},
		{"probes up", m.ObserverUp.WithLabelValues("probes"), 1},
		{"availability up", m.ObserverUp.WithLabelValues("availability"), 0},
		{"availability errors", m.ObserverErrors.WithLabelValues("availability"), 2},
	}
	for _, c := range checks {
		if got := testutil.ToFloat64(c.c); got != c.want {
			t.Errorf("%s = %v, want %v", c.name, got, c.want)
		}
	}
	// Successful probes add no error series.
	if n := testutil.CollectAndCount(m.ProbeErrors); n != 2 {
		t.Errorf("probe error series = %d, want 2", n)
	}
	if n := testutil.CollectAndCount(m.ProbeDuration); n != 2 {
		t.Errorf("probe duration series = %d, want 2", n)
	}
}

func TestNilMetricsIsNoop(t *testing.T) {
	var m *Metrics
	m.ObserveAction("scale", nil, 0, 0)
	m.ObserveProbe("get", 0, "other")
	m.SetObserverUp("x", true)
	m.ObserverError("x")
}

func TestServeExposesValues(t *testing.T) {
	reg := prometheus.NewRegistry()
	m := New()
	if err := m.Register(reg); err != nil {
		t.Fatal(err)
	}
	if err := m.Register(reg); err == nil {
		t.Error("registering twice should fail")
	}
	m.ObserveAction("scale", nil, 0, time.Second)
	ctx, cancel := context.WithCancel(context.Background())
	srv, err := Serve(ctx, "127.0.0.1:0", reg, zaptest.NewLogger(t))
	if err != nil {
		t.Fatal(err)
	}
	resp, err := http.Get("http://" + srv.Addr() + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if !strings.Contains(string(body), `churn_actions_total{kind="scale",result="success"} 1`) {
		t.Errorf("/metrics lacks the action counter value:\n%s", body)
	}
	if strings.Contains(string(body), "go_goroutines") {
		t.Error("private registry leaked default collectors")
	}
	cancel()
	<-srv.Done()
	if _, err := Serve(context.Background(), "", reg, zaptest.NewLogger(t)); err == nil {
		t.Error("empty address should be an error")
	}
}
