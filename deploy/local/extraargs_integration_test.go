package local

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"go.uber.org/zap/zaptest"
	"k8s.io/client-go/kubernetes"
)

// The components receive their extra arguments: they are on the running
// processes' command lines, and kube-apiserver acts on them. With API
// priority and fairness the server's concurrency limit is the sum of
// --max-requests-inflight and --max-mutating-requests-inflight, shared out
// among the priority levels; at 7 + 7 the levels' nominal seats add up to
// a few dozen at most, against more than 600 with the defaults (400 + 200).
func TestIntegrationExtraArgs(t *testing.T) {
	bin := requireBinaries(t)
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	extra := map[string][]string{
		APIServer: {"--max-mutating-requests-inflight=7", "--max-requests-inflight=7"},
		Etcd:      {"--snapshot-count=5000"},
	}
	c, err := Up(ctx, Options{
		Dir: filepath.Join(t.TempDir(), "cluster"), BinDir: bin,
		Logger: zaptest.NewLogger(t), Progress: testWriter{t}, ExtraArgs: extra,
	})
	if err != nil {
		t.Fatalf("Up: %v", err)
	}
	t.Cleanup(func() {
		if err := c.Stop(context.WithoutCancel(ctx), false); err != nil {
			t.Errorf("Stop: %v", err)
		}
	})

	for _, p := range c.Processes() {
		want := extra[p.Name]
		if want == nil {
			continue
		}
		raw, err := os.ReadFile(fmt.Sprintf("/proc/%d/cmdline", p.PID))
		if err != nil {
			t.Fatalf("reading %s's command line: %v", p.Name, err)
		}
		args := strings.Split(strings.TrimRight(string(raw), "\x00"), "\x00")
		for _, w := range want {
			if !slices.Contains(args, w) {
				t.Errorf("%s (pid %d) runs without %s: %q", p.Name, p.PID, w, args)
			}
		}
	}
	if got := c.ExtraArgs(); !slices.Equal(got[APIServer], extra[APIServer]) || !slices.Equal(got[Etcd], extra[Etcd]) {
		t.Errorf("Cluster.ExtraArgs = %v, want %v", got, extra)
	}

	cs, err := kubernetes.NewForConfig(c.RESTConfig())
	if err != nil {
		t.Fatal(err)
	}
	raw, err := cs.CoreV1().RESTClient().Get().AbsPath("/metrics").DoRaw(ctx)
	if err != nil {
		t.Fatalf("scraping kube-apiserver /metrics: %v", err)
	}
	seats, levels := 0.0, 0
	sc := bufio.NewScanner(bytes.NewReader(raw))
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		line := sc.Text()
		if !strings.HasPrefix(line, "apiserver_flowcontrol_nominal_limit_seats{") {
			continue
		}
		v, err := strconv.ParseFloat(line[strings.LastIndexByte(line, ' ')+1:], 64)
		if err != nil {
			t.Fatalf("parsing %q: %v", line, err)
		}
		seats += v
		levels++
	}
	if levels == 0 {
		t.Fatal("kube-apiserver exposes no apiserver_flowcontrol_nominal_limit_seats")
	}
	t.Logf("nominal seats over %d priority levels: %g", levels, seats)
	// Each level's share is rounded up, so the sum exceeds 14 by at most
	// one per level.
	if limit := float64(14 + levels); seats > limit {
		t.Errorf("priority levels hold %g nominal seats, want at most %g: kube-apiserver ignored --max-requests-inflight/--max-mutating-requests-inflight", seats, limit)
	}
}
