package realcilium_test

import (
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"text/tabwriter"
	"time"

	"go.uber.org/zap/zaptest"
	"k8s.io/client-go/rest"

	"github.com/churn-dev/churn/agents"
	"github.com/churn-dev/churn/agents/realcilium"
	"github.com/churn-dev/churn/internal/auditmix"
	"github.com/churn-dev/churn/internal/fidelity"
	"github.com/churn-dev/churn/internal/testenv"
)

// fidelityNodes fake nodes; in the real observation each has a real
// cilium-agent.
const fidelityNodes = 10

// The rollout window follows the steady one: rolloutAgents agents restart
// together (one wave, Mesh.Restart: real processes in the real
// observation, emulated replicas in the other) and the window runs
// rolloutWindow from the restart, so both sides' windows are as long.
const (
	rolloutAgents = 5
	rolloutWindow = 60 * time.Second
	rolloutPhase  = "rollout"
)

// Known differences between the real Cilium (the pinned v1.15, with
// Kubernetes IPAM and CRD identities, no datapath) and its emulation, each
// with its reason. Any other difference in the sets fails the test.
var (
	knownOnlyRealAgent = fidelity.Known{
		"get namespaces":                  "once per process at start: the Kubernetes client's connectivity check (GET namespace kube-system, pkg/k8s/client)",
		"list leases.coordination.k8s.io": "once at start: v1.15's L2-announcement lease GC lists the leases of its namespace even with the feature off (pkg/l2announcer)",
		"leases.coordination.k8s.io":      "the same one LIST",
	}
	knownOnlyEmulatedAgent = fidelity.Known{
		"ciliumenvoyconfigs.cilium.io":            "the v1.15 agent watches CiliumEnvoyConfigs only with --enable-envoy-config, which needs the L7 proxy a datapath-less agent runs without; the finding's agents ran the L7 proxy, so the emulation keeps the watch",
		"ciliumclusterwideenvoyconfigs.cilium.io": "as ciliumenvoyconfigs",
	}
	knownOnlyRealOperator = fidelity.Known{
		"get namespaces": "once per process at start: the client's connectivity check, as the agent's",
		"get customresourcedefinitions.apiextensions.k8s.io": "at start, the operator checks the CRDs it would create; churn installs them (--skip-crd-creation)",
		"ciliumloadbalancerippools.cilium.io":                "LB-IPAM's pools: their CRD is installed only with real Cilium, so the emulation cannot watch them",
		"list ciliumloadbalancerippools.cilium.io":           "as above",
		"update ciliumendpointslices.cilium.io":              "at start-up with CiliumEndpointSlices: the real agents' endpoints arrive over the seconds the agents take to start, so the real operator rewrites slices as they fill; the emulated agents' arrive within one 500 ms batch (in steady churn both update)",
	}
	knownOnlyEmulatedOp = fidelity.Known{
		"services":                        "the emulation follows the current operator (v1.20 operator/k8s/resources.go), which watches services; v1.15 with these flags does not",
		"endpointslices.discovery.k8s.io": "as services",
	}
	// setAside are point requests left out of the share comparison, with
	// the reason: both sides make them, but for a cause the fake datapath
	// removes.
	setAside = map[string]map[string]string{
		"start-up": {"patch ciliumendpoints.cilium.io": readyPatch},
		// The churn script's scale-ups create endpoints too.
		"steady": {"patch ciliumendpoints.cilium.io": readyPatch},
		rolloutPhase: {
			"patch ciliumendpoints.cilium.io": "the datapath-less agent cannot restore its endpoints after a restart (restore checks each endpoint's veth, which does not exist), so the CNI stand-in sets them up again as new endpoints, with new endpoint ids the agent patches into their CiliumEndpoints; an agent in a cluster restores them, ids kept, as the emulation does, and finds nothing to write",
		},
	}
	readyPatch = "the emulation creates each CiliumEndpoint waiting-to-regenerate and patches it ready at the next 10 s sync, as an agent does while its datapath compiles the endpoint; the datapath-less agent regenerates at once and writes ready in its CREATE"
)

