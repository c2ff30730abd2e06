package realcilium

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
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
	Logger    *zap.Logger
}

// Operator is the real cilium-operator's replicas; it implements
// agents.StandIn and agents.StandInRules.
type Operator struct {
	opts OperatorOptions

	mu      sync.Mutex
	started bool
	procs   []*childproc.Process
	secrets string
	readyIn time.Duration
}

var (
	_ agents.StandIn      = (*Operator)(nil)
	_ agents.StandInRules = (*Operator)(nil)
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
		out[fmt.Sprintf("%s-%d", OperatorBinary, i)] = proc.PID()
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
	p.secrets = secrets
	p.mu.Unlock()
	started := time.Now()
	var health []string
	fail := func(err error) error {
		stopCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), p.opts.StopGrace+5*time.Second)
		defer cancel()
		return errors.Join(err, p.Stop(stopCtx))
	}
	for i := range p.opts.Replicas {
		ports, err := childproc.FreePorts(3)
		if err != nil {
			return fail(err)
		}
		cmd := exec.Command(p.opts.Binary, p.args(kubeconfig, id.Namespace, ports)...)
		cmd.Dir = p.opts.Dir
		cmd.Env = append(os.Environ(), "CILIUM_K8S_NAMESPACE="+id.Namespace, "KUBECONFIG="+kubeconfig)
		proc, err := childproc.Start(fmt.Sprintf("%s-%d", OperatorBinary, i), cmd, p.LogPath(i), 0)
		if err != nil {
			return fail(err)
		}
		p.mu.Lock()
		p.procs = append(p.procs, proc)
		p.mu.Unlock()
		health = append(health, "http://"+net.JoinHostPort(childproc.Loopback, strconv.Itoa(ports[0]))+"/healthz")
	}
	for i, url := range health {
		p.mu.Lock()
		proc := p.procs[i]
		p.mu.Unlock()
		if err := proc.WaitReady(ctx, p.opts.ReadyTimeout, 250*time.Millisecond, childproc.HTTPOK(url)); err != nil {
			return fail(err)
		}
	}
	p.mu.Lock()
	p.readyIn = time.Since(started)
	p.mu.Unlock()
	p.opts.Logger.Info("real cilium-operator ready", zap.Int("replicas", p.opts.Replicas), zap.Duration("after", p.readyIn))
	return nil
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
	p.secrets = ""
	p.mu.Unlock()
	if secrets != "" {
		defer os.RemoveAll(secrets)
	}
	var errs []error
	for i, proc := range procs {
		killed, err := proc.Stop(ctx, p.opts.StopGrace)
		if killed {
			p.opts.Logger.Warn("cilium-operator did not stop on SIGTERM; killed it", zap.Int("replica", i), zap.Int("pid", proc.PID()))
		}
		errs = append(errs, err)
	}
	return errors.Join(errs...)
}
