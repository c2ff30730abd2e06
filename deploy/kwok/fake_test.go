package kwok

import (
	"fmt"
	"sync/atomic"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/uuid"
	fakediscovery "k8s.io/client-go/discovery/fake"
	dynamicfake "k8s.io/client-go/dynamic/fake"
	kubefake "k8s.io/client-go/kubernetes/fake"
	k8stesting "k8s.io/client-go/testing"

	"github.com/churn-dev/churn/deploy/manifests"
)

// fakeCluster is a fake dynamic client with discovery for the kinds of
// the base. The fake's own apply needs the object to exist, so applies are
// served by a reactor that creates or replaces.
type fakeCluster struct {
	t       *testing.T
	dyn     *dynamicfake.FakeDynamicClient
	applier *manifests.Applier
	applied atomic.Int64
}

func newFakeCluster(t *testing.T, objs ...runtime.Object) *fakeCluster {
	t.Helper()
	scheme := runtime.NewScheme()
	for _, add := range []func(*runtime.Scheme) error{corev1.AddToScheme, appsv1.AddToScheme, rbacv1.AddToScheme} {
		if err := add(scheme); err != nil {
			t.Fatal(err)
		}
	}
	f := &fakeCluster{t: t, dyn: dynamicfake.NewSimpleDynamicClient(scheme, objs...)}
	f.dyn.PrependReactor("patch", "*", func(a k8stesting.Action) (bool, runtime.Object, error) {
		pa := a.(k8stesting.PatchAction)
		if pa.GetPatchType() != types.ApplyPatchType {
			return false, nil, nil
		}
		obj := &unstructured.Unstructured{}
		if err := obj.UnmarshalJSON(pa.GetPatch()); err != nil {
			return true, nil, err
		}
		tracker := f.dyn.Tracker()
		gvr, ns := pa.GetResource(), pa.GetNamespace()
		existing, err := tracker.Get(gvr, ns, pa.GetName())
		switch {
		case apierrors.IsNotFound(err):
			obj.SetUID(uuid.NewUUID())
			err = tracker.Create(gvr, obj, ns)
		case err == nil:
			obj.SetUID(existing.(metav1.Object).GetUID())
			err = tracker.Update(gvr, obj, ns)
		}
		if err != nil {
			return true, nil, err
		}
		f.applied.Add(1)
		return true, obj, nil
	})
	disc := kubefake.NewClientset().Discovery().(*fakediscovery.FakeDiscovery)
	disc.Resources = []*metav1.APIResourceList{
		{GroupVersion: "v1", APIResources: []metav1.APIResource{
			{Name: "serviceaccounts", Kind: "ServiceAccount", Namespaced: true},
			{Name: "configmaps", Kind: "ConfigMap", Namespaced: true},
		}},
		{GroupVersion: "apps/v1", APIResources: []metav1.APIResource{
			{Name: "deployments", Kind: "Deployment", Namespaced: true},
		}},
		{GroupVersion: "rbac.authorization.k8s.io/v1", APIResources: []metav1.APIResource{
			{Name: "clusterroles", Kind: "ClusterRole"},
			{Name: "clusterrolebindings", Kind: "ClusterRoleBinding"},
			{Name: "roles", Kind: "Role", Namespaced: true},
			{Name: "rolebindings", Kind: "RoleBinding", Namespaced: true},
		}},
	}
	f.applier = manifests.NewApplierFor(f.dyn, disc)
	return f
}

func (f *fakeCluster) applies() int { return int(f.applied.Load()) }

func (f *fakeCluster) get(kind, ns, name string) (*unstructured.Unstructured, error) {
	gr, ok := resourceOf[kind]
	if !ok {
		return nil, fmt.Errorf("kind %s unknown to the fake", kind)
	}
	c := f.dyn.Resource(gr.WithVersion("v1"))
	if ns != "" {
		return c.Namespace(ns).Get(f.t.Context(), name, metav1.GetOptions{})
	}
	return c.Get(f.t.Context(), name, metav1.GetOptions{})
}
