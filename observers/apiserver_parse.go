package observers

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"math"
	"net/http"
	"strings"
	"time"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"google.golang.org/protobuf/encoding/protowire"
	"google.golang.org/protobuf/proto"
)

// Metric families read from kube-apiserver /metrics.
const (
	mRequestDuration = "apiserver_request_duration_seconds"
	mRequestTotal    = "apiserver_request_total"
	mAPFRejected     = "apiserver_flowcontrol_rejected_requests_total"
	mAPFInQueue      = "apiserver_flowcontrol_current_inqueue_requests"
	mAPFExecuting    = "apiserver_flowcontrol_current_executing_requests"
	mInflight        = "apiserver_current_inflight_requests"
	mLongRunning     = "apiserver_longrunning_requests"
	mWatchEvents     = "apiserver_watch_events_total"
	mEtcdDuration    = "etcd_request_duration_seconds"
	mRSS             = "process_resident_memory_bytes"
	mCPU             = "process_cpu_seconds_total"
	mStartTime       = "process_start_time_seconds"
	mBuildInfo       = "kubernetes_build_info"
)

// RequestKey is the SLO grouping of apiserver_request_duration_seconds:
// other labels (component, version, dry_run) are summed away.
type RequestKey struct {
	Verb        string `json:"verb"`
	Group       string `json:"group,omitempty"`
	Resource    string `json:"resource"`
	Subresource string `json:"subresource,omitempty"`
	Scope       string `json:"scope"`
}

func (k RequestKey) String() string {
	res := k.Resource
	if k.Group != "" {
		res = k.Group + "/" + res
	}
	if k.Subresource != "" {
		res += "/" + k.Subresource
	}
	return fmt.Sprintf("%s %s (scope=%s)", k.Verb, res, k.Scope)
}

// excludedVerbs and excludedSubresources are outside the API call latency
// SLOs (sig-scalability api_call_latency.md): long-running by design.
var (
	excludedVerbs        = map[string]bool{"WATCH": true, "WATCHLIST": true, "CONNECT": true}
	excludedSubresources = map[string]bool{"log": true, "exec": true, "portforward": true, "attach": true, "proxy": true}
)

// histogram is one cumulative histogram: counts[i] observations <= upper[i];
// the last bound is +Inf.
type histogram struct {
	upper  []float64
	counts []float64
}

// scrape is what one /metrics read yields, reduced to what churn keeps.
type scrape struct {
	T time.Time
	// Requests are the latency histograms by SLO key (cumulative).
	Requests map[RequestKey]histogram
	Etcd     histogram
	// Counters (cumulative) and gauges.
	RequestsTotal, Requests429, Requests5xx float64
	APFRejected, APFInQueue                 float64
	Inflight                                float64
	Watches                                 float64
	WatchEvents                             float64
	RSS, CPUSeconds                         float64
	// StartTime is the server's process start; a change means a restart.
	StartTime float64
	// Version is the server's release (kubernetes_build_info git_version),
	// so a rolling upgrade shows per server.
	Version string
	// Seen records which optional families were present.
	Seen map[string]bool
}

// metricsAccept asks for delimited protobuf (cheaper for churn to decode)
// and accepts the text format from servers that do not offer it.
var metricsAccept = string(expfmt.NewFormat(expfmt.TypeProtoDelim)) + ";q=0.7,text/plain;version=0.0.4;q=0.3"

// parseMetrics decodes a /metrics body of the given content type.
func parseMetrics(body []byte, contentType string, t time.Time) (*scrape, error) {
	format := expfmt.ResponseFormat(http.Header{"Content-Type": []string{contentType}})
	if format.FormatType() == expfmt.TypeUnknown {
		format = expfmt.NewFormat(expfmt.TypeTextPlain)
	}
	s := &scrape{T: t, Requests: map[RequestKey]histogram{}, Seen: map[string]bool{}}
	if format.FormatType() == expfmt.TypeProtoDelim {
		if err := s.addDelimited(body); err != nil {
			return nil, err
		}
	} else {
		dec := expfmt.NewDecoder(bytes.NewReader(body), format)
		for {
			var mf dto.MetricFamily
			if err := dec.Decode(&mf); err != nil {
				if errors.Is(err, io.EOF) {
					break
				}
				return nil, fmt.Errorf("decode /metrics: %w", err)
			}
			s.add(&mf)
		}
	}
	if !s.Seen[mRequestDuration] {
		return nil, fmt.Errorf("/metrics has no %s: not a kube-apiserver?", mRequestDuration)
	}
	return s, nil
}

// addDelimited reads length-delimited MetricFamily messages, decoding only
// the wanted ones: a family's name is its field 1, which a marshaller
// writes first, so most of the body is stepped over by its length prefix.
func (s *scrape) addDelimited(body []byte) error {
	for off := 0; off < len(body); {
		n, l := protowire.ConsumeVarint(body[off:])
		if l < 0 || n > uint64(len(body)-off-l) {
			return fmt.Errorf("decode /metrics: malformed length at byte %d", off)
		}
		msg := body[off+l : off+l+int(n)]
		off += l + int(n)
		if name, ok := familyName(msg); ok && familyReaders[name] == nil {
			continue
		}
		var mf dto.MetricFamily
		if err := proto.Unmarshal(msg, &mf); err != nil {
			return fmt.Errorf("decode /metrics: %w", err)
		}
		s.add(&mf)
	}
	return nil
}

// familyName returns a MetricFamily message's name when it is the first
// field; ok is false otherwise, and the caller decodes the whole message.
func familyName(msg []byte) (string, bool) {
	num, typ, l := protowire.ConsumeTag(msg)
	if l < 0 || num != 1 || typ != protowire.BytesType {
		return "", false
	}
	v, m := protowire.ConsumeBytes(msg[l:])
	if m < 0 {
		return "", false
	}
	return string(v), true
}

