package fakenodes

import (
	"bytes"
	"context"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/client-go/kubernetes/fake"
	k8stesting "k8s.io/client-go/testing"
)

func listNodes(t *testing.T, cs *fake.Clientset, selector string) []corev1.Node {
	t.Helper()
	l, err := cs.CoreV1().Nodes().List(context.Background(), metav1.ListOptions{LabelSelector: selector})
	if err != nil {
		t.Fatalf("list nodes: %v", err)
	}
	return l.Items
}

func TestCreateBuildsFakeNodes(t *testing.T) {
	cs := fake.NewClientset()
	var progress bytes.Buffer
	spec := Spec{Count: 7, Zones: 3, CPU: "16", Memory: "64Gi", Pods: 50, QPS: 1000, Labels: map[string]string{"churn.dev/run": "r1", TypeLabelKey: "overridden"}}
	names, err := Create(context.Background(), cs, spec, &progress)
	if err != nil {
		t.Fatalf("Create: %v", err)
	}
	if len(names) != 7 || names[0] != "churn-node-0" || names[6] != "churn-node-6" {
		t.Fatalf("names = %v", names)
	}
	if !strings.Contains(progress.String(), "nodes created 7/7") {
		t.Errorf("progress = %q, want a final 'nodes created 7/7' line", progress.String())
	}
	nodes := listNodes(t, cs, "churn.dev/run=r1,"+LabelSelector)
	if len(nodes) != 7 {
		t.Fatalf("got %d nodes with run and type labels, want 7", len(nodes))
	}
	zones := map[string]int{}
	cidrs := map[string]bool{}
	for _, n := range nodes {
		if n.Annotations[KWOKAnnotationKey] != KWOKAnnotationValue {
			t.Errorf("%s: kwok annotation = %q", n.Name, n.Annotations[KWOKAnnotationKey])
		}
		for k, want := range map[string]string{
			corev1.LabelHostname:   n.Name,
			corev1.LabelOSStable:   "linux",
			corev1.LabelArchStable: "amd64",
			TypeLabelKey:           TypeLabelValue,
			RoleLabelKey:           "",
		} {
			if got, ok := n.Labels[k]; !ok || got != want {
				t.Errorf("%s: label %s = %q (present %v), want %q", n.Name, k, got, ok, want)
			}
		}
		zones[n.Labels[ZoneLabelKey]]++
		if len(n.Spec.Taints) != 1 || n.Spec.Taints[0] != (corev1.Taint{Key: TaintKey, Value: TaintValue, Effect: corev1.TaintEffectNoSchedule}) {
			t.Errorf("%s: taints = %v", n.Name, n.Spec.Taints)
		}
		for _, rl := range []corev1.ResourceList{n.Status.Capacity, n.Status.Allocatable} {
			if q := rl[corev1.ResourceCPU]; q.Cmp(resource.MustParse("16")) != 0 {
				t.Errorf("%s: cpu = %s", n.Name, q.String())
			}
			if q := rl[corev1.ResourceMemory]; q.Cmp(resource.MustParse("64Gi")) != 0 {
				t.Errorf("%s: memory = %s", n.Name, q.String())
			}
			if q := rl[corev1.ResourcePods]; q.Value() != 50 {
				t.Errorf("%s: pods = %s", n.Name, q.String())
			}
		}
		if cidrs[n.Spec.PodCIDR] {
			t.Errorf("%s: pod CIDR %s used twice", n.Name, n.Spec.PodCIDR)
		}
		cidrs[n.Spec.PodCIDR] = true
	}
	// 7 nodes round-robin over 3 zones: 3, 2, 2.
	if zones["zone-a"] != 3 || zones["zone-b"] != 2 || zones["zone-c"] != 2 || len(zones) != 3 {
		t.Errorf("zone spread = %v, want zone-a:3 zone-b:2 zone-c:2", zones)
	}
}

