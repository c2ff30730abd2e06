package realcilium

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"sync"
	"syscall"
	"time"

	"go.uber.org/zap"
	rbacv1 "k8s.io/api/rbac/v1"

	"github.com/churn-dev/churn/agents"
	"github.com/churn-dev/churn/internal/childproc"
)

// AgentBinary is the file make cilium writes into bin/ for the agent.
const AgentBinary = "cilium-agent"

// Defaults.
const (
	DefaultReadyTimeout = 5 * time.Minute
	// DefaultStopGrace is the wait between SIGTERM and SIGKILL.
	DefaultStopGrace = 15 * time.Second
)

// AgentOptions configure the real agents of a run (one process a node).
type AgentOptions struct {
	// Binary is the datapath-less cilium-agent (make cilium).
	Binary string
	// Dir holds one directory per node: the agent's private run
	// directory, its lib directory and its log.
	Dir string
	// EndpointSlices runs the agent with CiliumEndpointSlices on (the
	// cilium-ces mesh).
	EndpointSlices bool
	// CNI is the cluster access of the CNI stand-in, which watches the
	// node's pods as kubelet would and makes cilium-cni's calls to the
	// agent; it is not the agent's account.
	CNI CNIOptions
	// ReadyTimeout bounds the wait for the agent's API in Start.
	ReadyTimeout time.Duration
	// StopGrace is the wait between SIGTERM and SIGKILL in Stop.
	StopGrace time.Duration
	// OnStarted, if set, is called once the agent's process runs (before
	// it is ready), so its cost can be sampled from its start.
	OnStarted func(*Agent)
	Logger    *zap.Logger
}

// Agent is one real cilium-agent for one node; it implements
// agents.StandIn, agents.StandInRules and agents.StandInReady.
type Agent struct {
	opts AgentOptions
	node string

	mu      sync.Mutex
	started bool
	// stopped is for good (Stop); StopReplica stops the process only.
	stopped    bool
	proc       *childproc.Process
	secrets    string
	kubeconfig string
	namespace  string
	// readyIn is the first start's.
	readyIn  time.Duration
	ready    bool
	restarts int
	cni      *cniStandIn
	// cniPods and cniCount carry the CNI stand-in's state over a restart.
	cniPods  map[string]cniPod
	cniCount CNIStats
	startErr error
}

var (
	_ agents.StandIn          = (*Agent)(nil)
	_ agents.StandInRules     = (*Agent)(nil)
	_ agents.StandInReady     = (*Agent)(nil)
	_ agents.StandInRestarter = (*Agent)(nil)
)

// NewAgent checks the options for node's agent; Start runs it.
func NewAgent(o AgentOptions, node string) (*Agent, error) {
	if o.Binary == "" || o.Dir == "" || node == "" {
		return nil, errors.New("realcilium: Binary, Dir and a node are required")
	}
	var err error
	if o.Binary, o.Dir, err = resolve(o.Binary, o.Dir); err != nil {
		return nil, err
	}
	if o.ReadyTimeout <= 0 {
		o.ReadyTimeout = DefaultReadyTimeout
	}
	if o.StopGrace <= 0 {
		o.StopGrace = DefaultStopGrace
	}
	if o.Logger == nil {
		o.Logger = zap.NewNop()
	}
	return &Agent{opts: o, node: node}, nil
}

// resolve refuses a missing binary, naming how to build it, and makes
// the binary and directory absolute (the processes run in their own
// directories).
func resolve(bin, dir string) (string, string, error) {
	if _, err := os.Stat(bin); err != nil {
		return "", "", fmt.Errorf("realcilium: %s not found (build it with make cilium): %w", bin, err)
	}
	absBin, err := filepath.Abs(bin)
	if err != nil {
		return "", "", fmt.Errorf("realcilium: resolving %s: %w", bin, err)
	}
	absDir, err := filepath.Abs(dir)
	if err != nil {
		return "", "", fmt.Errorf("realcilium: resolving %s: %w", dir, err)
	}
	return absBin, absDir, nil
}

// CheckPrivileges refuses to run real agents without what they need: the
// agent bind-mounts its run directory in a mount namespace of its own,
// which takes root (CAP_SYS_ADMIN).
func CheckPrivileges() error {
	if os.Geteuid() != 0 {
		return errors.New("real cilium-agents need root: each runs in a mount namespace of its own (so that several share one machine)")
	}
	return nil
}

// Node is the node the agent runs for.
func (a *Agent) Node() string { return a.node }

// Dir is the agent's directory (run and lib directories, log).
func (a *Agent) Dir() string { return filepath.Join(a.opts.Dir, a.node) }

// LogPath is where the agent's output goes.
func (a *Agent) LogPath() string { return filepath.Join(a.Dir(), AgentBinary+".log") }

func (a *Agent) socket() string { return filepath.Join(a.Dir(), "run", "cilium.sock") }

// Rules are the agent's RBAC rules in Cilium's chart.
func (a *Agent) Rules() []rbacv1.PolicyRule { return agentRules() }

