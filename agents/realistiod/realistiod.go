// Package realistiod runs the real istiod (pilot-discovery, built by make
// istiod from deploy/istiod) as a child process in place of the emulated
// one: an agents.StandIn. It listens on loopback only, runs in its own
// process group, dies with churn, and logs to a file.
package realistiod

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

	"github.com/churn-dev/churn/agents"
	"github.com/churn-dev/churn/internal/childproc"
)

// BinaryName is the file make istiod writes into bin/.
const BinaryName = "pilot-discovery"

// Defaults.
const (
	DefaultReadyTimeout = 5 * time.Minute
	// DefaultStopGrace is the wait between SIGTERM and SIGKILL; istiod
	// drains for its --shutdownDuration (10 s) first.
	DefaultStopGrace = 20 * time.Second
)

// Options configure one istiod process.
type Options struct {
	// Binary is the pilot-discovery executable.
	Binary string
	// Dir is istiod's working directory (its mesh config and the files it
	// writes); created if missing. The kubeconfig, which holds
	// credentials, goes to a private temporary directory instead and is
	// removed by Stop.
	Dir string
	// LogPath receives istiod's output (default Dir/pilot-discovery.log).
	LogPath string
	// ReadyTimeout bounds the wait for /ready (caches synced) in Start.
	ReadyTimeout time.Duration
	// StopGrace is the wait between SIGTERM and SIGKILL in Stop.
	StopGrace time.Duration
	// Env is extra KEY=VALUE environment, applied after the defaults.
	Env []string
	// OnStarted, if set, is called with the process id each time istiod's
	// process starts (a restart starts a new one).
	OnStarted func(pid int)
	Logger    *zap.Logger
}

// Istiod is one pilot-discovery process; it implements agents.StandIn.
type Istiod struct {
	opts Options

	mu       sync.Mutex
	proc     *childproc.Process
	started  bool
	stopped  bool // for good (Stop)
	down     bool // stopped for a restart (StopReplica)
	restarts int
	secrets  string // private directory of the kubeconfig
	// kubeconfig and id are Start's, for restarts.
	kubeconfig string
	id         agents.StandInIdentity
	readyURL   string
	readyIn    time.Duration // the first start's
}

var (
	_ agents.StandIn          = (*Istiod)(nil)
	_ agents.StandInRestarter = (*Istiod)(nil)
)

// New checks the options; Start runs the process.
func New(o Options) (*Istiod, error) {
	if o.Binary == "" || o.Dir == "" {
		return nil, errors.New("realistiod: Binary and Dir are required")
	}
	if _, err := os.Stat(o.Binary); err != nil {
		return nil, fmt.Errorf("realistiod: %s not found (build it with make istiod): %w", o.Binary, err)
	}
	// Absolute, since istiod runs in Dir.
	var err error
	if o.Binary, err = filepath.Abs(o.Binary); err != nil {
		return nil, fmt.Errorf("realistiod: resolving %s: %w", o.Binary, err)
	}
	if o.Dir, err = filepath.Abs(o.Dir); err != nil {
		return nil, fmt.Errorf("realistiod: resolving %s: %w", o.Dir, err)
	}
	if o.LogPath == "" {
		o.LogPath = filepath.Join(o.Dir, BinaryName+".log")
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
	return &Istiod{opts: o}, nil
}

// LogPath is where istiod's output goes.
func (p *Istiod) LogPath() string { return p.opts.LogPath }

// PID is the process id, 0 before Start.
func (p *Istiod) PID() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.proc == nil {
		return 0
	}
	return p.proc.PID()
}

// ReadyAfter is how long istiod took from start to /ready.
func (p *Istiod) ReadyAfter() time.Duration {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.readyIn
}

// Start writes istiod's kubeconfig and mesh config, starts it and waits
// until /ready answers 200 (its informers have synced), the process exits,
// or ReadyTimeout passes; on failure the process is stopped.
func (p *Istiod) Start(ctx context.Context, id agents.StandInIdentity) error {
	p.mu.Lock()
	if p.started {
		p.mu.Unlock()
		return errors.New("realistiod: already started")
	}
	p.started = true
	p.mu.Unlock()
	if err := os.MkdirAll(p.opts.Dir, 0o700); err != nil {
		return fmt.Errorf("creating %s: %w", p.opts.Dir, err)
	}
	secrets, kubeconfig, err := childproc.PrivateKubeconfig("churn-istiod-", id.RESTConfig)
	if err != nil {
		return fmt.Errorf("realistiod: %w", err)
	}
	p.mu.Lock()
	p.secrets, p.kubeconfig, p.id = secrets, kubeconfig, id
	p.mu.Unlock()
	meshConfig := filepath.Join(p.opts.Dir, "mesh.yaml")
	if err := os.WriteFile(meshConfig, []byte(meshConfigYAML(id.Namespace)), 0o600); err != nil {
		return fmt.Errorf("writing mesh config: %w", err)
	}
	took, err := p.run(ctx)
	if err != nil {
		stopCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), p.opts.StopGrace+5*time.Second)
		defer cancel()
		return errors.Join(err, p.Stop(stopCtx))
	}
	p.mu.Lock()
	p.readyIn = took
	p.mu.Unlock()
	return nil
}

