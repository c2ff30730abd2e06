package cleanup

import (
	"bytes"
	"context"
	"strings"
	"testing"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"
	dynamicfake "k8s.io/client-go/dynamic/fake"
	clienttesting "k8s.io/client-go/testing"

	"github.com/churn-dev/churn/internal/cleanup/cleanuptest"
)

var (
	ceps       = schema.GroupVersionResource{Group: "cilium.io", Version: "v2", Resource: "ciliumendpoints"}
	identities = schema.GroupVersionResource{Group: "cilium.io", Version: "v2", Resource: "ciliumidentities"}
	namespaces = schema.GroupVersionResource{Version: "v1", Resource: "namespaces"}
	runLabels  = map[string]string{"churn.dev/run": "r1", "app.kubernetes.io/managed-by": "churn"}
)

func obj(apiVersion, kind, ns, name string, lbls map[string]string) *unstructured.Unstructured {
	u := &unstructured.Unstructured{}
	u.SetAPIVersion(apiVersion)
	u.SetKind(kind)
	u.SetNamespace(ns)
	u.SetName(name)
	u.SetUID(types.UID(ns + "/" + name))
	u.SetLabels(lbls)
	return u
}

type fakeCluster struct {
	*dynamicfake.FakeDynamicClient
	*cleanuptest.Counts
}

func newFakeCluster(t *testing.T, refuse map[string]bool, objs ...runtime.Object) *fakeCluster {
	t.Helper()
	listKinds := map[schema.GroupVersionResource]string{ceps: "List", identities: "List", namespaces: "NamespaceList"}
	dyn := dynamicfake.NewSimpleDynamicClientWithCustomListKinds(runtime.NewScheme(), listKinds, objs...)
	return &fakeCluster{FakeDynamicClient: dyn, Counts: cleanuptest.ServeDeleteCollection(dyn, refuse)}
}

func (fc *fakeCluster) exists(gvr schema.GroupVersionResource, ns, name string) bool {
	_, err := fc.Resource(gvr).Namespace(ns).Get(context.Background(), name, metav1.GetOptions{})
	return err == nil
}

func TestDeleteLabelledUsesOneCollectionDeletePerNamespace(t *testing.T) {
	other := map[string]string{"churn.dev/run": "r2", "app.kubernetes.io/managed-by": "churn"}
	partial := map[string]string{"churn.dev/run": "r1"} // lacks managed-by: not provably ours
	fc := newFakeCluster(t, nil,
		obj("cilium.io/v2", "CiliumEndpoint", "ns-1", "a", runLabels),
		obj("cilium.io/v2", "CiliumEndpoint", "ns-1", "b", runLabels),
		obj("cilium.io/v2", "CiliumEndpoint", "ns-2", "c", runLabels),
		obj("cilium.io/v2", "CiliumEndpoint", "ns-2", "theirs", other),
		obj("cilium.io/v2", "CiliumEndpoint", "ns-3", "partial", partial),
		obj("cilium.io/v2", "CiliumIdentity", "", "300", runLabels),
		obj("cilium.io/v2", "CiliumIdentity", "", "301", nil),
	)
	var out bytes.Buffer
	d := Deleter{Dynamic: fc, Labels: runLabels, Progress: &out}
	res, err := d.DeleteLabelled(context.Background(), ceps, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if res.Matched != 3 || res.Namespaces != 2 || !res.Collection {
		t.Errorf("result = %+v, want 3 matched in 2 namespaces by collection", res)
	}
	if fc.Collections != 2 || fc.Singles != 0 {
		t.Errorf("requests: %d collection deletes, %d single deletes; want 2 and 0", fc.Collections, fc.Singles)
	}
	if _, err := d.DeleteLabelled(context.Background(), identities, Options{}); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		gvr      schema.GroupVersionResource
		ns, name string
		want     bool
	}{
		{ceps, "ns-1", "a", false}, {ceps, "ns-1", "b", false}, {ceps, "ns-2", "c", false},
		{ceps, "ns-2", "theirs", true}, {ceps, "ns-3", "partial", true},
		{identities, "", "300", false}, {identities, "", "301", true},
	} {
		if got := fc.exists(c.gvr, c.ns, c.name); got != c.want {
			t.Errorf("%s %s/%s exists = %v, want %v", c.gvr.Resource, c.ns, c.name, got, c.want)
		}
	}
	if !strings.Contains(out.String(), "teardown: deleting 3 ciliumendpoints in 2 namespaces") ||
		!strings.Contains(out.String(), "teardown: deleted 3 ciliumendpoints") {
		t.Errorf("progress lines missing:\n%s", out.String())
	}
}