// PID is the process id, 0 before Start.
func (a *Agent) PID() int {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.proc == nil {
		return 0
	}
	return a.proc.PID()
}

// Ready reports whether the agent serves its API (and the CNI stand-in
// feeds it the node's pods).
func (a *Agent) Ready() bool {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.ready
}

// ReadyAfter is how long the agent took from start to ready.
func (a *Agent) ReadyAfter() time.Duration {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.readyIn
}

// StartError is why Start failed (nil if it did not).
func (a *Agent) StartError() error {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.startErr
}

// CNI returns the CNI stand-in's counters.
func (a *Agent) CNI() CNIStats {
	a.mu.Lock()
	c := a.cni
	a.mu.Unlock()
	if c == nil {
		a.mu.Lock()
		defer a.mu.Unlock()
		return a.cniCount // stopped: what it counted until then
	}
	return c.stats()
}

// Start runs the agent for its node as the component's account, waits
// until its API answers, then starts the CNI stand-in for the node's
// pods. On failure the process is stopped.
func (a *Agent) Start(ctx context.Context, id agents.StandInIdentity) (err error) {
	defer func() {
		if err != nil {
			a.mu.Lock()
			a.startErr = err
			a.mu.Unlock()
		}
	}()
	if id.Node != "" && id.Node != a.node {
		return fmt.Errorf("realcilium: agent for %s asked to start for %s", a.node, id.Node)
	}
	a.mu.Lock()
	if a.started || a.stopped {
		a.mu.Unlock()
		return errors.New("realcilium: agent already started or stopped")
	}
	a.started = true
	a.mu.Unlock()
	for _, d := range []string{filepath.Join(a.Dir(), "run"), filepath.Join(a.Dir(), "lib")} {
		if err := os.MkdirAll(d, 0o700); err != nil {
			return fmt.Errorf("creating %s: %w", d, err)
		}
	}
	secrets, kubeconfig, err := childproc.PrivateKubeconfig("churn-cilium-agent-", id.RESTConfig)
	if err != nil {
		return fmt.Errorf("realcilium: %w", err)
	}
	a.mu.Lock()
	a.secrets, a.kubeconfig, a.namespace = secrets, kubeconfig, id.Namespace
	a.mu.Unlock()
	if err := a.run(ctx, nil, CNIStats{}); err != nil {
		stopCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), a.opts.StopGrace+5*time.Second)
		defer cancel()
		return errors.Join(err, a.Stop(stopCtx))
	}
	return nil
}

// run starts the agent's process, waits until its API answers, then
// starts the CNI stand-in with pods, what an earlier one set up, and its
// counters so far. On failure it stops what it started.
func (a *Agent) run(ctx context.Context, pods map[string]cniPod, count CNIStats) error {
	a.mu.Lock()
	kubeconfig, namespace := a.kubeconfig, a.namespace
	a.mu.Unlock()
	ports, err := childproc.FreePorts(2)
	if err != nil {
		return err
	}
	cmd := exec.Command(a.opts.Binary, agentArgs(kubeconfig, a.Dir(), ports, a.opts.EndpointSlices)...)
	cmd.Dir = a.Dir()
	cmd.Env = append(os.Environ(), "K8S_NODE_NAME="+a.node, "CILIUM_K8S_NAMESPACE="+namespace, "KUBECONFIG="+kubeconfig)
	started := time.Now()
	a.mu.Lock()
	if a.stopped {
		a.mu.Unlock()
		return errors.New("realcilium: stopped before it started")
	}
	// A mount namespace of its own: the agent bind-mounts its run
	// directory over /var/run/cilium there (--churn-private-run-dir).
	proc, err := childproc.Start("cilium-agent on "+a.node, cmd, a.LogPath(), syscall.CLONE_NEWNS)
	a.proc = proc
	a.mu.Unlock()
	if err != nil {
		return err
	}
	a.opts.Logger.Debug("cilium-agent started", zap.String("node", a.node), zap.Int("pid", proc.PID()))
	if a.opts.OnStarted != nil {
		a.opts.OnStarted(a)
	}
	api := newAPIClient(a.socket())
	fail := func(err error) error {
		api.close()
		stopCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), a.opts.StopGrace+5*time.Second)
		defer cancel()
		return errors.Join(err, a.stopProcess(stopCtx))
	}
	if err := proc.WaitReady(ctx, a.opts.ReadyTimeout, 250*time.Millisecond, api.ready); err != nil {
		return fail(err)
	}
	if pods != nil {
		// A restart: what the agent did not restore is set up again.
		restored, err := api.endpointContainerIDs(ctx)
		if err != nil {
			return fail(err)
		}
		var again int
		pods, again = restoredOnly(pods, restored)
		if again > 0 {
			a.opts.Logger.Info("restarted cilium-agent did not restore some endpoints; the CNI stand-in sets them up again",
				zap.String("node", a.node), zap.Int("restored", len(pods)), zap.Int("again", again))
		}
	}
	cs, err := a.opts.CNI.client(a.node)
	var cni *cniStandIn
	if err == nil {
		cni, err = resumeCNI(ctx, cs, a.node, api, a.opts.Logger, pods, count)
	}
	if err != nil {
		return fail(err)
	}
	a.mu.Lock()
	if a.proc != proc {
		// Stopped meanwhile: the stand-in must not outlive its agent.
		a.mu.Unlock()
		cni.stop()
		return errors.New("realcilium: stopped while starting")
	}
	a.cni, a.ready = cni, true
	took := time.Since(started)
	if a.restarts == 0 {
		a.readyIn = took
	}
	a.mu.Unlock()
	a.opts.Logger.Info("real cilium-agent ready", zap.String("node", a.node), zap.Duration("after", took))
	return nil
}