// TestRealCiliumRequestMix checks the emulated cilium-agent and
// cilium-operator against the real ones (make cilium), for the cilium and
// the cilium-ces mesh, from the API server's audit log. On one local
// cluster and workload it runs two observations, each through the same
// start-up window and churn script (internal/fidelity, with scale-ups
// and scale-downs, a namespace relabel and a new namespace):
//   - "emulated": every component emulated;
//   - "real": the real operator and a real agent on every node.
//
// After the steady window, each observation restarts 5 agents in one
// rollout wave (Mesh.Restart: the real agents as processes, SIGTERM and
// start again; the emulated ones as replicas) and compares the agents'
// requests in a rollout window of rolloutWindow from the restart, the
// same way.
//
// Each real component is compared with its emulated one: the collections
// each lists or watches (resource and selectors), and their point requests
// per (verb, resource), the same sets but for known*, and on the pairs
// both make shares within fidelity.ShareTolerancePoints, taken of the
// requests on those pairs (setAside left out). The tables, with counts per agent, are logged. With
// CHURN_FIDELITY_AUDIT_DIR set, a failing run copies its audit log there.
func TestRealCiliumRequestMix(t *testing.T) {
	for _, mesh := range []string{agents.MeshCilium, agents.MeshCiliumCES} {
		t.Run(mesh, func(t *testing.T) { testRequestMix(t, mesh) })
	}
}

// side is one observation's components as the audit log names them.
type side struct {
	fidelity.Observation
	agentUser, operatorUser string
	// rolloutStart and rolloutEnd bound the rollout window.
	rolloutStart, rolloutEnd time.Time
}

// in keeps the requests received in the named phase's window.
func (o side) in(phase string) func(auditmix.Request) bool {
	if phase != rolloutPhase {
		return o.In(phase)
	}
	return func(r auditmix.Request) bool {
		return !r.Received.Before(o.rolloutStart) && r.Received.Before(o.rolloutEnd)
	}
}

func testRequestMix(t *testing.T, mesh string) {
	bin := requireCilium(t)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Minute)
	defer cancel()
	dir := t.TempDir()
	c := testenv.StartAuditedCluster(ctx, t, bin, dir)
	cfg, cs, auditLog := c.Config, c.Client, c.AuditLog
	w := fidelity.NewWorkload(t, ctx, cs, runLabels, fidelityNodes, 4, 10)
	nodes := nodeNames(t, ctx, cs)
	ces := mesh == agents.MeshCiliumCES

	emulated := observe(t, ctx, w, cfg, mesh, "emulated", nodes, nil, nil)
	// The second observation starts from a cluster without the first's
	// CiliumNodes, endpoints and identities, as the first did.
	if err := agents.Teardown(ctx, cfg, runLabels, zaptest.NewLogger(t), io.Discard); err != nil {
		t.Fatal(err)
	}
	w.Reset(t, ctx, 10)
	op, real := realCilium(t, bin, filepath.Join(dir, "cilium"), cfg, ces, nodes)
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
	for _, phase := range append(slices.Clone(fidelity.Phases), rolloutPhase) {
		keep := func(o side, user string, real bool, points bool) func(auditmix.Request) bool {
			in := o.in(phase)
			return func(r auditmix.Request) bool {
				if points && (r.IsCollection() || setAside[phase][auditmix.Key{Verb: r.Verb, Resource: r.ResourceName()}.String()] != "") {
					return false
				}
				return r.User == user && isReal(r) == real && in(r)
			}
		}
		for k, why := range setAside[phase] {
			t.Logf("%s: %s left out of the share comparison: %s", phase, k, why)
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
			key, worst := fidelity.WorstCommonDiff(points)
			t.Logf("%s, %s: worst share difference on the pairs both make: %.1f pp (%s)", component, phase, worst, key)
			fidelity.Check(t, component+" "+phase, full, points, knownReal, knownEmulated, true)
		}
		agentsIn := fidelityNodes
		if phase == rolloutPhase {
			// Counted per restarted agent: the others, with no churn in
			// the window, make next to nothing.
			agentsIn = rolloutAgents
		}
		compare("cilium-agent",
			func(p bool) func(auditmix.Request) bool { return keep(realRun, realRun.agentUser, true, p) },
			func(p bool) func(auditmix.Request) bool { return keep(emulated, emulated.agentUser, false, p) },
			agentsIn, agentsIn, knownOnlyRealAgent, knownOnlyEmulatedAgent)
		if phase == rolloutPhase {
			continue // the operator is not restarted
		}
		compare("cilium-operator",
			func(p bool) func(auditmix.Request) bool { return keep(realRun, realRun.operatorUser, true, p) },
			func(p bool) func(auditmix.Request) bool { return keep(emulated, emulated.operatorUser, false, p) },
			1, 1, knownOnlyRealOperator, knownOnlyEmulatedOp)
	}
	if t.Failed() {
		keepAuditLog(t, auditLog, mesh)
	}
}

