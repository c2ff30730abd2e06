package local

import (
	"fmt"
	"io"
	"path/filepath"
	"time"

	"go.uber.org/zap"
	"k8s.io/apimachinery/pkg/util/validation/field"
)

// Process names, in start order. They name log files, state entries and
// ProcessEvents.
const (
	Etcd              = "etcd"
	APIServer         = "kube-apiserver"
	ControllerManager = "kube-controller-manager"
	Scheduler         = "kube-scheduler"
	KWOK              = "kwok"
)

// startOrder is the order processes are started in; Stop uses the reverse.
var startOrder = []string{Etcd, APIServer, ControllerManager, Scheduler, KWOK}

const (
	defaultBinDir        = "bin"
	defaultComponentQPS  = 300
	serviceClusterIPCIDR = "10.96.0.0/16"
	serviceClusterIP     = "10.96.0.1"
	// etcdQuotaBytes follows the Cilium scalability report: the default
	// 2 GiB quota was hit at 1,000 nodes and 50k pods.
	etcdQuotaBytes = 8 << 30
	// kwokNodeLeaseSeconds is kubelet's default lease duration; kwok renews
	// each lease every quarter of it, as kubelet does.
	kwokNodeLeaseSeconds = 40
	// stopGrace is how long a process gets between SIGTERM and SIGKILL.
	// kube-apiserver drains in-flight requests on SIGTERM, which normally
	// takes a second or two.
	stopGrace = 15 * time.Second
	// memoryPollInterval is how often kube-apiserver's RSS is checked.
	memoryPollInterval = 500 * time.Millisecond
	// eventBuffer is the size of the Events channel. A consumer that falls
	// this far behind loses events (counted), the supervisor never waits.
	eventBuffer = 1024
)

// Options configures Up.
type Options struct {
	// Dir is the cluster directory. Required; callers default it to
	// ".churn/cluster".
	Dir string
	// BinDir holds the five binaries (default "bin").
	BinDir string
	// KubernetesVersion selects a Kubernetes release other than the pinned
	// default, built by `make controlplane K8S_VERSION=...` into
	// BinDir/k8s/<version>/. Empty means the default.
	KubernetesVersion string
	// Ports to listen on; a zero field means a free loopback port is picked.
	Ports Ports
	// Logger receives structured logs; nil means no logs.
	Logger *zap.Logger
	// Progress receives short human progress lines; may be nil.
	Progress io.Writer
	// APIServerMemoryLimitBytes caps kube-apiserver's resident memory.
	// 0 means no cap. Enforced by polling VmRSS every 500ms and SIGKILLing
	// the process above the cap (an "oom-killed" event), not by setrlimit,
	// because RLIMIT_AS limits virtual memory, which a Go server reserves
	// far beyond what it uses.
	APIServerMemoryLimitBytes int64
	// RestartAPIServer makes the supervisor restart a kube-apiserver that
	// exited (same arguments; a "restarted" event).
	RestartAPIServer bool
	// RestartDelay is the first restart back-off (default 1s). A kubelet
	// waits 10s before its first restart of a crashed static pod.
	RestartDelay time.Duration
	// Detach lets the cluster outlive this process (churn up): children get
	// no parent-death signal, and a later Up refuses to replace it while it
	// runs. Nothing supervises or restarts a detached cluster once Up returns.
	Detach bool
	// ControllerManagerQPS is kube-controller-manager's client QPS (burst is
	// twice this). Default 300.
	ControllerManagerQPS int
	// SchedulerQPS is kube-scheduler's client QPS (burst is twice this).
	// Default 300.
	SchedulerQPS int
	// Audit turns on kube-apiserver's audit log (see audit.go).
	Audit AuditOptions
	// APIServerGOGC sets kube-apiserver's GOGC. 0 keeps Go's default (100):
	// a production API server runs with it, and a run measures its CPU and
	// memory. A setup that is only saved (churn snapshot save) raises it,
	// trading memory nobody judges for CPU the ramp needs.
	APIServerGOGC int
	// SchedulerWithoutDefaultSpread turns off kube-scheduler's default pod
	// topology spread constraints (zone and hostname, both ScheduleAnyway).
	// Scoring them counts every pod of every node for each pod scheduled,
	// half the scheduler's CPU in a 50k-pods ramp. Only for a setup that is
	// saved: a run, warm started or not, schedules with the defaults.
	SchedulerWithoutDefaultSpread bool
	// DisableCPUPriority leaves every process at churn's own CPU priority.
	// By default (so every caller gets it without asking) etcd,
	// kube-apiserver, kube-controller-manager and kube-scheduler get CPU
	// before kwok: cgroup cpu.shares (v1) or cpu.weight (v2), else nice;
	// see cpupriority.go.
	DisableCPUPriority bool
	// ControlPlaneCPUs is the control plane's CPU budget: a CFS quota on
	// the control-plane cgroup, set before its first process starts, so
	// that kwok and churn keep the rest of the machine (cpubudget.go). The
	// zero value sets none; churn's commands ask for Auto. An explicit
	// budget with DisableCPUPriority is refused.
	ControlPlaneCPUs CPUBudgetRequest
	// budget is ControlPlaneCPUs resolved on this machine (withDefaults).
	budget CPUBudget
	// ExtraArgs are arguments appended to a component's command line after
	// churn's own, by component name (ExtraArgComponents): the way to try a
	// tuning flag, or plant a regression, on the control plane under test.
	// Flags churn sets itself are refused (CheckExtraArg).
	ExtraArgs map[string][]string
	// APIServers is how many kube-apiservers run on the one etcd (default
	// 1). With more than one, HAProxy balances them (ha.go) and every
	// client, churn's included, goes through it.
	APIServers int
	// LeaderElection runs kube-controller-manager and kube-scheduler with
	// leader election, as an HA control plane does, so that a replaced
	// instance hands over its lease (an upgrade turns it on). Off, they
	// start working at once.
	LeaderElection bool
	// haproxy is HAProxy's path when APIServers > 1 (withDefaults).
	haproxy string
}

