package realistiod_test

import (
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"go.uber.org/zap/zaptest"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"k8s.io/utils/ptr"

	"github.com/churn-dev/churn/agents"
	"github.com/churn-dev/churn/agents/realistiod"
	"github.com/churn-dev/churn/deploy/local"
	"github.com/churn-dev/churn/fakenodes"
	"github.com/churn-dev/churn/internal/auditmix"
	"github.com/churn-dev/churn/internal/testenv"
)

// The phases of one istiod's observation: the start-up window (initial
// LIST/WATCH, the first writes) and a steady window with churn. Both sides
// get windows of the same length, so time-driven requests (lease renewals)
// weigh the same in both mixes.
const (
	startupWindow = 60 * time.Second
	steadyWindow  = 90 * time.Second
	// shareTolerancePoints is the largest per-(verb, resource) share
	// difference accepted, in percentage points of each side's total.
	shareTolerancePoints = 10.0
)

var runLabels = map[string]string{"churn.dev/run": "fidelity"}

// Known differences between the emulated and the real istiod, each with
// its reason. Any other difference in the sets fails the test.
var (
	knownOnlyReal = map[string]string{
		// Point requests.
		"create secrets": "the real CA stores its root in istio-ca-secret once; the emulation keeps no CA",
		"get secrets":    "the real CA reads istio-ca-secret at start",
		"get configmaps": "the real istiod reads its istio-sidecar-injector ConfigMap at start",
		"create gatewayclasses.gateway.networking.k8s.io":        "the real istiod creates its default GatewayClasses once",
		"update gatewayclasses.gateway.networking.k8s.io/status": "and sets their status once",
		// Watched collections.
		"configmaps fields=metadata.name=istio":  "its mesh config, watched in its own namespace: the emulation's watches cannot name the run's mesh namespace yet",
		"secrets labels=istio/multiCluster=true": "remote cluster secrets, watched in its own namespace (as above)",
	}
	knownOnlyEmulated = map[string]string{
		"grpcroutes.gateway.networking.k8s.io":         "the project's Gateway API CRDs lack the gateway.networking.k8s.io/bundle-version annotation, so the real istiod ignores them",
		"tcproutes.gateway.networking.k8s.io":          "as grpcroutes (and the CRD serves v1alpha2, the real istiod wants v1)",
		"tlsroutes.gateway.networking.k8s.io":          "as tcproutes",
		"backendtlspolicies.gateway.networking.k8s.io": "as grpcroutes (CRD at v1alpha3, the real istiod wants v1)",
		"udproutes.gateway.networking.k8s.io":          "alpha Gateway API: the real istiod watches it only with PILOT_ENABLE_ALPHA_GATEWAY_API",
		"backendlbpolicies.gateway.networking.k8s.io":  "as udproutes",
	}
)

// lockConfigMaps are the elections the real istiod holds on ConfigMap
// locks and the emulation on Leases: the same GET+PUT every 7.5 s on
// another resource. The point-request comparison counts them as leases.
var lockConfigMaps = map[string]bool{"istio-leader": true, "istio-namespace-controller-election": true, "istio-ip-autoallocate": true}

func lockAsLease(reqs []auditmix.Request) []auditmix.Request {
	out := make([]auditmix.Request, len(reqs))
	for i, r := range reqs {
		if r.Resource == "configmaps" && lockConfigMaps[r.Name] {
			r.Group, r.Resource = "coordination.k8s.io", "leases"
		}
		out[i] = r
	}
	return out
}

