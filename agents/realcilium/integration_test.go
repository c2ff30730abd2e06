package realcilium_test

import (
	"context"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"syscall"
	"testing"
	"time"

	"go.uber.org/zap/zaptest"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"

	"github.com/churn-dev/churn/agents"
	"github.com/churn-dev/churn/agents/crds"
	"github.com/churn-dev/churn/agents/realcilium"
	"github.com/churn-dev/churn/fakenodes"
	"github.com/churn-dev/churn/internal/auditmix"
	"github.com/churn-dev/churn/internal/fidelity"
	"github.com/churn-dev/churn/internal/testenv"
)

var runLabels = map[string]string{"churn.dev/run": "fidelity"}

var (
	cepGVR      = schema.GroupVersionResource{Group: "cilium.io", Version: "v2", Resource: "ciliumendpoints"}
	identityGVR = schema.GroupVersionResource{Group: "cilium.io", Version: "v2", Resource: "ciliumidentities"}
	ciliumNode  = schema.GroupVersionResource{Group: "cilium.io", Version: "v2", Resource: "ciliumnodes"}
)

// requireCilium returns the control-plane binaries' directory, skipping
// the test when make cilium has not run (CHURN_REQUIRE_CILIUM=1 fails
// instead) or churn is not root.
func requireCilium(t *testing.T) string {
	t.Helper()
	bin := testenv.RequireBinaries(t)
	for _, name := range []string{realcilium.AgentBinary, realcilium.OperatorBinary} {
		if _, err := os.Stat(filepath.Join(bin, name)); err != nil {
			// Its own switch: make test builds the control plane, not Cilium.
			if os.Getenv("CHURN_REQUIRE_CILIUM") == "1" {
				t.Fatalf("CHURN_REQUIRE_CILIUM=1: %v", err)
			}
			t.Skipf("skipping: %v (build it with make cilium; CHURN_REQUIRE_CILIUM=1 fails instead)", err)
		}
	}
	if err := realcilium.CheckPrivileges(); err != nil {
		t.Skipf("skipping: %v", err)
	}
	return bin
}

// realCilium builds the real operator and agents on nodes.
func realCilium(t *testing.T, bin, dir string, cfg *rest.Config, ces bool, nodes []string) (*realcilium.Operator, []*realcilium.Agent) {
	t.Helper()
	op, err := realcilium.NewOperator(realcilium.OperatorOptions{Binary: filepath.Join(bin, realcilium.OperatorBinary),
		Dir: dir, EndpointSlices: ces, Logger: zaptest.NewLogger(t)})
	if err != nil {
		t.Fatal(err)
	}
	var as []*realcilium.Agent
	for _, n := range nodes {
		a, err := realcilium.NewAgent(realcilium.AgentOptions{Binary: filepath.Join(bin, realcilium.AgentBinary), Dir: dir,
			EndpointSlices: ces, CNI: realcilium.CNIOptions{RESTConfig: cfg}, Logger: zaptest.NewLogger(t)}, n)
		if err != nil {
			t.Fatal(err)
		}
		as = append(as, a)
	}
	return op, as
}

// meshConfig is a cilium mesh of the fidelity workload, with the real
// operator and agents in place of the emulated ones when given.
func meshConfig(t *testing.T, cfg *rest.Config, mesh, runID string, w *fidelity.Workload, nodes []string, op *realcilium.Operator, real []*realcilium.Agent) agents.Config {
	mcfg := agents.Config{RESTConfig: cfg, Mesh: mesh, RunID: runID, RunLabels: runLabels, Nodes: nodes,
		Namespaces: w.Namespaces, Logger: zaptest.NewLogger(t)}
	if op != nil {
		mcfg.StandIns = map[string]agents.StandIn{"cilium-operator": op}
		mcfg.ExtraCRDSets = []string{crds.SetCiliumReal}
	}
	if len(real) > 0 {
		byNode := map[string]agents.StandIn{}
		for _, a := range real {
			byNode[a.Node()] = a
		}
		mcfg.NodeStandIns = map[string]map[string]agents.StandIn{"cilium-agent": byNode}
	}
	return mcfg
}

func nodeNames(t *testing.T, ctx context.Context, cs kubernetes.Interface) []string {
	t.Helper()
	list, err := cs.CoreV1().Nodes().List(ctx, metav1.ListOptions{LabelSelector: fakenodes.LabelSelector})
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, n := range list.Items {
		out = append(out, n.Name)
	}
	sort.Strings(out)
	return out
}

