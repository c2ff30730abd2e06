package local

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"go.uber.org/zap/zaptest"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/utils/ptr"

	"github.com/churn-dev/churn/fakenodes"
)

const modulePath = "github.com/churn-dev/churn"

// repoBinDir finds bin/ of the churn module by walking up from the package
// directory to the go.mod that declares the module.
func repoBinDir(t *testing.T) string {
	t.Helper()
	dir, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	for {
		if f, err := os.Open(filepath.Join(dir, "go.mod")); err == nil {
			sc := bufio.NewScanner(f)
			module := ""
			if sc.Scan() {
				module = strings.TrimSpace(strings.TrimPrefix(sc.Text(), "module"))
			}
			f.Close()
			if module == modulePath {
				return filepath.Join(dir, "bin")
			}
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			t.Fatalf("no go.mod of %s above the test directory", modulePath)
		}
		dir = parent
	}
}

// requireBinaries skips the test when the control-plane binaries are not
// built, unless CHURN_REQUIRE_BINARIES=1 (CI), where it fails.
func requireBinaries(t *testing.T) string {
	t.Helper()
	bin := repoBinDir(t)
	if _, err := CheckBinaries(bin); err != nil {
		if os.Getenv("CHURN_REQUIRE_BINARIES") == "1" {
			t.Fatalf("CHURN_REQUIRE_BINARIES=1: %v", err)
		}
		t.Skipf("skipping local control-plane test: %v (set CHURN_REQUIRE_BINARIES=1 to fail instead)", err)
	}
	return bin
}

type testWriter struct{ t *testing.T }

func (w testWriter) Write(p []byte) (int, error) {
	w.t.Log(strings.TrimRight(string(p), "\n"))
	return len(p), nil
}