// TestRealIstiodRequestMix runs the emulated istiod, then the real one, on
// the same local cluster and workload, each through the same start-up and
// churn script, and compares, from the API server's audit log:
//   - the collections each lists or watches (resource and selectors): the
//     same set, but for knownOnly*;
//   - their point requests (get, create, update, patch, delete) per (verb,
//     resource): the same set but for knownOnly*, and on the pairs both
//     make, shares within shareTolerancePoints.
//
// The full (verb, resource) table, sync requests included, is logged: both
// sync with streaming WATCHes (sendInitialEvents, client-go's
// WatchListClient), "watchlist" in the table.
func TestRealIstiodRequestMix(t *testing.T) {
	bin := testenv.RequireBinaries(t)
	istiodBin := filepath.Join(bin, realistiod.BinaryName)
	if _, err := os.Stat(istiodBin); err != nil {
		// Its own switch: make test builds the control plane, not istiod.
		if os.Getenv("CHURN_REQUIRE_ISTIOD") == "1" {
			t.Fatalf("CHURN_REQUIRE_ISTIOD=1: %v", err)
		}
		t.Skipf("skipping: %v (build it with make istiod; CHURN_REQUIRE_ISTIOD=1 fails instead)", err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Minute)
	defer cancel()
	dir := t.TempDir()
	auditLog := filepath.Join(dir, "audit", "audit.log")
	c := testenv.StartCluster(ctx, t, local.Options{Dir: filepath.Join(dir, "cluster"), BinDir: bin,
		Audit: local.AuditOptions{LogPath: auditLog}})
	cfg := c.RESTConfig()
	cs, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		t.Fatal(err)
	}
	w := newWorkload(t, ctx, cs, 20, 3, 5)

	emulated := w.observe(t, ctx, cfg, "emulated", nil)
	w.resetIstiodWrites(t, ctx)
	real, err := realistiod.New(realistiod.Options{Binary: istiodBin, Dir: filepath.Join(dir, "istiod"), Logger: zaptest.NewLogger(t)})
	if err != nil {
		t.Fatal(err)
	}
	realRun := w.observe(t, ctx, cfg, "real", real)
	t.Logf("real istiod ready after %s; log %s", real.ReadyAfter(), real.LogPath())

	reqs, err := auditmix.ReadFile(auditLog)
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range reqs {
		if r.User == realRun.user && r.Code == 403 {
			t.Errorf("the real istiod was refused %s %s (its account lacks a rule; see the istiod Writes in agents/meshes.go)", r.Verb, r.ResourceName())
		}
	}
	lockReqs := lockAsLease(reqs)
	for _, phase := range []string{"start-up", "steady"} {
		both := func(o observation, points bool) func(auditmix.Request) bool {
			in := o.selects(phase)
			return func(r auditmix.Request) bool { return in(r) && (!points || !r.IsCollection()) }
		}
		full := auditmix.Compare("real", auditmix.NewMix(reqs, both(realRun, false)), "emulated", auditmix.NewMix(reqs, both(emulated, false)))
		points := auditmix.Compare("real", auditmix.NewMix(lockReqs, both(realRun, true)), "emulated", auditmix.NewMix(lockReqs, both(emulated, true)))
		var b strings.Builder
		if err := full.Write(&b); err != nil {
			t.Fatal(err)
		}
		b.WriteString("\npoint requests only (no LIST/WATCH; election ConfigMaps counted as leases):\n")
		if err := points.Write(&b); err != nil {
			t.Fatal(err)
		}
		t.Logf("%s window:\n%s", phase, b.String())
		if full.TotalA == 0 || full.TotalB == 0 {
			t.Errorf("%s: no requests recorded (real %d, emulated %d)", phase, full.TotalA, full.TotalB)
			continue
		}
		check := func(what string, items []string, known map[string]string) {
			for _, it := range items {
				if why, ok := known[it]; ok {
					t.Logf("%s: known difference, %s %s: %s", phase, what, it, why)
					continue
				}
				t.Errorf("%s: %s %s", phase, what, it)
			}
		}
		check("only the real istiod makes", keys(points.OnlyA), knownOnlyReal)
		check("only the emulation makes", keys(points.OnlyB), knownOnlyEmulated)
		check("only the real istiod watches", watches(full.WatchedOnlyA), knownOnlyReal)
		check("only the emulation watches", watches(full.WatchedOnlyB), knownOnlyEmulated)
		for _, r := range points.Rows {
			if r.CountA == 0 || r.CountB == 0 {
				continue
			}
			if d := r.DiffPoints(); d > shareTolerancePoints || d < -shareTolerancePoints {
				t.Errorf("%s: share of %s differs by %+.1f pp (tolerance %.0f pp)", phase, r.Key, d, shareTolerancePoints)
			}
		}
	}
	if t.Failed() {
		t.Logf("audit log: %s", auditLog)
	}
}