// TestIntegrationRealCiliumOnKWOK runs the real cilium-operator and two
// real cilium-agents beside emulated agents on a local cluster and checks
// what they write: each real agent's node gets its CiliumNode and every
// pod kwok runs there a CiliumEndpoint from the real agent (through the
// CNI stand-in), scaled-down pods lose theirs, nothing the real processes
// do is refused, and after Stop and Teardown nothing of Cilium's is left.
func TestIntegrationRealCiliumOnKWOK(t *testing.T) {
	bin := requireCilium(t)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	dir := t.TempDir()
	c := testenv.StartAuditedCluster(ctx, t, bin, dir)
	cfg, cs, auditLog := c.Config, c.Client, c.AuditLog
	dyn, err := dynamic.NewForConfig(cfg)
	if err != nil {
		t.Fatal(err)
	}
	w := fidelity.NewWorkload(t, ctx, cs, runLabels, 4, 2, 8)
	nodes := nodeNames(t, ctx, cs)
	realNodes := []string{nodes[0], nodes[2]}
	op, real := realCilium(t, bin, filepath.Join(dir, "cilium"), cfg, true, realNodes)
	m, err := agents.Start(ctx, meshConfig(t, cfg, agents.MeshCiliumCES, "it", w, nodes, op, real))
	if err != nil {
		t.Fatal(err)
	}
	stopped := false
	defer func() {
		if !stopped {
			m.Stop(context.Background())
		}
	}()

	// Every running pod on a real node has its CiliumEndpoint.
	podsOn := func(node string) map[string]bool {
		pods, err := cs.CoreV1().Pods("").List(ctx, metav1.ListOptions{FieldSelector: "spec.nodeName=" + node})
		if err != nil {
			t.Fatal(err)
		}
		out := map[string]bool{}
		for _, p := range pods.Items {
			if p.DeletionTimestamp == nil && p.Status.PodIP != "" {
				out[p.Namespace+"/"+p.Name] = true
			}
		}
		return out
	}
	ceps := func() map[string]bool {
		list, err := dyn.Resource(cepGVR).List(ctx, metav1.ListOptions{})
		if err != nil {
			t.Fatal(err)
		}
		out := map[string]bool{}
		for _, o := range list.Items {
			out[o.GetNamespace()+"/"+o.GetName()] = true
		}
		return out
	}
	allHaveCEPs := func() (bool, string) {
		have := ceps()
		for _, n := range realNodes {
			for p := range podsOn(n) {
				if !have[p] {
					return false, p + " on " + n
				}
			}
		}
		return true, ""
	}
	var missing string
	if err := wait.PollUntilContextTimeout(ctx, time.Second, 2*time.Minute, true, func(context.Context) (bool, error) {
		ok, what := allHaveCEPs()
		missing = what
		return ok, nil
	}); err != nil {
		t.Fatalf("no CiliumEndpoint for %s: %v", missing, err)
	}
	for _, a := range real {
		if !a.Ready() || a.CNI().Adds == 0 {
			t.Errorf("real agent on %s: ready %v, CNI %+v", a.Node(), a.Ready(), a.CNI())
		}
		cn, err := dyn.Resource(ciliumNode).Get(ctx, a.Node(), metav1.GetOptions{})
		if err != nil {
			t.Errorf("CiliumNode %s: %v", a.Node(), err)
			continue
		}
		if cn.GetLabels()["churn.dev/run"] != "fidelity" || len(cn.GetOwnerReferences()) == 0 {
			t.Errorf("CiliumNode %s: labels %v, owners %v: want the node's labels and the node as owner (teardown and GC find it)",
				a.Node(), cn.GetLabels(), cn.GetOwnerReferences())
		}
	}
	ids, err := dyn.Resource(identityGVR).List(ctx, metav1.ListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	for _, id := range ids.Items {
		if id.GetLabels()["churn.dev/run"] != "fidelity" {
			t.Errorf("CiliumIdentity %s has no run label (labels %v): teardown would leave it", id.GetName(), id.GetLabels())
		}
	}

	// A scale-down takes the pods' endpoints with them.
	if err := w.Scale(ctx, w.Namespaces[0], 2); err != nil {
		t.Fatal(err)
	}
	w.WaitReady(t, ctx, w.Namespaces[0])
	if err := wait.PollUntilContextTimeout(ctx, time.Second, time.Minute, true, func(context.Context) (bool, error) {
		for _, a := range real {
			if a.CNI().Deletes > 0 {
				return true, nil
			}
		}
		return false, nil
	}); err != nil {
		t.Errorf("no CNI DEL after a scale-down: %v", err)
	}

	stopped = true
	if _, err := m.Stop(ctx); err != nil {
		t.Fatal(err)
	}
	for _, a := range real {
		if a.PID() == 0 {
			continue
		}
		if err := syscallAlive(a.PID()); err == nil {
			t.Errorf("real agent on %s (pid %d) still runs after Stop", a.Node(), a.PID())
		}
		if s := a.CNI(); s.Errors > 0 {
			t.Errorf("real agent on %s: %d CNI calls failed, last %s", a.Node(), s.Errors, s.LastError)
		}
	}
	if mounts, err := os.ReadFile("/proc/self/mountinfo"); err == nil && strings.Contains(string(mounts), dir) {
		t.Errorf("a mount under %s is left in churn's namespace", dir)
	}
	reqs, err := auditmix.ReadFile(auditLog)
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range reqs {
		if strings.Contains(r.User, "cilium") && !strings.Contains(r.UserAgent, "emulated") && r.Code == 403 {
			t.Errorf("%s was refused %s %s (the real component's rules lack it)", r.UserAgent, r.Verb, r.ResourceName())
		}
	}
	// Teardown removes what the real components wrote too: it carries the
	// run label (identities from the pods' labels, CiliumNodes from the
	// nodes'), and the endpoints go with the namespaces.
	if err := agents.Teardown(ctx, cfg, runLabels, zaptest.NewLogger(t), testenv.LogWriter(t)); err != nil {
		t.Fatal(err)
	}
	for _, gvr := range []schema.GroupVersionResource{identityGVR, ciliumNode} {
		list, err := dyn.Resource(gvr).List(ctx, metav1.ListOptions{})
		if err != nil {
			continue // the CRD went with the teardown
		}
		for _, o := range list.Items {
			t.Errorf("%s %s left after teardown", gvr.Resource, o.GetName())
		}
	}
}

// syscallAlive is nil while a process with pid exists.
func syscallAlive(pid int) error { return syscall.Kill(pid, 0) }
