package realcilium_test

import (
	"context"
	"fmt"
	"io"
	"path/filepath"
	"strings"
	"testing"
	"text/tabwriter"
	"time"

	"go.uber.org/zap/zaptest"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"

	"github.com/churn-dev/churn/agents"
	"github.com/churn-dev/churn/agents/realcilium"
	"github.com/churn-dev/churn/deploy/local"
	"github.com/churn-dev/churn/internal/auditmix"
	"github.com/churn-dev/churn/internal/fidelity"
	"github.com/churn-dev/churn/internal/testenv"
)

// The fidelity workload: fidelityNodes fake nodes, realAgents of them with
// a real cilium-agent in the real observation (spread over the nodes).
const (
	fidelityNodes = 10
	realAgents    = 3
)

// Known differences between the real Cilium (the pinned release, with
// Kubernetes IPAM and CRD identities) and its emulation, each with its
// reason. Any other difference in the sets fails the test.
var (
	knownOnlyRealAgent     = fidelity.Known{}
	knownOnlyEmulatedAgent = fidelity.Known{}
	knownOnlyRealOperator  = fidelity.Known{}
	knownOnlyEmulatedOp    = fidelity.Known{}
)

// TestRealCiliumRequestMix checks the emulated cilium-agent and
// cilium-operator against the real ones (make cilium), for the cilium and
// the cilium-ces mesh, from the API server's audit log. On one local
// cluster and workload it runs two observations, each through the same
// start-up window and churn script (internal/fidelity):
//   - "emulated": every component emulated;
//   - "real": the real operator, and real agents on realAgents nodes
//     beside emulated agents on the others.
//
// The real agents are compared with the emulated agents of the same
// observation (same time, same churn), the real operator with the
// emulated operator of the first: the collections each lists or watches
// (resource and selectors), and their point requests per (verb, resource),
// the same sets but for known*, and on the pairs both make shares within
// fidelity.ShareTolerancePoints. The tables, with counts per agent, are
// logged.
func TestRealCiliumRequestMix(t *testing.T) {
	for _, mesh := range []string{agents.MeshCilium, agents.MeshCiliumCES} {
		t.Run(mesh, func(t *testing.T) { testRequestMix(t, mesh) })
	}
}

// side is one observation's components as the audit log names them.
type side struct {
	fidelity.Observation
	agentUser, operatorUser string
}

