package local

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"go.uber.org/zap"
	"k8s.io/client-go/rest"
)

// Process is a running control-plane process.
type Process struct {
	Name string
	PID  int
	// Group is GroupControlPlane, or GroupSimulator for kwok.
	Group string
	// Priority is its CPU priority as read back from the OS after it was
	// placed, e.g. "cpu.shares 4096 (cgroup v1 /churn-ab12cd34/control-plane)",
	// "nice -5" or "none: <reason>".
	Priority string
}

// ProcessEvent reports a process that ended or was restarted while the
// cluster was supervised. Intentional stops (Stop, Down) emit nothing.
type ProcessEvent struct {
	Time time.Time
	Name string
	// Kind is EventExited, EventRestarted, EventOOMKilled or EventFault.
	Kind     string
	ExitCode int
	Detail   string
}

// ProcessEvent kinds. A memory-cap kill emits EventOOMKilled and then, when
// the process has gone, EventExited (and EventRestarted if enabled).
const (
	EventExited    = "exited"
	EventRestarted = "restarted"
	EventOOMKilled = "oom-killed"
	// EventFault is a process churn killed on purpose (Cluster.Kill); an
	// EventExited and, if asked, an EventRestarted follow.
	EventFault = "fault"
)

// Cluster is a running local control plane.
type Cluster struct {
	opts Options
	// order is the processes' start order (processOrder).
	order   []string
	paths   paths
	ports   Ports
	pki     *pkiBundle
	logger  *zap.Logger
	spawner *spawner
	lock    *dirLock
	restCfg *rest.Config
	prio    *cpuPlacer

	events  chan ProcessEvent
	dropped atomic.Uint64

	mu       sync.Mutex
	procs    map[string]*proc
	state    *State
	stopping bool
	stopCh   chan struct{}
	wg       sync.WaitGroup // supervisor goroutines

	stopOnce sync.Once
	stopErr  error
}

// Kubeconfig is the path of the admin kubeconfig (mode 0600, client
// certificate CN=churn-admin in system:masters).
func (c *Cluster) Kubeconfig() string { return c.paths.admin() }

// RESTConfig returns a new admin rest.Config. Its QPS/burst are high
// (500/1000) so churn's own pacing governs; set your own for emulation.
func (c *Cluster) RESTConfig() *rest.Config { return rest.CopyConfig(c.restCfg) }

// APIServerURL is the address every client uses: https://127.0.0.1:<port>
// of the API server, or of the load balancer when there are several.
func (c *Cluster) APIServerURL() string { return clientURL(c.ports) }

// clientURL is the address clients use (see APIServerURL).
func clientURL(ports Ports) string {
	if ports.LoadBalancer != 0 {
		return url("https", ports.LoadBalancer, "")
	}
	return url("https", ports.APIServer, "")
}

// MetricsURL is the first kube-apiserver's /metrics (scrape it with
// RESTConfig's credentials); see APIServerEndpoints for the others.
func (c *Cluster) MetricsURL() string { return url("https", c.ports.APIServer, "/metrics") }

// ComponentMetricsURLs returns the /metrics URL of every process. etcd and
// kwok serve plain HTTP; controller-manager and scheduler serve HTTPS with
// the cluster CA and allow /metrics without credentials; kube-apiserver
// needs the admin credentials.
func (c *Cluster) ComponentMetricsURLs() map[string]string {
	m := map[string]string{
		Etcd:              url("http", c.ports.Etcd, "/metrics"),
		APIServer:         c.MetricsURL(),
		ControllerManager: url("https", c.ports.ControllerManager, "/metrics"),
		Scheduler:         url("https", c.ports.Scheduler, "/metrics"),
		KWOK:              url("http", c.ports.KWOK, "/metrics"),
	}
	for _, ep := range c.APIServerEndpoints()[1:] {
		m[ep.Name] = ep.URL + "/metrics"
	}
	return m
}

// CAData is the PEM of the cluster CA.
func (c *Cluster) CAData() []byte { return append([]byte(nil), c.pki.caPEM...) }

// Dir is the absolute cluster directory.
func (c *Cluster) Dir() string { return c.paths.dir }

// Ports are the ports in use.
func (c *Cluster) Ports() Ports { return c.ports }

// Events delivers ProcessEvents. It is buffered; when full, events are
// dropped and counted (DroppedEvents) so the supervisor never blocks. It is
// closed when Stop returns.
func (c *Cluster) Events() <-chan ProcessEvent { return c.events }

// DroppedEvents counts events lost because Events was full.
func (c *Cluster) DroppedEvents() uint64 { return c.dropped.Load() }

// Processes returns the current PID of each live process, in start order.
func (c *Cluster) Processes() []Process {
	c.mu.Lock()
	defer c.mu.Unlock()
	out := make([]Process, 0, len(c.procs))
	for _, name := range c.order {
		if pr, ok := c.procs[name]; ok && !pr.hasExited() {
			out = append(out, Process{Name: name, PID: pr.pid, Group: groupOf(name), Priority: pr.priority})
		}
	}
	return out
}

