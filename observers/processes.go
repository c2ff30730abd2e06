package observers

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
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

	env    Env
	cancel context.CancelFunc
	done   chan struct{}

	mu     sync.Mutex
	tracks map[string]*processTrack
	order  []string
	errors int

	afterSample func()
}

// processTrack follows one named process across restarts (new PIDs).
type processTrack struct {
	role       string
	priority   string // of the latest PID
	pid        int
	pids       []int
	lastCPU    float64 // CPU seconds of the current PID at the last sample
	lastT      time.Time
	firstT     time.Time
	cpuSeconds float64 // accumulated over all PIDs
	peakRSS    int64
	peakCores  float64
	cores      []Point
	rss        []Point
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

func (o *processes) Name() string { return ProcessesName }

func (o *processes) Start(ctx context.Context, env Env) error {
	if env.Clock == nil || env.Logger == nil {
		return fmt.Errorf("env needs a Clock and a Logger")
	}
	o.env = env
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

func (o *processes) sample() {
	now := o.env.Clock.Now()
	targets := o.targets()
	var prios map[string]string
	if pp, ok := o.env.ControlPlane.(ProcessPriorities); ok {
		prios = pp.ProcessPriorities()
	}
	type reading struct {
		p   Process
		cpu float64
		rss int64
		err error
	}
	readings := make([]reading, 0, len(targets))
	for _, p := range targets {
		cpu, rss, err := readProc(o.procRoot, p.PID)
		readings = append(readings, reading{p, cpu, rss, err})
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
			tr = &processTrack{role: role, firstT: now}
			o.tracks[rd.p.Name] = tr
			o.order = append(o.order, rd.p.Name)
		}
		tr.observe(now, rd.p.PID, rd.cpu, rd.rss)
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

func (tr *processTrack) observe(now time.Time, pid int, cpu float64, rss int64) {
	if pid != tr.pid {
		// A restarted process starts from zero CPU; CPU used by the old PID
		// after its last sample is lost (at most one interval).
		tr.pid, tr.lastCPU = pid, 0
		tr.pids = append(tr.pids, pid)
		if tr.lastT.IsZero() {
			tr.lastCPU = cpu // the run's cost starts at its first sample
		}
	}
	if !tr.lastT.IsZero() {
		used := max(cpu-tr.lastCPU, 0)
		tr.cpuSeconds += used
		if dt := now.Sub(tr.lastT).Seconds(); dt > 0 {
			c := used / dt
			tr.peakCores = max(tr.peakCores, c)
			tr.cores = append(tr.cores, Point{T: now, V: c})
		}
	}
	tr.lastCPU, tr.lastT = cpu, now
	tr.peakRSS = max(tr.peakRSS, rss)
	tr.rss = append(tr.rss, Point{T: now, V: float64(rss)})
}

// readProc returns a process' CPU seconds (user + system) and RSS bytes.
func readProc(root string, pid int) (cpuSeconds float64, rssBytes int64, err error) {
	dir := filepath.Join(root, strconv.Itoa(pid))
	stat, err := os.ReadFile(filepath.Join(dir, "stat"))
	if err != nil {
		return 0, 0, fmt.Errorf("read stat of pid %d: %w", pid, err)
	}
	cpuSeconds, err = parseStatCPU(string(stat))
	if err != nil {
		return 0, 0, fmt.Errorf("pid %d: %w", pid, err)
	}
	status, err := os.ReadFile(filepath.Join(dir, "status"))
	if err != nil {
		return 0, 0, fmt.Errorf("read status of pid %d: %w", pid, err)
	}
	rssBytes, err = parseStatusRSS(string(status))
	if err != nil {
		return 0, 0, fmt.Errorf("pid %d: %w", pid, err)
	}
	return cpuSeconds, rssBytes, nil
}

// parseStatCPU reads utime+stime from /proc/<pid>/stat. The command name
// (field 2) may contain spaces and parentheses, so fields are counted from
// the last ')'.
func parseStatCPU(stat string) (float64, error) {
	i := strings.LastIndexByte(stat, ')')
	if i < 0 {
		return 0, fmt.Errorf("malformed stat: no ')'")
	}
	f := strings.Fields(stat[i+1:])
	// f[0] is field 3 (state); utime is field 14, stime field 15.
	if len(f) < 13 {
		return 0, fmt.Errorf("malformed stat: %d fields after comm", len(f))
	}
	utime, err1 := strconv.ParseUint(f[11], 10, 64)
	stime, err2 := strconv.ParseUint(f[12], 10, 64)
	if err1 != nil || err2 != nil {
		return 0, fmt.Errorf("malformed stat: utime %q stime %q", f[11], f[12])
	}
	return float64(utime+stime) / clockTicks, nil
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
