package agents

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/churn-dev/churn/internal/testenv"

	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
	"go.uber.org/zap/zaptest"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/util/retry"
	"k8s.io/utils/ptr"

	"github.com/churn-dev/churn/agents/crds"
	"github.com/churn-dev/churn/deploy/local"
	"github.com/churn-dev/churn/fakenodes"
)

// apiCounts is apiserver_request_total summed by "VERB resource[/sub]",
// and the open WATCH count by resource.
type apiCounts struct {
	requests map[string]float64
	watches  map[string]float64
}

func scrape(ctx context.Context, t *testing.T, cs kubernetes.Interface) apiCounts {
	t.Helper()
	raw, err := cs.CoreV1().RESTClient().Get().AbsPath("/metrics").DoRaw(ctx)
	if err != nil {
		t.Fatalf("scrape /metrics: %v", err)
	}
	p := expfmt.NewTextParser(model.UTF8Validation)
	fams, err := p.TextToMetricFamilies(bytes.NewReader(raw))
	if err != nil {
		t.Fatalf("parse /metrics: %v", err)
	}
	out := apiCounts{requests: map[string]float64{}, watches: map[string]float64{}}
	label := func(m interface{ GetName() string }, _ string) string { return m.GetName() }
	_ = label
	for _, m := range fams["apiserver_request_total"].GetMetric() {
		l := map[string]string{}
		for _, lp := range m.GetLabel() {
			l[lp.GetName()] = lp.GetValue()
		}
		res := l["resource"]
		if l["subresource"] != "" {
			res += "/" + l["subresource"]
		}
		out.requests[l["verb"]+" "+res] += m.GetCounter().GetValue()
	}
	for _, m := range fams["apiserver_longrunning_requests"].GetMetric() {
		l := map[string]string{}
		for _, lp := range m.GetLabel() {
			l[lp.GetName()] = lp.GetValue()
		}
		if l["verb"] == "WATCH" {
			out.watches[l["resource"]] += m.GetGauge().GetValue()
		}
	}
	return out
}

func (a apiCounts) delta(before apiCounts) map[string]float64 {
	d := map[string]float64{}
	for k, v := range a.requests {
		if v-before.requests[k] > 0 {
			d[k] = v - before.requests[k]
		}
	}
	return d
}

type cluster struct {
	cfg   *rest.Config
	cs    kubernetes.Interface
	dyn   dynamic.Interface
	nodes []string
	ns    string
}

func upCluster(t *testing.T, ctx context.Context) *cluster {
	c := testenv.StartCluster(ctx, t, local.Options{})
	cfg := c.RESTConfig()
	cs, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		t.Fatal(err)
	}
	dyn, err := dynamic.NewForConfig(cfg)
	if err != nil {
		t.Fatal(err)
	}
	nodes, err := fakenodes.Create(ctx, cs, fakenodes.Spec{Count: 3, QPS: 100}, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	if err := fakenodes.WaitReady(ctx, cs, fakenodes.LabelSelector, 3, io.Discard); err != nil {
		t.Fatal(err)
	}
	ns := "churn-it-r1"
	if _, err := cs.CoreV1().Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns, Labels: testRunLabels}}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	return &cluster{cfg: cfg, cs: cs, dyn: dyn, nodes: nodes, ns: ns}
}

