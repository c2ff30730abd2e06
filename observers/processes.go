package observers

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/churn-dev/churn/profiles"
	"github.com/churn-dev/churn/results"
)

const (
	// clockTicks is USER_HZ, the unit of utime/stime in /proc/<pid>/stat;
	// it is 100 on every Linux platform Go supports.
	clockTicks = 100
	// minRateWindow is the shortest time a CPU rate is taken over. The
	// counters step in 10 ms ticks, so over a shorter window one tick is
	// noise of 0.02 cores or more; a sweep that follows the one before it
	// at once (the tick that came due while an overloaded sweep ran) waits
	// for the next one instead.
	minRateWindow = 500 * time.Millisecond
	// TesterProcess names churn itself in process tables.
	TesterProcess = "churn"
	// Process roles.
	RoleTester       = "tester"
	RoleControlPlane = "control-plane"
	// RoleSimulator is kwok: it stands in for the kubelets, so it is the
	// simulated rest of the cluster, not the system under test.
	RoleSimulator = "simulator"
	// RoleMesh is a real mesh component the run started (the real istiod).
	RoleMesh = "mesh"
	// PriorityNotChanged is the CPU priority of churn itself (and of what
	// the run starts beside the cluster): churn never changes its own.
	PriorityNotChanged = "normal (not changed)"
)

// ProcessPriorities is implemented by a ControlPlane that knows the CPU
// priority of its processes as read back from the OS, keyed by process
// name. It is optional: without it the process table shows "-".
type ProcessPriorities interface {
	ProcessPriorities() map[string]string
}

// processes samples CPU time and RSS of every local control-plane process
// and of churn itself, so each report shows what the tester cost next to
// what the API server cost.
type processes struct {
	interval time.Duration
	procRoot string
	// cpus is what the machine can run at once, the ceiling of any rate.
	cpus float64

	env    Env
	cancel context.CancelFunc
	done   chan struct{}

	mu     sync.Mutex
	tracks map[string]*processTrack
	order  []string
	errors int

	afterSample func()
}

// processTrack follows one named process across restarts (new PIDs, or a
// new process under a reused PID).
type processTrack struct {
	role     string
	priority string // of the latest PID
	pid      int
	start    uint64 // start time of the current process, ticks after boot
	pids     []int
	lastCPU  float64 // CPU seconds of the current process at its last read
	// firstT is when the first read began, lastT when the last one ended:
	// the CPU counted lies between them.
	firstT, lastT time.Time
	cpuSeconds    float64 // accumulated over all processes
	// The current rate window opened when the read at windowT began, with
	// cpuSeconds at windowCPU.
	windowT   time.Time
	windowCPU float64
	peakRSS   int64
	peakCores float64
	cores     []Point
	rss       []Point
}

// procReading is one read of /proc/<pid>: before and after bracket the
// moment the kernel reported the CPU counter.
type procReading struct {
	cpu           float64
	start         uint64
	rss           int64
	before, after time.Time
}

func newProcesses(spec profiles.ObserverSpec) (Observer, error) {
	s, err := newSettings(spec)
	if err != nil {
		return nil, err
	}
	interval, err := s.interval(2 * time.Second)
	if err != nil {
		return nil, err
	}
	return &processes{interval: interval, procRoot: "/proc", tracks: map[string]*processTrack{}}, nil
}

// onlineCPUs counts the cpuN lines of <root>/stat, the CPUs online. Without
// it, the CPUs churn may run on.
func onlineCPUs(root string) int {
	stat, err := os.ReadFile(filepath.Join(root, "stat"))
	if err != nil {
		return runtime.NumCPU()
	}
	n := 0
	for line := range strings.SplitSeq(string(stat), "\n") {
		if rest, ok := strings.CutPrefix(line, "cpu"); ok && rest != "" && rest[0] >= '0' && rest[0] <= '9' {
			n++
		}
	}
	if n == 0 {
		return runtime.NumCPU()
	}
	return n
}

func (o *processes) Name() string { return ProcessesName }

func (o *processes) Start(ctx context.Context, env Env) error {
	if env.Clock == nil || env.Logger == nil {
		return fmt.Errorf("env needs a Clock and a Logger")
	}
	o.env = env
	o.cpus = float64(onlineCPUs(o.procRoot))
	ctx, o.cancel = context.WithCancel(ctx)
	o.done = make(chan struct{})
	ticker := env.Clock.NewTicker(o.interval)
	o.sample()
	go func() {
		defer close(o.done)
		defer ticker.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-ticker.C():
				o.sample()
			}
		}
	}()
	env.Metrics.SetObserverUp(o.Name(), true)
	return nil
}

