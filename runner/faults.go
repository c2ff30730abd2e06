package runner

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"time"

	"go.uber.org/zap"
	"k8s.io/utils/clock"

	"github.com/churn-dev/churn/deploy/local"
	"github.com/churn-dev/churn/results"
)

// DefaultFaultDowntime is how long a killed process stays down when the
// fault does not say: a kubelet's first back-off before restarting a
// crashed static pod.
const DefaultFaultDowntime = 10 * time.Second

// faultTargets maps the names a --fault may use to control-plane processes.
var faultTargets = map[string]string{
	"etcd":                    local.Etcd,
	"apiserver":               local.APIServer,
	"kube-apiserver":          local.APIServer,
	"controller-manager":      local.ControllerManager,
	"kube-controller-manager": local.ControllerManager,
	"scheduler":               local.Scheduler,
	"kube-scheduler":          local.Scheduler,
	"kwok":                    local.KWOK,
}

// Fault is one injected failure: kill Process At into the churn phase and
// start it again Down later.
type Fault struct {
	Spec    string
	Process string
	At      time.Duration
	Down    time.Duration
}

// ParseFault reads PROCESS-kill@AT[+DOWN], e.g. etcd-kill@3m or
// kwok-kill@90s+30s. AT counts from the start of the churn phase; DOWN
// defaults to DefaultFaultDowntime.
func ParseFault(spec string) (Fault, error) {
	s := strings.TrimSpace(spec)
	what, when, ok := strings.Cut(s, "@")
	if !ok {
		return Fault{}, fmt.Errorf("--fault %q: want PROCESS-kill@AT[+DOWN], e.g. etcd-kill@3m or kwok-kill@90s+30s", spec)
	}
	name, ok := strings.CutSuffix(what, "-kill")
	if !ok {
		return Fault{}, fmt.Errorf("--fault %q: unknown fault %q; the one fault is PROCESS-kill", spec, what)
	}
	process, ok := faultTargets[name]
	if !ok {
		return Fault{}, fmt.Errorf("--fault %q: unknown process %q; want one of etcd, kube-apiserver, kube-controller-manager, kube-scheduler, kwok", spec, name)
	}
	at, down, hasDown := strings.Cut(when, "+")
	f := Fault{Spec: s, Process: process, Down: DefaultFaultDowntime}
	var err error
	if f.At, err = time.ParseDuration(at); err != nil || f.At < 0 {
		return Fault{}, fmt.Errorf("--fault %q: time %q: want a duration from the start of churn, e.g. 3m", spec, at)
	}
	if hasDown {
		if f.Down, err = time.ParseDuration(down); err != nil || f.Down <= 0 {
			return Fault{}, fmt.Errorf("--fault %q: downtime %q: want a positive duration, e.g. 30s", spec, down)
		}
	}
	return f, nil
}

// ParseFaults parses every spec; churnFor, when positive, is the churn
// phase's length, which every fault must fall within.
func ParseFaults(specs []string, churnFor time.Duration) ([]Fault, error) {
	var out []Fault
	for _, spec := range specs {
		f, err := ParseFault(spec)
		if err != nil {
			return nil, err
		}
		if churnFor > 0 && f.At >= churnFor {
			return nil, fmt.Errorf("--fault %q: %s is not within the churn phase (%s)", spec, f.At, churnFor)
		}
		out = append(out, f)
	}
	return out, nil
}

// killer is what injects a fault: local.Cluster.
type killer interface {
	Kill(name string, restartAfter time.Duration, reason string) error
}

// faultInjector fires the run's faults relative to the start of churn and
// records each one.
type faultInjector struct {
	faults []Fault
	target killer
	log    *zap.Logger
	clock  clock.Clock

	// records[i] is what became of faults[i]; each is written by its own
	// goroutine and read after wg.Wait.
	records []results.Fault
	stop    chan struct{}
	wg      sync.WaitGroup
}

// start schedules every fault from now; stopAndRecord ends the schedule.
func (fi *faultInjector) start(ctx context.Context) {
	if fi.clock == nil {
		fi.clock = clock.RealClock{}
	}
	fi.stop = make(chan struct{})
	begin := fi.clock.Now()
	fi.records = make([]results.Fault, len(fi.faults))
	for i, f := range fi.faults {
		fi.wg.Add(1)
		go func() {
			defer fi.wg.Done()
			timer := fi.clock.NewTimer(f.At)
			defer timer.Stop()
			rec := results.Fault{Spec: f.Spec, Process: f.Process, AtSeconds: f.At.Seconds(), DownSeconds: f.Down.Seconds()}
			select {
			case <-ctx.Done():
				rec.Error = "not injected: the churn phase was interrupted first"
			case <-fi.stop:
				rec.Error = fmt.Sprintf("not injected: the churn phase ended after %s", fi.clock.Since(begin).Round(time.Second))
			case <-timer.C():
				rec.InjectedAt = fi.clock.Now()
				if err := fi.target.Kill(f.Process, f.Down, "churn --fault "+f.Spec); err != nil {
					rec.Error = err.Error()
					fi.log.Error("fault injection failed", zap.String("fault", f.Spec), zap.Error(err))
				}
			}
			fi.records[i] = rec
		}()
	}
}

// stopAndRecord cancels faults not yet due and returns what became of each.
func (fi *faultInjector) stopAndRecord() []results.Fault {
	if fi.stop == nil {
		return nil
	}
	close(fi.stop)
	fi.wg.Wait()
	fi.stop = nil
	return fi.records
}