func TestCreateDefaults(t *testing.T) {
	cs := fake.NewClientset()
	if _, err := Create(context.Background(), cs, Spec{Count: 1, QPS: 1000}, nil); err != nil {
		t.Fatalf("Create: %v", err)
	}
	n, err := cs.CoreV1().Nodes().Get(context.Background(), "churn-node-0", metav1.GetOptions{})
	if err != nil {
		t.Fatalf("get: %v", err)
	}
	if q := n.Status.Capacity[corev1.ResourceCPU]; q.String() != DefaultCPU {
		t.Errorf("cpu = %s, want %s", q.String(), DefaultCPU)
	}
	if q := n.Status.Capacity[corev1.ResourcePods]; q.Value() != DefaultPods {
		t.Errorf("pods = %s", q.String())
	}
	if n.Labels[ZoneLabelKey] != "zone-a" || n.Spec.PodCIDR != "10.128.0.0/24" {
		t.Errorf("zone %q podCIDR %q", n.Labels[ZoneLabelKey], n.Spec.PodCIDR)
	}
	wantAddrs := []corev1.NodeAddress{{Type: corev1.NodeInternalIP, Address: "10.64.0.1"}, {Type: corev1.NodeHostName, Address: "churn-node-0"}}
	if len(n.Status.Addresses) != 2 || n.Status.Addresses[0] != wantAddrs[0] || n.Status.Addresses[1] != wantAddrs[1] {
		t.Errorf("addresses = %v, want %v", n.Status.Addresses, wantAddrs)
	}
}

func TestNodeIPs(t *testing.T) {
	for i, want := range map[int]string{0: "10.64.0.1", 254: "10.64.0.255", 255: "10.64.1.0", maxNodes - 1: "10.64.128.0"} {
		if got := nodeIP(i); got != want {
			t.Errorf("nodeIP(%d) = %s, want %s", i, got, want)
		}
	}
}

func TestPodCIDRsStayInRange(t *testing.T) {
	for i, want := range map[int]string{0: "10.128.0.0/24", 255: "10.128.255.0/24", 256: "10.129.0.0/24", maxNodes - 1: "10.255.255.0/24"} {
		if got := podCIDR(i); got != want {
			t.Errorf("podCIDR(%d) = %s, want %s", i, got, want)
		}
	}
}

func TestCreateIsIdempotentForSameSpec(t *testing.T) {
	cs := fake.NewClientset()
	spec := Spec{Count: 3, QPS: 1000, Labels: map[string]string{"run": "a"}}
	if _, err := Create(context.Background(), cs, spec, nil); err != nil {
		t.Fatalf("first Create: %v", err)
	}
	if _, err := Create(context.Background(), cs, spec, nil); err != nil {
		t.Fatalf("second Create with same spec should succeed: %v", err)
	}
	if n := len(listNodes(t, cs, "")); n != 3 {
		t.Fatalf("got %d nodes, want 3", n)
	}
	spec.Labels["run"] = "b"
	_, err := Create(context.Background(), cs, spec, nil)
	if err == nil || !strings.Contains(err.Error(), "already exists with different labels") {
		t.Fatalf("Create over nodes of another run: err = %v, want 'already exists with different labels'", err)
	}
}

func TestCreateRejectsBadSpec(t *testing.T) {
	cases := map[string]Spec{
		"cpu":   {Count: 1, CPU: "lots"},
		"count": {Count: -1},
		"zones": {Count: 1, Zones: 27},
		"qps":   {Count: 1, QPS: -1},
	}
	for field, spec := range cases {
		_, err := Create(context.Background(), fake.NewClientset(), spec, nil)
		if err == nil || !strings.Contains(err.Error(), field) {
			t.Errorf("%s: err = %v, want one naming %q", field, err, field)
		}
	}
}

func TestCreateRespectsQPS(t *testing.T) {
	start := time.Now()
	if _, err := Create(context.Background(), fake.NewClientset(), Spec{Count: 6, QPS: 20}, nil); err != nil {
		t.Fatal(err)
	}
	// Burst 1: the first create is immediate, the other 5 wait 50ms each.
	if d := time.Since(start); d < 200*time.Millisecond {
		t.Errorf("6 nodes at 20 QPS took %s, want >= 250ms", d)
	}
}

func TestCreateStopsOnContext(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 150*time.Millisecond)
	defer cancel()
	_, err := Create(ctx, fake.NewClientset(), Spec{Count: 100, QPS: 10}, nil)
	if err == nil || !strings.Contains(err.Error(), "of 100 created") {
		t.Fatalf("err = %v, want a context error saying how many were created", err)
	}
}

