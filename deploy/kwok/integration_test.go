package kwok_test

import (
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"

	"github.com/churn-dev/churn/deploy/kwok"
	"github.com/churn-dev/churn/deploy/local"
	"github.com/churn-dev/churn/deploy/manifests"
	"github.com/churn-dev/churn/deploy/manifests/manifeststest"
	"github.com/churn-dev/churn/internal/testenv"
)

// testAnnotation selects the node of the kwok this test runs, so the
// local control plane's own kwok (which manages kwok.x-k8s.io/node=fake)
// leaves it alone.
const testAnnotation = "churn.dev/kwok-rbac-test"

// Install puts the base into a cluster with the run's labels, the
// controller works with exactly the rights the base gives it (the real
// kwok binary, run as the base's ServiceAccount, brings a node and a pod
// through the stages without one 403), and Uninstall removes exactly what
// Install created.
func TestIntegrationInstallRunUninstall(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	bin := testenv.RequireBinaries(t)
	c := testenv.StartCluster(ctx, t, local.Options{BinDir: bin})
	admin := c.RESTConfig()
	cs, err := kubernetes.NewForConfig(admin)
	if err != nil {
		t.Fatal(err)
	}
	bystander := &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: "bystander", Namespace: kwok.DefaultNamespace}}
	if _, err := cs.CoreV1().ConfigMaps(kwok.DefaultNamespace).Create(ctx, bystander, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}

	labels := kwok.RunLabels("it-run")
	if err := kwok.Install(ctx, admin, kwok.DefaultNamespace, labels); err != nil {
		t.Fatalf("Install: %v", err)
	}
	a, err := manifests.NewApplier(admin)
	if err != nil {
		t.Fatal(err)
	}
	objs, err := kwok.Objects(kwok.DefaultNamespace, labels)
	if err != nil {
		t.Fatal(err)
	}
	for _, o := range objs {
		cl, err := a.Client(o)
		if err != nil {
			t.Fatal(err)
		}
		got, err := cl.Get(ctx, o.GetName(), metav1.GetOptions{})
		if err != nil {
			t.Fatalf("%s %s not installed: %v", o.GetKind(), manifests.Name(o), err)
		}
		if got.GetLabels()[kwok.LabelRun] != "it-run" {
			t.Errorf("%s %s lacks the run label: %v", o.GetKind(), got.GetName(), got.GetLabels())
		}
		managers := []string{}
		for _, f := range got.GetManagedFields() {
			managers = append(managers, f.Manager)
		}
		if !slices.Contains(managers, kwok.FieldManager) {
			t.Errorf("%s %s managed by %v, want %s", o.GetKind(), got.GetName(), managers, kwok.FieldManager)
		}
	}
	if err := kwok.Install(ctx, admin, kwok.DefaultNamespace, labels); err != nil {
		t.Fatalf("installing again with the same labels: %v", err)
	}

	t.Run("controller works with the base's rights", func(t *testing.T) {
		runControllerAsItsServiceAccount(ctx, t, bin, admin, cs, objs)
	})

	if err := kwok.Uninstall(ctx, admin, kwok.DefaultNamespace, labels); err != nil {
		t.Fatalf("Uninstall: %v", err)
	}
	for _, o := range objs {
		cl, _ := a.Client(o)
		if _, err := cl.Get(ctx, o.GetName(), metav1.GetOptions{}); !apierrors.IsNotFound(err) {
			t.Errorf("%s %s left after Uninstall: %v", o.GetKind(), manifests.Name(o), err)
		}
	}
	if _, err := cs.CoreV1().ConfigMaps(kwok.DefaultNamespace).Get(ctx, "bystander", metav1.GetOptions{}); err != nil {
		t.Errorf("Uninstall touched a ConfigMap it did not create: %v", err)
	}

	t.Run("refuses a kwok it did not install", func(t *testing.T) {
		theirs := &rbacv1.ClusterRole{ObjectMeta: metav1.ObjectMeta{Name: kwok.DeploymentName}}
		if _, err := cs.RbacV1().ClusterRoles().Create(ctx, theirs, metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
		err := kwok.Install(ctx, admin, kwok.DefaultNamespace, labels)
		if !errors.Is(err, kwok.ErrNotOurs) {
			t.Fatalf("Install over someone's ClusterRole: %v, want ErrNotOurs", err)
		}
		if _, err := cs.AppsV1().Deployments(kwok.DefaultNamespace).Get(ctx, kwok.DeploymentName, metav1.GetOptions{}); !apierrors.IsNotFound(err) {
			t.Errorf("the refused Install created its Deployment: %v", err)
		}
		if err := kwok.Uninstall(ctx, admin, kwok.DefaultNamespace, labels); err != nil {
			t.Fatal(err)
		}
		if _, err := cs.RbacV1().ClusterRoles().Get(ctx, kwok.DeploymentName, metav1.GetOptions{}); err != nil {
			t.Errorf("Uninstall deleted someone's ClusterRole: %v", err)
		}
	})
}