// Replicas: one process per node.
func (a *Agent) Replicas() int { return 1 }

// StopReplica stops the agent as the kubelet stops a deleted pod's
// container (SIGTERM, SIGKILL after StopGrace) for a restart: its node,
// account, kubeconfig and run and lib directories (its endpoints' state)
// stay, and so do the pods the CNI stand-in set up, as the kubelet keeps
// their sandboxes while the agent restarts.
func (a *Agent) StopReplica(ctx context.Context, i int) error {
	if i != 0 {
		return fmt.Errorf("realcilium: the agent on %s has one process, not %d", a.node, i+1)
	}
	a.mu.Lock()
	if !a.started || a.stopped {
		a.mu.Unlock()
		return errors.New("realcilium: agent not running")
	}
	a.mu.Unlock()
	return a.stopProcess(ctx)
}

// StartReplica starts the agent again after StopReplica and returns once
// it is ready (its API answers and the CNI stand-in runs), as Start does.
func (a *Agent) StartReplica(ctx context.Context, i int) error {
	if i != 0 {
		return fmt.Errorf("realcilium: the agent on %s has one process, not %d", a.node, i+1)
	}
	a.mu.Lock()
	if !a.started || a.stopped {
		a.mu.Unlock()
		return errors.New("realcilium: agent stopped for good")
	}
	if a.proc != nil {
		a.mu.Unlock()
		return errors.New("realcilium: agent still running (StopReplica first)")
	}
	a.restarts++
	pods, count := a.cniPods, a.cniCount
	a.mu.Unlock()
	return a.run(ctx, pods, count)
}

// Restarts is how many times the agent was started again.
func (a *Agent) Restarts() int {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.restarts
}

// stopProcess ends the CNI stand-in (keeping what it set up for a
// restart), then the process (SIGTERM, SIGKILL after StopGrace).
func (a *Agent) stopProcess(ctx context.Context) error {
	a.mu.Lock()
	proc, cni := a.proc, a.cni
	a.proc, a.cni, a.ready = nil, nil, false
	a.mu.Unlock()
	if cni != nil {
		cni.stop()
		pods, count := cni.state()
		a.mu.Lock()
		a.cniPods, a.cniCount = pods, count
		a.mu.Unlock()
	}
	if proc == nil {
		return nil
	}
	killed, err := proc.Stop(ctx, a.opts.StopGrace)
	if killed {
		a.opts.Logger.Warn("cilium-agent did not stop on SIGTERM; killed it", zap.String("node", a.node), zap.Int("pid", proc.PID()))
	}
	return err
}

// agentArgs are the agent's flags: the chart's defaults where the pinned
// release has them, with CRD identities and Kubernetes IPAM (the node's
// podCIDR, as KWOK nodes have one), every listener on a free loopback
// port, and what needs a datapath off (L7 proxy, health probes, Hubble).
func agentArgs(kubeconfig, dir string, ports []int, endpointSlices bool) []string {
	args := []string{
		"--churn-private-run-dir=" + filepath.Join(dir, "run"),
		"--lib-dir=" + filepath.Join(dir, "lib"),
		"--k8s-kubeconfig-path=" + kubeconfig,
		"--identity-allocation-mode=crd",
		"--ipam=kubernetes",
		"--enable-ipv4=true",
		"--enable-ipv6=false",
		"--enable-l7-proxy=false",
		"--enable-health-checking=false",
		"--enable-endpoint-health-checking=false",
		"--enable-hubble=false",
		"--gops-port=" + strconv.Itoa(ports[0]),
		"--agent-health-port=" + strconv.Itoa(ports[1]),
		"--cluster-name=default",
	}
	if endpointSlices {
		args = append(args, "--enable-cilium-endpoint-slice")
	}
	return args
}

// Stop ends the CNI stand-in, then the agent (SIGTERM, SIGKILL after
// StopGrace), and removes its kubeconfig. Its mounts go with its mount
// namespace. Stopping an agent never started, or already stopped, is a
// no-op.
func (a *Agent) Stop(ctx context.Context) error {
	a.mu.Lock()
	a.stopped = true
	secrets := a.secrets
	a.secrets = ""
	a.mu.Unlock()
	if secrets != "" {
		defer os.RemoveAll(secrets)
	}
	return a.stopProcess(ctx)
}