// targets are churn itself plus the control plane's current processes.
func (o *processes) targets() []Process {
	t := []Process{{Name: TesterProcess, PID: os.Getpid()}}
	if o.env.ControlPlane != nil {
		t = append(t, o.env.ControlPlane.Processes()...)
	}
	return t
}

// sample reads every process once. Each read carries its own time: under
// overload listing the processes or reading /proc can stall for seconds,
// so a time taken for the whole sweep is not when a counter was read.
func (o *processes) sample() {
	targets := o.targets()
	var prios map[string]string
	if pp, ok := o.env.ControlPlane.(ProcessPriorities); ok {
		prios = pp.ProcessPriorities()
	}
	type reading struct {
		p   Process
		r   procReading
		err error
	}
	readings := make([]reading, 0, len(targets))
	for _, p := range targets {
		r, err := readProc(o.procRoot, p.PID, o.env.Clock.Now)
		readings = append(readings, reading{p, r, err})
	}
	o.mu.Lock()
	for _, rd := range readings {
		if rd.err != nil {
			// The process may have just exited; availability records that.
			o.errors++
			continue
		}
		tr := o.tracks[rd.p.Name]
		if tr == nil {
			role := RoleControlPlane
			switch {
			case rd.p.Name == TesterProcess:
				role = RoleTester
			case rd.p.Role != "":
				role = rd.p.Role
			}
			tr = &processTrack{role: role}
			o.tracks[rd.p.Name] = tr
			o.order = append(o.order, rd.p.Name)
		}
		tr.observe(rd.p.PID, rd.r, o.cpus)
		switch {
		case rd.p.Name == TesterProcess:
			tr.priority = PriorityNotChanged
		case prios[rd.p.Name] != "":
			tr.priority = prios[rd.p.Name]
		}
	}
	o.mu.Unlock()
	if o.afterSample != nil {
		o.afterSample()
	}
}

// observe adds one read. A rate is CPU time over the time between the two
// reads that bound it, taken from when the earlier read began to when the
// later one ended, so it can only err low; windows shorter than
// minRateWindow are merged into the next.
func (tr *processTrack) observe(pid int, r procReading, cpus float64) {
	switch {
	case tr.firstT.IsZero():
		// The run's cost starts at the first read.
		tr.pid, tr.start, tr.lastCPU = pid, r.start, r.cpu
		tr.pids = append(tr.pids, pid)
		tr.firstT, tr.windowT = r.before, r.before
	case pid != tr.pid || r.start != tr.start:
		// A new process, possibly under the old PID (its start time
		// differs; its counter went down): it started after the last read,
		// so all of its CPU is new. The old one's CPU after its last read
		// is lost.
		tr.pid, tr.start, tr.lastCPU = pid, r.start, 0
		tr.pids = append(tr.pids, pid)
	}
	// One process' counter never goes down; if it ever seemed to, counting
	// its whole lifetime again would be far worse than ignoring the dip.
	tr.cpuSeconds += max(r.cpu-tr.lastCPU, 0)
	tr.lastCPU, tr.lastT = max(r.cpu, tr.lastCPU), r.after
	if dt := r.after.Sub(tr.windowT); dt >= minRateWindow {
		// The ceiling only absorbs a counter's last tick; a sound window
		// cannot otherwise exceed it.
		c := min((tr.cpuSeconds-tr.windowCPU)/dt.Seconds(), cpus)
		tr.peakCores = max(tr.peakCores, c)
		tr.cores = append(tr.cores, Point{T: r.after, V: c})
		tr.windowT, tr.windowCPU = r.before, tr.cpuSeconds
	}
	tr.peakRSS = max(tr.peakRSS, r.rss)
	tr.rss = append(tr.rss, Point{T: r.after, V: float64(r.rss)})
}

// readProc reads a process' CPU seconds (user + system), start time and RSS
// bytes; now brackets the read of the CPU counter.
func readProc(root string, pid int, now func() time.Time) (procReading, error) {
	dir := filepath.Join(root, strconv.Itoa(pid))
	var r procReading
	r.before = now()
	stat, err := os.ReadFile(filepath.Join(dir, "stat"))
	r.after = now()
	if err != nil {
		return procReading{}, fmt.Errorf("read stat of pid %d: %w", pid, err)
	}
	r.cpu, r.start, err = parseStat(string(stat))
	if err != nil {
		return procReading{}, fmt.Errorf("pid %d: %w", pid, err)
	}
	status, err := os.ReadFile(filepath.Join(dir, "status"))
	if err != nil {
		return procReading{}, fmt.Errorf("read status of pid %d: %w", pid, err)
	}
	r.rss, err = parseStatusRSS(string(status))
	if err != nil {
		return procReading{}, fmt.Errorf("pid %d: %w", pid, err)
	}
	return r, nil
}

