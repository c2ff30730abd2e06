package kwok_test

import (
	"context"
	"io"
	"strings"
	"testing"
	"time"

	"go.uber.org/zap/zaptest"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"

	"github.com/churn-dev/churn/churn"
	"github.com/churn-dev/churn/deploy/kwok"
	"github.com/churn-dev/churn/deploy/local"
	"github.com/churn-dev/churn/deploy/manifests"
	"github.com/churn-dev/churn/fakenodes"
	"github.com/churn-dev/churn/internal/testenv"
	"github.com/churn-dev/churn/observers"
	"github.com/churn-dev/churn/profiles"
	"github.com/churn-dev/churn/runner"
)

// churn run --kwok install on a cluster: kwok is installed before the fake
// nodes, waited for, and removed after the run's own teardown, leaving
// what was there before. The local control plane has no node a container
// could run on, so the installed controller's pod is placed on a stand-in
// node that the local kwok keeps Ready (and plays the pod of); the local
// kwok also keeps the run's fake nodes alive.
func TestIntegrationRunInstallsAndRemovesKWOK(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 6*time.Minute)
	defer cancel()
	c := testenv.StartCluster(ctx, t, local.Options{})
	cs, err := kubernetes.NewForConfig(c.RESTConfig())
	if err != nil {
		t.Fatal(err)
	}
	host := &corev1.Node{ObjectMeta: metav1.ObjectMeta{
		Name:        "kwok-host",
		Annotations: map[string]string{fakenodes.KWOKAnnotationKey: fakenodes.KWOKAnnotationValue},
	}, Spec: corev1.NodeSpec{PodCIDR: "10.98.0.0/24"}}
	if _, err := cs.CoreV1().Nodes().Create(ctx, host, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	bystander := &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: "bystander", Namespace: kwok.DefaultNamespace}}
	if _, err := cs.CoreV1().ConfigMaps(kwok.DefaultNamespace).Create(ctx, bystander, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}

	d, nodes := 5*time.Second, 2
	p, err := profiles.Resolve("smoke", profiles.Overrides{Duration: &d, Nodes: &nodes}, observers.Known)
	if err != nil {
		t.Fatal(err)
	}
	progress := &testenv.SyncBuffer{}
	outcome, err := runner.Run(ctx, runner.Options{
		Profile:    p,
		Kubeconfig: c.Kubeconfig(),
		KWOK:       runner.KWOKInstall,
		OutDir:     t.TempDir(),
		Logger:     zaptest.NewLogger(t),
		Progress:   io.MultiWriter(progress, testenv.LogWriter(t)),
	})
	if err != nil {
		t.Fatalf("run with --kwok install: %v", err)
	}
	out := progress.String()
	for _, want := range []string{"will install the kwok controller in kube-system", "kwok controller available", "removed the kwok controller"} {
		if !strings.Contains(out, want) {
			t.Errorf("progress lacks %q", want)
		}
	}
	// Installed before the fake nodes were created, removed after the
	// run's objects were deleted.
	if i, j := strings.Index(out, "kwok controller available"), strings.Index(out, "nodes created"); i < 0 || j < 0 || i > j {
		t.Errorf("kwok was not available before the fake nodes were created:\n%s", out)
	}
	if i, j := strings.Index(out, "removed the kwok controller"), strings.Index(out, "teardown: fake nodes done"); i < 0 || j < 0 || i < j {
		t.Errorf("kwok was removed before the run's teardown finished:\n%s", out)
	}
	if outcome.Result.Setup == nil || outcome.Result.Churn == nil {
		t.Fatalf("run did not set up and churn: %+v", outcome.Result)
	}

	a, err := manifests.NewApplier(c.RESTConfig())
	if err != nil {
		t.Fatal(err)
	}
	objs, err := kwok.Objects(kwok.DefaultNamespace, kwok.RunLabels(outcome.Result.RunID))
	if err != nil {
		t.Fatal(err)
	}
	for _, o := range objs {
		cl, err := a.Client(o)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := cl.Get(ctx, o.GetName(), metav1.GetOptions{}); !apierrors.IsNotFound(err) {
			t.Errorf("%s %s left after the run: %v", o.GetKind(), manifests.Name(o), err)
		}
	}
	if _, err := cs.CoreV1().ConfigMaps(kwok.DefaultNamespace).Get(ctx, "bystander", metav1.GetOptions{}); err != nil {
		t.Errorf("a ConfigMap that was there before is gone: %v", err)
	}
	if _, err := cs.CoreV1().Nodes().Get(ctx, host.Name, metav1.GetOptions{}); err != nil {
		t.Errorf("a node that was there before is gone: %v", err)
	}
	left, err := cs.CoreV1().Nodes().List(ctx, metav1.ListOptions{LabelSelector: churn.RunSelector(outcome.Result.RunID)})
	if err != nil {
		t.Fatal(err)
	}
	if len(left.Items) > 0 {
		t.Errorf("%d fake nodes of the run left", len(left.Items))
	}
}
