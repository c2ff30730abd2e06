package runner

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/churn-dev/churn/agents"
	"github.com/churn-dev/churn/agents/crds"
	"github.com/churn-dev/churn/agents/realcilium"
	"github.com/churn-dev/churn/observers"
	"github.com/churn-dev/churn/profiles"
	"github.com/churn-dev/churn/results"
)

// The emulated components real Cilium replaces.
const (
	ciliumOperatorComponent = "cilium-operator"
	ciliumAgentComponent    = "cilium-agent"
)

// RealCiliumBinaries are where a run looks for the real Cilium (make cilium).
func RealCiliumBinaries(binDir string) (agent, operator string) {
	if binDir == "" {
		binDir = "bin"
	}
	return filepath.Join(binDir, realcilium.AgentBinary), filepath.Join(binDir, realcilium.OperatorBinary)
}

// CheckRealCilium fails early, before any cluster work, when a profile
// asks for real Cilium and a binary is missing, churn is not root (each
// agent needs a mount namespace), or the per-node agents run elsewhere.
func CheckRealCilium(o Options) error {
	if o.Profile.Mesh.Cilium != profiles.CiliumReal {
		return nil
	}
	var errs []error
	agent, operator := RealCiliumBinaries(o.BinDir)
	for _, bin := range []string{agent, operator} {
		if _, err := os.Stat(bin); err != nil {
			errs = append(errs, fmt.Errorf("mesh.cilium real needs %s (build it with make cilium): %w", bin, err))
		}
	}
	if err := realcilium.CheckPrivileges(); err != nil {
		errs = append(errs, fmt.Errorf("mesh.cilium real: %w", err))
	}
	if o.Agents == agents.AgentsExternal {
		errs = append(errs, fmt.Errorf("mesh.cilium real runs its agents in churn's process tree; it cannot be combined with --agents %s", o.Agents))
	}
	return errors.Join(errs...)
}

// realCilium is the run's real Cilium: the operator in place of the
// emulated one, and agents on some nodes.
type realCilium struct {
	operator *realcilium.Operator
	agents   []*realcilium.Agent
}

// realCiliumFor builds the real Cilium stand-ins when the profile asks for
// them. Logs and working files go to <out>/cilium/. The agents' nodes are
// spread evenly over the run's nodes.
func (r *run) realCiliumFor() (*realCilium, error) {
	mesh := r.opts.Profile.Mesh
	n := mesh.RealCiliumAgents(len(r.nodes))
	if mesh.Cilium != profiles.CiliumReal || n == 0 {
		return nil, nil
	}
	agentBin, operatorBin := RealCiliumBinaries(r.opts.BinDir)
	dir := filepath.Join(r.opts.OutDir, "cilium")
	ces := mesh.Name == profiles.MeshCiliumCES
	op, err := realcilium.NewOperator(realcilium.OperatorOptions{
		Binary: operatorBin, Dir: dir, EndpointSlices: ces, Logger: r.log,
		OnStarted: r.sampleRealProcess,
	})
	if err != nil {
		return nil, err
	}
	rc := &realCilium{operator: op}
	for _, node := range spreadNodes(r.nodes, n) {
		a, err := realcilium.NewAgent(realcilium.AgentOptions{
			Binary: agentBin, Dir: dir, EndpointSlices: ces, Logger: r.log,
			CNI:       realcilium.CNIOptions{RESTConfig: r.target.Config},
			OnStarted: r.sampleRealAgent,
		}, node)
		if err != nil {
			return nil, err
		}
		rc.agents = append(rc.agents, a)
	}
	return rc, nil
}

// spreadNodes picks n of nodes, evenly spaced.
func spreadNodes(nodes []string, n int) []string {
	out := make([]string, 0, n)
	for i := range n {
		out = append(out, nodes[i*len(nodes)/n])
	}
	return out
}

func (rc *realCilium) standIns() map[string]agents.StandIn {
	if rc == nil {
		return nil
	}
	return map[string]agents.StandIn{ciliumOperatorComponent: rc.operator}
}

func (rc *realCilium) nodeStandIns() map[string]map[string]agents.StandIn {
	if rc == nil {
		return nil
	}
	byNode := map[string]agents.StandIn{}
	for _, a := range rc.agents {
		byNode[a.Node()] = a
	}
	return map[string]map[string]agents.StandIn{ciliumAgentComponent: byNode}
}

func (rc *realCilium) crdSets() []string {
	if rc == nil {
		return nil
	}
	return []string{crds.SetCiliumReal}
}

// sampleRealAgent puts a started real agent in the process table.
func (r *run) sampleRealAgent(a *realcilium.Agent) {
	if r.controlPlane != nil {
		r.controlPlane.add(observers.Process{Name: realcilium.AgentBinary + "@" + a.Node(), PID: a.PID(), Role: observers.RoleMesh})
	}
}

// sampleRealProcess puts a started real process in the process table
// (again after a rollout restarts it: the name stays, the PID changes).
func (r *run) sampleRealProcess(name string, pid int) {
	if r.controlPlane != nil {
		r.controlPlane.add(observers.Process{Name: name, PID: pid, Role: observers.RoleMesh})
	}
}

// noteRealCilium tells the user where the real Cilium runs once the mesh
// has started (the agents start later, in their nodes' rollout turns).
func (r *run) noteRealCilium(rc *realCilium) {
	if rc == nil {
		return
	}
	pids := rc.operator.Processes()
	fmt.Fprintf(r.progress(), "  cilium-operator: real %s, %d replicas, healthy after %s; logs in %s\n",
		realcilium.OperatorBinary, len(pids), rc.operator.ReadyAfter().Round(100*time.Millisecond), filepath.Dir(rc.operator.LogPath(0)))
	fmt.Fprintf(r.progress(), "  cilium-agent: real on %d nodes (the others emulated), started in their rollout turns\n", len(rc.agents))
	if r.controlPlane != nil {
		for name, pid := range pids {
			r.controlPlane.add(observers.Process{Name: name, PID: pid, Role: observers.RoleMesh})
		}
	}
}

// summary says what each real process did, for the run's mesh summary.
func (rc *realCilium) summary() []results.RealComponent {
	if rc == nil {
		return nil
	}
	out := []results.RealComponent{{Name: realcilium.OperatorBinary, Replicas: rc.operator.Replicas(),
		ReadySeconds: rc.operator.ReadyAfter().Seconds(), Restarts: rc.operator.Restarts(), Log: rc.operator.LogPath(0)}}
	for _, a := range rc.agents {
		c := a.CNI()
		rcomp := results.RealComponent{Name: realcilium.AgentBinary, Node: a.Node(), ReadySeconds: a.ReadyAfter().Seconds(), Restarts: a.Restarts(),
			CNIAdds: c.Adds, CNIDeletes: c.Deletes, CNIErrors: c.Errors, CNILast: c.LastError, Log: a.LogPath()}
		if err := a.StartError(); err != nil {
			rcomp.Error = err.Error()
		}
		out = append(out, rcomp)
	}
	return out
}