// scaleWeb creates or scales a deployment pinned to the first node, whose
// pods carry the run labels, and waits for its pods.
func (c *cluster) scaleWeb(ctx context.Context, t *testing.T, replicas int32) []corev1.Pod {
	t.Helper()
	labels := map[string]string{"app": "web"}
	for k, v := range testRunLabels {
		labels[k] = v
	}
	sel := fakenodes.NodeSelector()
	sel[corev1.LabelHostname] = c.nodes[0]
	d := &appsv1.Deployment{
		ObjectMeta: metav1.ObjectMeta{Name: "web", Namespace: c.ns, Labels: testRunLabels},
		Spec: appsv1.DeploymentSpec{
			Replicas: ptr.To(replicas),
			Selector: &metav1.LabelSelector{MatchLabels: labels},
			Template: corev1.PodTemplateSpec{
				ObjectMeta: metav1.ObjectMeta{Labels: labels},
				Spec: corev1.PodSpec{NodeSelector: sel, Tolerations: []corev1.Toleration{fakenodes.Toleration()},
					Containers: []corev1.Container{{Name: "app", Image: "fake.invalid/app:1"}}},
			},
		},
	}
	if _, err := c.cs.AppsV1().Deployments(c.ns).Create(ctx, d, metav1.CreateOptions{}); err != nil {
		err = retry.RetryOnConflict(retry.DefaultRetry, func() error {
			cur, err := c.cs.AppsV1().Deployments(c.ns).Get(ctx, "web", metav1.GetOptions{})
			if err != nil {
				return err
			}
			cur.Spec.Replicas = ptr.To(replicas)
			_, err = c.cs.AppsV1().Deployments(c.ns).Update(ctx, cur, metav1.UpdateOptions{})
			return err
		})
		if err != nil {
			t.Fatalf("scale deployment: %v", err)
		}
	}
	var pods []corev1.Pod
	eventually(t, fmt.Sprintf("%d running pods", replicas), func() bool {
		list, err := c.cs.CoreV1().Pods(c.ns).List(ctx, metav1.ListOptions{LabelSelector: "app=web"})
		if err != nil {
			return false
		}
		pods = pods[:0]
		for _, p := range list.Items {
			if p.DeletionTimestamp == nil && p.Status.PodIP != "" && p.Status.Phase == corev1.PodRunning {
				pods = append(pods, p)
			}
		}
		return len(pods) == int(replicas) && len(list.Items) == int(replicas)
	})
	return pods
}

// watchesOpen polls the API server's open WATCH gauge until each listed
// resource has grown by exactly the expected number over before.
func watchesOpen(ctx context.Context, t *testing.T, cs kubernetes.Interface, before apiCounts, want map[string]float64) {
	t.Helper()
	var last map[string]float64
	deadline := time.Now().Add(60 * time.Second)
	for {
		now := scrape(ctx, t, cs)
		last = map[string]float64{}
		ok := true
		for res, n := range want {
			last[res] = now.watches[res] - before.watches[res]
			// kube-controller-manager's garbage collector adds a metadata
			// watch of each new CRD kind at its next discovery resync
			// (every 30 s), whenever that falls.
			if last[res] != n && (!strings.HasPrefix(res, "cilium") || last[res] != n+1) {
				ok = false
			}
		}
		if ok {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("open watches by resource = %v, want %v", last, want)
		}
		time.Sleep(time.Second)
	}
}

