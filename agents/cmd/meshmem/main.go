// Command meshmem measures what idle emulated agents cost: it starts a fake
// API server in a child process (so its memory is not counted), runs N
// cilium-agent emulations (plus the operator) against it, waits until every
// watch is open, and reports this process's RSS, heap, goroutines and CPU.
// With -max-rss it exits non-zero above the limit, for `make bench`.
//
//	go run ./agents/cmd/meshmem -agents 1000 -max-rss-mb 300
package main

import (
	"bufio"
	"context"
	"encoding/base64"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"os/signal"
	"runtime"
	"runtime/debug"
	"runtime/pprof"
	"strconv"
	"strings"
	"syscall"
	"time"

	"go.uber.org/zap"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/rest"

	"github.com/churn-dev/churn/agents"
	"github.com/churn-dev/churn/agents/crds"
	"github.com/churn-dev/churn/agents/internal/fakeapi"
)

func main() {
	agents.TuneGC()
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx); err != nil {
		fmt.Fprintln(os.Stderr, "meshmem:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context) error {
	serve := flag.Bool("serve", false, "run as the fake API server (child mode)")
	n := flag.Int("agents", 1000, "number of emulated cilium-agents (nodes)")
	mesh := flag.String("mesh", agents.MeshCilium, "mesh to emulate")
	settle := flag.Duration("settle", 20*time.Second, "idle time after every watch is open, before measuring")
	rate := flag.Float64("rollout", 200, "agents started per second")
	maxRSS := flag.Int("max-rss-mb", 0, "fail when RSS exceeds this many MiB (0: report only)")
	profile := flag.String("profile", "", "write heap and goroutine profiles with this path prefix")
	flag.Parse()
	if *serve {
		return serveFake(ctx, *n)
	}
	return measure(ctx, *n, *mesh, *settle, *rate, *maxRSS, *profile)
}

// serveFake runs the fake API server and prints its URL and CA on stdout.
func serveFake(ctx context.Context, nodes int) error {
	res := fakeapi.BuiltinResources()
	for _, set := range []string{crds.SetCilium, crds.SetIstio, crds.SetGatewayAPI} {
		kinds, err := crds.Kinds(set)
		if err != nil {
			return err
		}
		for _, k := range kinds {
			res = append(res, fakeapi.Resource{GVR: schema.GroupVersionResource{Group: k.Group, Version: k.Version, Resource: k.Resource}, Kind: k.Kind, Namespaced: k.Namespaced})
		}
	}
	srv := fakeapi.New(res)
	defer srv.Close()
	// Nodes and their CiliumNodes exist already: an idle cluster, not a
	// cluster where a thousand agents just created a thousand CiliumNodes
	// (a million watch events of fan-out).
	for i := 0; i < nodes; i++ {
		if _, err := srv.Create(&corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: nodeName(i), Labels: map[string]string{"type": "kwok"}}}); err != nil {
			return err
		}
		cn := &unstructured.Unstructured{Object: map[string]any{"apiVersion": "cilium.io/v2", "kind": "CiliumNode",
			"metadata": map[string]any{"name": nodeName(i)},
			"spec":     map[string]any{"addresses": []any{map[string]any{"type": "InternalIP", "ip": "10.64.0.1"}}}}}
		if _, err := srv.Create(cn); err != nil {
			return err
		}
	}
	for i := 0; i < 20; i++ {
		if _, err := srv.Create(&corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: fmt.Sprintf("ns-%d", i)}}); err != nil {
			return err
		}
	}
	fmt.Printf("%s\n%s\n", srv.URL(), base64.StdEncoding.EncodeToString(srv.CAPEM()))
	// Bookmarks every minute, as the watch cache sends them.
	t := time.NewTicker(time.Minute)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
			srv.SendBookmarks()
		}
	}
}

func nodeName(i int) string { return "kwok-node-" + strconv.Itoa(i) }