func TestIntegrationLocalControlPlane(t *testing.T) {
	bin := requireBinaries(t)
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	dir := filepath.Join(t.TempDir(), "cluster")

	c, err := Up(ctx, Options{
		Dir: dir, BinDir: bin, Logger: zaptest.NewLogger(t), Progress: testWriter{t},
		RestartAPIServer: true,
	})
	if err != nil {
		t.Fatalf("Up: %v", err)
	}
	stopped := false
	t.Cleanup(func() {
		if !stopped {
			_ = c.Stop(context.Background(), false)
		}
	})
	if st, err := os.Stat(c.Kubeconfig()); err != nil || st.Mode().Perm() != 0o600 {
		t.Fatalf("kubeconfig %s: %v mode %v", c.Kubeconfig(), err, st.Mode().Perm())
	}
	if !strings.HasPrefix(c.APIServerURL(), "https://127.0.0.1:") {
		t.Fatalf("API server URL %s is not loopback", c.APIServerURL())
	}
	if n := len(c.Processes()); n != 5 {
		t.Fatalf("%d processes running, want 5", n)
	}
	cs, err := kubernetes.NewForConfig(c.RESTConfig())
	if err != nil {
		t.Fatal(err)
	}

	t.Run("deployment on fake nodes", func(t *testing.T) {
		if _, err := fakenodes.Create(ctx, cs, fakenodes.Spec{Count: 5, QPS: 100}, testWriter{t}); err != nil {
			t.Fatalf("creating fake nodes: %v", err)
		}
		wctx, wcancel := context.WithTimeout(ctx, time.Minute)
		defer wcancel()
		if err := fakenodes.WaitReady(wctx, cs, fakenodes.LabelSelector, 5, testWriter{t}); err != nil {
			t.Fatal(err)
		}
		if err := runDeployment(ctx, cs, 20); err != nil {
			t.Fatal(err)
		}
	})

	t.Run("pod marked not Ready becomes Ready again", func(t *testing.T) {
		if err := markNotReadyAndWait(ctx, cs); err != nil {
			t.Fatal(err)
		}
	})

	t.Run("kube-apiserver killed and restarted", func(t *testing.T) {
		if err := c.Signal(APIServer, syscall.SIGKILL); err != nil {
			t.Fatal(err)
		}
		exited := waitEvent(t, c, EventExited, 20*time.Second)
		if exited.Name != APIServer || exited.ExitCode != 128+int(syscall.SIGKILL) {
			t.Fatalf("exited event = %+v, want kube-apiserver with exit code 137", exited)
		}
		restarted := waitEvent(t, c, EventRestarted, 20*time.Second)
		if restarted.Name != APIServer {
			t.Fatalf("restarted event = %+v", restarted)
		}
		// The restarted server serves again and the state file follows it.
		deadline := time.Now().Add(time.Minute)
		for {
			_, err := cs.CoreV1().Nodes().List(ctx, metav1.ListOptions{Limit: 1})
			if err == nil {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("restarted kube-apiserver not serving: %v", err)
			}
			time.Sleep(500 * time.Millisecond)
		}
		s, err := LoadState(dir)
		if err != nil {
			t.Fatal(err)
		}
		ps, _ := s.Process(APIServer)
		if !ps.Alive() {
			t.Fatalf("state file records a dead kube-apiserver: %+v", ps)
		}
	})

	// Injected faults: the killed process comes back after its downtime,
	// and the API server serves writes again once etcd is back.
	for _, name := range []string{Etcd, KWOK} {
		t.Run(name+" killed as a fault and restarted", func(t *testing.T) {
			if err := c.Kill(name, 2*time.Second, "integration test"); err != nil {
				t.Fatal(err)
			}
			fault := waitEvent(t, c, EventFault, 10*time.Second)
			if fault.Name != name || !strings.Contains(fault.Detail, "integration test") {
				t.Fatalf("fault event = %+v", fault)
			}
			exited := waitEvent(t, c, EventExited, 20*time.Second)
			if exited.Name != name || !strings.Contains(exited.Detail, "fault injection") {
				t.Fatalf("exited event = %+v, want %s killed by fault injection", exited, name)
			}
			restarted := waitEvent(t, c, EventRestarted, 20*time.Second)
			if restarted.Name != name {
				t.Fatalf("restarted event = %+v", restarted)
			}
			deadline := time.Now().Add(time.Minute)
			for {
				cm := &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{GenerateName: "after-fault-", Namespace: "default"}}
				_, err := cs.CoreV1().ConfigMaps("default").Create(ctx, cm, metav1.CreateOptions{})
				if err == nil {
					break
				}
				if time.Now().After(deadline) {
					t.Fatalf("no write served within a minute of restarting %s: %v", name, err)
				}
				time.Sleep(500 * time.Millisecond)
			}
			s, err := LoadState(dir)
			if err != nil {
				t.Fatal(err)
			}
			if ps, _ := s.Process(name); !ps.Alive() {
				t.Fatalf("state file records a dead %s: %+v", name, ps)
			}
		})
	}
	if err := c.Kill("no-such-process", time.Second, "test"); err == nil {
		t.Error("Kill of an unknown process must fail")
	}

	before := c.State()
	if err := c.Stop(ctx, false); err != nil {
		t.Fatalf("Stop: %v", err)
	}
	stopped = true
	for _, p := range before.Processes {
		if p.Alive() {
			t.Errorf("%s (pid %d) alive after Stop", p.Name, p.PID)
		}
	}
	if _, err := os.Stat(filepath.Join(dir, "data")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("data directory still there after Stop: %v", err)
	}
	if _, err := LoadState(dir); !errors.Is(err, ErrNoState) {
		t.Errorf("state file still there after Stop: %v", err)
	}
	for range c.Events() {
		// Drain: Events must be closed by Stop or this never ends.
	}
}

func waitEvent(t *testing.T, c *Cluster, kind string, timeout time.Duration) ProcessEvent {
	t.Helper()
	timer := time.NewTimer(timeout)
	defer timer.Stop()
	for {
		select {
		case ev := <-c.Events():
			t.Logf("event: %+v", ev)
			if ev.Kind == kind {
				return ev
			}
		case <-timer.C:
			t.Fatalf("no %q event within %s", kind, timeout)
		}
	}
}

