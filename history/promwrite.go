package history

import (
	"context"
	"fmt"
	"math"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/prometheus/client_golang/exp/api/remote"
	"google.golang.org/protobuf/encoding/protowire"
)

// Metric names of the Prometheus export. One metric per kind of value,
// with the figure as a label, so a dashboard selects figures by label
// and a new figure needs no new panel query.
const (
	// MetricFigure is a figure of a run (labels: figure, kind, unit and
	// the run's setting).
	MetricFigure = "churn_run_figure"
	// MetricPassed is 1 when the run passed its SLOs, else 0.
	MetricPassed = "churn_run_passed"
	// MetricInconclusive is 1 when the run's simulator fell behind.
	MetricInconclusive = "churn_run_inconclusive"
)

// Sample is one exported value with its labels, sorted by name as remote
// write requires.
type Sample struct {
	Labels []Label
	Value  float64
	// Time is the run's start: a figure belongs to the run, not to the
	// moment it was exported.
	Time time.Time
}

// Label is one label pair.
type Label struct{ Name, Value string }

// Samples are the runs' figures and verdicts as Prometheus samples, oldest
// run first (a TSDB accepts a series' samples in time order).
func Samples(runs []*Run) []Sample {
	var out []Sample
	for _, r := range runs {
		base := []Label{
			{"run_id", r.RunID}, {"profile", r.Profile}, {"mesh", r.Mesh}, {"target", r.Target},
			{"kubernetes", r.Kubernetes}, {"kwok", r.KWOK}, {"churn", r.Churn}, {"extra_args", r.ExtraArgs},
		}
		add := func(name string, v float64, extra ...Label) {
			ls := append([]Label{{"__name__", name}}, extra...)
			for _, l := range base {
				// An empty value is no label to Prometheus; sending it
				// would only be dropped or refused.
				if l.Value != "" {
					ls = append(ls, l)
				}
			}
			slices.SortFunc(ls, func(a, b Label) int { return strings.Compare(a.Name, b.Name) })
			out = append(out, Sample{Labels: ls, Value: v, Time: r.Start})
		}
		for _, name := range r.order {
			f := r.Figures[name]
			add(MetricFigure, f.Value, Label{"figure", f.Name}, Label{"kind", f.Kind}, Label{"unit", f.Unit})
		}
		add(MetricPassed, boolValue(r.Passed && !r.Inconclusive))
		add(MetricInconclusive, boolValue(r.Inconclusive))
	}
	return out
}

func boolValue(b bool) float64 {
	if b {
		return 1
	}
	return 0
}

// RemoteWrite sends samples to a Prometheus remote-write endpoint (the
// full URL, e.g. http://prometheus:9090/api/v1/write) with protocol 1.0,
// which every receiver accepts: Prometheus (--web.enable-remote-write-receiver),
// Mimir, Thanos, VictoriaMetrics. The HTTP side (snappy, headers, retries
// of 5xx and 429) is client_golang's remote API; the message is encoded
// here. A receiver refuses samples older than its head block unless it
// allows out-of-order samples (Prometheus:
// --storage.tsdb.out-of-order-time-window), so backfill into an empty or
// permissive store.
func RemoteWrite(ctx context.Context, endpoint string, client *http.Client, samples []Sample) error {
	u, err := url.Parse(endpoint)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return fmt.Errorf("remote-write URL %q: want http(s)://host[:port]/path", endpoint)
	}
	if len(samples) == 0 {
		return nil
	}
	api, err := remote.NewAPI(endpoint, remote.WithAPIHTTPClient(client), remote.WithAPIPath(""),
		remote.WithAPIBackoff(remote.BackoffConfig{Min: 500 * time.Millisecond, Max: 5 * time.Second, MaxRetries: 3}))
	if err != nil {
		return fmt.Errorf("remote-write client for %s: %w", endpoint, err)
	}
	if _, err := api.Write(ctx, remote.WriteV1MessageType, &writeRequest{samples: samples}); err != nil {
		return fmt.Errorf("remote write of %d samples to %s: %w", len(samples), endpoint, err)
	}
	return nil
}

// writeRequest is prometheus.WriteRequest (remote write 1.0,
// prompb/remote.proto and types.proto) encoded by hand with protowire:
//
//	WriteRequest { repeated TimeSeries timeseries = 1; }
//	TimeSeries   { repeated Label labels = 1; repeated Sample samples = 2; }
//	Label        { string name = 1; string value = 2; }
//	Sample       { double value = 1; int64 timestamp = 2; } // ms since the epoch
//
// Four small messages do not warrant the prometheus/prometheus module and
// its dependencies. It implements the Size/MarshalToSizedBuffer pair the
// remote API encodes with.
type writeRequest struct{ samples []Sample }

func (w *writeRequest) marshal() []byte {
	var out []byte
	for _, s := range w.samples {
		var ts []byte
		for _, l := range s.Labels {
			var lb []byte
			lb = protowire.AppendTag(lb, 1, protowire.BytesType)
			lb = protowire.AppendString(lb, l.Name)
			lb = protowire.AppendTag(lb, 2, protowire.BytesType)
			lb = protowire.AppendString(lb, l.Value)
			ts = protowire.AppendTag(ts, 1, protowire.BytesType)
			ts = protowire.AppendBytes(ts, lb)
		}
		var sb []byte
		sb = protowire.AppendTag(sb, 1, protowire.Fixed64Type)
		sb = protowire.AppendFixed64(sb, math.Float64bits(s.Value))
		sb = protowire.AppendTag(sb, 2, protowire.VarintType)
		sb = protowire.AppendVarint(sb, uint64(s.Time.UnixMilli()))
		ts = protowire.AppendTag(ts, 2, protowire.BytesType)
		ts = protowire.AppendBytes(ts, sb)
		out = protowire.AppendTag(out, 1, protowire.BytesType)
		out = protowire.AppendBytes(out, ts)
	}
	return out
}

// Size is the encoded length.
func (w *writeRequest) Size() int { return len(w.marshal()) }

// MarshalToSizedBuffer encodes into buf, which holds Size() bytes.
func (w *writeRequest) MarshalToSizedBuffer(buf []byte) (int, error) {
	b := w.marshal()
	if len(buf) < len(b) {
		return 0, fmt.Errorf("remote-write buffer of %d bytes, need %d", len(buf), len(b))
	}
	return copy(buf[len(buf)-len(b):], b), nil
}