// runControllerAsItsServiceAccount runs the kwok binary with the
// Deployment's arguments and the ServiceAccount's token, on a node of its
// own, and checks that the stages and the lease work and nothing was
// refused.
func runControllerAsItsServiceAccount(ctx context.Context, t *testing.T, bin string, admin *rest.Config, cs kubernetes.Interface, objs []*unstructured.Unstructured) {
	var d appsv1.Deployment
	for _, o := range objs {
		if o.GetKind() == "Deployment" && o.GetName() == kwok.DeploymentName {
			if err := runtime.DefaultUnstructuredConverter.FromUnstructured(o.Object, &d); err != nil {
				t.Fatal(err)
			}
		}
	}
	if len(d.Spec.Template.Spec.Containers) != 1 {
		t.Fatalf("kwok Deployment %q has %d containers, want 1", d.Name, len(d.Spec.Template.Spec.Containers))
	}
	dir := t.TempDir()
	sa, err := manifeststest.ServiceAccountConfig(ctx, admin, d.Namespace, d.Spec.Template.Spec.ServiceAccountName)
	if err != nil {
		t.Fatal(err)
	}
	proxy, err := manifeststest.NewDenialProxy(admin)
	if err != nil {
		t.Fatal(err)
	}
	defer proxy.Close()
	kubeconfig := filepath.Join(dir, "kwok.kubeconfig")
	if err := manifeststest.WriteKubeconfig(kubeconfig, proxy.Config(sa.BearerToken)); err != nil {
		t.Fatal(err)
	}
	config, err := kwok.Config()
	if err != nil {
		t.Fatal(err)
	}
	configFile := filepath.Join(dir, "kwok.yaml")
	if err := os.WriteFile(configFile, config, 0o600); err != nil {
		t.Fatal(err)
	}

	// The Deployment's own flags, with the config file, the node selector
	// and the server address of this test.
	args := []string{"--kubeconfig=" + kubeconfig}
	replaced := map[string]bool{}
	for _, a := range d.Spec.Template.Spec.Containers[0].Args {
		name, _, _ := strings.Cut(a, "=")
		replaced[name] = true
		switch name {
		case "--config":
			a = name + "=" + configFile
		case "--manage-nodes-with-annotation-selector":
			a = name + "=" + testAnnotation + "=true"
		case "--server-address":
			continue
		}
		args = append(args, a)
	}
	for _, want := range []string{"--config", "--manage-nodes-with-annotation-selector", "--server-address"} {
		if !replaced[want] {
			t.Fatalf("the Deployment's args %v lack %s", d.Spec.Template.Spec.Containers[0].Args, want)
		}
	}
	logPath := filepath.Join(dir, "kwok.log")
	logFile, err := os.Create(logPath)
	if err != nil {
		t.Fatal(err)
	}
	defer logFile.Close()
	kctx, stop := context.WithCancel(ctx)
	cmd := exec.CommandContext(kctx, filepath.Join(bin, local.KWOK), args...)
	cmd.Env = append(os.Environ(), "KWOK_WORKDIR="+filepath.Join(dir, "workdir"))
	cmd.Stdout, cmd.Stderr = logFile, logFile
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() {
		stop()
		_ = cmd.Wait()
		if t.Failed() {
			b, _ := os.ReadFile(logPath)
			t.Logf("kwok log:\n%s", b)
		}
	}()

	node := &corev1.Node{
		ObjectMeta: metav1.ObjectMeta{Name: "kwok-rbac-test", Annotations: map[string]string{testAnnotation: "true"}},
		Spec:       corev1.NodeSpec{PodCIDR: "10.99.0.0/24"},
	}
	if _, err := cs.CoreV1().Nodes().Create(ctx, node, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	defer func() { _ = cs.CoreV1().Nodes().Delete(context.WithoutCancel(ctx), node.Name, metav1.DeleteOptions{}) }()
	poll(ctx, t, "node Ready", func() (bool, error) {
		n, err := cs.CoreV1().Nodes().Get(ctx, node.Name, metav1.GetOptions{})
		if err != nil {
			return false, err
		}
		for _, c := range n.Status.Conditions {
			if c.Type == corev1.NodeReady {
				return c.Status == corev1.ConditionTrue, nil
			}
		}
		return false, nil
	})
	// The lease is created, then renewed (every quarter of
	// --node-lease-duration-seconds): both need their own right.
	var created time.Time
	poll(ctx, t, "node lease", func() (bool, error) {
		l, err := cs.CoordinationV1().Leases(corev1.NamespaceNodeLease).Get(ctx, node.Name, metav1.GetOptions{})
		if apierrors.IsNotFound(err) {
			return false, nil
		}
		if err != nil || l.Spec.RenewTime == nil {
			return false, err
		}
		created = l.Spec.RenewTime.Time
		return true, nil
	})
	poll(ctx, t, "node lease renewed", func() (bool, error) {
		l, err := cs.CoordinationV1().Leases(corev1.NamespaceNodeLease).Get(ctx, node.Name, metav1.GetOptions{})
		if err != nil {
			return false, err
		}
		return l.Spec.RenewTime != nil && l.Spec.RenewTime.After(created), nil
	})

	pod := &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: "kwok-rbac-test", Namespace: "default"},
		Spec: corev1.PodSpec{
			NodeName:   node.Name,
			Containers: []corev1.Container{{Name: "c", Image: "registry.k8s.io/pause:3.10"}},
		},
	}
	if _, err := cs.CoreV1().Pods("default").Create(ctx, pod, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	poll(ctx, t, "pod Running and Ready", func() (bool, error) {
		p, err := cs.CoreV1().Pods("default").Get(ctx, pod.Name, metav1.GetOptions{})
		if err != nil {
			return false, err
		}
		for _, c := range p.Status.Conditions {
			if c.Type == corev1.PodReady && c.Status == corev1.ConditionTrue {
				return p.Status.Phase == corev1.PodRunning && p.Status.PodIP != "", nil
			}
		}
		return false, nil
	})
	// A graceful delete completes only when kwok plays the delete stage.
	if err := cs.CoreV1().Pods("default").Delete(ctx, pod.Name, metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	poll(ctx, t, "pod deleted", func() (bool, error) {
		_, err := cs.CoreV1().Pods("default").Get(ctx, pod.Name, metav1.GetOptions{})
		if apierrors.IsNotFound(err) {
			return true, nil
		}
		return false, err
	})

	if cmd.ProcessState != nil {
		t.Fatalf("kwok exited: %v", cmd.ProcessState)
	}
	for _, d := range proxy.Denials() {
		t.Errorf("refused: %s", d)
	}
	if b, _ := os.ReadFile(logPath); strings.Contains(strings.ToLower(string(b)), "forbidden") {
		t.Errorf("kwok logged a forbidden request")
	}
}

func poll(ctx context.Context, t *testing.T, what string, cond func() (bool, error)) {
	t.Helper()
	err := wait.PollUntilContextTimeout(ctx, 250*time.Millisecond, 2*time.Minute, true, func(context.Context) (bool, error) {
		return cond()
	})
	if err != nil {
		t.Fatalf("waiting for %s: %v", what, err)
	}
}
