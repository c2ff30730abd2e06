package observers

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/common/expfmt"
)

// bigMetrics is a kube-apiserver-sized body (about 7 MB of text): 600
// request-duration series with the server's 24 buckets and 2,000 counter
// series, which churn reads, and 1,400 series of a watch histogram, which
// it does not. On a 10k-pods mesh run the server's families churn does not
// read are about 70% of the body, as here.
func bigMetrics() string {
	var b strings.Builder
	bounds := []string{"0.005", "0.025", "0.05", "0.1", "0.2", "0.4", "0.6", "0.8", "1", "1.25", "1.5", "2", "3", "4", "5", "6", "8", "10", "15", "20", "30", "45", "60", "+Inf"}
	histogram := func(name string, series int, verbs ...string) {
		fmt.Fprintf(&b, "# TYPE %s histogram\n", name)
		for i := 0; i < series; i++ {
			l := fmt.Sprintf(`component="apiserver",dry_run="",group="g%d.example.com",resource="r%d",scope="cluster",subresource="",verb=%q,version="v1"`, i/6, i, verbs[i%len(verbs)])
			for j, le := range bounds {
				fmt.Fprintf(&b, "%s_bucket{%s,le=%q} %d\n", name, l, le, 1000+j*10)
			}
			fmt.Fprintf(&b, "%s_sum{%s} 12.5\n%s_count{%s} 1230\n", name, l, name, l)
		}
	}
	histogram("apiserver_request_duration_seconds", 600, "GET", "LIST", "PATCH", "PUT", "POST", "DELETE")
	b.WriteString("# TYPE apiserver_request_total counter\n")
	for i := 0; i < 2000; i++ {
		fmt.Fprintf(&b, "apiserver_request_total{code=\"200\",resource=\"r%d\",verb=\"GET\"} %d\n", i, i)
	}
	histogram("apiserver_watch_list_duration_seconds", 1400, "WATCH")
	return b.String()
}

func BenchmarkParseMetricsText(b *testing.B) {
	body := bigMetrics()
	b.SetBytes(int64(len(body)))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := parseMetrics([]byte(body), "text/plain; version=0.0.4", time.Unix(0, 0)); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkParseMetricsProtobuf is the format churn asks kube-apiserver for.
func BenchmarkParseMetricsProtobuf(b *testing.B) {
	body := protoDelimited(b, bigMetrics())
	ct := string(expfmt.NewFormat(expfmt.TypeProtoDelim))
	b.SetBytes(int64(len(body)))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := parseMetrics(body, ct, time.Unix(0, 0)); err != nil {
			b.Fatal(err)
		}
	}
}