// Signal sends sig to the named process (tests use it to kill
// kube-apiserver).
func (c *Cluster) Signal(name string, sig syscall.Signal) error {
	c.mu.Lock()
	pr, ok := c.procs[name]
	c.mu.Unlock()
	if !ok {
		return fmt.Errorf("no process named %q", name)
	}
	if pr.hasExited() {
		return fmt.Errorf("%s (pid %d) is not running", name, pr.pid)
	}
	if err := syscall.Kill(pr.pid, sig); err != nil {
		return fmt.Errorf("signalling %s (pid %d): %w", name, pr.pid, err)
	}
	return nil
}

// ExtraArgs are the arguments each component was started with beyond
// churn's own (Options.ExtraArgs), nil when there are none.
func (c *Cluster) ExtraArgs() map[string][]string {
	var out map[string][]string
	for comp, args := range c.opts.ExtraArgs {
		if len(args) > 0 {
			if out == nil {
				out = map[string][]string{}
			}
			out[comp] = slices.Clone(args)
		}
	}
	return out
}

// CPUPriority says how the system under test was given CPU before kwok,
// chosen at Up.
func (c *Cluster) CPUPriority() CPUPriority { return c.prio.info }

// State returns a copy of the current state record.
func (c *Cluster) State() State {
	c.mu.Lock()
	defer c.mu.Unlock()
	s := *c.state
	s.Processes = append([]ProcessState(nil), c.state.Processes...)
	return s
}

func (c *Cluster) progressf(format string, args ...any) {
	fmt.Fprintf(c.opts.Progress, format+"\n", args...)
}

// Up starts etcd, kube-apiserver, kube-controller-manager, kube-scheduler
// and kwok in that order, each after the previous one is healthy, and
// returns once all are. It creates no nodes. On any failure everything it
// started is stopped again. ctx bounds startup only; the cluster runs until
// Stop (or until this process dies).
func Up(ctx context.Context, opts Options) (*Cluster, error) {
	o, err := opts.withDefaults()
	if err != nil {
		return nil, err
	}
	bins, err := CheckBinariesFor(o.BinDir, o.KubernetesVersion)
	if err != nil {
		return nil, err
	}
	p := paths{dir: o.Dir}
	if err := os.MkdirAll(o.Dir, 0o755); err != nil {
		return nil, fmt.Errorf("creating cluster directory: %w", err)
	}
	lock, err := lockDir(o.Dir)
	if err != nil {
		return nil, err
	}
	ok := false
	defer func() {
		if !ok {
			lock.release()
		}
	}()
	if err := cleanLeftovers(ctx, p, o.Logger); err != nil {
		return nil, err
	}
	ports, err := resolvePorts(o.Ports, o.APIServers)
	if err != nil {
		return nil, err
	}
	if err := os.MkdirAll(p.logs(), 0o700); err != nil {
		return nil, fmt.Errorf("creating log directory: %w", err)
	}
	reuseData, err := prepareData(p, o.Logger)
	if err != nil {
		return nil, err
	}
	bundle, err := ensurePKI(p.pki(), time.Now())
	if err != nil {
		return nil, fmt.Errorf("preparing certificates: %w", err)
	}
	server := clientURL(ports)
	if err := writeKubeconfigs(p, server, bundle); err != nil {
		return nil, err
	}
	if err := writeConfigs(o, p); err != nil {
		return nil, err
	}
	if o.APIServers > 1 {
		if err := writeHAProxyConfig(p, ports); err != nil {
			return nil, err
		}
	}
	ownerStart, err := procStartTime(os.Getpid())
	if err != nil {
		return nil, err
	}
	// Chosen last: nothing below fails before startAll, whose failure
	// path (Stop) removes the cgroups again.
	prio := offPlacer(o.Logger, o.budget)
	if !o.DisableCPUPriority {
		prio = chooseCPUPriority(realPrioSys(), o.Dir, o.budget, o.Logger)
	}
	prioInfo := prio.info

	c := &Cluster{
		opts:    o,
		order:   processOrder(o.APIServers),
		paths:   p,
		ports:   ports,
		pki:     bundle,
		logger:  o.Logger,
		spawner: newSpawner(),
		lock:    lock,
		restCfg: adminRESTConfig(server, bundle.caPEM, bundle.leaves[certAdmin]),
		prio:    prio,
		events:  make(chan ProcessEvent, eventBuffer),
		procs:   map[string]*proc{},
		stopCh:  make(chan struct{}),
		state: &State{
			Version:      stateVersion,
			Dir:          o.Dir,
			Created:      time.Now().UTC(),
			Owner:        OwnerState{PID: os.Getpid(), StartTime: ownerStart},
			Detached:     o.Detach,
			APIServerURL: server,
			Kubeconfig:   p.admin(),
			Ports:        ports,
			DataDir:      p.data(),
			CPUPriority:  &prioInfo,
		},
	}
	if prioInfo.Mechanism == PriorityNone {
		o.Logger.Warn("no way to give the control plane CPU priority over kwok; continuing without", zap.String("reason", prioInfo.Reason))
	} else {
		o.Logger.Info("CPU priority", zap.String("mechanism", prioInfo.Mechanism), zap.String("group", prioInfo.Group), zap.String("reason", prioInfo.Reason))
	}
	c.progressf("CPU priority: %s", prioInfo)
	logBudget(o.Logger, prioInfo.Budget)
	c.progressf("CPU budget: %s", prioInfo.Budget)
	if err := c.startAll(ctx, bins); err != nil {
		// Leave no process behind; keep data that a previous run kept.
		stopErr := c.Stop(context.WithoutCancel(ctx), reuseData)
		return nil, errors.Join(fmt.Errorf("starting local control plane in %s: %w", o.Dir, err), stopErr)
	}
	ok = true
	return c, nil
}

