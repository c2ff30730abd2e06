package watch

import (
	"bufio"
	"encoding/base64"
	"encoding/pem"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"k8s.io/client-go/rest"
)

// The receive benchmark measures what one watch event costs churn's side
// of the wire: TLS, HTTP/2 framing, syscalls and the Go scheduler's
// wake-ups. The sender runs in a child process (this test binary, started
// with muxBenchServerEnv) so that its CPU is not counted: a Go HTTP/2 TLS
// server, as the API server is, that broadcasts events to every open
// stream at a fixed pace and flushes each one, as the API server's watch
// handler does.
const muxBenchServerEnv = "CHURN_MUXBENCH_SERVER"

func TestMain(m *testing.M) {
	if spec := os.Getenv(muxBenchServerEnv); spec != "" {
		if err := serveMuxBench(spec); err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
		os.Exit(0)
	}
	os.Exit(m.Run())
}

// muxBenchSpec is the workload: streams watchers, events broadcasts one
// every interval, each of size bytes.
type muxBenchSpec struct {
	streams, events, size int
	interval              time.Duration
}

func (s muxBenchSpec) String() string {
	return fmt.Sprintf("%d,%d,%d,%s", s.streams, s.events, s.size, s.interval)
}

func parseMuxBenchSpec(v string) (muxBenchSpec, error) {
	var s muxBenchSpec
	f := strings.Split(v, ",")
	if len(f) != 4 {
		return s, fmt.Errorf("bad spec %q", v)
	}
	var err error
	if s.streams, err = strconv.Atoi(f[0]); err != nil {
		return s, err
	}
	if s.events, err = strconv.Atoi(f[1]); err != nil {
		return s, err
	}
	if s.size, err = strconv.Atoi(f[2]); err != nil {
		return s, err
	}
	s.interval, err = time.ParseDuration(f[3])
	return s, err
}

// serveMuxBench runs the sender: it prints its URL and CA, waits for every
// stream, broadcasts, ends the streams and exits when stdin closes.
func serveMuxBench(v string) error {
	spec, err := parseMuxBenchSpec(v)
	if err != nil {
		return err
	}
	event := []byte(`{"type":"MODIFIED","object":{"apiVersion":"cilium.io/v2","kind":"CiliumEndpoint","metadata":{"name":"p","pad":"` +
		strings.Repeat("x", max(spec.size-140, 0)) + `"}}}` + "\n")
	var mu sync.Mutex
	var chans []chan struct{}
	ready := make(chan struct{})
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ch := make(chan struct{}, spec.events+1)
		mu.Lock()
		chans = append(chans, ch)
		if len(chans) == spec.streams {
			close(ready)
		}
		mu.Unlock()
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusOK)
		w.(http.Flusher).Flush()
		for range ch {
			if _, err := w.Write(event); err != nil {
				return
			}
			w.(http.Flusher).Flush()
		}
	}))
	srv.EnableHTTP2 = true
	srv.Config.HTTP2 = &http.HTTP2Config{MaxConcurrentStreams: 100} // the API server's default
	srv.StartTLS()
	defer srv.Close()
	ca := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: srv.Certificate().Raw})
	fmt.Printf("%s %s\n", srv.URL, base64.StdEncoding.EncodeToString(ca))
	<-ready
	t := time.NewTicker(spec.interval)
	for i := 0; i < spec.events; i++ {
		<-t.C
		mu.Lock()
		for _, ch := range chans {
			ch <- struct{}{}
		}
		mu.Unlock()
	}
	t.Stop()
	mu.Lock()
	for _, ch := range chans {
		close(ch)
	}
	mu.Unlock()
	_, _ = bufio.NewReader(os.Stdin).ReadString('\n') // until the client is done
	return nil
}

type countingHandler struct {
	bytes atomic.Int64
	ended *sync.WaitGroup
}

func (h *countingHandler) OnHeaders(*Stream, int, http.Header) {}
func (h *countingHandler) OnData(_ *Stream, p []byte)          { h.bytes.Add(int64(len(p))) }
func (h *countingHandler) OnEnd(*Stream, error)                { h.ended.Done() }

func cpuNow() time.Duration {
	var ru syscall.Rusage
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// runMuxBench receives spec's broadcast over a Mux set up by tune and
// returns the CPU it cost this process per delivered event.
func runMuxBench(b *testing.B, spec muxBenchSpec, tune func(*Mux)) time.Duration {
	b.Helper()
	exe, err := os.Executable()
	if err != nil {
		b.Fatal(err)
	}
	cmd := exec.Command(exe, "-test.run=^$")
	cmd.Env = append(os.Environ(), muxBenchServerEnv+"="+spec.String())
	cmd.Stderr = os.Stderr
	stdin, err := cmd.StdinPipe()
	if err != nil {
		b.Fatal(err)
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		b.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		b.Fatal(err)
	}
	defer func() { stdin.Close(); _ = cmd.Wait() }()
	line, err := bufio.NewReader(stdout).ReadString('\n')
	if err != nil {
		b.Fatalf("sender: %v", err)
	}
	var url, caB64 string
	if _, err := fmt.Sscan(line, &url, &caB64); err != nil {
		b.Fatalf("sender said %q: %v", line, err)
	}
	ca, err := base64.StdEncoding.DecodeString(caB64)
	if err != nil {
		b.Fatal(err)
	}
	m, err := NewMux(&rest.Config{Host: url, TLSClientConfig: rest.TLSClientConfig{CAData: ca}})
	if err != nil || m == nil {
		b.Fatalf("NewMux: %v", err)
	}
	defer m.Close()
	tune(m)
	var ended sync.WaitGroup
	h := &countingHandler{ended: &ended}
	ended.Add(spec.streams)
	start := cpuNow()
	for i := 0; i < spec.streams; i++ {
		if _, err := m.Open(b.Context(), "/watch", http.Header{}, h); err != nil {
			b.Fatal(err)
		}
	}
	ended.Wait()
	used := cpuNow() - start
	deliveries := spec.streams * spec.events
	if got, want := h.bytes.Load(), int64(deliveries*(spec.size+1)); got < want*9/10 {
		b.Fatalf("received %d bytes, want about %d", got, want)
	}
	return used / time.Duration(deliveries)
}

// BenchmarkMuxReceive: 200 watchers on two connections, as per-node agents
// watching every CiliumEndpoint; one 2.5 KB event to each of them every
// 20 ms (10,000 events a second, a trickle: each read finds little) or
// every 2 ms (100,000 a second, a flood), for 2 s. at-once reads each
// connection as soon as data arrives; coalesced is the default.
func BenchmarkMuxReceive(b *testing.B) {
	for _, rate := range []struct {
		name     string
		interval time.Duration
		events   int
	}{{"trickle", 20 * time.Millisecond, 100}, {"flood", 2 * time.Millisecond, 1000}} {
		spec := muxBenchSpec{streams: 200, events: rate.events, size: 2500, interval: rate.interval}
		for _, v := range []struct {
			name     string
			coalesce time.Duration
		}{{"at-once", 0}, {"coalesced", muxReadCoalesce}} {
			b.Run(rate.name+"/"+v.name, func(b *testing.B) {
				var per time.Duration
				for i := 0; i < b.N; i++ {
					per += runMuxBench(b, spec, func(m *Mux) { m.coalesce = v.coalesce })
				}
				b.ReportMetric(float64(per.Nanoseconds())/float64(b.N)/1000, "cpu-µs/event")
			})
		}
	}
}
