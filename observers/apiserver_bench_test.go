package observers

import (
	"bytes"
	"fmt"
	"strings"
	"testing"
	"time"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
	"google.golang.org/protobuf/proto"
)

// bigMetrics is a kube-apiserver-sized body: 600 request-duration series
// with the server's 24 buckets plus 2,000 counter series (about 2 MB of
// text), the size seen with CRD-heavy mesh emulations.
func bigMetrics() string {
	var b strings.Builder
	bounds := []string{"0.005", "0.025", "0.05", "0.1", "0.2", "0.4", "0.6", "0.8", "1", "1.25", "1.5", "2", "3", "4", "5", "6", "8", "10", "15", "20", "30", "45", "60", "+Inf"}
	b.WriteString("# TYPE apiserver_request_duration_seconds histogram\n")
	verbs := []string{"GET", "LIST", "PATCH", "PUT", "POST", "DELETE"}
	for i := 0; i < 600; i++ {
		l := fmt.Sprintf(`component="apiserver",dry_run="",group="g%d.example.com",resource="r%d",scope="cluster",subresource="",verb=%q,version="v1"`, i/6, i, verbs[i%6])
		for j, le := range bounds {
			fmt.Fprintf(&b, "apiserver_request_duration_seconds_bucket{%s,le=%q} %d\n", l, le, 1000+j*10)
		}
		fmt.Fprintf(&b, "apiserver_request_duration_seconds_sum{%s} 12.5\napiserver_request_duration_seconds_count{%s} 1230\n", l, l)
	}
	b.WriteString("# TYPE apiserver_request_total counter\n")
	for i := 0; i < 2000; i++ {
		fmt.Fprintf(&b, "apiserver_request_total{code=\"200\",resource=\"r%d\",verb=\"GET\"} %d\n", i, i)
	}
	return b.String()
}

func BenchmarkParseMetricsText(b *testing.B) {
	body := bigMetrics()
	b.SetBytes(int64(len(body)))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := parseMetrics(strings.NewReader(body), "text/plain; version=0.0.4", time.Unix(0, 0)); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkParseMetricsProtobuf is the format churn asks kube-apiserver for.
func BenchmarkParseMetricsProtobuf(b *testing.B) {
	parser := expfmt.NewTextParser(model.UTF8Validation)
	families, err := parser.TextToMetricFamilies(strings.NewReader(bigMetrics()))
	if err != nil {
		b.Fatal(err)
	}
	var buf bytes.Buffer
	enc := expfmt.NewEncoder(&buf, expfmt.NewFormat(expfmt.TypeProtoDelim))
	for _, mf := range families {
		if err := enc.Encode(proto.Clone(mf).(*dto.MetricFamily)); err != nil {
			b.Fatal(err)
		}
	}
	body := buf.Bytes()
	ct := string(expfmt.NewFormat(expfmt.TypeProtoDelim))
	b.SetBytes(int64(len(body)))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := parseMetrics(bytes.NewReader(body), ct, time.Unix(0, 0)); err != nil {
			b.Fatal(err)
		}
	}
}
