package churn

import (
	"context"
	"strings"
	"testing"
	"time"

	"go.uber.org/zap/zaptest"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	fakediscovery "k8s.io/client-go/discovery/fake"
	dynamicfake "k8s.io/client-go/dynamic/fake"
	k8stesting "k8s.io/client-go/testing"
)

func namespaceNames(t *testing.T, env *testEnv) []string {
	t.Helper()
	list, err := env.client.CoreV1().Namespaces().List(context.Background(), metav1.ListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, ns := range list.Items {
		names = append(names, ns.Name)
	}
	return names
}

func TestTeardownDeletesOnlyLabelledNamespaces(t *testing.T) {
	env := newTestEnv(t, testProfile(3, 1, 10, time.Minute))
	setup(t, env)
	ctx := context.Background()
	for _, ns := range []*corev1.Namespace{
		{ObjectMeta: metav1.ObjectMeta{Name: "keep-unlabelled"}},
		// Same managed-by label, another run: selecting on managed-by
		// instead of the run label would delete it.
		{ObjectMeta: metav1.ObjectMeta{Name: "keep-other-run", Labels: RunLabels("other-run")}},
	} {
		if _, err := env.client.CoreV1().Namespaces().Create(ctx, ns, metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	err := TeardownWith(ctx, TeardownConfig{
		Client: env.client, Clock: env.clock, Logger: zaptest.NewLogger(t), Progress: env.progress, RunID: testRunID,
	})
	if err != nil {
		t.Fatalf("Teardown: %v", err)
	}
	got := namespaceNames(t, env)
	if strings.Join(got, ",") != "keep-other-run,keep-unlabelled" {
		t.Errorf("namespaces after teardown: %v", got)
	}
	if !strings.Contains(env.progress.String(), "all namespaces of run test-run are gone") {
		t.Errorf("progress:\n%s", env.progress.String())
	}
}

func TestTeardownWaitsAndTimesOut(t *testing.T) {
	env := newTestEnv(t, testProfile(2, 1, 10, time.Minute))
	setup(t, env)
	// Deletion is accepted but the namespaces stay Terminating, as when
	// the namespace controller is stuck.
	env.client.PrependReactor("delete", "namespaces", func(k8stesting.Action) (bool, runtime.Object, error) {
		return true, nil, nil
	})
	done := make(chan struct{})
	go drive(env.clock, teardownPoll, done)
	err := TeardownWith(context.Background(), TeardownConfig{
		Client: env.client, Clock: env.clock, Progress: env.progress, RunID: testRunID, Timeout: 10 * time.Second,
	})
	close(done)
	if err == nil || !strings.Contains(err.Error(), "went away for 10s") || !strings.Contains(err.Error(), "churn-test-000") {
		t.Errorf("Teardown = %v, want a timeout naming the namespaces left", err)
	}
}

func TestTeardownSweepsLabelledClusterScopedObjects(t *testing.T) {
	env := newTestEnv(t, testProfile(1, 1, 10, time.Minute))
	env.client.Discovery().(*fakediscovery.FakeDiscovery).Resources = []*metav1.APIResourceList{
		{GroupVersion: "rbac.authorization.k8s.io/v1", APIResources: []metav1.APIResource{
			{Name: "clusterroles", Kind: "ClusterRole", Verbs: []string{"list", "delete", "get"}},
			{Name: "roles", Kind: "Role", Namespaced: true, Verbs: []string{"list", "delete"}},
		}},
		{GroupVersion: "v1", APIResources: []metav1.APIResource{
			{Name: "nodes", Kind: "Node", Verbs: []string{"list", "delete"}},
		}},
	}
	clusterRole := func(name string, labels map[string]string) runtime.Object {
		u := &unstructured.Unstructured{}
		u.SetAPIVersion("rbac.authorization.k8s.io/v1")
		u.SetKind("ClusterRole")
		u.SetName(name)
		u.SetLabels(labels)
		return u
	}
	node := &unstructured.Unstructured{}
	node.SetAPIVersion("v1")
	node.SetKind("Node")
	node.SetName("fake-node-0")
	node.SetLabels(RunLabels(testRunID))
	dyn := dynamicfake.NewSimpleDynamicClient(runtime.NewScheme(),
		clusterRole("ours", RunLabels(testRunID)), clusterRole("theirs", RunLabels("other")), clusterRole("plain", nil), node)

	err := TeardownWith(context.Background(), TeardownConfig{Client: env.client, Dynamic: dyn, Clock: env.clock, RunID: testRunID})
	if err != nil {
		t.Fatalf("Teardown: %v", err)
	}
	roles, err := dyn.Resource(schema.GroupVersionResource{Group: "rbac.authorization.k8s.io", Version: "v1", Resource: "clusterroles"}).
		List(context.Background(), metav1.ListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	var left []string
	for _, r := range roles.Items {
		left = append(left, r.GetName())
	}
	if strings.Join(left, ",") != "plain,theirs" {
		t.Errorf("cluster roles left: %v, want plain and theirs", left)
	}
	if _, err := dyn.Resource(schema.GroupVersionResource{Version: "v1", Resource: "nodes"}).Get(context.Background(), "fake-node-0", metav1.GetOptions{}); err != nil {
		t.Errorf("the sweep deleted a node (fakenodes.Delete owns them): %v", err)
	}
}

func TestTeardownRequiresRunID(t *testing.T) {
	env := newTestEnv(t, testProfile(1, 1, 10, time.Minute))
	if err := Teardown(context.Background(), env.client, "", nil); err == nil {
		t.Error("Teardown with an empty run ID would select everything; it must refuse")
	}
}

func TestTeardownTimeoutIsOnProgressNotTotal(t *testing.T) {
	env := newTestEnv(t, testProfile(3, 1, 10, time.Minute))
	setup(t, env)
	// Deletion is accepted; the test removes one namespace every 8 s, as a
	// slow namespace controller would: 24 s in all, never 10 s without
	// progress.
	env.client.PrependReactor("delete", "namespaces", func(k8stesting.Action) (bool, runtime.Object, error) {
		return true, nil, nil
	})
	nsGVR := schema.GroupVersionResource{Version: "v1", Resource: "namespaces"}
	done := make(chan error, 1)
	go func() {
		done <- TeardownWith(context.Background(), TeardownConfig{
			Client: env.client, Clock: env.clock, Progress: env.progress, RunID: testRunID, Timeout: 10 * time.Second,
		})
	}()
	var err error
	for polls, gone := 0, 0; ; {
		select {
		case err = <-done:
		default:
			if !env.clock.HasWaiters() {
				time.Sleep(50 * time.Microsecond)
				continue
			}
			polls++
			if polls%4 == 0 && gone < 3 {
				if derr := env.client.Tracker().Delete(nsGVR, "", env.engine.w.namespace(gone)); derr != nil {
					t.Fatal(derr)
				}
				gone++
			}
			env.clock.Step(teardownPoll)
			continue
		}
		break
	}
	if err != nil {
		t.Errorf("Teardown with steady progress = %v", err)
	}
	if env.clock.Since(epoch) < 20*time.Second {
		t.Errorf("teardown ended after %v of fake time; the test meant it to outlast the timeout", env.clock.Since(epoch))
	}
}

// Workloads go before their namespaces, controllers first, so no replica
// set recreates the pods being deleted, and only by the run's label, only in
// the run's namespaces.
func TestTeardownDeletesWorkloadsByCollectionFirst(t *testing.T) {
	env := newTestEnv(t, testProfile(2, 1, 10, time.Minute))
	setup(t, env)
	ctx := context.Background()
	other := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "keep-other-run", Labels: RunLabels("other-run")}}
	if _, err := env.client.CoreV1().Namespaces().Create(ctx, other, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	var calls []string
	env.client.PrependReactor("delete-collection", "*", func(a k8stesting.Action) (bool, runtime.Object, error) {
		dc := a.(k8stesting.DeleteCollectionAction)
		calls = append(calls, a.GetNamespace()+" "+a.GetResource().Resource+" "+dc.GetListRestrictions().Labels.String())
		return true, nil, nil
	})
	env.client.PrependReactor("delete", "namespaces", func(a k8stesting.Action) (bool, runtime.Object, error) {
		calls = append(calls, "namespace "+a.(k8stesting.DeleteAction).GetName())
		return false, nil, nil
	})
	env.client.PrependReactor("delete", "services", func(a k8stesting.Action) (bool, runtime.Object, error) {
		calls = append(calls, a.GetNamespace()+" service "+a.(k8stesting.DeleteAction).GetName())
		return false, nil, nil
	})
	err := TeardownWith(ctx, TeardownConfig{Client: env.client, Clock: env.clock, Progress: env.progress, RunID: testRunID})
	if err != nil {
		t.Fatalf("Teardown: %v", err)
	}
	sel := LabelRun + "=" + testRunID
	for _, ns := range []string{"churn-test-000", "churn-test-001"} {
		var order []string
		for _, c := range calls {
			if strings.HasPrefix(c, ns+" ") || c == "namespace "+ns {
				order = append(order, c)
			}
		}
		want := []string{ns + " service app-0", ns + " deployments " + sel, ns + " replicasets " + sel, ns + " pods " + sel, "namespace " + ns}
		if strings.Join(order, "|") != strings.Join(want, "|") {
			t.Errorf("namespace %s: requests\n  %v\nwant\n  %v", ns, order, want)
		}
	}
	for _, c := range calls {
		if strings.Contains(c, "keep-other-run") {
			t.Errorf("touched another run's namespace: %s", c)
		}
	}
	if !strings.Contains(env.progress.String(), "deleting services, deployments, replica sets and pods in 2 namespaces") {
		t.Errorf("progress:\n%s", env.progress.String())
	}
}