func setReady(t *testing.T, cs *fake.Clientset, name string) {
	t.Helper()
	n, err := cs.CoreV1().Nodes().Get(context.Background(), name, metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	n.Status.Conditions = []corev1.NodeCondition{{Type: corev1.NodeReady, Status: corev1.ConditionTrue}}
	if _, err := cs.CoreV1().Nodes().UpdateStatus(context.Background(), n, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
}

func TestWaitReady(t *testing.T) {
	cs := fake.NewClientset()
	if _, err := Create(context.Background(), cs, Spec{Count: 8, QPS: 1000}, nil); err != nil {
		t.Fatal(err)
	}
	setReady(t, cs, "churn-node-3")

	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	err := WaitReady(ctx, cs, LabelSelector, 8, nil)
	if err == nil {
		t.Fatal("WaitReady succeeded with 1 of 8 Ready")
	}
	msg := err.Error()
	for _, want := range []string{"1 Ready", "churn-node-0", "and 2 more", "deadline exceeded"} {
		if !strings.Contains(msg, want) {
			t.Errorf("error %q does not contain %q", msg, want)
		}
	}
	if strings.Contains(msg, "churn-node-3") {
		t.Errorf("error %q names a Ready node", msg)
	}

	for i := 0; i < 8; i++ {
		setReady(t, cs, (Spec{Prefix: DefaultPrefix}).NodeName(i))
	}
	var progress bytes.Buffer
	if err := WaitReady(context.Background(), cs, LabelSelector, 8, &progress); err != nil {
		t.Fatalf("WaitReady with all Ready: %v", err)
	}
	if !strings.Contains(progress.String(), "nodes ready 8/8") {
		t.Errorf("progress = %q", progress.String())
	}
}

func TestWaitReadySaysWhenNodesAreMissing(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	err := WaitReady(ctx, fake.NewClientset(), LabelSelector, 3, nil)
	if err == nil || !strings.Contains(err.Error(), "only 0 nodes exist") {
		t.Fatalf("err = %v", err)
	}
}

func TestDelete(t *testing.T) {
	cs := fake.NewClientset()
	// The fake clientset does not implement DeleteCollection; emulate it.
	cs.PrependReactor("delete-collection", "nodes", func(a k8stesting.Action) (bool, runtime.Object, error) {
		sel, err := labels.Parse(a.(k8stesting.DeleteCollectionAction).GetListRestrictions().Labels.String())
		if err != nil {
			return true, nil, err
		}
		objs, err := cs.Tracker().List(corev1.SchemeGroupVersion.WithResource("nodes"), corev1.SchemeGroupVersion.WithKind("Node"), "")
		if err != nil {
			return true, nil, err
		}
		for _, n := range objs.(*corev1.NodeList).Items {
			if sel.Matches(labels.Set(n.Labels)) {
				if err := cs.Tracker().Delete(corev1.SchemeGroupVersion.WithResource("nodes"), "", n.Name); err != nil {
					return true, nil, err
				}
			}
		}
		return true, nil, nil
	})
	if _, err := Create(context.Background(), cs, Spec{Count: 4, QPS: 1000}, nil); err != nil {
		t.Fatal(err)
	}
	other := &corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: "real-node"}}
	if _, err := cs.CoreV1().Nodes().Create(context.Background(), other, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	if err := Delete(context.Background(), cs, LabelSelector, nil); err != nil {
		t.Fatalf("Delete: %v", err)
	}
	left := listNodes(t, cs, "")
	if len(left) != 1 || left[0].Name != "real-node" {
		t.Fatalf("nodes left = %v, want only real-node", left)
	}
	if err := Delete(context.Background(), cs, " ", nil); err == nil {
		t.Fatal("Delete with empty selector should be refused")
	}
}

func TestTolerationMatchesTaint(t *testing.T) {
	taint := Spec{}.WithDefaults().Node(0).Spec.Taints[0]
	tol := Toleration()
	if tol.Key != taint.Key || tol.Operator != corev1.TolerationOpEqual || tol.Value != taint.Value || tol.Effect != taint.Effect {
		t.Fatalf("Toleration %v does not tolerate taint %v", tol, taint)
	}
}
