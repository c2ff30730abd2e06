package observers

import (
	"bytes"
	"fmt"
	"math"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
)

var (
	textFormat  = "text/plain; version=0.0.4; charset=utf-8"
	delimFormat = string(expfmt.NewFormat(expfmt.TypeProtoDelim))
)

// FuzzParseMetrics reads a /metrics body in either format kube-apiserver
// serves. A body that parses yields well-formed histograms (bounds
// strictly ascending to +Inf, one count per bound) that the latency
// summaries can use (cumulative counts never fall); a text body that parses, re-encoded as delimited
// protobuf by the reference encoder, yields the same scrape.
func FuzzParseMetrics(f *testing.F) {
	text := metricsText([4]int{1, 2, 3, 4}, [4]int{5, 6, 7, 8}, 3, map[string]int{"200": 5, "429": 2, "503": 1}, 1, 2)
	f.Add([]byte(text), false)
	f.Add(protoDelimited(f, text), true)
	f.Add([]byte(""), false)
	f.Add([]byte("# TYPE apiserver_request_duration_seconds histogram\n"+
		`apiserver_request_duration_seconds_bucket{verb="GET",le="1"} 3`+"\n"+
		`apiserver_request_duration_seconds_bucket{verb="GET",le="0.5"} 2`+"\n"+
		`apiserver_request_duration_seconds_bucket{verb="GET",le="+Inf"} 4`+"\n"), false)
	f.Add([]byte{0xff, 0xff, 0xff, 0xff, 0x0f}, true) // a length past the end
	f.Add([]byte{0x02, 0x0a, 0x00}, true)
	f.Fuzz(func(t *testing.T, body []byte, proto bool) {
		ct := textFormat
		if proto {
			ct = delimFormat
		}
		at := time.Unix(1000, 0)
		sc, err := parseMetrics(body, ct, at)
		if err != nil {
			if !strings.Contains(err.Error(), "/metrics") {
				t.Fatalf("error without context: %v", err)
			}
			return
		}
		if !sc.Seen[mRequestDuration] || !sc.T.Equal(at) {
			t.Fatalf("parsed without %s (seen %v)", mRequestDuration, sc.Seen)
		}
		for k, h := range sc.Requests {
			if excludedVerbs[k.Verb] || excludedSubresources[k.Subresource] {
				t.Fatalf("excluded series kept: %v", k)
			}
			checkHistogram(t, k.String(), h)
		}
		if sc.Etcd.upper != nil {
			checkHistogram(t, "etcd", sc.Etcd)
		}
		// The latency summaries read what the parser kept.
		st := newHistStore()
		st.add(at, sc.Requests, false)
		st.add(at.Add(time.Minute), sc.Requests, false)
		worstPerKey(st, 0, 1, false)

		if proto {
			return
		}
		parser := expfmt.NewTextParser(model.UTF8Validation)
		families, err := parser.TextToMetricFamilies(bytes.NewReader(body))
		if err != nil {
			return
		}
		var delim bytes.Buffer
		enc := expfmt.NewEncoder(&delim, expfmt.NewFormat(expfmt.TypeProtoDelim))
		for _, mf := range families {
			if err := enc.Encode(mf); err != nil {
				return // not representable as protobuf
			}
		}
		sc2, err := parseMetrics(delim.Bytes(), delimFormat, at)
		if err != nil {
			t.Fatalf("text parses, its protobuf encoding does not: %v", err)
		}
		// %v prints maps sorted and NaN as NaN, so equal scrapes print alike.
		if a, b := fmt.Sprintf("%v", *sc), fmt.Sprintf("%v", *sc2); a != b {
			t.Fatalf("text and protobuf scrapes differ:\n text %s\nproto %s", a, b)
		}
	})
}

func checkHistogram(t *testing.T, what string, h histogram) {
	t.Helper()
	n := len(h.upper)
	if n == 0 || n != len(h.counts) || !math.IsInf(h.upper[n-1], 1) {
		t.Fatalf("%s: malformed histogram %v %v", what, h.upper, h.counts)
	}
	for i := 1; i < n; i++ {
		if !(h.upper[i] > h.upper[i-1]) || !(h.counts[i] >= h.counts[i-1]) {
			t.Fatalf("%s: bounds not ascending or counts falling: %v %v", what, h.upper, h.counts)
		}
	}
}
