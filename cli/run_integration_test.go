package cli

import (
	"bytes"
	"context"
	"crypto/tls"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"go.uber.org/zap/zaptest"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"

	"github.com/churn-dev/churn/deploy/local"
	"github.com/churn-dev/churn/internal/testenv"
	"github.com/churn-dev/churn/results"
)

// runChurn runs the churn command tree in-process and returns its exit
// status and output, as main would.
func runChurn(t *testing.T, ctx context.Context, args ...string) (int, string) {
	t.Helper()
	logger := zaptest.NewLogger(t)
	cmd := NewRootCommand(logger)
	var out bytes.Buffer
	cmd.SetOut(&out)
	cmd.SetErr(&out)
	cmd.SetArgs(args)
	code := ExitCode(ctx, cmd.ExecuteContext(ctx), logger)
	t.Logf("churn %s: exit %d\n%s", strings.Join(args, " "), code, out.String())
	return code, out.String()
}

func TestIntegrationRunSmoke(t *testing.T) {
	bin := testenv.RequireBinaries(t)
	dir := t.TempDir()
	clusterDir, outDir := filepath.Join(dir, "cluster"), filepath.Join(dir, "out")
	t.Cleanup(func() { _ = local.Down(context.Background(), clusterDir, false, nil) })

	code, _ := runChurn(t, context.Background(), "run", "--profile", "smoke", "--bin-dir", bin,
		"--keep", "--dir", clusterDir, "--out", outDir)
	if code != ExitOK {
		t.Fatalf("churn run --profile smoke: exit %d, want 0", code)
	}
	r, err := results.Read(outDir)
	if err != nil {
		t.Fatal(err)
	}
	if r.Setup == nil || r.Setup.ReadyPods != 50 {
		t.Errorf("setup: %+v, want 50 ready pods", r.Setup)
	}
	if r.Churn == nil || r.Churn.Scale.Succeeded < 55 {
		t.Fatalf("churn: %+v, want >= 55 successful scale actions", r.Churn)
	}
	if len(r.SLOs) == 0 || r.Availability == nil || len(r.Processes) == 0 {
		t.Errorf("results lack tables: %d SLOs, availability %v, %d processes", len(r.SLOs), r.Availability, len(r.Processes))
	}
	if !r.Verdict.Passed {
		t.Errorf("verdict: %+v, want passed on an idle smoke run", r.Verdict)
	}
	if st, err := os.Stat(filepath.Join(outDir, "report.html")); err != nil || st.Size() == 0 {
		t.Errorf("report.html: %v", err)
	}

	// Teardown left nothing labelled with the run behind, on a cluster
	// that is still up (--keep).
	state, err := local.LoadState(clusterDir)
	if err != nil {
		t.Fatal(err)
	}
	cfg, err := state.RESTConfig()
	if err != nil {
		t.Fatal(err)
	}
	cs := kubernetes.NewForConfigOrDie(cfg)
	sel := metav1.ListOptions{LabelSelector: "churn.dev/run=" + r.RunID}
	ctx := context.Background()
	if l, err := cs.CoreV1().Namespaces().List(ctx, sel); err != nil || len(l.Items) > 0 {
		t.Errorf("namespaces left: %v %v", err, l)
	}
	if l, err := cs.CoreV1().Nodes().List(ctx, sel); err != nil || len(l.Items) > 0 {
		t.Errorf("nodes left: %v %d", err, len(l.Items))
	}
	if l, err := cs.CoreV1().Pods("").List(ctx, sel); err != nil || len(l.Items) > 0 {
		t.Errorf("pods left: %v %d", err, len(l.Items))
	}
}

func TestIntegrationRunSLOBreachExits2(t *testing.T) {
	bin := testenv.RequireBinaries(t)
	dir := t.TempDir()
	out := filepath.Join(dir, "out")
	code, _ := runChurn(t, context.Background(), "run", "--profile", "smoke", "--bin-dir", bin,
		"--duration", "15s", "--slo", "mutating-p99=1ms", "--out", out, "--dir", filepath.Join(dir, "cluster"))
	if code != ExitSLOBreached {
		t.Fatalf("exit %d, want %d", code, ExitSLOBreached)
	}
	r, err := results.Read(out)
	if err != nil {
		t.Fatal(err)
	}
	if r.Verdict.Passed || !contains(r.Verdict.Breached, "mutating-p99") {
		t.Errorf("verdict %+v, want mutating-p99 breached", r.Verdict)
	}
}