// familyReaders are the families churn reads from /metrics, each with
// what it takes from it; the protobuf path decodes no other family (a
// kube-apiserver serves several times as many bytes of others: watch,
// admission and workqueue histograms).
var familyReaders = map[string]func(s *scrape, mf *dto.MetricFamily){
	mRequestDuration: func(s *scrape, mf *dto.MetricFamily) {
		for _, m := range mf.GetMetric() {
			k := RequestKey{
				Verb: label(m, "verb"), Group: label(m, "group"), Resource: label(m, "resource"),
				Subresource: label(m, "subresource"), Scope: label(m, "scope"),
			}
			if excludedVerbs[k.Verb] || excludedSubresources[k.Subresource] {
				continue
			}
			if h := addHistogram(s.Requests[k], m.GetHistogram()); h.upper != nil {
				s.Requests[k] = h
			}
		}
	},
	mEtcdDuration: func(s *scrape, mf *dto.MetricFamily) {
		for _, m := range mf.GetMetric() {
			s.Etcd = addHistogram(s.Etcd, m.GetHistogram())
		}
	},
	mRequestTotal: func(s *scrape, mf *dto.MetricFamily) {
		for _, m := range mf.GetMetric() {
			if label(m, "resource") == "" {
				// Non-resource URLs (/readyz, /livez, /metrics): a starting
				// server answers its health checks with 500 by design, and
				// availability judges those.
				continue
			}
			v := value(m)
			s.RequestsTotal += v
			code := label(m, "code")
			switch {
			case code == "429":
				s.Requests429 += v
			case strings.HasPrefix(code, "5"):
				s.Requests5xx += v
			}
		}
	},
	mAPFRejected: func(s *scrape, mf *dto.MetricFamily) { s.APFRejected = sum(mf) },
	mAPFInQueue:  func(s *scrape, mf *dto.MetricFamily) { s.APFInQueue = sum(mf) },
	// With API Priority and Fairness (the default) this is the in-flight
	// count; the older gauge below is kept for servers without APF.
	mAPFExecuting: func(s *scrape, mf *dto.MetricFamily) { s.Inflight = sum(mf) },
	mInflight: func(s *scrape, mf *dto.MetricFamily) {
		if !s.Seen[mAPFExecuting] {
			s.Inflight = sum(mf)
		}
	},
	mLongRunning: func(s *scrape, mf *dto.MetricFamily) {
		for _, m := range mf.GetMetric() {
			if label(m, "verb") == "WATCH" {
				s.Watches += value(m)
			}
		}
	},
	mWatchEvents: func(s *scrape, mf *dto.MetricFamily) { s.WatchEvents = sum(mf) },
	mRSS:         func(s *scrape, mf *dto.MetricFamily) { s.RSS = sum(mf) },
	mCPU:         func(s *scrape, mf *dto.MetricFamily) { s.CPUSeconds = sum(mf) },
	mStartTime:   func(s *scrape, mf *dto.MetricFamily) { s.StartTime = sum(mf) },
	mBuildInfo: func(s *scrape, mf *dto.MetricFamily) {
		for _, m := range mf.GetMetric() {
			if v := label(m, "git_version"); v != "" {
				s.Version = v
			}
		}
	},
}

func (s *scrape) add(mf *dto.MetricFamily) {
	read := familyReaders[mf.GetName()]
	if read == nil {
		return
	}
	read(s, mf)
	s.Seen[mf.GetName()] = true
}

func label(m *dto.Metric, name string) string {
	for _, l := range m.GetLabel() {
		if l.GetName() == name {
			return l.GetValue()
		}
	}
	return ""
}

func value(m *dto.Metric) float64 {
	switch {
	case m.Counter != nil:
		return m.GetCounter().GetValue()
	case m.Gauge != nil:
		return m.GetGauge().GetValue()
	case m.Untyped != nil:
		return m.GetUntyped().GetValue()
	}
	return 0
}

func sum(mf *dto.MetricFamily) float64 {
	t := 0.0
	for _, m := range mf.GetMetric() {
		t += value(m)
	}
	return t
}

// addHistogram adds a dto histogram (whose +Inf bucket is its sample count)
// to acc. Series with a different bucket layout than acc are skipped rather
// than mixed; kube-apiserver uses one layout per metric. A malformed series
// (see wellFormed) is skipped too.
func addHistogram(acc histogram, h *dto.Histogram) histogram {
	if h == nil {
		return acc
	}
	buckets := h.GetBucket()
	upper := make([]float64, 0, len(buckets)+1)
	counts := make([]float64, 0, len(buckets)+1)
	for _, b := range buckets {
		if math.IsInf(b.GetUpperBound(), 1) {
			continue
		}
		upper = append(upper, b.GetUpperBound())
		counts = append(counts, float64(b.GetCumulativeCount()))
	}
	upper = append(upper, math.Inf(1))
	counts = append(counts, float64(h.GetSampleCount()))
	if !wellFormed(upper, counts) {
		return acc
	}
	if acc.upper == nil {
		return histogram{upper: upper, counts: counts}
	}
	if !sameBounds(acc.upper, upper) {
		return acc
	}
	for i := range counts {
		acc.counts[i] += counts[i]
	}
	return acc
}

// wellFormed: bounds strictly ascending and cumulative counts never
// falling, as histogramQuantile assumes (it searches the counts); a body
// with buckets out of order would otherwise yield quantiles from nowhere.
func wellFormed(upper, counts []float64) bool {
	for i := 1; i < len(upper); i++ {
		if !(upper[i] > upper[i-1]) || !(counts[i] >= counts[i-1]) {
			return false
		}
	}
	return true
}

func sameBounds(a, b []float64) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}
