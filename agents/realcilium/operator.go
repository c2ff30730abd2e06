package realcilium

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"sync"
	"time"

	"go.uber.org/zap"
	rbacv1 "k8s.io/api/rbac/v1"

	"github.com/churn-dev/churn/agents"
	"github.com/churn-dev/churn/internal/childproc"
)

// OperatorBinary is the file make cilium writes into bin/ for the
// operator: the generic build, as Cilium's operator-generic image ships.
const OperatorBinary = "cilium-operator-generic"

// DefaultOperatorReplicas is the chart's operator.replicas.
const DefaultOperatorReplicas = 2

// OperatorOptions configure the real cilium-operator of a run.
type OperatorOptions struct {
	// Binary is cilium-operator-generic (make cilium).
	Binary string
	// Dir receives each replica's log.
	Dir string
	// Replicas are the processes started; they elect a leader on the
	// operator's lease (default 2, as the chart).
	Replicas int
	// EndpointSlices runs the operator's CiliumEndpointSlice controller
	// (the cilium-ces mesh).
	EndpointSlices bool
	// IdentityGCInterval, IdentityHeartbeatTimeout and EndpointGCInterval
	// are the operator's GC periods (0: Cilium's defaults), so a run can
	// set them as it does for the emulation.
	IdentityGCInterval, IdentityHeartbeatTimeout, EndpointGCInterval time.Duration
	// ReadyTimeout bounds the wait for every replica's /healthz.
	ReadyTimeout time.Duration
	// StopGrace is the wait between SIGTERM and SIGKILL in Stop.
	StopGrace time.Duration
	// OnStarted, if set, is called with a replica's name and process id
	// each time its process starts (a restart starts a new one).
	OnStarted func(name string, pid int)
	Logger    *zap.Logger
}

// Operator is the real cilium-operator's replicas; it implements
// agents.StandIn and agents.StandInRules.
type Operator struct {
	opts OperatorOptions

	mu      sync.Mutex
	started bool
	stopped bool
	// procs are the replicas' processes (nil: stopped for a restart).
	procs      []*childproc.Process
	secrets    string
	kubeconfig string
	namespace  string
	readyIn    time.Duration
	restarts   int
}

var (
	_ agents.StandIn          = (*Operator)(nil)
	_ agents.StandInRules     = (*Operator)(nil)
	_ agents.StandInRestarter = (*Operator)(nil)
)