// Killing kube-apiserver mid-churn is an outage of about the time it was
// down, the run still completes, and the verdict fails.
func TestIntegrationRunAPIServerKilled(t *testing.T) {
	bin := testenv.RequireBinaries(t)
	dir := t.TempDir()
	clusterDir, outDir := filepath.Join(dir, "cluster"), filepath.Join(dir, "out")
	ctx := context.Background()

	type measured struct{ down time.Duration }
	done := make(chan measured, 1)
	go func() {
		done <- measured{down: killAPIServerMidChurn(t, clusterDir)}
	}()
	code, _ := runChurn(t, ctx, "run", "--profile", "smoke", "--bin-dir", bin, "--duration", "60s",
		"--dir", clusterDir, "--out", outDir, "--restart-apiserver", "--restart-apiserver-delay", "10s")
	m := <-done
	if code != ExitSLOBreached {
		t.Errorf("exit %d, want %d (SLO breached)", code, ExitSLOBreached)
	}
	r, err := results.Read(outDir)
	if err != nil {
		t.Fatal(err)
	}
	if r.Churn == nil || r.Churn.Planned == 0 {
		t.Fatalf("churn did not run: %+v", r.Churn)
	}
	if r.Availability == nil || len(r.Availability.Outages) == 0 {
		t.Fatalf("no outage recorded: %+v", r.Availability)
	}
	got := time.Duration(r.Availability.LongestSeconds * float64(time.Second))
	t.Logf("measured downtime %s, recorded longest outage %s", m.down, got)
	if m.down == 0 || got < m.down-3*time.Second || got > m.down+3*time.Second {
		t.Errorf("recorded outage %s, want within 3s of the %s the test measured", got, m.down)
	}
	if r.Verdict.Passed {
		t.Errorf("verdict passed despite a %s outage", got)
	}
}

// killAPIServerMidChurn waits until the run's workload is Ready, SIGKILLs
// kube-apiserver, and measures how long /readyz stays down.
func killAPIServerMidChurn(t *testing.T, clusterDir string) time.Duration {
	deadline := time.Now().Add(3 * time.Minute)
	var state *local.State
	for time.Now().Before(deadline) {
		s, err := local.LoadState(clusterDir)
		if err == nil && len(s.Processes) == 5 {
			state = s
			break
		}
		time.Sleep(500 * time.Millisecond)
	}
	if state == nil {
		t.Error("local cluster never came up")
		return 0
	}
	cfg, err := state.RESTConfig()
	if err != nil {
		t.Error(err)
		return 0
	}
	cs := kubernetes.NewForConfigOrDie(cfg)
	for time.Now().Before(deadline) {
		l, err := cs.AppsV1().Deployments("").List(context.Background(), metav1.ListOptions{LabelSelector: "churn.dev/run"})
		ready := 0
		if err == nil {
			for _, d := range l.Items {
				ready += int(d.Status.ReadyReplicas)
			}
		}
		if ready >= 50 {
			break
		}
		time.Sleep(time.Second)
	}
	time.Sleep(15 * time.Second) // well into the churn phase
	api, ok := state.Process(local.APIServer)
	if !ok {
		t.Error("no kube-apiserver in state")
		return 0
	}
	if err := syscall.Kill(api.PID, syscall.SIGKILL); err != nil {
		t.Error(err)
		return 0
	}
	killed := time.Now()
	client := &http.Client{Timeout: time.Second, Transport: &http.Transport{TLSClientConfig: &tls.Config{InsecureSkipVerify: true}}}
	for time.Since(killed) < 2*time.Minute {
		// /readyz is open to anonymous clients; the test only needs up/down.
		resp, err := client.Get(state.APIServerURL + "/readyz")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return time.Since(killed)
			}
		}
		time.Sleep(200 * time.Millisecond)
	}
	t.Error("kube-apiserver did not come back within 2 minutes")
	return 0
}

func contains(xs []string, x string) bool {
	for _, v := range xs {
		if v == x {
			return true
		}
	}
	return false
}
