package crds

import (
	"context"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	dynamicfake "k8s.io/client-go/dynamic/fake"
	k8stesting "k8s.io/client-go/testing"
)

var runLabels = map[string]string{"churn.dev/run": "r1"}

func TestManifestsAreStructuralAndComplete(t *testing.T) {
	want := map[string]int{SetCilium: 9, SetIstio: 14, SetGatewayAPI: 10, SetCiliumReal: 3}
	for set, n := range want {
		objs, err := Manifests(set)
		if err != nil {
			t.Fatal(err)
		}
		if len(objs) != n {
			t.Errorf("%s: %d CRDs, want %d", set, len(objs), n)
		}
		for _, o := range objs {
			k, err := kindOf(o)
			if err != nil {
				t.Fatal(err)
			}
			if o.GetName() != k.Name() {
				t.Errorf("name %s != %s", o.GetName(), k.Name())
			}
			versions, _, _ := unstructured.NestedSlice(o.Object, "spec", "versions")
			for _, v := range versions {
				typ, _, _ := unstructured.NestedString(v.(map[string]any), "schema", "openAPIV3Schema", "type")
				if typ != "object" {
					t.Errorf("%s: schema root type %q, want object (structural)", o.GetName(), typ)
				}
			}
		}
	}
	cep, ok := Lookup("cilium.io", "ciliumendpoints", SetCilium)
	if !ok || !cep.Namespaced || cep.Version != "v2" {
		t.Errorf("CiliumEndpoint = %+v", cep)
	}
	ces, ok := Lookup("cilium.io", "ciliumendpointslices", SetCilium)
	if !ok || ces.Namespaced || ces.Version != "v2alpha1" {
		t.Errorf("CiliumEndpointSlice = %+v", ces)
	}
	dr, ok := Lookup("networking.istio.io", "destinationrules", SetIstio)
	if !ok || dr.Version != "v1" || len(dr.Versions) != 3 {
		t.Errorf("DestinationRule = %+v", dr)
	}
}

func newFakeDynamic(t *testing.T, existing ...runtime.Object) *dynamicfake.FakeDynamicClient {
	t.Helper()
	dyn := dynamicfake.NewSimpleDynamicClientWithCustomListKinds(runtime.NewScheme(),
		map[schema.GroupVersionResource]string{CRDResource: "CustomResourceDefinitionList", CiliumNetworkPolicies: "CiliumNetworkPolicyList"}, existing...)
	// The API server marks a new CRD Established once it serves it.
	dyn.PrependReactor("create", "customresourcedefinitions", func(a k8stesting.Action) (bool, runtime.Object, error) {
		obj := a.(k8stesting.CreateAction).GetObject().(*unstructured.Unstructured)
		_ = unstructured.SetNestedSlice(obj.Object, []any{map[string]any{"type": "Established", "status": "True"}}, "status", "conditions")
		return false, nil, nil
	})
	return dyn
}

func TestInstallCreatesLabelsAndNeverTouchesExisting(t *testing.T) {
	objs, err := Manifests(SetCilium)
	if err != nil {
		t.Fatal(err)
	}
	// A pre-existing CiliumEndpoint CRD owned by someone else, serving
	// only an old version.
	foreign := objs[1].DeepCopy()
	foreign.SetLabels(map[string]string{"owner": "someone-else"})
	_ = unstructured.SetNestedSlice(foreign.Object, []any{map[string]any{"name": "v1", "served": true, "storage": true}}, "spec", "versions")
	_ = unstructured.SetNestedSlice(foreign.Object, []any{map[string]any{"type": "Established", "status": "True"}}, "status", "conditions")
	dyn := newFakeDynamic(t, foreign)

	res, err := Install(context.Background(), dyn, []string{SetCilium}, runLabels, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Created) != 8 || len(res.Existing) != 1 || res.Existing[0] != "ciliumendpoints.cilium.io" {
		t.Errorf("created %v existing %v", res.Created, res.Existing)
	}
	if len(res.Unserved) != 1 || res.Unserved[0].Resource != "ciliumendpoints" {
		t.Errorf("unserved = %v", res.Unserved)
	}
	got, err := dyn.Resource(CRDResource).Get(context.Background(), "ciliumnodes.cilium.io", metav1.GetOptions{})
	if err != nil || got.GetLabels()["churn.dev/run"] != "r1" {
		t.Errorf("created CRD labels = %v, %v", got.GetLabels(), err)
	}
	for _, a := range dyn.Actions() {
		if a.GetVerb() != "get" && a.GetVerb() != "create" {
			t.Errorf("unexpected %s on CRDs", a.GetVerb())
		}
		if c, ok := a.(k8stesting.CreateAction); ok && c.GetObject().(*unstructured.Unstructured).GetName() == "ciliumendpoints.cilium.io" {
			t.Error("created over an existing CRD")
		}
	}

	// Teardown deletes only this run's CRDs.
	deleted, err := Delete(context.Background(), dyn, runLabels)
	if err != nil {
		t.Fatal(err)
	}
	if len(deleted) != 8 {
		t.Errorf("deleted %v", deleted)
	}
	if _, err := dyn.Resource(CRDResource).Get(context.Background(), "ciliumendpoints.cilium.io", metav1.GetOptions{}); err != nil {
		t.Errorf("foreign CRD was deleted: %v", err)
	}
	if _, err := Delete(context.Background(), dyn, nil); err == nil {
		t.Error("Delete with no labels must refuse")
	}
}

func TestCreatePolicies(t *testing.T) {
	dyn := newFakeDynamic(t)
	if err := CreatePolicies(context.Background(), dyn, []string{"ns-1", "ns-2"}, runLabels); err != nil {
		t.Fatal(err)
	}
	// Idempotent.
	if err := CreatePolicies(context.Background(), dyn, []string{"ns-1"}, runLabels); err != nil {
		t.Fatal(err)
	}
	p, err := dyn.Resource(CiliumNetworkPolicies).Namespace("ns-2").Get(context.Background(), PolicyName, metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	rules, _, _ := unstructured.NestedSlice(p.Object, "spec", "ingress")
	if len(rules) != 1 || p.GetLabels()["churn.dev/run"] != "r1" {
		t.Errorf("policy = %v", p.Object)
	}
	http, _, _ := unstructured.NestedSlice(rules[0].(map[string]any)["toPorts"].([]any)[0].(map[string]any), "rules", "http")
	if len(http) != 2 {
		t.Errorf("http rules = %v", http)
	}
}