// NewOperator checks the options; Start runs the replicas.
func NewOperator(o OperatorOptions) (*Operator, error) {
	if o.Binary == "" || o.Dir == "" {
		return nil, errors.New("realcilium: Binary and Dir are required")
	}
	var err error
	if o.Binary, o.Dir, err = resolve(o.Binary, o.Dir); err != nil {
		return nil, err
	}
	if o.Replicas <= 0 {
		o.Replicas = DefaultOperatorReplicas
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
	return &Operator{opts: o}, nil
}

// Rules are the operator's RBAC rules in Cilium's chart.
func (p *Operator) Rules() []rbacv1.PolicyRule { return operatorRules() }

// Processes returns each replica's name and process id.
func (p *Operator) Processes() map[string]int {
	p.mu.Lock()
	defer p.mu.Unlock()
	out := map[string]int{}
	for i, proc := range p.procs {
		if proc != nil {
			out[replicaName(i)] = proc.PID()
		}
	}
	return out
}

// LogPath is replica i's log.
func (p *Operator) LogPath(i int) string {
	return filepath.Join(p.opts.Dir, fmt.Sprintf("%s-%d.log", OperatorBinary, i))
}

// ReadyAfter is how long the replicas took from start to healthy.
func (p *Operator) ReadyAfter() time.Duration {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.readyIn
}

// Start runs the replicas as the operator's account and waits until each
// answers /healthz. On failure every replica is stopped.
func (p *Operator) Start(ctx context.Context, id agents.StandInIdentity) error {
	p.mu.Lock()
	if p.started {
		p.mu.Unlock()
		return errors.New("realcilium: operator already started")
	}
	p.started = true
	p.mu.Unlock()
	if err := os.MkdirAll(p.opts.Dir, 0o700); err != nil {
		return fmt.Errorf("creating %s: %w", p.opts.Dir, err)
	}
	secrets, kubeconfig, err := childproc.PrivateKubeconfig("churn-cilium-operator-", id.RESTConfig)
	if err != nil {
		return fmt.Errorf("realcilium: %w", err)
	}
	p.mu.Lock()
	p.secrets, p.kubeconfig, p.namespace = secrets, kubeconfig, id.Namespace
	p.procs = make([]*childproc.Process, p.opts.Replicas)
	p.mu.Unlock()
	started := time.Now()
	fail := func(err error) error {
		stopCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), p.opts.StopGrace+5*time.Second)
		defer cancel()
		return errors.Join(err, p.Stop(stopCtx))
	}
	health := make([]string, p.opts.Replicas)
	for i := range p.opts.Replicas {
		if health[i], err = p.spawn(i); err != nil {
			return fail(err)
		}
	}
	for i, url := range health {
		if err := p.waitHealthy(ctx, i, url); err != nil {
			return fail(err)
		}
	}
	p.mu.Lock()
	p.readyIn = time.Since(started)
	p.mu.Unlock()
	p.opts.Logger.Info("real cilium-operator ready", zap.Int("replicas", p.opts.Replicas), zap.Duration("after", p.readyIn))
	return nil
}

// spawn starts replica i's process and returns its /healthz URL.
func (p *Operator) spawn(i int) (string, error) {
	ports, err := childproc.FreePorts(3)
	if err != nil {
		return "", err
	}
	p.mu.Lock()
	kubeconfig, namespace := p.kubeconfig, p.namespace
	p.mu.Unlock()
	cmd := exec.Command(p.opts.Binary, p.args(kubeconfig, namespace, ports)...)
	cmd.Dir = p.opts.Dir
	cmd.Env = append(os.Environ(), "CILIUM_K8S_NAMESPACE="+namespace, "KUBECONFIG="+kubeconfig)
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.stopped {
		return "", errors.New("realcilium: operator stopped")
	}
	proc, err := childproc.Start(replicaName(i), cmd, p.LogPath(i), 0)
	if err != nil {
		return "", err
	}
	p.procs[i] = proc
	if p.opts.OnStarted != nil {
		p.opts.OnStarted(replicaName(i), proc.PID())
	}
	return "http://" + net.JoinHostPort(childproc.Loopback, strconv.Itoa(ports[0])) + "/healthz", nil
}

func replicaName(i int) string { return fmt.Sprintf("%s-%d", OperatorBinary, i) }

// waitHealthy waits until replica i answers /healthz at url.
func (p *Operator) waitHealthy(ctx context.Context, i int, url string) error {
	p.mu.Lock()
	proc := p.procs[i]
	p.mu.Unlock()
	if proc == nil {
		return fmt.Errorf("realcilium: %s stopped", replicaName(i))
	}
	return proc.WaitReady(ctx, p.opts.ReadyTimeout, 250*time.Millisecond, childproc.HTTPOK(url))
}

// Replicas is the number of operator processes.
func (p *Operator) Replicas() int { return p.opts.Replicas }

// StopReplica stops replica i as the kubelet stops a deleted pod's
// container (SIGTERM, SIGKILL after StopGrace). The operator releases its
// lease on SIGTERM when it leads (ReleaseOnCancel).
func (p *Operator) StopReplica(ctx context.Context, i int) error {
	if i < 0 || i >= p.opts.Replicas {
		return fmt.Errorf("realcilium: no operator replica %d", i)
	}
	p.mu.Lock()
	proc := p.procs[i]
	p.procs[i] = nil
	p.mu.Unlock()
	return p.stopProc(ctx, i, proc)
}

