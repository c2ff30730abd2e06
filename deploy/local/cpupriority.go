package local

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"go.uber.org/zap"
)

// The system under test (etcd, kube-apiserver, kube-controller-manager,
// kube-scheduler) gets CPU before kwok, which stands in for 1,000 kubelets:
// on a 2-core machine a busy kwok would otherwise show up as API server
// latency that a real cluster, whose kubelets run elsewhere, never has.
// churn's own process is never touched.

// CPU priority mechanisms, in order of preference.
const (
	PriorityCgroupV1 = "cgroup-v1"
	PriorityCgroupV2 = "cgroup-v2"
	PriorityNice     = "nice"
	PriorityNone     = "none"
	// PriorityOff: Options.DisableCPUPriority.
	PriorityOff = "off"
)

// Priority groups of the processes; they name the child cgroups.
const (
	GroupControlPlane = "control-plane"
	GroupSimulator    = "simulator"
)

// Weights. cgroup v1: churn sits in the root cgroup in its session's
// autogroup (weight 1024), a sibling of the per-cluster cgroup; that parent
// gets the sum of its children so that under full contention the ratios are
// control plane 4096 : churn 1024 : kwok 512. cgroup v2 uses the same
// ratios relative to the default weight 100. nice -5 and +10 are about 3x
// and 1/9 the weight of nice 0.
const (
	sharesControlPlane = 4096
	sharesSimulator    = 512
	weightControlPlane = 400
	weightSimulator    = 50
	niceControlPlane   = -5
	niceSimulator      = 10
)

// cgroupPrefix starts the name of every cgroup churn creates. Only
// directories matching staleGroupRE are ever removed by a sweep.
const cgroupPrefix = "churn-"

var staleGroupRE = regexp.MustCompile(`^churn-[0-9a-f]{8}$`)

// CPUPriority says how a cluster's processes were prioritised.
type CPUPriority struct {
	// Mechanism is one of the Priority* constants.
	Mechanism string `json:"mechanism"`
	// Group is the per-cluster cgroup directory (cgroup mechanisms only).
	Group string `json:"group,omitempty"`
	// Reason says why the preferred mechanisms were not used.
	Reason string `json:"reason,omitempty"`
	// Budget is the control plane's CPU quota (cpubudget.go).
	Budget CPUBudget `json:"budget"`
}

// String is a one-line description for logs and progress output.
func (p CPUPriority) String() string {
	var s string
	switch p.Mechanism {
	case PriorityCgroupV1:
		s = fmt.Sprintf("cgroup v1 cpu.shares in %s: %s %d, %s %d (parent %d; churn itself stays at 1024)",
			p.Group, GroupControlPlane, sharesControlPlane, GroupSimulator, sharesSimulator, sharesControlPlane+sharesSimulator)
	case PriorityCgroupV2:
		s = fmt.Sprintf("cgroup v2 cpu.weight in %s: %s %d, %s %d (parent %d; everything else stays at 100)",
			p.Group, GroupControlPlane, weightControlPlane, GroupSimulator, weightSimulator, weightControlPlane+weightSimulator)
	case PriorityNice:
		s = fmt.Sprintf("nice per thread: control plane %d, kwok +%d (churn itself stays at 0)", niceControlPlane, niceSimulator)
	case PriorityOff:
		return "off (every process at churn's own priority)"
	default:
		return "none: " + p.Reason
	}
	if p.Reason != "" {
		s += "; " + p.Reason
	}
	return s
}

// groupOf is the priority group of a component.
func groupOf(name string) string {
	if name == KWOK {
		return GroupSimulator
	}
	return GroupControlPlane
}

// clusterGroupName derives the cgroup name from the cluster directory, so a
// later Up of the same directory reuses it and Down can find it.
func clusterGroupName(dir string) string {
	sum := sha256.Sum256([]byte(dir))
	return cgroupPrefix + hex.EncodeToString(sum[:4])
}

// prioSys is the operating system as the placer sees it; tests substitute
// a temporary directory for /proc and the cgroup mount.
type prioSys struct {
	procRoot string
	// rmdir removes an empty cgroup. On cgroupfs a plain rmdir does, even
	// though the directory lists control files.
	rmdir func(dir string) error
	// setNice sets the nice value of one thread.
	setNice func(tid, nice int) error
	// probeNice reports whether setpriority can be used at all.
	probeNice func() error
}

