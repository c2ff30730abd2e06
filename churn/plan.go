package churn

import (
	"math/rand/v2"
	"time"

	"github.com/churn-dev/churn/profiles"
	"github.com/churn-dev/churn/results"
)

// PCG stream selectors: scale and relabel draw from separate streams of the
// same seed, so changing the relabel interval never shifts the scale
// choices (and vice versa).
const (
	scaleStream   = 0x5ca1e
	relabelStream = 0x7e1abe1
)

// Step is one planned action. Offsets are from the start of the churn
// phase; indexes refer to the workload's slots.
type Step struct {
	Seq    int
	Kind   string // results.ActionScale or results.ActionRelabel
	Offset time.Duration
	// Namespace is the namespace index; Deployment the deployment index
	// within it (scale only).
	Namespace  int
	Deployment int
	// Replicas is the scale target.
	Replicas int
	// Generation is the relabel's new churn.dev/generation value.
	Generation int
}

// Plan is the whole deterministic action sequence of a churn phase, in
// schedule order.
type Plan struct {
	Seed  int64
	Steps []Step
}

// NewPlan derives the action sequence from the seed and the profile's
// workload shape and churn settings. Scale action k is due at k x
// scale.interval and scales a uniformly chosen deployment to a uniform
// count in [ceil(minFactor x replicas), floor(maxFactor x replicas)];
// relabel action j is due at j x relabel.interval (j from 0) and sets
// churn.dev/generation=j+1 on a uniformly chosen namespace. Same seed and
// profile give the same plan; a longer duration extends it without changing
// its beginning.
func NewPlan(seed int64, p profiles.Profile) Plan {
	duration := p.Churn.Duration.Duration
	perNS := max(p.Workload.DeploymentsPerNamespace, 1)
	deployments := max(p.Workload.Namespaces*perNS, 1)
	namespaces := max(p.Workload.Namespaces, 1)
	lo, hi := profiles.ReplicaRange(p.Workload.Replicas, p.Churn.Scale.MinFactor, p.Churn.Scale.MaxFactor)
	hi = max(hi, lo)

	var scales, relabels []Step
	if every := p.Churn.Scale.Interval.Duration; every > 0 {
		r := rand.New(rand.NewPCG(uint64(seed), scaleStream))
		for k := 0; time.Duration(k)*every < duration; k++ {
			d := r.IntN(deployments)
			scales = append(scales, Step{
				Kind:       results.ActionScale,
				Offset:     time.Duration(k) * every,
				Namespace:  d / perNS,
				Deployment: d % perNS,
				Replicas:   lo + r.IntN(hi-lo+1),
			})
		}
	}
	if every := p.Churn.Relabel.Interval.Duration; every > 0 {
		r := rand.New(rand.NewPCG(uint64(seed), relabelStream))
		for j := 0; time.Duration(j)*every < duration; j++ {
			relabels = append(relabels, Step{
				Kind:       results.ActionRelabel,
				Offset:     time.Duration(j) * every,
				Namespace:  r.IntN(namespaces),
				Generation: j + 1,
			})
		}
	}

	// Merge by offset; at equal offsets the scale goes first.
	steps := make([]Step, 0, len(scales)+len(relabels))
	for len(scales) > 0 || len(relabels) > 0 {
		if len(relabels) == 0 || (len(scales) > 0 && scales[0].Offset <= relabels[0].Offset) {
			steps, scales = append(steps, scales[0]), scales[1:]
		} else {
			steps, relabels = append(steps, relabels[0]), relabels[1:]
		}
	}
	for i := range steps {
		steps[i].Seq = i
	}
	return Plan{Seed: seed, Steps: steps}
}