// parseStat reads utime+stime (in seconds) and starttime (in ticks after
// boot, which tells a new process under a reused PID) from
// /proc/<pid>/stat. The command name (field 2) may contain spaces and
// parentheses, so fields are counted from the last ')'.
func parseStat(stat string) (cpuSeconds float64, start uint64, err error) {
	i := strings.LastIndexByte(stat, ')')
	if i < 0 {
		return 0, 0, fmt.Errorf("malformed stat: no ')'")
	}
	f := strings.Fields(stat[i+1:])
	// f[0] is field 3 (state); utime is field 14, stime 15, starttime 22.
	if len(f) < 20 {
		return 0, 0, fmt.Errorf("malformed stat: %d fields after comm", len(f))
	}
	utime, err1 := strconv.ParseUint(f[11], 10, 64)
	stime, err2 := strconv.ParseUint(f[12], 10, 64)
	start, err3 := strconv.ParseUint(f[19], 10, 64)
	if err1 != nil || err2 != nil || err3 != nil {
		return 0, 0, fmt.Errorf("malformed stat: utime %q stime %q starttime %q", f[11], f[12], f[19])
	}
	return float64(utime+stime) / clockTicks, start, nil
}

// parseStatusRSS reads VmRSS (in kB) from /proc/<pid>/status. Kernel
// threads and zombies have none: 0.
func parseStatusRSS(status string) (int64, error) {
	for line := range strings.SplitSeq(status, "\n") {
		rest, ok := strings.CutPrefix(line, "VmRSS:")
		if !ok {
			continue
		}
		f := strings.Fields(rest)
		if len(f) < 1 {
			return 0, fmt.Errorf("malformed VmRSS line %q", line)
		}
		kb, err := strconv.ParseInt(f[0], 10, 64)
		if err != nil {
			return 0, fmt.Errorf("malformed VmRSS line %q", line)
		}
		return kb * 1024, nil
	}
	return 0, nil
}

func (o *processes) Stop(context.Context) error {
	if o.cancel == nil {
		return nil
	}
	o.cancel()
	<-o.done
	o.sample() // the last interval counts too
	o.env.Metrics.SetObserverUp(o.Name(), false)
	return nil
}

// ProcessesSummary is what processes writes to r.Observers["processes"];
// the per-process totals go to r.Processes.
type ProcessesSummary struct {
	Interval    string   `json:"interval"`
	ReadErrors  int      `json:"readErrors"`
	ClockTicks  int      `json:"clockTicks"`
	Series      []Series `json:"series,omitempty"`
	TesterShare float64  `json:"testerShare"`
}

// Series names: "cpu-cores/<process>" and "rss-bytes/<process>".
const (
	SeriesCPUPrefix = "cpu-cores/"
	SeriesRSSPrefix = "rss-bytes/"
)

func (o *processes) Summarize(r *results.Result) error {
	o.mu.Lock()
	defer o.mu.Unlock()
	s := ProcessesSummary{Interval: o.interval.String(), ReadErrors: o.errors, ClockTicks: clockTicks}
	names := append([]string(nil), o.order...)
	// churn first, then the control plane by name.
	sort.SliceStable(names, func(i, j int) bool {
		if (names[i] == TesterProcess) != (names[j] == TesterProcess) {
			return names[i] == TesterProcess
		}
		return names[i] < names[j]
	})
	r.Processes = nil
	var total, tester float64
	for _, n := range names {
		tr := o.tracks[n]
		u := results.ProcessUsage{
			Name: n, Role: tr.role, CPUSeconds: tr.cpuSeconds, PeakRSS: tr.peakRSS,
			PeakCores: tr.peakCores, PIDs: append([]int(nil), tr.pids...), Priority: tr.priority,
		}
		if wall := tr.lastT.Sub(tr.firstT).Seconds(); wall > 0 {
			u.AvgCores = tr.cpuSeconds / wall
		}
		r.Processes = append(r.Processes, u)
		total += tr.cpuSeconds
		if n == TesterProcess {
			tester = tr.cpuSeconds
		}
		s.Series = append(s.Series,
			Series{Name: SeriesCPUPrefix + n, Unit: UnitCores, Points: tr.cores},
			Series{Name: SeriesRSSPrefix + n, Unit: UnitBytes, Points: tr.rss})
	}
	if total > 0 {
		s.TesterShare = tester / total
	}
	return putObserver(r, o.Name(), s)
}