func realPrioSys() prioSys {
	return prioSys{
		procRoot: "/proc",
		rmdir:    syscall.Rmdir,
		setNice: func(tid, nice int) error {
			return syscall.Setpriority(syscall.PRIO_PROCESS, tid, nice)
		},
		probeNice: probeSetpriority,
	}
}

// probeSetpriority sets the calling thread's nice value to what it already
// is: a no-op that fails only where setpriority is unusable (seccomp).
func probeSetpriority() error {
	b, err := os.ReadFile("/proc/thread-self/stat")
	if err != nil {
		return fmt.Errorf("reading own nice value: %w", err)
	}
	n, err := parseStatNice(b)
	if err != nil {
		return err
	}
	if err := syscall.Setpriority(syscall.PRIO_PROCESS, 0, n); err != nil {
		return fmt.Errorf("setpriority: %w", err)
	}
	return nil
}

// cgroupMount is where a cgroup hierarchy is mounted.
type cgroupMount struct {
	point string // mount point
	root  string // path within the hierarchy mounted there ("/" outside containers)
	v2    bool
}

// findCgroupMounts returns the cgroup v1 hierarchy with the cpu controller
// and the cgroup v2 mount, either nil when absent, from /proc/self/mountinfo.
func findCgroupMounts(mountinfo []byte) (v1cpu, v2 *cgroupMount) {
	for line := range strings.SplitSeq(string(mountinfo), "\n") {
		f := strings.Fields(line)
		sep := -1
		for i := 6; i < len(f); i++ {
			if f[i] == "-" {
				sep = i
				break
			}
		}
		if sep < 0 || sep+1 >= len(f) {
			continue
		}
		m := cgroupMount{root: unescapeMountinfo(f[3]), point: unescapeMountinfo(f[4])}
		fstype := f[sep+1]
		superOpts := ""
		if sep+3 < len(f) {
			superOpts = f[sep+3]
		}
		switch fstype {
		case "cgroup":
			if v1cpu == nil && hasWord(superOpts, ",", "cpu") {
				v1cpu = &m
			}
		case "cgroup2":
			if v2 == nil {
				m.v2 = true
				v2 = &m
			}
		}
	}
	return v1cpu, v2
}