// Ports are the loopback ports of the control plane.
type Ports struct {
	Etcd              int `json:"etcd"`
	EtcdPeer          int `json:"etcdPeer"`
	APIServer         int `json:"apiServer"`
	ControllerManager int `json:"controllerManager"`
	Scheduler         int `json:"scheduler"`
	KWOK              int `json:"kwok"`
	// ExtraAPIServers are the ports of kube-apiserver-2 onwards and
	// LoadBalancer HAProxy's, with several API servers.
	ExtraAPIServers []int `json:"extraAPIServers,omitempty"`
	LoadBalancer    int   `json:"loadBalancer,omitempty"`
}

// withDefaults returns a copy of o with defaults applied and paths made
// absolute, so that state and arguments do not depend on the working
// directory of a later process (churn down from elsewhere).
func (o Options) withDefaults() (Options, error) {
	if o.Dir == "" {
		return o, fmt.Errorf("cluster directory is required")
	}
	if o.BinDir == "" {
		o.BinDir = defaultBinDir
	}
	if o.Logger == nil {
		o.Logger = zap.NewNop()
	}
	if o.Progress == nil {
		o.Progress = io.Discard
	}
	if o.ControllerManagerQPS <= 0 {
		o.ControllerManagerQPS = defaultComponentQPS
	}
	if o.SchedulerQPS <= 0 {
		o.SchedulerQPS = defaultComponentQPS
	}
	if o.APIServers <= 0 {
		o.APIServers = 1
	}
	if o.APIServers > 1 {
		var err error
		if o.haproxy, err = findHAProxy(); err != nil {
			return o, err
		}
	}
	if o.RestartDelay <= 0 {
		o.RestartDelay = restartBaseDelay
	}
	if o.APIServerGOGC < 0 {
		return o, fmt.Errorf("APIServerGOGC must not be negative, got %d", o.APIServerGOGC)
	}
	if o.APIServerMemoryLimitBytes < 0 {
		return o, fmt.Errorf("APIServerMemoryLimitBytes must not be negative, got %d", o.APIServerMemoryLimitBytes)
	}
	if errs := ValidateExtraArgs(o.ExtraArgs, field.NewPath("ExtraArgs")); len(errs) > 0 {
		return o, fmt.Errorf("extra control-plane arguments: %w", errs.ToAggregate())
	}
	if err := o.Audit.resolve(); err != nil {
		return o, err
	}
	if o.DisableCPUPriority && o.ControlPlaneCPUs.Explicit() {
		return o, fmt.Errorf("a control-plane CPU budget of %s needs CPU priority, which is off: the budget is a quota on the control plane's cgroup", o.ControlPlaneCPUs.setting())
	}
	budget, err := ResolveCPUBudget(o.ControlPlaneCPUs, CPUsOnline())
	if err != nil {
		return o, fmt.Errorf("control-plane CPU budget %s: %w", o.ControlPlaneCPUs.setting(), err)
	}
	o.budget = budget
	if o.Dir, err = filepath.Abs(o.Dir); err != nil {
		return o, fmt.Errorf("resolving cluster directory %q: %w", o.Dir, err)
	}
	if o.BinDir, err = filepath.Abs(o.BinDir); err != nil {
		return o, fmt.Errorf("resolving binary directory %q: %w", o.BinDir, err)
	}
	return o, nil
}

// paths of everything inside a cluster directory.
type paths struct{ dir string }

func (p paths) state() string              { return filepath.Join(p.dir, "state.json") }
func (p paths) pki() string                { return filepath.Join(p.dir, "pki") }
func (p paths) pkiFile(n string) string    { return filepath.Join(p.dir, "pki", n) }
func (p paths) logs() string               { return filepath.Join(p.dir, "logs") }
func (p paths) log(name string) string     { return filepath.Join(p.dir, "logs", name+".log") }
func (p paths) data() string               { return filepath.Join(p.dir, "data") }
func (p paths) etcdData() string           { return filepath.Join(p.dir, "data", "etcd") }
func (p paths) kubeconfig(n string) string { return filepath.Join(p.dir, n+".kubeconfig") }
func (p paths) admin() string              { return p.kubeconfig("admin") }
func (p paths) schedulerConfig() string    { return filepath.Join(p.dir, "scheduler.yaml") }
func (p paths) kwokDir() string            { return filepath.Join(p.dir, "kwok") }
func (p paths) kwokConfig() string         { return filepath.Join(p.dir, "kwok", "kwok.yaml") }
func (p paths) haproxyConfig() string      { return filepath.Join(p.dir, "haproxy.cfg") }
func (p paths) haproxySocket() string      { return filepath.Join(p.dir, "haproxy.sock") }
