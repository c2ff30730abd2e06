package manifests_test

import (
	"context"
	"testing"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/util/wait"

	"github.com/churn-dev/churn/deploy/local"
	"github.com/churn-dev/churn/deploy/manifests"
	"github.com/churn-dev/churn/internal/testenv"
)

const testFieldManager = "churn-manifests-test"

// startCluster starts churn's local control plane for the test.
func startCluster(ctx context.Context, t *testing.T) *local.Cluster {
	t.Helper()
	return testenv.StartCluster(ctx, t, local.Options{})
}

func isPrerequisite(o *unstructured.Unstructured) bool {
	return o.GetKind() == "Namespace" || o.GetKind() == "CustomResourceDefinition"
}

// Every object of every kustomization under deploy/ passes the API
// server's validation and admission, RBAC objects included (server-side
// apply with DryRun=All). Namespaces and CRDs are created for real first:
// a dry run persists nothing, and the objects in them would be refused
// for that alone.
func TestIntegrationEveryManifestPassesServerSideDryRun(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	c := startCluster(ctx, t)
	a, err := manifests.NewApplier(c.RESTConfig())
	if err != nil {
		t.Fatal(err)
	}

	dirs, err := manifests.Kustomizations("..")
	if err != nil {
		t.Fatal(err)
	}
	var all []manifests.Resource
	for _, dir := range dirs {
		rs, err := manifests.LoadResources(dir)
		if err != nil {
			t.Fatalf("%s: %v", dir, err)
		}
		all = append(all, rs...)
	}
	var crds []string
	for _, r := range all {
		if !isPrerequisite(r.Object) {
			continue
		}
		if _, err := a.Apply(ctx, r.Object, manifests.ApplyOptions{FieldManager: testFieldManager}); err != nil {
			t.Errorf("%s: %s %s: %v", r.File, r.Object.GetKind(), r.Object.GetName(), err)
		}
		if r.Object.GetKind() == "CustomResourceDefinition" {
			crds = append(crds, r.Object.GetName())
		}
	}
	waitEstablished(ctx, t, a, crds)
	a.Reset()

	applied := 0
	for _, r := range all {
		if isPrerequisite(r.Object) {
			continue
		}
		if _, err := a.Apply(ctx, r.Object, manifests.ApplyOptions{FieldManager: testFieldManager, DryRun: true}); err != nil {
			t.Errorf("%s: %s %s rejected: %v", r.File, r.Object.GetKind(), manifests.Name(r.Object), err)
			continue
		}
		applied++
	}
	t.Logf("%d objects of %d kustomizations (%v) passed the dry run", applied, len(dirs), dirs)
	if applied == 0 {
		t.Fatal("nothing was dry-run")
	}

	// The dry run persisted nothing.
	for _, r := range all {
		if isPrerequisite(r.Object) || r.Object.GetKind() == "ServiceAccount" {
			continue
		}
		cl, err := a.Client(r.Object)
		if err != nil {
			t.Fatal(err)
		}
		got, err := cl.Get(ctx, r.Object.GetName(), metav1.GetOptions{})
		if err == nil && hasManager(got, testFieldManager) {
			t.Errorf("%s %s exists after a dry run", r.Object.GetKind(), manifests.Name(r.Object))
		}
	}

	// The check itself can fail: the server rejects an invalid object and
	// an RBAC rule without verbs.
	for _, r := range all {
		var broken *unstructured.Unstructured
		switch r.Object.GetKind() {
		case "Deployment", "Job", "StatefulSet":
			broken = r.Object.DeepCopy()
			unstructured.RemoveNestedField(broken.Object, "spec", "template", "spec", "containers")
		case "ClusterRole":
			broken = r.Object.DeepCopy()
			_ = unstructured.SetNestedSlice(broken.Object, []any{map[string]any{"apiGroups": []any{""}, "resources": []any{"pods"}}}, "rules")
		default:
			continue
		}
		if _, err := a.Apply(ctx, broken, manifests.ApplyOptions{FieldManager: testFieldManager, DryRun: true}); !apierrors.IsInvalid(err) {
			t.Errorf("broken %s %s: got %v, want the server to reject it as invalid", broken.GetKind(), broken.GetName(), err)
		}
	}
}

func hasManager(o *unstructured.Unstructured, manager string) bool {
	for _, f := range o.GetManagedFields() {
		if f.Manager == manager {
			return true
		}
	}
	return false
}

func waitEstablished(ctx context.Context, t *testing.T, a *manifests.Applier, names []string) {
	t.Helper()
	for _, n := range names {
		crd := &unstructured.Unstructured{}
		crd.SetAPIVersion("apiextensions.k8s.io/v1")
		crd.SetKind("CustomResourceDefinition")
		crd.SetName(n)
		cl, err := a.Client(crd)
		if err != nil {
			t.Fatal(err)
		}
		err = wait.PollUntilContextTimeout(ctx, 200*time.Millisecond, time.Minute, true, func(ctx context.Context) (bool, error) {
			got, err := cl.Get(ctx, n, metav1.GetOptions{})
			if err != nil {
				return false, err
			}
			conds, _, _ := unstructured.NestedSlice(got.Object, "status", "conditions")
			for _, c := range conds {
				if m, ok := c.(map[string]any); ok && m["type"] == "Established" && m["status"] == "True" {
					return true, nil
				}
			}
			return false, nil
		})
		if err != nil {
			t.Fatalf("CRD %s not established: %v", n, err)
		}
	}
}