// unescapeMountinfo undoes the octal escapes (\040 for space) of mountinfo.
func unescapeMountinfo(s string) string {
	if !strings.Contains(s, `\`) {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] == '\\' && i+3 < len(s) {
			if n, err := strconv.ParseUint(s[i+1:i+4], 8, 8); err == nil {
				b.WriteByte(byte(n))
				i += 3
				continue
			}
		}
		b.WriteByte(s[i])
	}
	return b.String()
}

func hasWord(list, sep, word string) bool {
	for w := range strings.SplitSeq(strings.TrimSpace(list), sep) {
		if w == word {
			return true
		}
	}
	return false
}

// cpuPlacer puts each started process into its priority group and reads
// the result back from the OS.
type cpuPlacer struct {
	sys    prioSys
	logger *zap.Logger
	info   CPUPriority
	mount  cgroupMount
	dir    string // the per-cluster cgroup; empty unless a cgroup mechanism
	// quotaMicros is the control-plane group's CFS quota per
	// cfsPeriodMicros; 0 for none.
	quotaMicros int64

	mu          sync.Mutex // the startup path and the restart goroutine both place
	warnedNice  bool
	warnedPlace bool
}

// offPlacer leaves processes alone (Options.DisableCPUPriority), with no
// budget either.
func offPlacer(logger *zap.Logger, budget CPUBudget) *cpuPlacer {
	budget.Cores, budget.Reason = 0, "CPU priority off (--cpu-priority=false): no budget"
	return &cpuPlacer{logger: logger, info: CPUPriority{Mechanism: PriorityOff, Budget: budget}}
}

// chooseCPUPriority picks the first mechanism that works: cgroup v1 cpu,
// cgroup v2 cpu, nice, none. It removes stale churn cgroups of the chosen
// hierarchy and creates this cluster's, with budget's quota on the
// control-plane group before any process starts. It never fails: "none"
// carries the reasons, and a budget that cannot be enforced says why.
func chooseCPUPriority(sys prioSys, clusterDir string, budget CPUBudget, logger *zap.Logger) *cpuPlacer {
	p := chooseMechanism(sys, clusterDir, logger)
	p.applyBudget(budget)
	return p
}

func chooseMechanism(sys prioSys, clusterDir string, logger *zap.Logger) *cpuPlacer {
	p := &cpuPlacer{sys: sys, logger: logger}
	name := clusterGroupName(clusterDir)
	var reasons []string
	mi, err := os.ReadFile(filepath.Join(sys.procRoot, "self", "mountinfo"))
	if err != nil {
		reasons = append(reasons, fmt.Sprintf("reading mountinfo: %v", err))
	}
	v1, v2 := findCgroupMounts(mi)
	if v1 == nil {
		reasons = append(reasons, "no cgroup v1 cpu hierarchy mounted")
	} else if err := p.tryCgroup(*v1, name); err != nil {
		reasons = append(reasons, fmt.Sprintf("cgroup v1 cpu at %s: %v", v1.point, err))
	} else {
		p.info = CPUPriority{Mechanism: PriorityCgroupV1, Group: p.dir}
		return p
	}
	if v2 == nil {
		reasons = append(reasons, "no cgroup v2 mounted")
	} else if err := v2OffersCPU(v2.point); err != nil {
		reasons = append(reasons, fmt.Sprintf("cgroup v2 at %s: %v", v2.point, err))
	} else if err := p.tryCgroup(*v2, name); err != nil {
		reasons = append(reasons, fmt.Sprintf("cgroup v2 at %s: %v", v2.point, err))
	} else {
		p.info = CPUPriority{Mechanism: PriorityCgroupV2, Group: p.dir, Reason: strings.Join(reasons, "; ")}
		return p
	}
	p.mount, p.dir = cgroupMount{}, ""
	if err := sys.probeNice(); err != nil {
		reasons = append(reasons, fmt.Sprintf("nice: %v", err))
		p.info = CPUPriority{Mechanism: PriorityNone, Reason: strings.Join(reasons, "; ")}
		return p
	}
	p.info = CPUPriority{Mechanism: PriorityNice, Reason: "no usable cgroup cpu controller: " + strings.Join(reasons, "; ")}
	return p
}

// applyBudget sets the control-plane group's quota now, so that it holds
// from the first process on, and records the outcome in p.info.Budget.
// Without a cgroup the budget is recorded as not enforced: nice orders the
// processes waiting for a CPU, it cannot cap them.
func (p *cpuPlacer) applyBudget(b CPUBudget) {
	defer func() { p.info.Budget = b }()
	if b.Cores <= 0 {
		return
	}
	switch p.info.Mechanism {
	case PriorityCgroupV1, PriorityCgroupV2:
	case PriorityNice:
		b.Reason = "nice only orders the processes waiting for a CPU, it cannot cap them (" + p.info.Reason + ")"
		return
	default:
		b.Reason = "no usable cgroup cpu controller: " + p.info.Reason
		return
	}
	p.quotaMicros = b.quota()
	if _, err := p.ensureGroup(GroupControlPlane); err != nil {
		p.quotaMicros = 0
		b.Reason = fmt.Sprintf("could not set the control-plane cgroup's quota: %v", err)
		return
	}
	b.AppliedCores, b.QuotaMicros, b.PeriodMicros = b.Cores, p.quotaMicros, cfsPeriodMicros
	b.SimulatorCores = float64(b.CPUs) - b.Cores
	b.Mechanism = BudgetCgroupV1
	if p.mount.v2 {
		b.Mechanism = BudgetCgroupV2
	}
}

// writeQuota sets the quota of the control-plane group in dir, or lifts
// any when p has none (ignoring a kernel without CPU bandwidth control,
// which has no quota to lift).
func (p *cpuPlacer) writeQuota(dir string) error {
	if p.quotaMicros <= 0 {
		file, unlimited := "cpu.cfs_quota_us", "-1"
		if p.mount.v2 {
			file, unlimited = "cpu.max", "max "+strconv.Itoa(cfsPeriodMicros)
		}
		if _, err := os.Stat(filepath.Join(dir, file)); err == nil {
			if err := writeCgroupFile(filepath.Join(dir, file), unlimited); err != nil {
				p.logger.Debug("lifting the control-plane cgroup's quota", zap.Error(err))
			}
		}
		return nil
	}
	if p.mount.v2 {
		return writeCgroupFile(filepath.Join(dir, "cpu.max"), fmt.Sprintf("%d %d", p.quotaMicros, cfsPeriodMicros))
	}
	// The period first: the kernel checks the quota against it.
	if err := writeCgroupFile(filepath.Join(dir, "cpu.cfs_period_us"), strconv.Itoa(cfsPeriodMicros)); err != nil {
		return err
	}
	return writeCgroupFile(filepath.Join(dir, "cpu.cfs_quota_us"), strconv.FormatInt(p.quotaMicros, 10))
}

// readQuota is the CFS quota of the cgroup in dir in cores; ok is false
// when it has none or it cannot be read.
func readQuota(dir string, v2 bool) (cores float64, ok bool) {
	var quota, period string
	if v2 {
		b, err := os.ReadFile(filepath.Join(dir, "cpu.max"))
		if err != nil {
			return 0, false
		}
		f := strings.Fields(string(b))
		if len(f) != 2 {
			return 0, false
		}
		quota, period = f[0], f[1]
	} else {
		q, err1 := os.ReadFile(filepath.Join(dir, "cpu.cfs_quota_us"))
		pe, err2 := os.ReadFile(filepath.Join(dir, "cpu.cfs_period_us"))
		if err1 != nil || err2 != nil {
			return 0, false
		}
		quota, period = strings.TrimSpace(string(q)), strings.TrimSpace(string(pe))
	}
	qn, err1 := strconv.ParseInt(quota, 10, 64)
	pn, err2 := strconv.ParseInt(period, 10, 64)
	if err1 != nil || err2 != nil || qn <= 0 || pn <= 0 {
		return 0, false
	}
	return float64(qn) / float64(pn), true
}

// v2OffersCPU checks that the cpu controller is available at the mount
// and enabled for its children. churn does not enable it there itself:
// that would change the whole machine's cgroup setup.
func v2OffersCPU(point string) error {
	for _, f := range []string{"cgroup.controllers", "cgroup.subtree_control"} {
		b, err := os.ReadFile(filepath.Join(point, f))
		if err != nil {
			return fmt.Errorf("reading %s: %w", f, err)
		}
		if !hasWord(strings.ReplaceAll(string(b), "\n", " "), " ", "cpu") {
			return fmt.Errorf("cpu controller not in %s (%q)", f, strings.TrimSpace(string(b)))
		}
	}
	return nil
}

// tryCgroup sweeps stale churn groups at m and creates this cluster's.
func (p *cpuPlacer) tryCgroup(m cgroupMount, name string) error {
	p.mount, p.dir = m, filepath.Join(m.point, name)
	p.sys.sweepStale(m.point, p.logger)
	if err := p.ensureParent(); err != nil {
		// Leave nothing half made; a failed rmdir is the sweep's job later.
		_ = p.sys.removeGroupTree(p.dir)
		return err
	}
	return nil
}

func (p *cpuPlacer) weightFile() string {
	if p.mount.v2 {
		return "cpu.weight"
	}
	return "cpu.shares"
}

func (p *cpuPlacer) weight(group string) int {
	switch {
	case p.mount.v2 && group == GroupControlPlane:
		return weightControlPlane
	case p.mount.v2 && group == GroupSimulator:
		return weightSimulator
	case p.mount.v2:
		return weightControlPlane + weightSimulator
	case group == GroupControlPlane:
		return sharesControlPlane
	case group == GroupSimulator:
		return sharesSimulator
	default:
		return sharesControlPlane + sharesSimulator
	}
}

// ensureParent creates the per-cluster cgroup with the sum of its
// children's weights. Idempotent.
func (p *cpuPlacer) ensureParent() error {
	if err := os.Mkdir(p.dir, 0o755); err != nil && !errors.Is(err, fs.ErrExist) {
		return fmt.Errorf("creating cgroup: %w", err)
	}
	if err := writeCgroupFile(filepath.Join(p.dir, p.weightFile()), strconv.Itoa(p.weight(""))); err != nil {
		return err
	}
	if p.mount.v2 {
		// Children get cpu.weight only once the parent delegates cpu.
		if err := writeCgroupFile(filepath.Join(p.dir, "cgroup.subtree_control"), "+cpu"); err != nil {
			return err
		}
	}
	return nil
}

// ensureGroup creates the parent and the child group with their weights
// and returns the child's directory. Idempotent.
func (p *cpuPlacer) ensureGroup(group string) (string, error) {
	if err := p.ensureParent(); err != nil {
		return "", err
	}
	dir := filepath.Join(p.dir, group)
	if err := os.Mkdir(dir, 0o755); err != nil && !errors.Is(err, fs.ErrExist) {
		return "", fmt.Errorf("creating cgroup: %w", err)
	}
	if err := writeCgroupFile(filepath.Join(dir, p.weightFile()), strconv.Itoa(p.weight(group))); err != nil {
		return "", err
	}
	if group == GroupControlPlane {
		if err := p.writeQuota(dir); err != nil {
			return "", err
		}
	}
	return dir, nil
}

// writeCgroupFile writes one value. cgroupfs ignores offsets and
// truncation; a plain directory standing in for it in tests then keeps the
// last weight, and accumulates PIDs in cgroup.procs as the kernel does.
func writeCgroupFile(path, value string) error {
	flag := os.O_WRONLY | os.O_CREATE | os.O_TRUNC
	if filepath.Base(path) == "cgroup.procs" {
		flag = os.O_WRONLY | os.O_CREATE | os.O_APPEND
	}
	f, err := os.OpenFile(path, flag, 0o644)
	if err != nil {
		return fmt.Errorf("writing %s: %w", path, err)
	}
	if _, err := f.WriteString(value + "\n"); err != nil {
		f.Close()
		return fmt.Errorf("writing %q to %s: %w", value, path, err)
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("writing %q to %s: %w", value, path, err)
	}
	return nil
}

// place puts pid into group and returns its priority as read back from
// the OS. Called right after the process starts; failures are logged once
// and show in the returned text, never fail the cluster.
func (p *cpuPlacer) place(pid int, group string) string {
	p.mu.Lock()
	defer p.mu.Unlock()
	var err error
	switch p.info.Mechanism {
	case PriorityCgroupV1, PriorityCgroupV2:
		err = p.placeCgroup(pid, group)
	case PriorityNice:
		n := niceControlPlane
		if group == GroupSimulator {
			n = niceSimulator
		}
		err = p.renice(pid, n)
	default:
		return p.readBack(pid)
	}
	if err != nil && !p.warnedPlace {
		p.warnedPlace = true
		p.logger.Warn("could not set CPU priority; the process runs at churn's own priority",
			zap.String("mechanism", p.info.Mechanism), zap.Int("pid", pid), zap.String("group", group), zap.Error(err))
	}
	return p.readBack(pid)
}

// placeCgroup writes pid to the group's cgroup.procs, which moves all its
// threads; threads it starts later inherit the group. A concurrent Up of
// another cluster may sweep an empty group of ours (before its first
// process or after its last one), so a missing group is made again.
func (p *cpuPlacer) placeCgroup(pid int, group string) error {
	var err error
	for range 3 {
		var dir string
		dir, err = p.ensureGroup(group)
		if err == nil {
			err = writeCgroupFile(filepath.Join(dir, "cgroup.procs"), strconv.Itoa(pid))
		}
		if !errors.Is(err, fs.ErrNotExist) {
			break
		}
	}
	return err
}

// renice sets the nice value of every thread of pid. Linux nice is per
// thread, and threads inherit their creator's value, so two passes catch
// threads that started during the first one. The children share churn's
// session (Setpgid, not Setsid), hence its autogroup, so nice ranks them
// against each other and against churn.
func (p *cpuPlacer) renice(pid, n int) error {
	var first error
	for range 2 {
		ents, err := os.ReadDir(filepath.Join(p.sys.procRoot, strconv.Itoa(pid), "task"))
		if err != nil {
			return fmt.Errorf("listing threads of pid %d: %w", pid, err)
		}
		for _, e := range ents {
			tid, err := strconv.Atoi(e.Name())
			if err != nil {
				continue
			}
			err = p.sys.setNice(tid, n)
			if err == nil || errors.Is(err, syscall.ESRCH) {
				continue
			}
			if n < 0 && (errors.Is(err, syscall.EPERM) || errors.Is(err, syscall.EACCES)) && !p.warnedNice {
				// Raising priority needs CAP_SYS_NICE; lowering kwok's still helps.
				p.warnedNice = true
				p.logger.Warn("no permission to raise the control plane's priority (needs CAP_SYS_NICE); only kwok is lowered",
					zap.Int("nice", n), zap.Error(err))
			}
			if first == nil {
				first = fmt.Errorf("setpriority(thread %d of pid %d, %d): %w", tid, pid, n, err)
			}
		}
	}
	return first
}

// readBack renders pid's CPU priority as the OS reports it.
func (p *cpuPlacer) readBack(pid int) string {
	switch p.info.Mechanism {
	case PriorityOff:
		return "not changed (CPU priority off)"
	case PriorityNone:
		return "none: " + p.info.Reason
	case PriorityNice:
		s, err := readNice(p.sys.procRoot, pid)
		if err != nil {
			return "unknown: " + err.Error()
		}
		return s
	}
	path, err := procCgroupPath(p.sys.procRoot, pid, p.mount.v2)
	if err != nil {
		return "unknown: " + err.Error()
	}
	rel := path
	if p.mount.root != "/" {
		rel = strings.TrimPrefix(path, p.mount.root)
	}
	version := "v1"
	if p.mount.v2 {
		version = "v2"
	}
	dir := filepath.Join(p.mount.point, rel)
	b, err := os.ReadFile(filepath.Join(dir, p.weightFile()))
	if err != nil {
		return fmt.Sprintf("unknown %s (cgroup %s %s): %v", p.weightFile(), version, path, err)
	}
	quota := ""
	if cores, ok := readQuota(dir, p.mount.v2); ok {
		quota = ", quota " + formatCores(cores) + " cores"
	}
	return fmt.Sprintf("%s %s%s (cgroup %s %s)", p.weightFile(), strings.TrimSpace(string(b)), quota, version, path)
}

// procCgroupPath returns pid's cgroup in the cpu v1 hierarchy or in v2,
// from /proc/<pid>/cgroup ("hierarchy-ID:controllers:path" lines).
func procCgroupPath(procRoot string, pid int, v2 bool) (string, error) {
	b, err := os.ReadFile(filepath.Join(procRoot, strconv.Itoa(pid), "cgroup"))
	if err != nil {
		return "", fmt.Errorf("reading cgroup of pid %d: %w", pid, err)
	}
	for line := range strings.SplitSeq(string(b), "\n") {
		parts := strings.SplitN(line, ":", 3)
		if len(parts) != 3 {
			continue
		}
		if v2 && parts[0] == "0" && parts[1] == "" || !v2 && hasWord(parts[1], ",", "cpu") {
			return parts[2], nil
		}
	}
	return "", fmt.Errorf("pid %d is in no cpu cgroup", pid)
}

// readNice summarises the nice values of pid's threads (field 19 of
// /proc/<pid>/task/<tid>/stat): "nice -5", or "nice -5 (38 threads), 0 (2
// threads)" when they differ.
func readNice(procRoot string, pid int) (string, error) {
	dir := filepath.Join(procRoot, strconv.Itoa(pid), "task")
	ents, err := os.ReadDir(dir)
	if err != nil {
		return "", fmt.Errorf("listing threads of pid %d: %w", pid, err)
	}
	count := map[int]int{}
	for _, e := range ents {
		b, err := os.ReadFile(filepath.Join(dir, e.Name(), "stat"))
		if err != nil {
			continue // the thread ended
		}
		n, err := parseStatNice(b)
		if err != nil {
			return "", fmt.Errorf("pid %d thread %s: %w", pid, e.Name(), err)
		}
		count[n]++
	}
	if len(count) == 0 {
		return "", fmt.Errorf("no thread of pid %d readable", pid)
	}
	values := make([]int, 0, len(count))
	for n := range count {
		values = append(values, n)
	}
	if len(values) == 1 {
		return fmt.Sprintf("nice %d", values[0]), nil
	}
	// Most common first; ties by value so the text is stable.
	sort.Slice(values, func(i, j int) bool {
		if count[values[i]] != count[values[j]] {
			return count[values[i]] > count[values[j]]
		}
		return values[i] < values[j]
	})
	parts := make([]string, len(values))
	for i, n := range values {
		unit := "threads"
		if count[n] == 1 {
			unit = "thread"
		}
		parts[i] = fmt.Sprintf("%d (%d %s)", n, count[n], unit)
	}
	return "nice " + strings.Join(parts, ", "), nil
}

// parseStatNice returns field 19 (nice) of a /proc stat line.
func parseStatNice(b []byte) (int, error) {
	st, err := parseProcStat(b)
	return st.nice, err
}

// cleanup removes the cluster's cgroups. Call once its processes are gone;
// a group that still has tasks is left for a later Up's sweep.
func (p *cpuPlacer) cleanup() error {
	if p == nil || p.dir == "" {
		return nil
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.sys.removeGroupTree(p.dir)
}

// errGroupBusy: the group still has processes.
var errGroupBusy = errors.New("cgroup still has processes")

// groupHasTasks reports whether dir or one of churn's child groups in it
// lists a process. A missing group has none.
func groupHasTasks(dir string) (bool, error) {
	for _, d := range []string{dir, filepath.Join(dir, GroupControlPlane), filepath.Join(dir, GroupSimulator)} {
		b, err := os.ReadFile(filepath.Join(d, "cgroup.procs"))
		if errors.Is(err, fs.ErrNotExist) {
			continue
		}
		if err != nil {
			return false, fmt.Errorf("reading processes of cgroup %s: %w", d, err)
		}
		if strings.TrimSpace(string(b)) != "" {
			return true, nil
		}
	}
	return false, nil
}

// removeGroupTree removes a per-cluster cgroup and its two children, only
// if none of them has a process left; the whole tree or nothing, so a live
// cluster never loses an empty group to a sweep. Missing groups are fine.
func (s prioSys) removeGroupTree(dir string) error {
	busy, err := groupHasTasks(dir)
	if err != nil {
		return err
	}
	if busy {
		return fmt.Errorf("%s: %w", dir, errGroupBusy)
	}
	for _, d := range []string{filepath.Join(dir, GroupControlPlane), filepath.Join(dir, GroupSimulator), dir} {
		if err := s.rmdirRetry(d); err != nil {
			return fmt.Errorf("removing cgroup %s: %w", d, err)
		}
	}
	return nil
}

// rmdirRetry retries EBUSY briefly: a process that has just exited may
// still be leaving the group.
func (s prioSys) rmdirRetry(dir string) error {
	var err error
	for range 10 {
		err = s.rmdir(dir)
		if err == nil || errors.Is(err, fs.ErrNotExist) {
			return nil
		}
		if !errors.Is(err, syscall.EBUSY) {
			return err
		}
		time.Sleep(50 * time.Millisecond)
	}
	return err
}

// sweepStale removes churn-named cgroups directly under point that have no
// process left: a churn killed with SIGKILL cannot remove its own. Groups
// in use, and anything churn did not name, are left alone.
func (s prioSys) sweepStale(point string, logger *zap.Logger) {
	ents, err := os.ReadDir(point)
	if err != nil {
		logger.Debug("listing cgroups for stale churn groups", zap.String("dir", point), zap.Error(err))
		return
	}
	for _, e := range ents {
		if !e.IsDir() || !staleGroupRE.MatchString(e.Name()) {
			continue
		}
		dir := filepath.Join(point, e.Name())
		switch err := s.removeGroupTree(dir); {
		case errors.Is(err, errGroupBusy), errors.Is(err, syscall.EBUSY):
			// EBUSY: a process or group arrived after the check.
			logger.Debug("cgroup of another running cluster left alone", zap.String("cgroup", dir))
		case err != nil:
			logger.Warn("could not remove a stale churn cgroup", zap.String("cgroup", dir), zap.Error(err))
		default:
			logger.Info("removed stale churn cgroup", zap.String("cgroup", dir))
		}
	}
}

// removeRecordedGroup removes the cgroups of a cluster stopped from its
// state file (Down, or a leftover found by Up). Failures are logged only.
func removeRecordedGroup(p *CPUPriority, logger *zap.Logger) {
	if p == nil || p.Group == "" {
		return
	}
	if !staleGroupRE.MatchString(filepath.Base(p.Group)) {
		logger.Warn("state names a cgroup churn does not create; left alone", zap.String("cgroup", p.Group))
		return
	}
	if err := realPrioSys().removeGroupTree(p.Group); err != nil {
		logger.Warn("could not remove the cluster's cgroups", zap.String("cgroup", p.Group), zap.Error(err))
	}
}