func keys(ks []auditmix.Key) []string {
	var out []string
	for _, k := range ks {
		out = append(out, k.String())
	}
	return out
}

func watches(ws []auditmix.Watch) []string {
	var out []string
	for _, w := range ws {
		out = append(out, w.String())
	}
	return out
}

// workload is the cluster's nodes and the run's namespaces, each with a
// Deployment and a Service.
type workload struct {
	cs         kubernetes.Interface
	namespaces []string
}

func newWorkload(t *testing.T, ctx context.Context, cs kubernetes.Interface, nodes, namespaces int, replicas int32) *workload {
	t.Helper()
	if _, err := fakenodes.Create(ctx, cs, fakenodes.Spec{Count: nodes, QPS: 100}, io.Discard); err != nil {
		t.Fatal(err)
	}
	if err := fakenodes.WaitReady(ctx, cs, fakenodes.LabelSelector, nodes, io.Discard); err != nil {
		t.Fatal(err)
	}
	w := &workload{cs: cs}
	for i := range namespaces {
		ns := fmt.Sprintf("fidelity-%d", i)
		w.namespaces = append(w.namespaces, ns)
		if _, err := cs.CoreV1().Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns, Labels: runLabels}}, metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
		labels := map[string]string{"app": "web"}
		d := &appsv1.Deployment{
			ObjectMeta: metav1.ObjectMeta{Name: "web", Namespace: ns, Labels: runLabels},
			Spec: appsv1.DeploymentSpec{
				Replicas: ptr.To(replicas),
				Selector: &metav1.LabelSelector{MatchLabels: labels},
				Template: corev1.PodTemplateSpec{
					ObjectMeta: metav1.ObjectMeta{Labels: labels},
					Spec: corev1.PodSpec{NodeSelector: fakenodes.NodeSelector(), Tolerations: []corev1.Toleration{fakenodes.Toleration()},
						Containers: []corev1.Container{{Name: "app", Image: "fake.invalid/app:1"}}},
				},
			},
		}
		if _, err := cs.AppsV1().Deployments(ns).Create(ctx, d, metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
		svc := &corev1.Service{
			ObjectMeta: metav1.ObjectMeta{Name: "web", Namespace: ns, Labels: runLabels},
			Spec:       corev1.ServiceSpec{Selector: labels, Ports: []corev1.ServicePort{{Port: 80, TargetPort: intstr.FromInt32(8080)}}},
		}
		if _, err := cs.CoreV1().Services(ns).Create(ctx, svc, metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	for _, ns := range w.namespaces {
		w.waitReady(t, ctx, ns)
	}
	return w
}

// waitReady bounds the wait for the deployment's replicas to be Ready.
func (w *workload) waitReady(t *testing.T, ctx context.Context, ns string) {
	t.Helper()
	err := wait.PollUntilContextTimeout(ctx, time.Second, 3*time.Minute, true, func(ctx context.Context) (bool, error) {
		d, err := w.cs.AppsV1().Deployments(ns).Get(ctx, "web", metav1.GetOptions{})
		if err != nil {
			return false, nil
		}
		return d.Status.ObservedGeneration == d.Generation && d.Status.ReadyReplicas == *d.Spec.Replicas &&
			d.Status.Replicas == *d.Spec.Replicas, nil
	})
	if err != nil {
		t.Fatalf("deployment %s/web not ready: %v", ns, err)
	}
}

// observation is one istiod's windows and its user in the audit log.
type observation struct {
	user                  string
	start, steady, finish time.Time
}

// selects keeps the requests of this istiod in the named window.
func (o observation) selects(phase string) func(auditmix.Request) bool {
	from, to := o.start, o.steady
	if phase == "steady" {
		from, to = o.steady, o.finish
	}
	return func(r auditmix.Request) bool {
		return r.User == o.user && !r.Received.Before(from) && r.Received.Before(to)
	}
}

// observe starts the istio mesh (no per-node agents) with the emulated
// istiod, or with real in its place, waits out the start-up window, runs
// the churn script through the steady window and stops the mesh. Each side
// has its own run ID, so its own mesh namespace, leases and account.
func (w *workload) observe(t *testing.T, ctx context.Context, cfg *rest.Config, side string, real *realistiod.Istiod) observation {
	t.Helper()
	mcfg := agents.Config{RESTConfig: cfg, Mesh: agents.MeshIstioAmbient, RunID: side, RunLabels: runLabels,
		Namespaces: w.namespaces, Logger: zaptest.NewLogger(t)}
	if real != nil {
		mcfg.StandIns = map[string]agents.StandIn{"istiod": real}
	}
	o := observation{user: "system:serviceaccount:istio-system:istiod-churn-" + side, start: time.Now()}
	m, err := agents.Start(ctx, mcfg)
	if err != nil {
		t.Fatalf("%s: start mesh: %v", side, err)
	}
	defer func() {
		if _, err := m.Stop(context.Background()); err != nil {
			t.Errorf("%s: stop mesh: %v", side, err)
		}
	}()
	o.steady = o.start.Add(startupWindow)
	if now := time.Now(); now.After(o.steady) {
		t.Fatalf("%s: start-up took %s, longer than the %s window", side, now.Sub(o.start), startupWindow)
	}
	time.Sleep(time.Until(o.steady))
	w.churn(t, ctx, side)
	o.finish = o.steady.Add(steadyWindow)
	time.Sleep(time.Until(o.finish))
	return o
}

// churn is the steady window's script, at fixed offsets: three scales,
// a namespace relabel, and a new run namespace (which istiod gives its
// root-cert ConfigMap). It runs in the background and returns at once.
func (w *workload) churn(t *testing.T, ctx context.Context, side string) {
	steps := []struct {
		at time.Duration
		do func() error
	}{
		{5 * time.Second, func() error { return w.scale(ctx, w.namespaces[0], 7) }},
		{20 * time.Second, func() error { return w.relabel(ctx, w.namespaces[1], side) }},
		{35 * time.Second, func() error { return w.scale(ctx, w.namespaces[1], 3) }},
		{50 * time.Second, func() error { return w.addNamespace(ctx, "fidelity-new-"+side) }},
		{65 * time.Second, func() error { return w.scale(ctx, w.namespaces[0], 5) }},
	}
	start := time.Now()
	go func() {
		for _, s := range steps {
			time.Sleep(time.Until(start.Add(s.at)))
			if err := s.do(); err != nil {
				t.Errorf("%s: churn step at %s: %v", side, s.at, err)
			}
		}
	}()
}

func (w *workload) scale(ctx context.Context, ns string, replicas int32) error {
	patch := fmt.Sprintf(`{"spec":{"replicas":%d}}`, replicas)
	_, err := w.cs.AppsV1().Deployments(ns).Patch(ctx, "web", types.MergePatchType, []byte(patch), metav1.PatchOptions{}, "scale")
	return err
}

func (w *workload) relabel(ctx context.Context, ns, value string) error {
	patch := fmt.Sprintf(`{"metadata":{"labels":{"churn.dev/generation":%q}}}`, value)
	_, err := w.cs.CoreV1().Namespaces().Patch(ctx, ns, types.MergePatchType, []byte(patch), metav1.PatchOptions{})
	return err
}

func (w *workload) addNamespace(ctx context.Context, ns string) error {
	_, err := w.cs.CoreV1().Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns, Labels: runLabels}}, metav1.CreateOptions{})
	return err
}

// resetIstiodWrites deletes every istio-ca-root-cert ConfigMap, so the
// second istiod starts from the state the first one found.
func (w *workload) resetIstiodWrites(t *testing.T, ctx context.Context) {
	t.Helper()
	list, err := w.cs.CoreV1().ConfigMaps("").List(ctx, metav1.ListOptions{FieldSelector: "metadata.name=istio-ca-root-cert"})
	if err != nil {
		t.Fatal(err)
	}
	for _, cm := range list.Items {
		if err := w.cs.CoreV1().ConfigMaps(cm.Namespace).Delete(ctx, cm.Name, metav1.DeleteOptions{}); err != nil {
			t.Fatal(err)
		}
	}
}