func TestIntegrationFidelity(t *testing.T) {
	if testing.Short() {
		t.Skip("local control plane test")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	c := upCluster(t, ctx)
	c.scaleWeb(ctx, t, 3)

	t.Run(MeshCilium, func(t *testing.T) { testCiliumFidelity(ctx, t, c) })
	t.Run(MeshIstioAmbient, func(t *testing.T) { testIstioFidelity(ctx, t, c) })
}

// startOn starts a mesh with one node agent; it is stopped and torn down
// when the subtest ends, however it ends.
func startOn(ctx context.Context, t *testing.T, c *cluster, mesh string) *Mesh {
	t.Helper()
	m, err := Start(ctx, Config{
		RESTConfig: c.cfg, Mesh: mesh, Nodes: c.nodes[:1], RunID: "r1", RunLabels: testRunLabels,
		Namespaces: []string{c.ns}, Logger: zaptest.NewLogger(t), EndpointSyncInterval: 2 * time.Second,
	})
	if err != nil {
		t.Fatalf("Start: %v", err)
	}
	t.Cleanup(func() { stopAndTeardown(ctx, t, c, m) })
	return m
}

func stopAndTeardown(ctx context.Context, t *testing.T, c *cluster, m *Mesh) {
	t.Helper()
	sum, err := m.Stop(ctx)
	if err != nil {
		t.Error(err)
	}
	for _, cs := range sum.Components {
		t.Logf("%s: replicas=%d lists=%d relists=%d watches=%d events=%d bytes=%d 429=%d errors=%d gets=%d writes=%v lags=%+v",
			cs.Name, cs.Replicas, cs.Lists, cs.Relists, cs.WatchRequests, cs.EventsReceived, cs.BytesReceived, cs.Throttled429, cs.Errors, cs.Gets, cs.Writes, cs.Lags)
		if cs.Errors != 0 {
			t.Errorf("%s: %d errors", cs.Name, cs.Errors)
		}
	}
	if err := Teardown(ctx, c.cfg, testRunLabels, zaptest.NewLogger(t), testenv.LogWriter(t)); err != nil {
		t.Errorf("Teardown: %v", err)
	}
	left, err := c.dyn.Resource(crds.CRDResource).List(ctx, metav1.ListOptions{LabelSelector: "churn.dev/run=r1"})
	if err != nil || len(left.Items) != 0 {
		t.Errorf("CRDs left after teardown: %d, %v", len(left.Items), err)
	}
	all, err := c.dyn.Resource(crds.CRDResource).List(ctx, metav1.ListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("CRDs after teardown: %d", len(all.Items))
}

func testCiliumFidelity(ctx context.Context, t *testing.T, c *cluster) {
	before := scrape(ctx, t, c.cs)
	startOn(ctx, t, c, MeshCilium)
	pods, err := c.cs.CoreV1().Pods(c.ns).List(ctx, metav1.ListOptions{LabelSelector: "app=web"})
	if err != nil || len(pods.Items) == 0 {
		t.Fatalf("pods: %v", err)
	}
	watched := pods.Items[0]
	eventually(t, "a ready CiliumEndpoint per pod", func() bool {
		list, err := c.dyn.Resource(gvrCEPs).Namespace(c.ns).List(ctx, metav1.ListOptions{})
		if err != nil || len(list.Items) != len(pods.Items) {
			return false
		}
		for _, cep := range list.Items {
			if s, _, _ := unstructured.NestedString(cep.Object, "status", "state"); s != stateReady {
				return false
			}
		}
		return true
	})
	cep, err := c.dyn.Resource(gvrCEPs).Namespace(c.ns).Get(ctx, watched.Name, metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if o := cep.GetOwnerReferences(); len(o) != 1 || o[0].UID != watched.UID {
		t.Errorf("CEP owner = %+v, want pod %s", o, watched.UID)
	}
	if _, err := c.dyn.Resource(gvrCNodes).Get(ctx, c.nodes[0], metav1.GetOptions{}); err != nil {
		t.Errorf("CiliumNode: %v", err)
	}
	// One agent (pods, nodes, namespaces, services, endpointslices,
	// networkpolicies, eight Cilium kinds and its own CiliumNode) and two
	// operators (three pod watches, nodes, policies, and what the agent's
	// CiliumEndpoints, identities and nodes need).
	watchesOpen(ctx, t, c.cs, before, map[string]float64{
		"pods": 7, "nodes": 3, "namespaces": 1, "services": 3, "endpointslices": 3, "networkpolicies": 1,
		"ciliumnodes": 4, "ciliumendpoints": 3, "ciliumidentities": 3, "ciliumnetworkpolicies": 3,
		"ciliumclusterwidenetworkpolicies": 3, "ciliumcidrgroups": 1, "ciliumenvoyconfigs": 1, "ciliumclusterwideenvoyconfigs": 1,
	})

	// The CEP follows its pod to deletion.
	if err := c.cs.CoreV1().Pods(c.ns).Delete(ctx, watched.Name, metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	eventually(t, "CEP of the deleted pod gone", func() bool {
		_, err := c.dyn.Resource(gvrCEPs).Namespace(c.ns).Get(ctx, watched.Name, metav1.GetOptions{})
		return err != nil
	})
	c.scaleWeb(ctx, t, 3)

	d := scrape(ctx, t, c.cs).delta(before)
	var cilium []string
	for k := range d {
		if strings.Contains(k, " cilium") {
			cilium = append(cilium, k)
		}
	}
	sort.Strings(cilium)
	t.Logf("cilium.io requests: %v", cilium)
	// Exactly the expected (verb, resource) set on Cilium's kinds. (WATCH
	// requests are counted when they end; the open-watch gauge above
	// covers them.)
	allowed := map[string]bool{
		"LIST ciliumnodes": true, "WATCH ciliumnodes": true, "GET ciliumnodes": true, "POST ciliumnodes": true,
		"LIST ciliumendpoints": true, "WATCH ciliumendpoints": true, "GET ciliumendpoints": true, "POST ciliumendpoints": true,
		"PATCH ciliumendpoints": true, "DELETE ciliumendpoints": true,
		"LIST ciliumidentities": true, "WATCH ciliumidentities": true, "POST ciliumidentities": true,
		"LIST ciliumnetworkpolicies": true, "WATCH ciliumnetworkpolicies": true, "POST ciliumnetworkpolicies": true,
		"LIST ciliumclusterwidenetworkpolicies": true, "WATCH ciliumclusterwidenetworkpolicies": true,
		"LIST ciliumcidrgroups": true, "WATCH ciliumcidrgroups": true, "LIST ciliumenvoyconfigs": true, "WATCH ciliumenvoyconfigs": true,
		"LIST ciliumclusterwideenvoyconfigs": true, "WATCH ciliumclusterwideenvoyconfigs": true,
	}
	for _, k := range cilium {
		if !allowed[k] {
			t.Errorf("unexpected request %q", k)
		}
	}
	for _, k := range []string{"POST ciliumnodes", "POST ciliumendpoints", "GET ciliumendpoints", "PATCH ciliumendpoints",
		"POST ciliumidentities", "LIST ciliumidentities", "POST ciliumnetworkpolicies"} {
		if d[k] == 0 {
			t.Errorf("no %q seen by the API server", k)
		}
	}
}

func testIstioFidelity(ctx context.Context, t *testing.T, c *cluster) {
	before := scrape(ctx, t, c.cs)
	startOn(ctx, t, c, MeshIstioAmbient)
	eventually(t, "istio-ca-root-cert", func() bool {
		_, err := c.cs.CoreV1().ConfigMaps(c.ns).Get(ctx, rootCertConfigMap, metav1.GetOptions{})
		return err == nil
	})
	eventually(t, "pods on the node enrolled", func() bool {
		list, err := c.cs.CoreV1().Pods(c.ns).List(ctx, metav1.ListOptions{LabelSelector: "app=web"})
		if err != nil || len(list.Items) == 0 {
			return false
		}
		for _, p := range list.Items {
			if p.Annotations[redirectionAnnotation] != redirectionEnabled {
				return false
			}
		}
		return true
	})
	want := map[string]float64{
		"pods": 3, "namespaces": 2, "services": 1, "nodes": 1, "endpointslices": 1, "secrets": 1, "configmaps": 3,
		"customresourcedefinitions": 1, "serviceaccounts": 1, "deployments": 1, "horizontalpodautoscalers": 1,
		"poddisruptionbudgets": 1, "ingresses": 1, "ingressclasses": 1, "mutatingwebhookconfigurations": 1,
		"validatingwebhookconfigurations": 2,
	}
	for _, set := range []string{crds.SetIstio, crds.SetGatewayAPI} {
		kinds, _ := crds.Kinds(set)
		for _, k := range kinds {
			want[k.Resource]++ // "gateways" is both Istio's and Gateway API's
		}
	}
	watchesOpen(ctx, t, c.cs, before, want)
	// A new pod on the node: CNI ADD (GET pod, GET namespace) then the
	// status patch.
	c.scaleWeb(ctx, t, 4)
	eventually(t, "new pod enrolled", func() bool {
		list, _ := c.cs.CoreV1().Pods(c.ns).List(ctx, metav1.ListOptions{LabelSelector: "app=web"})
		n := 0
		for _, p := range list.Items {
			if p.Annotations[redirectionAnnotation] == redirectionEnabled {
				n++
			}
		}
		return n == 4
	})
	d := scrape(ctx, t, c.cs).delta(before)
	// No LIST expected: istiod and istio-cni sync with streaming WATCHes,
	// counted among the open watches above.
	for _, k := range []string{"POST configmaps", "PATCH pods/status", "GET pods", "GET namespaces", "POST leases", "PUT leases"} {
		if d[k] == 0 {
			t.Errorf("no %q seen by the API server", k)
		}
	}
}
