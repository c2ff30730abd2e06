package cli

import (
	"bytes"
	"context"
	"crypto/tls"
	"encoding/json"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"go.uber.org/zap/zaptest"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"

	"github.com/churn-dev/churn/deploy/local"
	"github.com/churn-dev/churn/fakenodes"
	"github.com/churn-dev/churn/internal/testenv"
	"github.com/churn-dev/churn/report"
	"github.com/churn-dev/churn/results"
	"github.com/churn-dev/churn/runner"
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
	if h := r.NodeHealth; h == nil || h.Nodes != 5 || h.IncidentsTotal != 0 {
		t.Errorf("node health: %+v, want 5 fake nodes watched without an incident", h)
	}
	if r.Validity == nil || !slices.ContainsFunc(r.Validity.Checks, func(c results.ValidityCheck) bool {
		return c.Name == runner.CheckFakeNodes && c.Status == results.ValidityOK
	}) {
		t.Errorf("validity: %+v, want %s ok", r.Validity, runner.CheckFakeNodes)
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

// A run against a kubeconfig (the local cluster standing in for a remote
// one) creates only labelled objects, removes them all, and leaves what was
// there before untouched.
func TestIntegrationRunOnKubeconfigLeavesOthersUntouched(t *testing.T) {
	bin := testenv.RequireBinaries(t)
	dir := t.TempDir()
	ctx := context.Background()
	cluster := testenv.StartCluster(ctx, t, local.Options{Dir: filepath.Join(dir, "cluster"), BinDir: bin})
	cs := kubernetes.NewForConfigOrDie(cluster.RESTConfig())

	// Pre-existing objects of someone else: a namespace with a config map,
	// and a fake node.
	if _, err := fakenodes.Create(ctx, cs, fakenodes.Spec{Count: 1, Prefix: "theirs-"}, nil); err != nil {
		t.Fatal(err)
	}
	ns, err := cs.CoreV1().Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "theirs"}}, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	cm, err := cs.CoreV1().ConfigMaps("theirs").Create(ctx, &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: "keep"}}, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}

	out := filepath.Join(dir, "out")
	code, output := runChurn(t, ctx, "run", "--kubeconfig", cluster.Kubeconfig(), "--allow-remote",
		"--profile", "smoke", "--duration", "15s", "--out", out)
	if code != ExitOK {
		t.Fatalf("exit %d, want 0", code)
	}
	if !strings.Contains(output, "will create: 5 fake nodes") {
		t.Errorf("no plan printed before creating:\n%s", output)
	}
	r, err := results.Read(out)
	if err != nil {
		t.Fatal(err)
	}
	if r.Target.Kind != "kubeconfig" {
		t.Errorf("target kind %q, want kubeconfig", r.Target.Kind)
	}

	// Theirs: untouched (same resourceVersion).
	if got, err := cs.CoreV1().Namespaces().Get(ctx, "theirs", metav1.GetOptions{}); err != nil || got.ResourceVersion != ns.ResourceVersion {
		t.Errorf("namespace theirs changed or gone: %v", err)
	}
	if got, err := cs.CoreV1().ConfigMaps("theirs").Get(ctx, "keep", metav1.GetOptions{}); err != nil || got.ResourceVersion != cm.ResourceVersion {
		t.Errorf("config map theirs/keep changed or gone: %v", err)
	}
	if _, err := cs.CoreV1().Nodes().Get(ctx, "theirs-0", metav1.GetOptions{}); err != nil {
		t.Errorf("node theirs-0 gone: %v", err)
	}
	// Ours: nothing left.
	sel := metav1.ListOptions{LabelSelector: "churn.dev/run=" + r.RunID}
	nsl, err := cs.CoreV1().Namespaces().List(ctx, sel)
	if err != nil || len(nsl.Items) > 0 {
		t.Errorf("run namespaces left: %v %d", err, len(nsl.Items))
	}
	nl, err := cs.CoreV1().Nodes().List(ctx, sel)
	if err != nil || len(nl.Items) > 0 {
		t.Errorf("run nodes left: %v %d", err, len(nl.Items))
	}
}

