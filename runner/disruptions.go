package runner

import (
	"fmt"

	"github.com/churn-dev/churn/disruption"
	"github.com/churn-dev/churn/profiles"
)

// disruptionPlans turns the profile's disruptions into plans for the local
// control plane (and the mesh); none without a local cluster.
func (r *run) disruptionPlans() ([]disruption.Plan, error) {
	d := r.opts.Profile.Disruptions
	var plans []disruption.Plan
	for _, s := range d.Faults {
		f, err := profiles.ParseFault(s)
		if err != nil {
			return nil, fmt.Errorf("disruptions.faults: %w", err)
		}
		if r.cluster == nil {
			return nil, fmt.Errorf("--fault %s: faults need the local control plane", s)
		}
		plans = append(plans, faultPlan(f, r.cluster))
	}
	if s := d.Upgrade; s != "" {
		u, err := profiles.ParseUpgrade(s)
		if err != nil {
			return nil, fmt.Errorf("disruptions.upgrade: %w", err)
		}
		if r.cluster == nil {
			return nil, fmt.Errorf("--upgrade %s: upgrades need the local control plane", s)
		}
		plans = append(plans, upgradePlan(u, runningRelease(r.opts), r.cluster, r.client, r.clientConfig))
	}
	rollouts, err := r.rolloutPlans()
	if err != nil {
		return nil, err
	}
	plans = append(plans, rollouts...)
	churnFor := r.opts.Profile.Churn.Duration.Duration
	for _, pl := range plans {
		if err := pl.Validate(churnFor); err != nil {
			return nil, err
		}
	}
	return plans, nil
}