// keepAuditLog copies a failing run's audit log to CHURN_FIDELITY_AUDIT_DIR.
func keepAuditLog(t *testing.T, auditLog, name string) {
	dir := os.Getenv("CHURN_FIDELITY_AUDIT_DIR")
	if dir == "" {
		t.Logf("audit log: %s (removed with the test; set CHURN_FIDELITY_AUDIT_DIR to keep it)", auditLog)
		return
	}
	data, err := os.ReadFile(auditLog)
	if err == nil {
		err = os.MkdirAll(dir, 0o755)
	}
	if err == nil {
		err = os.WriteFile(filepath.Join(dir, name+"-audit.log"), data, 0o644)
	}
	if err != nil {
		t.Logf("keeping the audit log: %v", err)
		return
	}
	t.Logf("audit log kept in %s", filepath.Join(dir, name+"-audit.log"))
}

// observe runs one observation of mesh: every component emulated, or the
// real operator and agents in place of theirs.
func observe(t *testing.T, ctx context.Context, w *fidelity.Workload, cfg *rest.Config, mesh, runID string, nodes []string,
	op *realcilium.Operator, real []*realcilium.Agent) side {
	t.Helper()
	mcfg := meshConfig(t, cfg, mesh, runID, w, nodes, op, real)
	var rollStart, rollEnd time.Time
	o := w.Observe(t, ctx, runID, steps(w, runID), func() func() {
		m, err := agents.Start(ctx, mcfg)
		if err != nil {
			t.Fatalf("%s: start mesh: %v", runID, err)
		}
		return func() {
			// The steady window is over: the rollout window, then stop.
			rollStart, rollEnd = rollout(t, ctx, m, runID)
			if _, err := m.Stop(context.Background()); err != nil {
				t.Errorf("%s: stop mesh: %v", runID, err)
			}
		}
	})
	return side{Observation: o,
		agentUser:    "system:serviceaccount:kube-system:cilium-churn-" + runID,
		operatorUser: "system:serviceaccount:kube-system:cilium-operator-churn-" + runID,
		rolloutStart: rollStart, rolloutEnd: rollEnd}
}

// rollout restarts the first rolloutAgents cilium-agents of m together, as
// one wave of a DaemonSet rollout, waits out rolloutWindow from the
// restart, and returns the window.
func rollout(t *testing.T, ctx context.Context, m *agents.Mesh, runID string) (time.Time, time.Time) {
	t.Helper()
	start := time.Now()
	end := start.Add(rolloutWindow)
	names, err := m.Replicas("cilium-agent")
	if err != nil || len(names) < rolloutAgents {
		t.Errorf("%s: cilium-agent replicas %v, %v; want %d to restart", runID, names, err, rolloutAgents)
		return start, start
	}
	rctx, cancel := context.WithDeadline(ctx, end)
	defer cancel()
	startups, err := m.Restart(rctx, "cilium-agent", names[:rolloutAgents], nil)
	if err != nil {
		t.Errorf("%s: restart of %d agents: %v", runID, rolloutAgents, err)
	}
	for _, s := range startups {
		kind := "emulated"
		if s.Real {
			kind = "real"
		}
		var lists int64
		var bytes int64
		for _, l := range s.Lists {
			lists += l.Requests
			bytes += l.Bytes
		}
		t.Logf("%s: %s %s restarted: ready=%v after %s (lists seen from inside: %d, %d B)", runID, kind, s.Name, s.Ready,
			s.ReadyAfter.Round(10*time.Millisecond), lists, bytes)
	}
	time.Sleep(time.Until(end))
	return start, end
}

// steps are the steady window's script for Cilium: scale-ups put new
// pods on every node (endpoints and identities created), scale-downs
// remove some (endpoints deleted), a relabel moves a namespace's pods to a
// new identity, and a new namespace arrives.
func steps(w *fidelity.Workload, side string) []fidelity.Step {
	ns := w.Namespaces
	return []fidelity.Step{
		{At: 5 * time.Second, Do: func(ctx context.Context) error { return w.Scale(ctx, ns[0], 16) }},
		{At: 20 * time.Second, Do: func(ctx context.Context) error { return w.Relabel(ctx, ns[1], side) }},
		{At: 35 * time.Second, Do: func(ctx context.Context) error { return w.Scale(ctx, ns[1], 4) }},
		{At: 50 * time.Second, Do: func(ctx context.Context) error { return w.AddNamespace(ctx, "fidelity-new-"+side) }},
		{At: 65 * time.Second, Do: func(ctx context.Context) error { return w.Scale(ctx, ns[2], 17) }},
		{At: 80 * time.Second, Do: func(ctx context.Context) error { return w.Scale(ctx, ns[0], 8) }},
	}
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