func TestDeleteLabelledFallsBackToSingleDeletes(t *testing.T) {
	var objs []runtime.Object
	for _, n := range []string{"w-1", "w-2", "w-3", "w-4", "w-5"} {
		objs = append(objs, obj("v1", "Namespace", "", n, runLabels))
	}
	objs = append(objs, obj("v1", "Namespace", "", "kube-system", nil))
	fc := newFakeCluster(t, map[string]bool{"namespaces": true}, objs...)
	d := Deleter{Dynamic: fc, Labels: runLabels, Workers: 2}
	res, err := d.DeleteLabelled(context.Background(), namespaces, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if res.Collection || res.Matched != 5 {
		t.Errorf("result = %+v, want 5 matched, single deletes", res)
	}
	if fc.Singles != 5 {
		t.Errorf("single deletes = %d, want 5", fc.Singles)
	}
	if !fc.exists(namespaces, "", "kube-system") {
		t.Error("deleted a namespace without the run labels")
	}
	for _, n := range []string{"w-1", "w-5"} {
		if fc.exists(namespaces, "", n) {
			t.Errorf("namespace %s survived", n)
		}
	}
}

func TestDeleteLabelledSparesANamesakeWithAnotherUID(t *testing.T) {
	fc := newFakeCluster(t, map[string]bool{"namespaces": true}, obj("v1", "Namespace", "", "w-1", runLabels))
	// The object is replaced between list and delete: the UID precondition
	// must turn the delete into a no-op, not delete the newcomer.
	fc.PrependReactor("delete", "namespaces", func(a clienttesting.Action) (bool, runtime.Object, error) {
		opts := a.(clienttesting.DeleteActionImpl).GetDeleteOptions()
		if opts.Preconditions == nil || opts.Preconditions.UID == nil || *opts.Preconditions.UID != "/w-1" {
			t.Errorf("delete without the listed UID as precondition: %+v", opts.Preconditions)
		}
		return true, nil, apierrors.NewConflict(namespaces.GroupResource(), "w-1", nil)
	})
	d := Deleter{Dynamic: fc, Labels: runLabels}
	if _, err := d.DeleteLabelled(context.Background(), namespaces, Options{}); err != nil {
		t.Errorf("a precondition conflict is not an error: %v", err)
	}
}

func TestDeleteLabelledRefusesEmptyLabels(t *testing.T) {
	fc := newFakeCluster(t, nil, obj("cilium.io/v2", "CiliumIdentity", "", "300", nil))
	for _, l := range []map[string]string{nil, {}, {"churn.dev/run": ""}} {
		d := Deleter{Dynamic: fc, Labels: l}
		if _, err := d.DeleteLabelled(context.Background(), identities, Options{}); err == nil {
			t.Errorf("labels %v: want a refusal", l)
		}
	}
	if !fc.exists(identities, "", "300") {
		t.Error("a refused call deleted something")
	}
	if fc.Collections+fc.Singles != 0 {
		t.Errorf("a refused call sent %d deletes", fc.Collections+fc.Singles)
	}
}

func TestDeleteLabelledSkipsUnservedResources(t *testing.T) {
	fc := newFakeCluster(t, nil)
	fc.PrependReactor("list", "ciliumendpoints", func(clienttesting.Action) (bool, runtime.Object, error) {
		return true, nil, apierrors.NewNotFound(ceps.GroupResource(), "")
	})
	d := Deleter{Dynamic: fc, Labels: runLabels}
	res, err := d.DeleteLabelled(context.Background(), ceps, Options{})
	if err != nil || res.Matched != 0 {
		t.Errorf("unserved resource: %+v, %v; want nothing and no error", res, err)
	}
}

func TestSelectorAddsExtra(t *testing.T) {
	sel, err := Selector(runLabels, "mesh=true")
	if err != nil {
		t.Fatal(err)
	}
	if sel != "app.kubernetes.io/managed-by=churn,churn.dev/run=r1,mesh=true" {
		t.Errorf("selector = %q", sel)
	}
	if _, err := Selector(runLabels, "=bad=="); err == nil {
		t.Error("a malformed extra selector must be refused")
	}
}