func measure(ctx context.Context, n int, mesh string, settle time.Duration, rate float64, maxRSS int, profile string) error {
	child := exec.CommandContext(ctx, os.Args[0], "-serve", "-agents", strconv.Itoa(n))
	child.Stderr = os.Stderr
	out, err := child.StdoutPipe()
	if err != nil {
		return err
	}
	if err := child.Start(); err != nil {
		return fmt.Errorf("start fake server: %w", err)
	}
	defer func() {
		_ = child.Process.Signal(syscall.SIGTERM)
		_ = child.Wait()
	}()
	sc := bufio.NewScanner(out)
	var lines []string
	for len(lines) < 2 && sc.Scan() {
		lines = append(lines, sc.Text())
	}
	if len(lines) < 2 {
		return errors.New("fake server did not report its address")
	}
	ca, err := base64.StdEncoding.DecodeString(lines[1])
	if err != nil {
		return err
	}
	cfg := &rest.Config{Host: lines[0], TLSClientConfig: rest.TLSClientConfig{CAData: ca}}

	nodes := make([]string, n)
	for i := range nodes {
		nodes[i] = nodeName(i)
	}
	logger, _ := zap.NewProduction()
	cpu0 := cpuTime()
	start := time.Now()
	m, err := agents.Start(ctx, agents.Config{
		RESTConfig: cfg, Mesh: mesh, Nodes: nodes, RunID: "meshmem", RunLabels: map[string]string{"churn.dev/run": "meshmem"},
		RolloutPerSecond: rate, Logger: logger, SkipSetup: true,
	})
	if err != nil {
		return err
	}
	defer func() {
		sctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		_, _ = m.Stop(sctx)
	}()
	select {
	case <-m.RolloutDone():
	case <-ctx.Done():
		return ctx.Err()
	}
	// Wait until every informer has listed and opened its watch.
	want := int64(0)
	for _, c := range m.Summary().Components {
		want += int64(c.Replicas * c.Informers)
	}
	for {
		var got int64
		for _, c := range m.Summary().Components {
			got += c.WatchRequests
		}
		if got >= want {
			break
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(time.Second):
		}
	}
	startup := time.Since(start)
	cpuStartup := cpuTime() - cpu0
	cpuSettle0 := cpuTime()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-time.After(settle):
	}
	cpuIdle := cpuTime() - cpuSettle0
	// Several collections: each halves the stacks of goroutines that use
	// less than a quarter of theirs, as a long-running process's periodic
	// GCs would.
	for i := 0; i < 4; i++ {
		runtime.GC()
	}
	debug.FreeOSMemory()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	rss := rssBytes()
	fmt.Printf("meshmem: mesh=%s agents=%d watches=%d startup=%s cpu-startup=%.1fs\n", mesh, n, want, startup.Round(time.Millisecond), cpuStartup.Seconds())
	fmt.Printf("meshmem: rss=%.1fMiB heap-inuse=%.1fMiB heap-live=%.1fMiB stack-inuse=%.1fMiB sys=%.1fMiB goroutines=%d idle-cpu=%.2fs over %s (%.1f%% of a core)\n",
		mib(rss), mib(ms.HeapInuse), mib(ms.HeapAlloc), mib(ms.StackInuse), mib(ms.Sys), runtime.NumGoroutine(), cpuIdle.Seconds(), settle, 100*cpuIdle.Seconds()/settle.Seconds())
	for _, c := range m.Summary().Components {
		fmt.Printf("meshmem: %s replicas=%d lists=%d watches=%d events=%d bytes=%d errors=%d\n",
			c.Name, c.Replicas, c.Lists, c.WatchRequests, c.EventsReceived, c.BytesReceived, c.Errors)
	}
	if profile != "" {
		if err := writeProfiles(profile); err != nil {
			return err
		}
	}
	if maxRSS > 0 && rss > uint64(maxRSS)<<20 {
		return fmt.Errorf("RSS %.1f MiB exceeds %d MiB", mib(rss), maxRSS)
	}
	return nil
}

func mib(b uint64) float64 { return float64(b) / (1 << 20) }

func rssBytes() uint64 {
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return 0
	}
	for _, line := range strings.Split(string(b), "\n") {
		if strings.HasPrefix(line, "VmRSS:") {
			f := strings.Fields(line)
			if len(f) >= 2 {
				kb, _ := strconv.ParseUint(f[1], 10, 64)
				return kb << 10
			}
		}
	}
	return 0
}

func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

func writeProfiles(prefix string) error {
	for _, name := range []string{"heap", "goroutine"} {
		f, err := os.Create(prefix + "." + name)
		if err != nil {
			return err
		}
		err = pprof.Lookup(name).WriteTo(f, 0)
		if cerr := f.Close(); err == nil {
			err = cerr
		}
		if err != nil {
			return fmt.Errorf("write %s profile: %w", name, err)
		}
	}
	return nil
}
