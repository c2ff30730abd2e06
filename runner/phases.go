package runner

import (
	"context"
	"errors"
	"fmt"
	"io"

	"go.uber.org/zap"

	"github.com/churn-dev/churn/agents"
	"github.com/churn-dev/churn/churn"
	"github.com/churn-dev/churn/disruption"
	"github.com/churn-dev/churn/fakenodes"
	"github.com/churn-dev/churn/observers"
	"github.com/churn-dev/churn/profiles"
	"github.com/churn-dev/churn/report"
	"github.com/churn-dev/churn/results"
)

// startObservers starts every observer the profile lists, before setup, so
// the report covers the whole run.
func (r *run) startObservers(ctx context.Context) error {
	env := observers.Env{
		Config:           r.target.Config,
		Client:           r.client,
		Clock:            r.clk,
		Logger:           r.log,
		RunID:            r.labelID,
		RunLabelSelector: churn.RunSelector(r.labelID),
		Metrics:          r.metrics,
	}
	if r.cluster != nil {
		r.controlPlane = newControlPlane(r.cluster)
		env.ControlPlane = r.controlPlane
		if eps := r.cluster.APIServerEndpoints(); len(eps) > 1 {
			for _, ep := range eps {
				env.APIServers = append(env.APIServers, observers.APIServerEndpoint{Name: ep.Name, URL: ep.URL})
			}
		}
	}
	for _, spec := range r.opts.Profile.Observers {
		o, err := observers.New(spec)
		if err != nil {
			return err
		}
		if err := o.Start(ctx, env); err != nil {
			return &observers.ObserverError{Observer: spec.Name, Op: "start", Err: err}
		}
		r.observers = append(r.observers, o)
	}
	return nil
}

func (r *run) setup(ctx context.Context) error {
	r.startNodeHealth(ctx)
	if err := r.createOrRestore(ctx); err != nil {
		return err
	}
	if r.res.Setup == nil {
		return nil
	}
	return r.waitKWOKIdle(ctx)
}

func (r *run) createOrRestore(ctx context.Context) error {
	if r.warm != nil {
		return r.warmSetup(ctx)
	}
	if err := r.installKWOK(ctx); err != nil {
		return err
	}
	p := r.opts.Profile
	nodesStart := r.clk.Now()
	names, err := fakenodes.Create(ctx, r.client, nodeSpec(p, r.labelID), r.progress())
	r.nodes = names
	if err != nil {
		return fmt.Errorf("create fake nodes: %w", err)
	}
	if err := fakenodes.WaitReady(ctx, r.client, churn.RunSelector(r.labelID), p.Nodes.Count, r.progress()); err != nil {
		return fmt.Errorf("fake nodes: %w", err)
	}
	nodesSeconds := r.clk.Since(nodesStart).Seconds()
	eng, err := r.newEngine(r.progress())
	if err != nil {
		return err
	}
	r.engine = eng
	if err := r.startSaveMesh(ctx); err != nil {
		return err
	}
	if err := eng.Setup(ctx); err != nil {
		return err
	}
	if err := r.saveMeshPolicies(ctx); err != nil {
		return err
	}
	summary, err := eng.WaitReady(ctx)
	if summary != nil {
		summary.Nodes = len(r.nodes)
		summary.NodesSeconds = nodesSeconds
		r.res.Setup = summary
	}
	return err
}

// newEngine builds the churn engine over the run's objects.
func (r *run) newEngine(progress io.Writer) (*churn.Engine, error) {
	return churn.New(churn.Config{
		Client:   r.client,
		Clock:    r.clk,
		Logger:   r.log,
		Profile:  r.opts.Profile,
		RunID:    r.labelID,
		Prefix:   NamePrefix(r.labelID),
		Progress: progress,
		OnAction: r.recordAction,
	})
}

func (r *run) startMesh(ctx context.Context) error {
	if meshName(r.opts.Profile) == profiles.MeshNone {
		return nil
	}
	components, err := agents.ComponentsFor(r.opts.Agents)
	if err != nil {
		return fmt.Errorf("agents %q: %w", r.opts.Agents, err)
	}
	standIns, realIstiod, err := r.standIns()
	if err != nil {
		return err
	}
	rc, err := r.realCiliumFor()
	if err != nil {
		return err
	}
	for name, s := range rc.standIns() {
		if standIns == nil {
			standIns = map[string]agents.StandIn{}
		}
		standIns[name] = s
	}
	r.realCilium = rc
	m, err := agents.Start(ctx, agents.Config{
		Components:       components,
		RESTConfig:       r.target.Config,
		Mesh:             r.opts.Profile.Mesh.Name,
		Nodes:            r.nodes,
		RunID:            r.labelID,
		RunLabels:        churn.RunLabels(r.labelID),
		Namespaces:       r.meshPolicyNamespaces(),
		RolloutPerSecond: r.opts.Profile.Mesh.AgentRolloutPerSecond,
		Clock:            r.clk,
		Logger:           r.log,
		StandIns:         standIns,
		NodeStandIns:     rc.nodeStandIns(),
		ExtraCRDSets:     rc.crdSets(),
	})
	if err != nil {
		return fmt.Errorf("start mesh %s: %w", r.opts.Profile.Mesh.Name, err)
	}
	r.mesh = m
	r.noteRealIstiod(realIstiod)
	r.noteRealCilium(rc)
	if components == agents.ComponentsCentral {
		fmt.Fprintf(r.progress(), "  per-node agents left to churn agents shards (churn agents --shard i/N); announced as configmap %s, run %s\n",
			agents.AnnouncementName, r.labelID)
	}
	return nil
}

