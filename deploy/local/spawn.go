package local

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"runtime"
	"strings"
	"syscall"
	"time"
)

// spawner forks every child from one goroutine locked to its OS thread.
// Linux delivers Pdeathsig when the *thread* that forked the child exits,
// not the process; the Go runtime may retire a thread when a goroutine that
// locked it exits, which would SIGKILL a healthy control plane. A dedicated
// thread that outlives every child makes Pdeathsig mean "churn died".
type spawner struct {
	reqs chan spawnReq
	done chan struct{}
}

type spawnReq struct {
	cmd *exec.Cmd
	res chan error
}

func newSpawner() *spawner {
	s := &spawner{reqs: make(chan spawnReq), done: make(chan struct{})}
	go func() {
		runtime.LockOSThread()
		// Deliberately never unlocked: when this goroutine returns (after
		// close, once every child has exited) the thread is retired.
		defer close(s.done)
		for r := range s.reqs {
			r.res <- r.cmd.Start()
		}
	}()
	return s
}

func (s *spawner) start(cmd *exec.Cmd) error {
	res := make(chan error, 1)
	s.reqs <- spawnReq{cmd: cmd, res: res}
	return <-res
}

// close must only be called once no child started by s is alive.
func (s *spawner) close() {
	close(s.reqs)
	<-s.done
}

// proc is one running instance of a component.
type proc struct {
	comp      component
	cmd       *exec.Cmd
	pid       int
	startTime uint64
	startedAt time.Time
	logPath   string
	// exited is closed once the process has been reaped; exitCode and
	// exitErr are valid after that.
	exited   chan struct{}
	exitCode int
	exitErr  error
	// memKilled is set (under Cluster.mu) when the memory cap killed it.
	memKilled bool
	// faultRestart, set (under Cluster.mu) by Kill, is how long after its
	// exit the process is started again; 0 leaves it down.
	faultRestart time.Duration
	faulted      bool
	// replaced is set (under Cluster.mu) by Replace: its exit is no crash
	// and its successor is already being started.
	replaced bool
	// priority is its CPU priority as read back after placement.
	priority string
}

// startProc starts comp with its output appended to its log file, in its
// own process group, with Pdeathsig=SIGKILL unless the cluster is detached.
func startProc(sp *spawner, comp component, p paths, detach bool) (*proc, error) {
	logPath := p.log(comp.name)
	logFile, err := os.OpenFile(logPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		return nil, fmt.Errorf("opening log of %s: %w", comp.name, err)
	}
	now := time.Now()
	fmt.Fprintf(logFile, "=== churn: starting %s at %s: %s %s\n",
		comp.name, now.Format(time.RFC3339), comp.binary, strings.Join(comp.args, " "))
	cmd := exec.Command(comp.binary, comp.args...)
	cmd.Dir = p.dir
	cmd.Env = append(os.Environ(), comp.env...)
	cmd.Stdout = logFile
	cmd.Stderr = logFile
	cmd.SysProcAttr = &syscall.SysProcAttr{
		// Own process group: a terminal's Ctrl-C reaches churn only, which
		// then stops the control plane in order.
		Setpgid: true,
	}
	if !detach {
		cmd.SysProcAttr.Pdeathsig = syscall.SIGKILL
	}
	if err := sp.start(cmd); err != nil {
		logFile.Close()
		return nil, fmt.Errorf("starting %s: %w", comp.name, err)
	}
	pr := &proc{
		comp:      comp,
		cmd:       cmd,
		pid:       cmd.Process.Pid,
		startedAt: now,
		logPath:   logPath,
		exited:    make(chan struct{}),
	}
	// The child cannot be reaped before Wait below, so its /proc entry
	// exists here even if it has already exited.
	pr.startTime, err = procStartTime(pr.pid)
	go func() {
		werr := cmd.Wait()
		logFile.Close()
		pr.exitErr = werr
		pr.exitCode = exitCode(cmd, werr)
		close(pr.exited)
	}()
	if err != nil {
		_ = cmd.Process.Kill()
		<-pr.exited
		return nil, fmt.Errorf("started %s but could not read its start time: %w", comp.name, err)
	}
	return pr, nil
}

// exitCode is the process exit status, or 128+signal for a signalled
// process (shell convention), or -1 if unknown.
func exitCode(cmd *exec.Cmd, err error) int {
	if cmd.ProcessState == nil {
		return -1
	}
	if ws, ok := cmd.ProcessState.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
		return 128 + int(ws.Signal())
	}
	var ee *exec.ExitError
	if err != nil && !errors.As(err, &ee) {
		return -1
	}
	return cmd.ProcessState.ExitCode()
}

// describeExit renders how a process ended.
func describeExit(pr *proc) string {
	if pr.cmd.ProcessState != nil {
		return pr.cmd.ProcessState.String()
	}
	if pr.exitErr != nil {
		return pr.exitErr.Error()
	}
	return "exited"
}

func (pr *proc) hasExited() bool {
	select {
	case <-pr.exited:
		return true
	default:
		return false
	}
}

func (pr *proc) stateEntry() ProcessState {
	return ProcessState{
		Name:       pr.comp.name,
		PID:        pr.pid,
		StartTime:  pr.startTime,
		StartedAt:  pr.startedAt,
		Binary:     pr.comp.binary,
		Args:       pr.comp.args,
		Ports:      pr.comp.ports,
		Kubeconfig: pr.comp.kubeconfig,
		LogFile:    pr.logPath,
		HealthURL:  pr.comp.healthURL,
	}
}