// runDeployment creates a Deployment pinned to fake nodes and waits until
// all its pods are Running and Ready.
func runDeployment(ctx context.Context, cs kubernetes.Interface, replicas int32) error {
	labels := map[string]string{"app": "churn-it"}
	d := &appsv1.Deployment{
		ObjectMeta: metav1.ObjectMeta{Name: "churn-it", Namespace: "default"},
		Spec: appsv1.DeploymentSpec{
			Replicas: ptr.To(replicas),
			Selector: &metav1.LabelSelector{MatchLabels: labels},
			Template: corev1.PodTemplateSpec{
				ObjectMeta: metav1.ObjectMeta{Labels: labels},
				Spec: corev1.PodSpec{
					NodeSelector: fakenodes.NodeSelector(),
					Tolerations:  []corev1.Toleration{fakenodes.Toleration()},
					Containers:   []corev1.Container{{Name: "app", Image: "fake.invalid/app:1"}},
				},
			},
		},
	}
	if _, err := cs.AppsV1().Deployments("default").Create(ctx, d, metav1.CreateOptions{}); err != nil {
		return fmt.Errorf("creating deployment: %w", err)
	}
	deadline := time.Now().Add(90 * time.Second)
	var last string
	for time.Now().Before(deadline) {
		pods, err := cs.CoreV1().Pods("default").List(ctx, metav1.ListOptions{LabelSelector: "app=churn-it"})
		if err != nil {
			last = err.Error()
		} else {
			ready, nodes := 0, map[string]bool{}
			for _, p := range pods.Items {
				if p.Status.Phase == corev1.PodRunning && podReady(&p) && strings.HasPrefix(p.Status.PodIP, "10.128.") &&
					strings.HasPrefix(p.Status.HostIP, "10.64.") {
					ready++
					nodes[p.Spec.NodeName] = true
				}
			}
			if ready == int(replicas) {
				if len(nodes) < 2 {
					return fmt.Errorf("all %d pods landed on %d node(s); the scheduler should spread them", replicas, len(nodes))
				}
				return nil
			}
			last = fmt.Sprintf("%d of %d pods exist, %d Running and Ready with pod and host IPs of their node", len(pods.Items), replicas, ready)
		}
		time.Sleep(500 * time.Millisecond)
	}
	return fmt.Errorf("deployment not ready in time: %s", last)
}

// markNotReadyAndWait sets one Running pod's Ready condition to False, as
// the node lifecycle controller does to every pod of a node whose lease ran
// out, and waits for kwok to report it Ready again, as kubelet would, with
// the pod keeping its IP (the start stage, which hands out a new one, must
// not play again).
func markNotReadyAndWait(ctx context.Context, cs kubernetes.Interface) error {
	pods, err := cs.CoreV1().Pods("default").List(ctx, metav1.ListOptions{LabelSelector: "app=churn-it"})
	if err != nil || len(pods.Items) == 0 {
		return fmt.Errorf("listing the deployment's pods: %d pods, %v", len(pods.Items), err)
	}
	p := pods.Items[0].DeepCopy()
	for i := range p.Status.Conditions {
		if p.Status.Conditions[i].Type == corev1.PodReady {
			p.Status.Conditions[i].Status = corev1.ConditionFalse
			p.Status.Conditions[i].Reason = "NodeNotReady"
		}
	}
	if _, err := cs.CoreV1().Pods("default").UpdateStatus(ctx, p, metav1.UpdateOptions{}); err != nil {
		return fmt.Errorf("marking %s not Ready: %w", p.Name, err)
	}
	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) {
		got, err := cs.CoreV1().Pods("default").Get(ctx, p.Name, metav1.GetOptions{})
		if err == nil && podReady(got) && got.Status.Phase == corev1.PodRunning && got.Status.PodIP == p.Status.PodIP {
			return nil
		}
		time.Sleep(200 * time.Millisecond)
	}
	return fmt.Errorf("pod %s still not Ready 30s after being marked not Ready", p.Name)
}

func podReady(p *corev1.Pod) bool {
	for _, c := range p.Status.Conditions {
		if c.Type == corev1.PodReady {
			return c.Status == corev1.ConditionTrue
		}
	}
	return false
}

func TestIntegrationAPIServerMemoryCap(t *testing.T) {
	bin := requireBinaries(t)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	// kube-apiserver uses a few hundred MiB at start; 64 MiB is exceeded at
	// once, as soon as supervision begins (after Up).
	c, err := Up(ctx, Options{
		Dir: filepath.Join(t.TempDir(), "cluster"), BinDir: bin, Logger: zaptest.NewLogger(t),
		APIServerMemoryLimitBytes: 64 << 20,
	})
	if err != nil {
		t.Fatalf("Up: %v", err)
	}
	defer func() {
		if err := c.Stop(context.Background(), false); err != nil {
			t.Errorf("Stop: %v", err)
		}
	}()
	oom := waitEvent(t, c, EventOOMKilled, 20*time.Second)
	if oom.Name != APIServer || !strings.Contains(oom.Detail, "above cap 64 MiB") {
		t.Fatalf("oom event = %+v", oom)
	}
	exited := waitEvent(t, c, EventExited, 20*time.Second)
	if exited.Name != APIServer || !strings.Contains(exited.Detail, "memory cap") {
		t.Fatalf("exited event = %+v", exited)
	}
	for _, p := range c.Processes() {
		if p.Name == APIServer {
			t.Fatalf("kube-apiserver still listed after the memory cap killed it (restart is off)")
		}
	}
}
