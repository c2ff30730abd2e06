package history

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"math"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"google.golang.org/protobuf/encoding/protowire"

	"github.com/churn-dev/churn/internal/childproc"
	"github.com/churn-dev/churn/observers"
)

// startPrometheus runs the prometheus binary on a free loopback port with
// the remote-write receiver on and its storage in a temporary directory.
// Without the binary the test is skipped, except under
// CHURN_REQUIRE_PROMETHEUS=1 (CI), where it fails.
func startPrometheus(t *testing.T) string {
	t.Helper()
	bin, err := exec.LookPath("prometheus")
	if err != nil {
		if os.Getenv("CHURN_REQUIRE_PROMETHEUS") == "1" {
			t.Fatalf("CHURN_REQUIRE_PROMETHEUS=1 but prometheus is missing: %v", err)
		}
		t.Skip("prometheus not installed (Debian: apt-get install prometheus)")
	}
	if testing.Short() && os.Getenv("CHURN_REQUIRE_PROMETHEUS") != "1" {
		t.Skip("starts a Prometheus server; not in -short")
	}
	dir := t.TempDir()
	config := filepath.Join(dir, "prometheus.yml")
	if err := os.WriteFile(config, []byte("global:\n  scrape_interval: 1m\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	ports, err := childproc.FreePorts(1)
	if err != nil {
		t.Fatal(err)
	}
	addr := fmt.Sprintf("127.0.0.1:%d", ports[0])
	ctx, cancel := context.WithCancel(context.Background())
	var log bytes.Buffer
	cmd := exec.CommandContext(ctx, bin, "--config.file="+config, "--storage.tsdb.path="+filepath.Join(dir, "data"),
		"--web.listen-address="+addr, "--web.enable-remote-write-receiver")
	cmd.Stdout, cmd.Stderr = &log, &log
	if err := cmd.Start(); err != nil {
		cancel()
		t.Fatalf("start %s: %v", bin, err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	t.Cleanup(func() {
		cancel()
		<-exited
		if t.Failed() {
			t.Logf("prometheus log:\n%s", log.String())
		}
	})
	base := "http://" + addr
	// Readiness is polled, not timed: the loop ends when Prometheus
	// answers or exits.
	for {
		resp, err := http.Get(base + "/-/ready")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return base
			}
		}
		select {
		case err := <-exited:
			t.Fatalf("prometheus exited before it was ready: %v\n%s", err, log.String())
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// query runs an instant PromQL query at ts and returns the values of the
// resulting vector.
func query(t *testing.T, base, promql string, ts time.Time) []float64 {
	t.Helper()
	q := url.Values{"query": {promql}, "time": {strconv.FormatFloat(float64(ts.UnixMilli())/1000, 'f', 3, 64)}}
	resp, err := http.Get(base + "/api/v1/query?" + q.Encode())
	if err != nil {
		t.Fatalf("query %s: %v", promql, err)
	}
	defer resp.Body.Close()
	var body struct {
		Status string `json:"status"`
		Error  string `json:"error"`
		Data   struct {
			ResultType string `json:"resultType"`
			Result     []struct {
				Metric map[string]string `json:"metric"`
				Value  [2]any            `json:"value"`
			} `json:"result"`
		} `json:"data"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&body); err != nil {
		t.Fatalf("query %s: decode: %v", promql, err)
	}
	if body.Status != "success" {
		t.Fatalf("query %s: %s %s", promql, body.Status, body.Error)
	}
	var out []float64
	for _, r := range body.Data.Result {
		s, _ := r.Value[1].(string)
		v, err := strconv.ParseFloat(s, 64)
		if err != nil {
			t.Fatalf("query %s: value %v: %v", promql, r.Value, err)
		}
		out = append(out, v)
	}
	return out
}

func TestRemoteWriteRoundTripThroughPrometheus(t *testing.T) {
	base := startPrometheus(t)
	runs, problems, err := Load([]string{filepath.Join("testdata", "planted")})
	if err != nil || len(problems) > 0 {
		t.Fatalf("load: %v %v", err, problems)
	}
	samples := Samples(runs)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if err := RemoteWrite(ctx, base+"/api/v1/write", http.DefaultClient, samples); err != nil {
		t.Fatal(err)
	}
	for _, r := range runs {
		for _, name := range []string{observers.SLOMutatingP99, "kube-apiserver CPU", "kube-apiserver peak RSS", "429 responses, churn phase"} {
			want, ok := r.Figures[name]
			if !ok {
				t.Fatalf("run %s has no %s in its testdata", r.RunID, name)
			}
			got := query(t, base, fmt.Sprintf(`%s{figure=%q,run_id=%q,profile="1k-pods"}`, MetricFigure, name, r.RunID), r.Start)
			if len(got) != 1 || got[0] != want.Value {
				t.Errorf("run %s %s: Prometheus has %v, want [%v]", r.RunID, name, got, want.Value)
			}
		}
		got := query(t, base, fmt.Sprintf(`count(%s{run_id=%q})`, MetricFigure, r.RunID), r.Start)
		if len(got) != 1 || int(got[0]) != len(r.Figures) {
			t.Errorf("run %s: %v figures in Prometheus, want %d", r.RunID, got, len(r.Figures))
		}
		passed := query(t, base, fmt.Sprintf(`%s{run_id=%q}`, MetricPassed, r.RunID), r.Start)
		if len(passed) != 1 || passed[0] != boolValue(r.Passed && !r.Inconclusive) {
			t.Errorf("run %s: passed %v, want %v", r.RunID, passed, r.Passed)
		}
	}
	t.Logf("%d samples of %d runs written to %s and read back", len(samples), len(runs), base)
	// The dashboard's query: a figure across runs, grouped by release,
	// over the whole series.
	last := runs[len(runs)-1]
	series := query(t, base, fmt.Sprintf(`max by (kubernetes) (max_over_time(%s{figure=%q}[1d]))`, MetricFigure, observers.SLOMutatingP99), last.Start)
	maxWant := 0.0
	for _, r := range runs {
		maxWant = max(maxWant, r.Figures[observers.SLOMutatingP99].Value)
	}
	if len(series) != 1 || series[0] != maxWant {
		t.Errorf("max of mutating-p99 over the series = %v, want [%v]", series, maxWant)
	}
}

func TestRemoteWriteRefusesBadURL(t *testing.T) {
	for _, u := range []string{"", "localhost:9090", "ftp://x/api/v1/write", "http://"} {
		err := RemoteWrite(context.Background(), u, http.DefaultClient, []Sample{{}})
		if err == nil {
			t.Errorf("RemoteWrite(%q) succeeded, want an error naming the URL", u)
		}
	}
}

// The encoding is the protocol's: a receiver that decodes it as
// prometheus.WriteRequest gets the labels and values back.
func TestWriteRequestEncoding(t *testing.T) {
	ts := time.UnixMilli(1_765_000_000_123)
	w := &writeRequest{samples: []Sample{{Labels: []Label{{"__name__", "m"}, {"figure", "x"}}, Value: 0.25, Time: ts}}}
	buf := make([]byte, w.Size())
	n, err := w.MarshalToSizedBuffer(buf)
	if err != nil || n != len(buf) {
		t.Fatalf("marshal: n=%d of %d, %v", n, len(buf), err)
	}
	got := decodeWriteRequest(t, buf)
	want := []Sample{{Labels: []Label{{"__name__", "m"}, {"figure", "x"}}, Value: 0.25, Time: ts}}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("decoded %v, want %v", got, want)
	}
}

// decodeWriteRequest reads prometheus.WriteRequest with protowire, field
// by field, independently of the encoder.
func decodeWriteRequest(t *testing.T, b []byte) []Sample {
	t.Helper()
	fields := func(b []byte, each func(num protowire.Number, typ protowire.Type, v []byte, x uint64)) {
		for len(b) > 0 {
			num, typ, n := protowire.ConsumeTag(b)
			if n < 0 {
				t.Fatalf("bad tag: %v", protowire.ParseError(n))
			}
			b = b[n:]
			switch typ {
			case protowire.BytesType:
				v, m := protowire.ConsumeBytes(b)
				if m < 0 {
					t.Fatalf("bad bytes: %v", protowire.ParseError(m))
				}
				each(num, typ, v, 0)
				b = b[m:]
			case protowire.VarintType:
				x, m := protowire.ConsumeVarint(b)
				each(num, typ, nil, x)
				b = b[m:]
			case protowire.Fixed64Type:
				x, m := protowire.ConsumeFixed64(b)
				each(num, typ, nil, x)
				b = b[m:]
			default:
				t.Fatalf("unexpected wire type %v", typ)
			}
		}
	}
	var out []Sample
	fields(b, func(num protowire.Number, _ protowire.Type, ts []byte, _ uint64) {
		if num != 1 {
			t.Fatalf("WriteRequest field %d, want 1 (timeseries)", num)
		}
		var s Sample
		fields(ts, func(num protowire.Number, _ protowire.Type, v []byte, _ uint64) {
			switch num {
			case 1:
				var l Label
				fields(v, func(num protowire.Number, _ protowire.Type, v []byte, _ uint64) {
					if num == 1 {
						l.Name = string(v)
					} else {
						l.Value = string(v)
					}
				})
				s.Labels = append(s.Labels, l)
			case 2:
				fields(v, func(num protowire.Number, _ protowire.Type, _ []byte, x uint64) {
					if num == 1 {
						s.Value = math.Float64frombits(x)
					} else {
						s.Time = time.UnixMilli(int64(x))
					}
				})
			}
		})
		out = append(out, s)
	})
	return out
}
