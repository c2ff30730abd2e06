package cli

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"

	"github.com/churn-dev/churn/churn"
	"github.com/churn-dev/churn/deploy/local"
	"github.com/churn-dev/churn/fakenodes"
	"github.com/churn-dev/churn/internal/testenv"
)

// churn cleanup finds a run's leftovers by its label and removes them, and
// nothing else.
func TestIntegrationCleanupRemovesOnlyTheRun(t *testing.T) {
	ctx := context.Background()
	c := testenv.StartCluster(ctx, t, local.Options{})
	cs := kubernetes.NewForConfigOrDie(c.RESTConfig())
	const run = "20261203-000000-dead"
	for _, ns := range []*corev1.Namespace{
		{ObjectMeta: metav1.ObjectMeta{Name: "left-1", Labels: churn.RunLabels(run)}},
		{ObjectMeta: metav1.ObjectMeta{Name: "left-2", Labels: churn.RunLabels(run)}},
		{ObjectMeta: metav1.ObjectMeta{Name: "theirs", Labels: churn.RunLabels("another-run")}},
		{ObjectMeta: metav1.ObjectMeta{Name: "unlabelled"}},
	} {
		if _, err := cs.CoreV1().Namespaces().Create(ctx, ns, metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := fakenodes.Create(ctx, cs, fakenodes.Spec{Count: 3, Prefix: "left-node-", Labels: churn.RunLabels(run)}, nil); err != nil {
		t.Fatal(err)
	}

	code, out := runChurn(t, ctx, "cleanup", "--kubeconfig", c.Kubeconfig(), "--list")
	if code != 0 || !strings.Contains(out, run) || !strings.Contains(out, "another-run") {
		t.Fatalf("cleanup --list: exit %d, want both runs listed", code)
	}
	code, out = runChurn(t, ctx, "cleanup", "--kubeconfig", c.Kubeconfig(), "--run", run)
	if code != 0 {
		t.Fatalf("cleanup --run: exit %d", code)
	}
	for _, want := range []string{"teardown: deleting 2 namespaces", "teardown: workload namespaces done", "teardown: fake nodes done"} {
		if !strings.Contains(out, want) {
			t.Errorf("progress lacks %q", want)
		}
	}
	for name, wantGone := range map[string]bool{"left-1": true, "left-2": true, "theirs": false, "unlabelled": false} {
		_, err := cs.CoreV1().Namespaces().Get(ctx, name, metav1.GetOptions{})
		if gone := apierrors.IsNotFound(err); gone != wantGone {
			t.Errorf("namespace %s gone = %v, want %v (err %v)", name, gone, wantGone, err)
		}
	}
	nodes, err := cs.CoreV1().Nodes().List(ctx, metav1.ListOptions{LabelSelector: churn.RunSelector(run)})
	if err != nil || len(nodes.Items) != 0 {
		t.Errorf("fake nodes of the run left: %v, %v", len(nodes.Items), err)
	}
	if code, _ := runChurn(t, ctx, "cleanup", "--kubeconfig", c.Kubeconfig()); code != ExitFailure {
		t.Errorf("cleanup without --run or --list: exit %d, want %d", code, ExitFailure)
	}
}

// TestHelperChurnProcess is not a test: TestIntegrationKilledRun runs the
// test binary as churn through it, so that churn can be SIGKILLed.
func TestHelperChurnProcess(t *testing.T) {
	args := os.Getenv("CHURN_HELPER_ARGS")
	if args == "" {
		t.Skip("helper process for TestIntegrationKilledRun")
	}
	code, _ := runChurn(t, context.Background(), strings.Fields(args)...)
	os.Exit(code)
}

// A SIGKILLed churn takes its control plane with it (Pdeathsig) and leaves
// its cluster directory, which churn gc then removes, logs aside.
func TestIntegrationKilledRunLeavesWhatGCRemoves(t *testing.T) {
	bin := testenv.RequireBinaries(t)
	root := t.TempDir()
	runs := filepath.Join(root, "runs")
	dir := filepath.Join(runs, "killed")
	child := exec.Command(os.Args[0], "-test.run=^TestHelperChurnProcess$")
	child.Env = append(os.Environ(), "CHURN_HELPER_ARGS=run --profile smoke --duration 60s --bin-dir "+bin+
		" --dir "+dir+" --out "+filepath.Join(root, "out"))
	child.Stdout, child.Stderr = testenv.LogWriter(t), testenv.LogWriter(t)
	if err := child.Start(); err != nil {
		t.Fatal(err)
	}
	var state *local.State
	deadline := time.Now().Add(2 * time.Minute)
	for state == nil && time.Now().Before(deadline) {
		if s, err := local.LoadState(dir); err == nil && len(s.Processes) == 5 {
			state = s
		}
		time.Sleep(200 * time.Millisecond)
	}
	if state == nil {
		_ = child.Process.Kill()
		t.Fatal("the run's control plane never came up")
	}
	if err := child.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	_ = child.Wait()
	deadline = time.Now().Add(30 * time.Second)
	for state.AnyAlive() && time.Now().Before(deadline) {
		time.Sleep(200 * time.Millisecond)
	}
	if state.AnyAlive() {
		t.Fatal("control-plane processes outlived their SIGKILLed churn")
	}
	if _, err := os.Stat(filepath.Join(dir, "data")); err != nil {
		t.Fatalf("the killed run left no data to collect: %v", err)
	}

	code, out := runChurn(t, context.Background(), "gc", "--root", runs)
	if code != 0 || !strings.Contains(out, dir+": removed (logs kept)") {
		t.Fatalf("gc: exit %d, want %s removed", code, dir)
	}
	for _, gone := range []string{"data", "pki", "state.json", "admin.kubeconfig"} {
		if _, err := os.Stat(filepath.Join(dir, gone)); err == nil {
			t.Errorf("%s survived gc", gone)
		}
	}
	if _, err := os.Stat(filepath.Join(dir, "logs", "kube-apiserver.log")); err != nil {
		t.Errorf("gc removed the logs without --logs: %v", err)
	}
}