// run starts the process as pod podName(restarts) and waits until /ready
// answers; it returns how long that took.
func (p *Istiod) run(ctx context.Context) (time.Duration, error) {
	ports, err := childproc.FreePorts(6)
	if err != nil {
		return 0, err
	}
	p.mu.Lock()
	kubeconfig, id, pod := p.kubeconfig, p.id, podName(p.restarts)
	p.mu.Unlock()
	cmd := exec.Command(p.opts.Binary, args(kubeconfig, filepath.Join(p.opts.Dir, "mesh.yaml"), ports)...)
	cmd.Dir = p.opts.Dir
	cmd.Env = append(os.Environ(), env(id, kubeconfig, pod)...)
	cmd.Env = append(cmd.Env, p.opts.Env...)
	started := time.Now()
	p.mu.Lock()
	if p.stopped {
		p.mu.Unlock()
		return 0, errors.New("realistiod: stopped")
	}
	proc, err := childproc.Start("istiod", cmd, p.opts.LogPath, 0)
	if err != nil {
		p.mu.Unlock()
		return 0, err
	}
	p.proc, p.down = proc, false
	p.readyURL = "http://" + net.JoinHostPort(childproc.Loopback, strconv.Itoa(ports[0])) + "/ready"
	readyURL := p.readyURL
	p.mu.Unlock()
	p.opts.Logger.Info("istiod started", zap.Int("pid", proc.PID()), zap.String("pod", pod), zap.String("log", p.opts.LogPath))
	if p.opts.OnStarted != nil {
		p.opts.OnStarted(proc.PID())
	}
	if err := proc.WaitReady(ctx, p.opts.ReadyTimeout, 500*time.Millisecond, childproc.HTTPOK(readyURL)); err != nil {
		return 0, err
	}
	took := time.Since(started)
	p.opts.Logger.Info("istiod ready", zap.Duration("after", took))
	return took, nil
}

// podName is the POD_NAME istiod runs as: a restart is a new pod, so
// pilot-discovery, whose leader elections take the pod name as holder
// identity, comes back as a new holder.
func podName(restarts int) string { return fmt.Sprintf("istiod-churn-%d", restarts) }

// Replicas: istiod is one process (the chart's one replica).
func (p *Istiod) Replicas() int { return 1 }

// StopReplica stops istiod as the kubelet stops a deleted pod's container
// (SIGTERM, SIGKILL after StopGrace), keeping its kubeconfig and mesh
// config for StartReplica.
func (p *Istiod) StopReplica(ctx context.Context, i int) error {
	if i != 0 {
		return fmt.Errorf("realistiod: istiod has one process, not %d", i+1)
	}
	p.mu.Lock()
	if !p.started || p.stopped {
		p.mu.Unlock()
		return errors.New("realistiod: not running")
	}
	proc := p.proc
	p.down = true
	p.mu.Unlock()
	return p.stopProc(ctx, proc)
}

// StartReplica starts istiod again after StopReplica, as a new pod (a new
// POD_NAME), and returns once /ready answers. On failure the process is
// stopped.
func (p *Istiod) StartReplica(ctx context.Context, i int) error {
	if i != 0 {
		return fmt.Errorf("realistiod: istiod has one process, not %d", i+1)
	}
	p.mu.Lock()
	if !p.down || p.stopped {
		p.mu.Unlock()
		return errors.New("realistiod: not stopped for a restart (StopReplica first)")
	}
	p.restarts++
	p.mu.Unlock()
	if _, err := p.run(ctx); err != nil {
		p.mu.Lock()
		proc := p.proc
		p.down = true
		p.mu.Unlock()
		stopCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), p.opts.StopGrace+5*time.Second)
		defer cancel()
		return errors.Join(err, p.stopProc(stopCtx, proc))
	}
	return nil
}

// Restarts is how many times istiod was started again.
func (p *Istiod) Restarts() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.restarts
}

// Exited is closed once the process has ended (nil before Start).
func (p *Istiod) Exited() <-chan struct{} {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.proc == nil {
		return nil
	}
	return p.proc.Exited()
}

// Stop sends SIGTERM to istiod's process group, SIGKILL after StopGrace
// (or when ctx ends first), waits for the exit and removes the kubeconfig.
// Stopping a process that was never started, or already stopped, is a
// no-op.
func (p *Istiod) Stop(ctx context.Context) error {
	p.mu.Lock()
	proc, secrets := p.proc, p.secrets
	p.secrets, p.stopped = "", true
	p.mu.Unlock()
	if secrets != "" {
		defer os.RemoveAll(secrets)
	}
	return p.stopProc(ctx, proc)
}

func (p *Istiod) stopProc(ctx context.Context, proc *childproc.Process) error {
	if proc == nil {
		return nil
	}
	killed, err := proc.Stop(ctx, p.opts.StopGrace)
	if killed {
		p.opts.Logger.Warn("istiod did not stop on SIGTERM; killed it", zap.Int("pid", proc.PID()))
	}
	return err
}
