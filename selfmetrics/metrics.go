// Package selfmetrics holds churn's own Prometheus metrics: what the tester
// did (actions, lag), what its probes saw and whether its observers are
// healthy. They live on a private registry so nothing else leaks in.
package selfmetrics

import (
	"fmt"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// Namespace prefixes every metric churn exports.
const Namespace = "churn"

// Metrics is the set of churn's own collectors. A nil *Metrics is valid and
// records nothing, so callers never need to check.
type Metrics struct {
	Actions        *prometheus.CounterVec
	ActionLag      prometheus.Histogram
	ActionDuration *prometheus.HistogramVec
	ProbeDuration  *prometheus.HistogramVec
	ProbeErrors    *prometheus.CounterVec
	ObserverUp     *prometheus.GaugeVec
	ObserverErrors *prometheus.CounterVec
}

// latencyBuckets span 1 ms to about 65 s, matching the range of the
// API server SLOs (1 s and 30 s) with room above.
var latencyBuckets = prometheus.ExponentialBuckets(0.001, 2, 17)

// New builds the collectors; call Register to expose them.
func New() *Metrics {
	return &Metrics{
		Actions: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: Namespace,
			Name:      "actions_total",
			Help:      "Churn actions by kind (scale, relabel) and result (success, error).",
		}, []string{"kind", "result"}),
		ActionLag: prometheus.NewHistogram(prometheus.HistogramOpts{
			Namespace: Namespace,
			Name:      "action_lag_seconds",
			Help:      "Delay between an action's scheduled time and its start.",
			Buckets:   latencyBuckets,
		}),
		ActionDuration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Namespace: Namespace,
			Name:      "action_duration_seconds",
			Help:      "Wall time of one churn action, by kind.",
			Buckets:   latencyBuckets,
		}, []string{"kind"}),
		ProbeDuration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Namespace: Namespace,
			Name:      "probe_duration_seconds",
			Help:      "Latency of churn's own API probes, by probe.",
			Buckets:   latencyBuckets,
		}, []string{"probe"}),
		ProbeErrors: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: Namespace,
			Name:      "probe_errors_total",
			Help:      "Failed probes by probe and error class (timeout, refused, 429, 5xx, other).",
		}, []string{"probe", "class"}),
		ObserverUp: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Namespace: Namespace,
			Name:      "observer_up",
			Help:      "1 while an observer is running, 0 once stopped or failed.",
		}, []string{"observer"}),
		ObserverErrors: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: Namespace,
			Name:      "observer_errors_total",
			Help:      "Sampling errors by observer (a failed scrape, a broken watch).",
		}, []string{"observer"}),
	}
}

// Register adds every collector to reg.
func (m *Metrics) Register(reg prometheus.Registerer) error {
	for _, c := range []prometheus.Collector{
		m.Actions, m.ActionLag, m.ActionDuration, m.ProbeDuration,
		m.ProbeErrors, m.ObserverUp, m.ObserverErrors,
	} {
		if err := reg.Register(c); err != nil {
			return fmt.Errorf("register churn metric: %w", err)
		}
	}
	return nil
}

// Action results.
const (
	ResultSuccess = "success"
	ResultError   = "error"
)

// ObserveAction records one finished churn action.
func (m *Metrics) ObserveAction(kind string, err error, lag, duration time.Duration) {
	if m == nil {
		return
	}
	result := ResultSuccess
	if err != nil {
		result = ResultError
	}
	m.Actions.WithLabelValues(kind, result).Inc()
	m.ActionLag.Observe(lag.Seconds())
	m.ActionDuration.WithLabelValues(kind).Observe(duration.Seconds())
}

// ObserveProbe records one probe; class is empty on success.
func (m *Metrics) ObserveProbe(probe string, d time.Duration, class string) {
	if m == nil {
		return
	}
	m.ProbeDuration.WithLabelValues(probe).Observe(d.Seconds())
	if class != "" {
		m.ProbeErrors.WithLabelValues(probe, class).Inc()
	}
}

// SetObserverUp marks an observer as running or not.
func (m *Metrics) SetObserverUp(observer string, up bool) {
	if m == nil {
		return
	}
	v := 0.0
	if up {
		v = 1
	}
	m.ObserverUp.WithLabelValues(observer).Set(v)
}

// ObserverError counts one sampling error of an observer.
func (m *Metrics) ObserverError(observer string) {
	if m == nil {
		return
	}
	m.ObserverErrors.WithLabelValues(observer).Inc()
}
