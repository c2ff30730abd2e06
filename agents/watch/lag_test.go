package watch

import (
	"fmt"
	"testing"
	"time"

	clocktesting "k8s.io/utils/clock/testing"
)

// Lags are arrival minus the API server's stamp, and only for stamps no
// older than the reflector: an hours-old trigger time on a warm start's
// EndpointSlice is not a propagation delay the watcher saw.
func TestLagSkipsStampsOlderThanTheWatcher(t *testing.T) {
	start := time.Date(2026, 11, 26, 12, 0, 0, 0, time.UTC)
	for _, tc := range []struct {
		name   string
		from   LagSource
		event  func(stamp time.Time) string
		fields Fields
	}{
		{"creation", LagCreation, func(ts time.Time) string {
			return fmt.Sprintf(`{"type":"ADDED","object":{"metadata":{"name":"a","resourceVersion":"5","creationTimestamp":%q}}}`, ts.Format(time.RFC3339))
		}, 0},
		{"trigger time", LagTriggerTime, func(ts time.Time) string {
			return fmt.Sprintf(`{"type":"MODIFIED","object":{"metadata":{"name":"a","resourceVersion":"5","annotations":{%q:%q}}}}`, TriggerTimeAnnotation, ts.Format(time.RFC3339Nano))
		}, FieldAnnotations},
	} {
		t.Run(tc.name, func(t *testing.T) {
			clk := clocktesting.NewFakeClock(start)
			c := NewClient(ClientConfig{Clock: clk})
			r := NewReflector(c, WatchSpec{Version: "v1", Resource: "things", Lag: "x", LagFrom: tc.from, Fields: tc.fields}, nil, nil)
			clk.Step(10 * time.Second)
			for _, stamp := range []time.Time{start.Add(-3 * time.Hour), start.Add(7 * time.Second)} {
				if err := r.handleFrame([]byte(tc.event(stamp)), false); err != nil {
					t.Fatal(err)
				}
			}
			s := c.Stats().Lag("x").Summary()
			if s.Count != 1 {
				t.Fatalf("recorded %d lags, want 1 (the 3-hour-old stamp skipped)", s.Count)
			}
			if s.Max < 2.9 || s.Max > 3.1 {
				t.Errorf("lag = %.3fs, want 3s (arrival 10s after start, stamp 7s after)", s.Max)
			}
		})
	}
}
