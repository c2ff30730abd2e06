package runner

import (
	"fmt"
	"sync"

	"k8s.io/apimachinery/pkg/util/validation/field"

	"github.com/churn-dev/churn/deploy/local"
	"github.com/churn-dev/churn/observers"
	"github.com/churn-dev/churn/report"
	"github.com/churn-dev/churn/results"
)

// controlPlane adapts a local cluster to what observers need. The event
// channel is converted once, lazily, because only one observer reads it.
type controlPlane struct {
	cluster *local.Cluster
	once    *sync.Once
	events  chan observers.ProcessEvent

	mu sync.Mutex
	// others are processes the run started beside the cluster (the real
	// istiod), sampled with it so their cost shows in the process table.
	others []observers.Process
}

// The processes observer reads CPU priorities through this.
var _ observers.ProcessPriorities = (*controlPlane)(nil)

func newControlPlane(c *local.Cluster) *controlPlane {
	return &controlPlane{cluster: c, once: &sync.Once{}, events: make(chan observers.ProcessEvent, 64)}
}

func (c *controlPlane) Processes() []observers.Process {
	procs := c.cluster.Processes()
	out := make([]observers.Process, len(procs))
	for i, p := range procs {
		role := observers.RoleControlPlane
		if p.Group == local.GroupSimulator {
			role = observers.RoleSimulator
		}
		out[i] = observers.Process{Name: p.Name, PID: p.PID, Role: role}
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	return append(out, c.others...)
}

// ProcessPriorities gives the processes observer each process' CPU
// priority as local read it back after placing the process. What the run
// starts beside the cluster keeps churn's own.
func (c *controlPlane) ProcessPriorities() map[string]string {
	m := map[string]string{}
	for _, p := range c.cluster.Processes() {
		m[p.Name] = p.Priority
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, p := range c.others {
		m[p.Name] = observers.PriorityNotChanged
	}
	return m
}

// add has the observers sample another process of the run from now on.
// A process of the same name replaces the earlier one (a real mesh
// component restarted by a rollout is a new process under its name).
func (c *controlPlane) add(p observers.Process) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for i := range c.others {
		if c.others[i].Name == p.Name {
			c.others[i] = p
			return
		}
	}
	c.others = append(c.others, p)
}

func (c *controlPlane) Events() <-chan observers.ProcessEvent {
	c.once.Do(func() {
		go func() {
			defer close(c.events)
			for ev := range c.cluster.Events() {
				pe := results.ProcessEvent{Time: ev.Time, Name: ev.Name, Kind: ev.Kind, ExitCode: ev.ExitCode, Detail: ev.Detail}
				// Never block the cluster's supervisor on a slow reader.
				select {
				case c.events <- pe:
				default:
				}
			}
		}()
	})
	return c.events
}

// ValidateControlPlaneArgs checks the profile's extra control-plane
// arguments (controlPlane.extraArgs, with --apiserver-args and
// --component-args merged in): none of them may be a flag churn sets
// itself, and they need a local control plane, since a --kubeconfig or
// --in-cluster target runs with the flags its owner gave it.
func ValidateControlPlaneArgs(o Options) error {
	args := o.Profile.ControlPlane.ExtraArgs
	if len(args) == 0 {
		return nil
	}
	if o.Kubeconfig != "" || o.InCluster {
		target := "--in-cluster"
		if o.Kubeconfig != "" {
			target = "--kubeconfig " + o.Kubeconfig
		}
		return fmt.Errorf("extra control-plane arguments (%s) apply to the local control plane churn starts; %s runs with the flags its owner gave it: drop --apiserver-args, --component-args and the profile's controlPlane.extraArgs, or run locally",
			report.ExtraArgsText(args), target)
	}
	if errs := local.ValidateExtraArgs(args, field.NewPath("controlPlane", "extraArgs")); len(errs) > 0 {
		return fmt.Errorf("profile %s: %w", o.Profile.Name, errs.ToAggregate())
	}
	return nil
}
