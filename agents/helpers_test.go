package agents

import (
	"context"
	"fmt"
	"testing"
	"time"

	"go.uber.org/zap/zaptest"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/utils/clock"

	"github.com/churn-dev/churn/agents/crds"
	"github.com/churn-dev/churn/agents/internal/fakeapi"
)

var testRunLabels = map[string]string{"churn.dev/run": "r1"}

var (
	gvrPods       = schema.GroupVersionResource{Version: "v1", Resource: "pods"}
	gvrNamespaces = schema.GroupVersionResource{Version: "v1", Resource: "namespaces"}
	gvrConfigMaps = schema.GroupVersionResource{Version: "v1", Resource: "configmaps"}
	gvrCEPs       = schema.GroupVersionResource{Group: "cilium.io", Version: "v2", Resource: "ciliumendpoints"}
	gvrIdentities = schema.GroupVersionResource{Group: "cilium.io", Version: "v2", Resource: "ciliumidentities"}
	gvrCNodes     = schema.GroupVersionResource{Group: "cilium.io", Version: "v2", Resource: "ciliumnodes"}
	gvrLeases     = schema.GroupVersionResource{Group: "coordination.k8s.io", Version: "v1", Resource: "leases"}
	gvrCES        = schema.GroupVersionResource{Group: "cilium.io", Version: "v2alpha1", Resource: "ciliumendpointslices"}
)

// newFakeCluster serves the built-in kinds and every CRD kind of the meshes.
func newFakeCluster(t *testing.T) *fakeapi.Server {
	t.Helper()
	res := fakeapi.BuiltinResources()
	for _, set := range []string{crds.SetCilium, crds.SetIstio, crds.SetGatewayAPI} {
		kinds, err := crds.Kinds(set)
		if err != nil {
			t.Fatal(err)
		}
		for _, k := range kinds {
			res = append(res, fakeapi.Resource{GVR: schema.GroupVersionResource{Group: k.Group, Version: k.Version, Resource: k.Resource},
				Kind: k.Kind, Namespaced: k.Namespaced})
		}
	}
	srv := fakeapi.New(res)
	t.Cleanup(srv.Close)
	return srv
}

func testConfig(t *testing.T, srv *fakeapi.Server, mesh string, nodes ...string) Config {
	return Config{
		RESTConfig: srv.RESTConfig(), Mesh: mesh, Nodes: nodes, RunID: "r1", RunLabels: testRunLabels,
		Namespaces: []string{"ns-1"}, RolloutPerSecond: 1000, Clock: clock.RealClock{}, Logger: zaptest.NewLogger(t),
		EndpointSyncInterval: 50 * time.Millisecond, SkipSetup: true,
	}
}

func startMesh(t *testing.T, cfg Config) *Mesh {
	t.Helper()
	m, err := Start(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if _, err := m.Stop(ctx); err != nil {
			t.Error(err)
		}
	})
	return m
}

// eventually polls cond; it bounds a wait for something that must happen,
// never asserts how fast.
func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func mustCreate(t *testing.T, srv *fakeapi.Server, objs ...runtime.Object) {
	t.Helper()
	for _, o := range objs {
		if _, err := srv.Create(o); err != nil {
			t.Fatal(err)
		}
	}
}

func runNamespace(name string, extra map[string]string) *corev1.Namespace {
	labels := map[string]string{"kubernetes.io/metadata.name": name}
	for k, v := range testRunLabels {
		labels[k] = v
	}
	for k, v := range extra {
		labels[k] = v
	}
	return &corev1.Namespace{TypeMeta: metav1.TypeMeta{APIVersion: "v1", Kind: "Namespace"}, ObjectMeta: metav1.ObjectMeta{Name: name, Labels: labels}}
}

func node(name string) *corev1.Node {
	return &corev1.Node{TypeMeta: metav1.TypeMeta{APIVersion: "v1", Kind: "Node"}, ObjectMeta: metav1.ObjectMeta{Name: name}}
}

func runPod(ns, name, nodeName, ip string) *corev1.Pod {
	labels := map[string]string{"app": "web", "pod-template-hash": "abc"}
	for k, v := range testRunLabels {
		labels[k] = v
	}
	return &corev1.Pod{
		TypeMeta:   metav1.TypeMeta{APIVersion: "v1", Kind: "Pod"},
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: ns, Labels: labels},
		Spec:       corev1.PodSpec{NodeName: nodeName, Containers: []corev1.Container{{Name: "c", Image: "pause"}}},
		Status:     corev1.PodStatus{Phase: corev1.PodRunning, PodIP: ip},
	}
}

func nodes(n int) []string {
	out := make([]string, n)
	for i := range out {
		out[i] = fmt.Sprintf("kwok-node-%d", i)
	}
	return out
}
