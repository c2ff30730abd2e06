package runner

import (
	"context"
	"fmt"
	"time"

	"github.com/churn-dev/churn/disruption"
	"github.com/churn-dev/churn/profiles"
	"github.com/churn-dev/churn/results"
)

// killer is what a fault needs of the local control plane: local.Cluster.
type killer interface {
	Kill(name string, restartAfter time.Duration, reason string) error
	PID(name string) int
	WaitHealthy(ctx context.Context, name string, notPID int) error
}

// faultPlan is a fault as a one-step plan: kill the process, wait until it
// has gone, wait until the supervisor has started it again and it is
// healthy.
func faultPlan(f profiles.FaultSpec, target killer) disruption.Plan {
	return disruption.Plan{
		Kind: results.DisruptionFault,
		Spec: f.Spec,
		At:   f.At,
		Settings: map[string]string{
			"process":  f.Process,
			"downtime": f.Down.String(),
		},
		Steps: []disruption.Step{{
			Name:    fmt.Sprintf("kill %s, start it again %s later", f.Process, f.Down),
			Targets: []string{f.Process},
			Do: func(ctx context.Context, p *disruption.Progress) error {
				pid := target.PID(f.Process)
				if err := target.Kill(f.Process, f.Down, "churn --fault "+f.Spec); err != nil {
					return err
				}
				p.Stopped()
				if err := target.WaitHealthy(ctx, f.Process, pid); err != nil {
					return err
				}
				p.Ready()
				return nil
			},
		}},
	}
}
