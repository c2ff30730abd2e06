package runner

import (
	"context"
	"errors"
	"time"

	"go.uber.org/zap"
	"k8s.io/utils/clock"

	"github.com/churn-dev/churn/churn"
	"github.com/churn-dev/churn/deploy/local"
	"github.com/churn-dev/churn/results"
	"github.com/churn-dev/churn/selfmetrics"
	"github.com/churn-dev/churn/snapshot"
)

// newRun builds the state of one run from defaulted options.
func newRun(opts Options) *run {
	if opts.Logger == nil {
		opts.Logger = zap.NewNop()
	}
	return &run{
		opts:    opts,
		labelID: opts.RunID,
		log:     opts.Logger.With(zap.String("run", opts.RunID)),
		clk:     clock.RealClock{},
		res: &results.Result{
			SchemaVersion: results.SchemaVersion,
			RunID:         opts.RunID,
			Profile:       opts.Profile,
			Seed:          opts.Profile.Churn.Seed,
			Mesh:          meshName(opts.Profile),
		},
		metrics: selfmetrics.New(),
	}
}

// Prepared is a running local control plane with a run's fake nodes and
// workload Ready, as SetUp leaves it.
type Prepared struct {
	// Cluster is the caller's to stop.
	Cluster *local.Cluster
	// RunID is the churn.dev/run value the objects carry; Labels are all
	// the run labels; NamePrefix starts the object names.
	RunID      string
	Labels     map[string]string
	NamePrefix string
	// Setup is the setup summary (with WarmStart set for a warm start).
	Setup *results.SetupSummary
	// Nodes are the fake node names.
	Nodes []string
	// KubernetesVersion is what the API server reports.
	KubernetesVersion string
	// Seconds is the whole of it: control plane start (or restore) to Ready.
	Seconds float64
	// Mesh is the mesh that ran during the ramp and settled, now stopped
	// with its objects left in place (nil without one; see savemesh.go).
	Mesh *snapshot.MeshState
}

// SetUp runs only the target and setup phases of a run, exactly as Run
// does, on a fresh local control plane: the fake nodes, the workload and
// the ramp to Ready, or with opts.FromSnapshot the restore and the wait for
// Ready. No observers or churn, and no mesh unless a fresh setup's profile
// has one: then the mesh starts before the workload and SetUp waits for it
// to settle after the ramp, then stops it keeping its objects (a save with
// a mesh, see savemesh.go). It is what `churn snapshot save`
// saves and what `churn snapshot verify-start` times. On error everything
// started is stopped again (the cluster's logs stay in its directory).
func SetUp(ctx context.Context, opts Options) (*Prepared, error) {
	if opts.Kubeconfig != "" || opts.InCluster {
		return nil, errors.New("SetUp starts a local control plane; Kubeconfig or InCluster is set")
	}
	if opts.RunID == "" {
		id, err := NewRunID(time.Now())
		if err != nil {
			return nil, err
		}
		opts.RunID = id
	}
	r := newRun(opts)
	r.setupOnly = true
	if err := r.openSnapshot(ctx); err != nil {
		return nil, err
	}
	start := time.Now()
	err := r.phase("target", func() error { return r.resolveTarget(ctx) })
	if err == nil {
		err = r.phase("setup", func() error { return r.setup(ctx) })
	}
	if err == nil && r.mesh != nil {
		err = r.phase("mesh", func() error { return r.settleSaveMesh(ctx) })
	}
	if stopErr := r.stopSaveMesh(ctx); stopErr != nil && err == nil {
		err = stopErr
	}
	r.stopNodeHealth()
	if r.res.Setup != nil {
		r.res.Setup.NodeHealth = r.summarizeNodeHealth()
	}
	if err != nil {
		if r.cluster != nil {
			err = errors.Join(err, r.cluster.Stop(context.WithoutCancel(ctx), false))
		}
		return nil, err
	}
	return &Prepared{
		Cluster:           r.cluster,
		RunID:             r.labelID,
		Labels:            churn.RunLabels(r.labelID),
		NamePrefix:        NamePrefix(r.labelID),
		Setup:             r.res.Setup,
		Nodes:             r.nodes,
		KubernetesVersion: r.res.Target.KubernetesVersion,
		Seconds:           time.Since(start).Seconds(),
		Mesh:              r.savedMesh(),
	}, nil
}