// installMesh starts the mesh and waits for it to settle: the install
// phase, reported on its own and never judged.
func (r *run) installMesh(ctx context.Context) error {
	start := r.clk.Now()
	if r.warm != nil && r.warm.manifest.MeshName() != "" {
		fmt.Fprintf(r.progress(), "mesh: snapshot %s was saved with %s running: its objects are present and its agents adopt them\n",
			r.warm.manifest.Name, r.warm.manifest.MeshName())
	}
	if err := r.startMesh(ctx); err != nil {
		return err
	}
	if r.mesh == nil {
		return nil
	}
	err := r.settleMesh(ctx, start)
	r.noteMeshFromSnapshot()
	return err
}

func (r *run) churn(ctx context.Context) error {
	before := schedSnapshot()
	kwokWait := r.measureKWOKWait()
	plans, err := r.disruptionPlans()
	if err != nil {
		return err
	}
	if len(plans) > 0 {
		dr := &disruption.Runner{Plans: plans, Log: r.log}
		dr.Start(ctx)
		defer func() {
			r.res.Disruptions = dr.StopAndRecord()
			r.countListsAndWatches(r.res.Disruptions)
		}()
	}
	summary, err := r.engine.Run(ctx)
	r.res.Churn = summary
	r.schedP99, r.schedOK = histDiffQuantile(before, schedSnapshot(), 0.99)
	r.kwokWait = kwokWait()
	return err
}

// teardown stops the mesh and observers and removes everything the run
// created. A local cluster that is not kept is simply stopped: its data goes
// with it. It runs on a context that survives the first Ctrl-C.
func (r *run) teardown(ctx context.Context) error {
	var errs []error
	// Before anything is deleted: a deleted node's lease is no longer
	// renewed, and that is no incident.
	r.stopNodeHealth()
	if r.mesh != nil {
		summary, err := r.mesh.Stop(ctx)
		if summary != nil {
			summary.Real = r.realCilium.summary()
		}
		r.res.MeshStats = summary
		errs = append(errs, err)
	}
	for _, o := range r.observers {
		if err := o.Stop(ctx); err != nil {
			errs = append(errs, &observers.ObserverError{Observer: o.Name(), Op: "stop", Err: err})
		}
	}
	if r.client != nil && (r.cluster == nil || r.opts.Keep) {
		r.phaseQuiet("teardown", func() error { return r.deleteRunObjects(ctx) }, &errs)
	}
	if r.cluster != nil && !r.opts.Keep {
		if err := r.cluster.Stop(ctx, false); err != nil {
			errs = append(errs, fmt.Errorf("stop local control plane: %w", err))
		}
	}
	return errors.Join(errs...)
}

func (r *run) phaseQuiet(name string, fn func() error, errs *[]error) {
	if err := r.phase(name, fn); err != nil {
		*errs = append(*errs, err)
	}
}

// deleteRunObjects deletes, by the run label only, what the run created.
func (r *run) deleteRunObjects(ctx context.Context) error {
	return RemoveRunObjects(ctx, RemoveOptions{
		Config:   r.clientConfig,
		Client:   r.client,
		RunLabel: r.labelID,
		Mesh:     r.mesh != nil || meshName(r.opts.Profile) != profiles.MeshNone,
		KWOK:     r.installsKWOK(),
		Progress: r.progress(),
		Logger:   r.log,
	})
}

// finish summarises observers, judges the SLOs and writes the results.
func (r *run) finish(completed bool) error {
	var errs []error
	for _, o := range r.observers {
		if err := o.Summarize(r.res); err != nil {
			errs = append(errs, &observers.ObserverError{Observer: o.Name(), Op: "summarize", Err: err})
		}
	}
	// Impacts read the observers' summaries, so they follow Summarize.
	if err := observers.FillStepImpacts(r.res); err != nil {
		errs = append(errs, err)
	}
	var api observers.APIServerSummary
	if ok, err := observers.GetObserver(r.res, observers.APIServerMetricsName, &api); err == nil && ok {
		r.installFigures(api.Install)
	} else {
		r.installFigures(nil)
	}
	if completed {
		slos, err := observers.Evaluate(r.res, MergeSLOs(r.opts.Profile.SLOs, r.opts.SLOOverrides))
		if err != nil {
			errs = append(errs, err)
		}
		r.res.SLOs = slos
		r.res.Verdict = observers.Verdict(slos)
		r.res.NodeHealth = r.summarizeNodeHealth()
		if !r.setupOnly {
			r.res.Validity = judgeValidity(r.res, r.schedP99, r.schedOK, r.nodeHealthErr, r.kwokWait)
		}
		applyVerdictQualifiers(r.res)
		applyBudgetVerdict(r.res)
	} else {
		r.res.Verdict = results.Verdict{Passed: false, Summary: "run did not complete; no verdict"}
	}
	path, err := report.WriteFiles(r.opts.OutDir, r.res)
	if err != nil {
		errs = append(errs, fmt.Errorf("write results: %w", err))
	}
	r.reportPath = path
	r.log.Info("results written", zap.String("dir", r.opts.OutDir))
	return errors.Join(errs...)
}

// MergeSLOs applies flag overrides over the profile's SLO settings.
func MergeSLOs(profile, flags map[string]string) map[string]string {
	out := make(map[string]string, len(profile)+len(flags))
	for k, v := range profile {
		out[k] = v
	}
	for k, v := range flags {
		out[k] = v
	}
	return out
}

// recordAction feeds churn's own metrics from the engine's action hook.
func (r *run) recordAction(a results.Action) {
	var err error
	if a.Error != "" {
		err = errors.New(a.Error)
	}
	r.metrics.ObserveAction(a.Kind, err, a.Start.Sub(a.Scheduled), a.End.Sub(a.Start))
}