// StartReplica starts replica i again, as a new pod: the operator picks a
// new holder identity (hostname plus a random suffix) at every start, so
// it takes the lease over as a new pod does. It returns once the replica
// answers /healthz.
func (p *Operator) StartReplica(ctx context.Context, i int) error {
	if i < 0 || i >= p.opts.Replicas {
		return fmt.Errorf("realcilium: no operator replica %d", i)
	}
	p.mu.Lock()
	running, stopped := p.procs[i] != nil, p.stopped
	p.mu.Unlock()
	if stopped {
		return errors.New("realcilium: operator stopped for good")
	}
	if running {
		return fmt.Errorf("realcilium: %s still running (StopReplica first)", replicaName(i))
	}
	url, err := p.spawn(i)
	if err == nil {
		err = p.waitHealthy(ctx, i, url)
	}
	if err != nil {
		stopCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), p.opts.StopGrace+5*time.Second)
		defer cancel()
		return errors.Join(err, p.StopReplica(stopCtx, i))
	}
	p.mu.Lock()
	p.restarts++
	p.mu.Unlock()
	p.opts.Logger.Info("real cilium-operator replica ready again", zap.Int("replica", i))
	return nil
}

// Restarts is how many times a replica's process was started again.
func (p *Operator) Restarts() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.restarts
}

// args are the operator's flags: CRD identities, Kubernetes IPAM (as the
// real agents), CRDs left to churn, and every listener on loopback.
// ports: API (/healthz), Prometheus, gops.
func (p *Operator) args(kubeconfig, namespace string, ports []int) []string {
	addr := func(i int) string { return net.JoinHostPort(childproc.Loopback, strconv.Itoa(ports[i])) }
	args := []string{
		"--k8s-kubeconfig-path=" + kubeconfig,
		"--k8s-namespace=" + namespace,
		"--identity-allocation-mode=crd",
		"--ipam=kubernetes",
		"--skip-crd-creation",
		"--cluster-name=default",
		"--operator-api-serve-addr=" + addr(0),
		"--operator-prometheus-serve-addr=" + addr(1),
		"--gops-port=" + strconv.Itoa(ports[2]),
	}
	if p.opts.EndpointSlices {
		args = append(args, "--enable-cilium-endpoint-slice")
	}
	if d := p.opts.IdentityGCInterval; d > 0 {
		args = append(args, "--identity-gc-interval="+d.String())
	}
	if d := p.opts.IdentityHeartbeatTimeout; d > 0 {
		args = append(args, "--identity-heartbeat-timeout="+d.String())
	}
	if d := p.opts.EndpointGCInterval; d > 0 {
		args = append(args, "--cilium-endpoint-gc-interval="+d.String())
	}
	return args
}

// Stop ends every replica (SIGTERM, SIGKILL after StopGrace) and removes
// the kubeconfig. Stopping replicas never started, or stopped, is a no-op.
func (p *Operator) Stop(ctx context.Context) error {
	p.mu.Lock()
	procs, secrets := p.procs, p.secrets
	p.secrets, p.stopped = "", true
	procs = slices.Clone(procs)
	p.mu.Unlock()
	if secrets != "" {
		defer os.RemoveAll(secrets)
	}
	var errs []error
	for i, proc := range procs {
		errs = append(errs, p.stopProc(ctx, i, proc))
	}
	return errors.Join(errs...)
}

// stopProc ends replica i's process (nil: none runs).
func (p *Operator) stopProc(ctx context.Context, i int, proc *childproc.Process) error {
	if proc == nil {
		return nil
	}
	killed, err := proc.Stop(ctx, p.opts.StopGrace)
	if killed {
		p.opts.Logger.Warn("cilium-operator did not stop on SIGTERM; killed it", zap.Int("replica", i), zap.Int("pid", proc.PID()))
	}
	return err
}