// Two arms of the same smoke profile, with and without a mesh, each on its
// own control plane: both run, and the side-by-side files hold both.
func TestIntegrationCompareArms(t *testing.T) {
	bin := testenv.RequireBinaries(t)
	dir := t.TempDir()
	out := filepath.Join(dir, "out")
	code, stdout := runChurn(t, context.Background(), "compare", "--profile", "smoke", "--mesh", "none,istio-ambient",
		"--duration", "20s", "--bin-dir", bin, "--out", out, "--dir", filepath.Join(dir, "clusters"))
	if code != ExitOK && code != ExitSLOBreached && code != ExitInconclusive {
		t.Fatalf("exit %d, want 0, 2 or 3", code)
	}
	raw, err := os.ReadFile(filepath.Join(out, report.ArmsJSONFile))
	if err != nil {
		t.Fatal(err)
	}
	var c report.ArmsComparison
	if err := json.Unmarshal(raw, &c); err != nil {
		t.Fatal(err)
	}
	// An inconclusive arm's breaches do not count towards exit status 2.
	breached, inconclusive := false, false
	for i, want := range []string{"none", "istio-ambient"} {
		a := c.Arms[i]
		if a.Name != want || a.Error != "" || a.Run.RunID == "" || a.Run.Mesh != want {
			t.Errorf("arm %d: %+v, want %s with results", i, a, want)
		}
		r, err := results.Read(a.Dir)
		if err != nil {
			t.Fatalf("arm %s: %v", want, err)
		}
		if r.Churn == nil || r.Churn.Scale.Succeeded < 15 {
			t.Errorf("arm %s churned %+v, want >= 15 scale actions", want, r.Churn)
		}
		breached = breached || (!r.Verdict.Inconclusive && len(r.Verdict.Breached) > 0)
		inconclusive = inconclusive || r.Verdict.Inconclusive
	}
	if (code == ExitSLOBreached) != breached || (code == ExitInconclusive) != (inconclusive && !breached) {
		t.Errorf("exit %d, but a conclusive arm breached: %v, an arm was inconclusive: %v", code, breached, inconclusive)
	}
	if c.Arms[0].Run.Seed != c.Arms[1].Run.Seed || len(c.Warnings) > 0 {
		t.Errorf("arms not like for like: seeds %d/%d, warnings %v", c.Arms[0].Run.Seed, c.Arms[1].Run.Seed, c.Warnings)
	}
	if !strings.Contains(stdout, "kube-apiserver CPU, whole run") || !strings.Contains(stdout, "ISTIO-AMBIENT") {
		t.Errorf("no side-by-side table in the output")
	}
	if st, err := os.Stat(filepath.Join(out, report.ArmsHTMLFile)); err != nil || st.Size() == 0 {
		t.Errorf("%s: %v", report.ArmsHTMLFile, err)
	}
}

// --fault etcd-kill kills etcd mid-churn and starts it again: the run
// records the fault and the process events, and still completes.
func TestIntegrationRunEtcdFault(t *testing.T) {
	bin := testenv.RequireBinaries(t)
	dir := t.TempDir()
	outDir := filepath.Join(dir, "out")
	code, out := runChurn(t, context.Background(), "run", "--profile", "smoke", "--bin-dir", bin, "--duration", "40s",
		"--dir", filepath.Join(dir, "cluster"), "--out", outDir, "--fault", "etcd-kill@10s+5s")
	if code != ExitOK && code != ExitSLOBreached {
		t.Fatalf("exit %d, want a completed run (0 or 2)", code)
	}
	r, err := results.Read(outDir)
	if err != nil {
		t.Fatal(err)
	}
	if len(r.Disruptions) != 1 || r.Disruptions[0].Error != "" || len(r.Disruptions[0].Steps) != 1 ||
		r.Disruptions[0].Steps[0].Targets[0] != local.Etcd || r.Disruptions[0].Steps[0].Ready.IsZero() {
		t.Fatalf("disruptions = %+v, want etcd killed once and ready again", r.Disruptions)
	}
	if r.Availability == nil {
		t.Fatal("no availability summary")
	}
	kinds := map[string]bool{}
	for _, e := range r.Availability.Events {
		if e.Name == local.Etcd {
			kinds[e.Kind] = true
		}
	}
	for _, k := range []string{local.EventFault, local.EventExited, local.EventRestarted} {
		if !kinds[k] {
			t.Errorf("no etcd %s event: %+v", k, r.Availability.Events)
		}
	}
	if !strings.Contains(out, "Disruptions (times from the start of churn):") || !strings.Contains(out, "fault etcd-kill@10s+5s: +10s to") ||
		!strings.Contains(out, "kill etcd, start it again 5s later") {
		t.Errorf("summary lacks the fault")
	}
	if r.Churn == nil || r.Churn.Succeeded == 0 {
		t.Errorf("churn did not go on after etcd came back: %+v", r.Churn)
	}
}
