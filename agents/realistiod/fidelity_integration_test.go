package realistiod_test

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"go.uber.org/zap/zaptest"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"

	"github.com/churn-dev/churn/agents"
	"github.com/churn-dev/churn/agents/realistiod"
	"github.com/churn-dev/churn/internal/auditmix"
	"github.com/churn-dev/churn/internal/fidelity"
	"github.com/churn-dev/churn/internal/testenv"
)

var runLabels = map[string]string{"churn.dev/run": "fidelity"}

// Known differences between the emulated and the real istiod, each with
// its reason. Any other difference in the sets fails the test.
var (
	knownOnlyReal = fidelity.Known{
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
	knownOnlyEmulated = fidelity.Known{
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
//     make, shares within fidelity.ShareTolerancePoints.
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
	c := testenv.StartAuditedCluster(ctx, t, bin, dir)
	cfg, cs, auditLog := c.Config, c.Client, c.AuditLog
	w := fidelity.NewWorkload(t, ctx, cs, runLabels, 20, 3, 5)

	emulated := observe(t, ctx, w, cfg, "emulated", nil)
	resetIstiodWrites(t, ctx, cs)
	real, err := realistiod.New(realistiod.Options{Binary: istiodBin, Dir: filepath.Join(dir, "istiod"), Logger: zaptest.NewLogger(t)})
	if err != nil {
		t.Fatal(err)
	}
	realRun := observe(t, ctx, w, cfg, "real", real)
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
	for _, phase := range fidelity.Phases {
		both := func(o observation, points bool) func(auditmix.Request) bool {
			in := o.In(phase)
			return func(r auditmix.Request) bool { return r.User == o.user && in(r) && (!points || !r.IsCollection()) }
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
		fidelity.Check(t, phase, full, points, knownOnlyReal, knownOnlyEmulated, false)
	}
	if t.Failed() {
		t.Logf("audit log: %s", auditLog)
	}
}

// observation is one istiod's windows and its user in the audit log.
type observation struct {
	fidelity.Observation
	user string
}

// observe starts the istio mesh (no per-node agents) with the emulated
// istiod, or with real in its place, through the start-up window and the
// churn script of the steady window, and stops the mesh. Each side has its
// own run ID, so its own mesh namespace, leases and account.
func observe(t *testing.T, ctx context.Context, w *fidelity.Workload, cfg *rest.Config, side string, real *realistiod.Istiod) observation {
	t.Helper()
	mcfg := agents.Config{RESTConfig: cfg, Mesh: agents.MeshIstioAmbient, RunID: side, RunLabels: runLabels,
		Namespaces: w.Namespaces, Logger: zaptest.NewLogger(t)}
	if real != nil {
		mcfg.StandIns = map[string]agents.StandIn{"istiod": real}
	}
	o := w.Observe(t, ctx, side, nil, func() func() {
		m, err := agents.Start(ctx, mcfg)
		if err != nil {
			t.Fatalf("%s: start mesh: %v", side, err)
		}
		return func() {
			if _, err := m.Stop(context.Background()); err != nil {
				t.Errorf("%s: stop mesh: %v", side, err)
			}
		}
	})
	return observation{Observation: o, user: "system:serviceaccount:istio-system:istiod-churn-" + side}
}

// resetIstiodWrites deletes every istio-ca-root-cert ConfigMap, so the
// second istiod starts from the state the first one found.
func resetIstiodWrites(t *testing.T, ctx context.Context, cs kubernetes.Interface) {
	t.Helper()
	list, err := cs.CoreV1().ConfigMaps("").List(ctx, metav1.ListOptions{FieldSelector: "metadata.name=istio-ca-root-cert"})
	if err != nil {
		t.Fatal(err)
	}
	for _, cm := range list.Items {
		if err := cs.CoreV1().ConfigMaps(cm.Namespace).Delete(ctx, cm.Name, metav1.DeleteOptions{}); err != nil {
			t.Fatal(err)
		}
	}
}