func testRequestMix(t *testing.T, mesh string) {
	bin := requireCilium(t)
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
	w := fidelity.NewWorkload(t, ctx, cs, runLabels, fidelityNodes, 4, 10)
	nodes := nodeNames(t, ctx, cs)
	var realNodes []string
	for i := range realAgents {
		realNodes = append(realNodes, nodes[i*len(nodes)/realAgents])
	}
	ces := mesh == agents.MeshCiliumCES

	emulated := observe(t, ctx, w, cfg, mesh, "emulated", nodes, nil, nil)
	// The second observation starts from a cluster without the first's
	// CiliumNodes, endpoints and identities, as the first did.
	if err := agents.Teardown(ctx, cfg, runLabels, zaptest.NewLogger(t), io.Discard); err != nil {
		t.Fatal(err)
	}
	op, real := realCilium(t, bin, filepath.Join(dir, "cilium"), cfg, ces, realNodes)
	realRun := observe(t, ctx, w, cfg, mesh, "real", nodes, op, real)
	for _, a := range real {
		s := a.CNI()
		t.Logf("real agent on %s: ready after %s, CNI stand-in %d ADD, %d DEL, %d failed; log %s",
			a.Node(), a.ReadyAfter(), s.Adds, s.Deletes, s.Errors, a.LogPath())
		if !a.Ready() && a.StartError() != nil {
			t.Errorf("real agent on %s did not start: %v", a.Node(), a.StartError())
		}
	}

	reqs, err := auditmix.ReadFile(auditLog)
	if err != nil {
		t.Fatal(err)
	}
	isReal := func(r auditmix.Request) bool { return !strings.Contains(r.UserAgent, "emulated") }
	for _, r := range reqs {
		if (r.User == realRun.agentUser || r.User == realRun.operatorUser) && isReal(r) && r.Code == 403 {
			t.Errorf("%s was refused %s %s (see agents/realcilium/rules.go)", r.UserAgent, r.Verb, r.ResourceName())
		}
	}
	for _, phase := range fidelity.Phases {
		keep := func(o side, user string, real bool, points bool) func(auditmix.Request) bool {
			in := o.In(phase)
			return func(r auditmix.Request) bool {
				return r.User == user && isReal(r) == real && in(r) && (!points || !r.IsCollection())
			}
		}
		compare := func(component string, a, b func(bool) func(auditmix.Request) bool, perA, perB int, knownReal, knownEmulated fidelity.Known) {
			full := auditmix.Compare("real", auditmix.NewMix(reqs, a(false)), "emulated", auditmix.NewMix(reqs, b(false)))
			points := auditmix.Compare("real", auditmix.NewMix(reqs, a(true)), "emulated", auditmix.NewMix(reqs, b(true)))
			var out strings.Builder
			writePerReplica(&out, full, perA, perB)
			out.WriteString("\npoint requests only (no LIST/WATCH):\n")
			if err := points.Write(&out); err != nil {
				t.Fatal(err)
			}
			t.Logf("%s, %s window:\n%s", component, phase, out.String())
			if full.TotalA == 0 || full.TotalB == 0 {
				t.Errorf("%s, %s: no requests recorded (real %d, emulated %d)", component, phase, full.TotalA, full.TotalB)
				return
			}
			fidelity.Check(t, component+" "+phase, full, points, knownReal, knownEmulated)
		}
		compare("cilium-agent",
			func(p bool) func(auditmix.Request) bool { return keep(realRun, realRun.agentUser, true, p) },
			func(p bool) func(auditmix.Request) bool { return keep(realRun, realRun.agentUser, false, p) },
			realAgents, fidelityNodes-realAgents, knownOnlyRealAgent, knownOnlyEmulatedAgent)
		compare("cilium-operator",
			func(p bool) func(auditmix.Request) bool { return keep(realRun, realRun.operatorUser, true, p) },
			func(p bool) func(auditmix.Request) bool { return keep(emulated, emulated.operatorUser, false, p) },
			1, 1, knownOnlyRealOperator, knownOnlyEmulatedOp)
	}
	if t.Failed() {
		t.Logf("audit log: %s", auditLog)
	}
}

// observe runs one observation of mesh: every component emulated, or the
// real operator and agents in place of theirs.
func observe(t *testing.T, ctx context.Context, w *fidelity.Workload, cfg *rest.Config, mesh, runID string, nodes []string,
	op *realcilium.Operator, real []*realcilium.Agent) side {
	t.Helper()
	mcfg := meshConfig(t, cfg, mesh, runID, w, nodes, op, real)
	o := w.Observe(t, ctx, runID, func() func() {
		m, err := agents.Start(ctx, mcfg)
		if err != nil {
			t.Fatalf("%s: start mesh: %v", runID, err)
		}
		return func() {
			if _, err := m.Stop(context.Background()); err != nil {
				t.Errorf("%s: stop mesh: %v", runID, err)
			}
		}
	})
	return side{Observation: o,
		agentUser:    "system:serviceaccount:kube-system:cilium-churn-" + runID,
		operatorUser: "system:serviceaccount:kube-system:cilium-operator-churn-" + runID}
}

// writePerReplica prints the full comparison with each side's count per
// replica (agent) beside its share.
func writePerReplica(w io.Writer, c auditmix.Comparison, perA, perB int) {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintf(tw, "VERB RESOURCE\t%s /replica\t%s /replica\t%s SHARE\t%s SHARE\tDIFF\n", c.NameA, c.NameB, c.NameA, c.NameB)
	for _, r := range c.Rows {
		fmt.Fprintf(tw, "%s\t%.1f\t%.1f\t%.1f%%\t%.1f%%\t%+.1f pp\n", r.Key, float64(r.CountA)/float64(perA), float64(r.CountB)/float64(perB),
			100*r.ShareA, 100*r.ShareB, r.DiffPoints())
	}
	fmt.Fprintf(tw, "total\t%.1f\t%.1f\t\t\t\n", float64(c.TotalA)/float64(perA), float64(c.TotalB)/float64(perB))
	tw.Flush()
	for _, ws := range [][]auditmix.Watch{c.WatchedOnlyA, c.WatchedOnlyB} {
		for _, x := range ws {
			fmt.Fprintf(w, "watched by one side only: %s\n", x)
		}
	}
}