// cleanLeftovers handles a previous cluster of the same directory. The
// caller holds the directory lock, so its owner is dead: anything still
// alive from the state file is a leftover nobody uses, and is stopped.
func cleanLeftovers(ctx context.Context, p paths, logger *zap.Logger) error {
	_ = os.Remove(filepath.Join(p.dir, downMarker))
	s, err := LoadState(p.dir)
	if errors.Is(err, ErrNoState) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("%w (remove %s if the directory holds no running cluster)", err, p.state())
	}
	if s.Detached && s.AnyAlive() {
		return fmt.Errorf("a cluster started by `churn up` is running in %s (api server %s); stop it with `churn down --dir %s` or use another --dir", p.dir, s.APIServerURL, p.dir)
	}
	if s.AnyAlive() {
		logger.Warn("stopping leftover processes of a previous cluster whose churn process has died",
			zap.String("dir", p.dir), zap.Int("ownerPID", s.Owner.PID))
		if err := stopRecorded(ctx, s, logger); err != nil {
			return fmt.Errorf("stopping leftover cluster in %s: %w", p.dir, err)
		}
	}
	removeRecordedGroup(s.CPUPriority, logger)
	if err := os.Remove(p.state()); err != nil && !errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("removing stale cluster state: %w", err)
	}
	return nil
}

func (c *Cluster) startAll(ctx context.Context, bins map[string]string) error {
	client, err := healthClient(c.pki)
	if err != nil {
		return err
	}
	defer client.CloseIdleConnections()
	begin := time.Now()
	for _, comp := range buildComponents(c.opts, c.paths, c.ports, bins) {
		if err := ctx.Err(); err != nil {
			return err
		}
		if err := c.startAndWait(ctx, client, comp); err != nil {
			return err
		}
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, name := range c.order {
		if pr := c.procs[name]; pr.hasExited() {
			return earlyExitError(pr)
		}
	}
	// Supervision starts only now: an exit during startup fails Up instead.
	for _, pr := range c.procs {
		c.watch(pr)
	}
	if c.opts.APIServerMemoryLimitBytes > 0 {
		c.wg.Add(1)
		go c.memoryWatch()
	}
	c.progressf("control plane ready in %s: %s (kubeconfig %s)", time.Since(begin).Round(100*time.Millisecond), c.APIServerURL(), c.Kubeconfig())
	return nil
}

func (c *Cluster) startAndWait(ctx context.Context, client *http.Client, comp component) error {
	t0 := time.Now()
	pr, err := startProc(c.spawner, comp, c.paths, c.opts.Detach)
	if err != nil {
		return err
	}
	pr.priority = c.prio.place(pr.pid, groupOf(comp.name))
	c.mu.Lock()
	c.procs[comp.name] = pr
	c.recordLocked(pr)
	err = writeState(c.paths.dir, c.state)
	c.mu.Unlock()
	if err != nil {
		return err
	}
	c.logger.Info("started", zap.String("process", comp.name), zap.Int("pid", pr.pid), zap.String("log", pr.logPath), zap.String("cpuPriority", pr.priority))
	if err := waitHealthy(ctx, client, pr); err != nil {
		return err
	}
	c.progressf("%-24s ready in %5s  pid %-7d %s", comp.name, time.Since(t0).Round(100*time.Millisecond), pr.pid, portsString(comp.ports))
	return nil
}

// recordLocked puts pr into the state record, replacing an older instance.
func (c *Cluster) recordLocked(pr *proc) {
	e := pr.stateEntry()
	for i := range c.state.Processes {
		if c.state.Processes[i].Name == e.Name {
			c.state.Processes[i] = e
			return
		}
	}
	c.state.Processes = append(c.state.Processes, e)
}

func portsString(ports []int) string {
	s := "port"
	if len(ports) > 1 {
		s += "s"
	}
	for i, p := range ports {
		if i > 0 {
			s += ","
		}
		s += " " + strconv.Itoa(p)
	}
	return s
}
