package agents

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sort"
	"time"

	"go.uber.org/zap"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"k8s.io/utils/clock"

	"github.com/churn-dev/churn/results"
)

// Shard server defaults.
const (
	DefaultNodeCheckInterval = 30 * time.Second
	shardStopTimeout         = 30 * time.Second
)

// ShardConfig is what ServeShard needs.
type ShardConfig struct {
	RESTConfig *rest.Config
	// Client is for the shard's own calls (announcements, nodes, reports);
	// nil builds one from RESTConfig. The agents always use RESTConfig.
	Client kubernetes.Interface
	Shard  Shard
	// Mesh serves only runs of this mesh; "" serves any.
	Mesh string
	// RunID serves only this run; "" serves every announced run.
	RunID string
	// RunLabels gives a run's labels from its ID (churn.RunLabels): an
	// announcement, the nodes and every write must carry them.
	RunLabels func(runID string) map[string]string
	// NodeCheckInterval is how often a served run is checked for nodes
	// left (default 30 s): a run whose nodes are gone has ended.
	NodeCheckInterval time.Duration
	Clock             clock.WithTicker
	Logger            *zap.Logger
}

// meshRunner is the part of *Mesh the server uses (a fake in tests).
type meshRunner interface {
	Stop(ctx context.Context) (*results.MeshSummary, error)
}

// shardServer runs a shard's agents for every announced run.
type shardServer struct {
	cfg   ShardConfig
	kc    kubernetes.Interface
	log   *zap.Logger
	start func(ctx context.Context, cfg Config) (meshRunner, error)

	served map[types.UID]*servedRun
	// ended are announcements whose run this shard finished while they
	// still exist (stopping, or nodes gone): never served again.
	ended map[types.UID]bool
	// ignored are invalid announcements already logged.
	ignored map[types.UID]bool
}

type servedRun struct {
	ann   announcement
	mesh  meshRunner // nil when the shard owns none of the nodes
	nodes []string
}

// ServeShard runs cfg.Shard's share of the per-node agents of every run
// announced for external agents (see external.go), one mesh per run, until
// ctx ends; then it stops them and reports. A run's end (announcement
// stopping or deleted, or its nodes gone) stops its agents, logs their
// counters and writes them into the announcement for the run to collect.
func ServeShard(ctx context.Context, cfg ShardConfig) error {
	s, err := newShardServer(cfg)
	if err != nil {
		return err
	}
	return s.serve(ctx)
}

func newShardServer(cfg ShardConfig) (*shardServer, error) {
	if err := cfg.Shard.validate(); err != nil {
		return nil, fmt.Errorf("agents: shard %s: %w", cfg.Shard, err)
	}
	if cfg.RESTConfig == nil {
		return nil, errors.New("agents: RESTConfig is required")
	}
	if cfg.RunLabels == nil {
		return nil, errors.New("agents: RunLabels is required (it scopes what a shard acts on)")
	}
	if cfg.Mesh != "" {
		if spec, err := Spec(cfg.Mesh); err != nil || spec.Name == MeshNone {
			return nil, fmt.Errorf("agents: mesh %q has no per-node agents (known: %v)", cfg.Mesh, meshNames)
		}
	}
	if cfg.NodeCheckInterval <= 0 {
		cfg.NodeCheckInterval = DefaultNodeCheckInterval
	}
	if cfg.Clock == nil {
		cfg.Clock = clock.RealClock{}
	}
	if cfg.Logger == nil {
		cfg.Logger = zap.NewNop()
	}
	kc := cfg.Client
	if kc == nil {
		var err error
		if kc, err = kubernetes.NewForConfig(cfg.RESTConfig); err != nil {
			return nil, fmt.Errorf("kubernetes client: %w", err)
		}
	}
	return &shardServer{
		cfg: cfg, kc: kc, log: cfg.Logger.With(zap.Stringer("shard", cfg.Shard)),
		start:  func(ctx context.Context, c Config) (meshRunner, error) { return Start(ctx, c) },
		served: map[types.UID]*servedRun{}, ended: map[types.UID]bool{}, ignored: map[types.UID]bool{},
	}, nil
}

func (s *shardServer) serve(ctx context.Context) error {
	anns := newAnnouncementWatch(s.kc, s.cfg.Clock, s.log)
	watchCtx, stopWatch := context.WithCancel(ctx)
	defer stopWatch()
	go anns.run(watchCtx)
	s.log.Info("waiting for runs announcing external agents",
		zap.String("mesh", s.cfg.Mesh), zap.String("run", s.cfg.RunID))

	tick := s.cfg.Clock.NewTicker(s.cfg.NodeCheckInterval)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			s.finishAll()
			return nil
		case <-anns.changed:
			s.reconcile(ctx, anns.snapshot())
		case <-tick.C():
			s.checkNodes(ctx)
			s.reconcile(ctx, anns.snapshot())
		}
	}
}

// reconcile starts serving new running announcements and finishes the
// runs whose announcement is gone or stopping.
func (s *shardServer) reconcile(ctx context.Context, cms []*corev1.ConfigMap) {
	want := map[types.UID]announcement{}
	present := map[types.UID]bool{}
	for _, cm := range cms {
		present[cm.UID] = true
		a, err := parseAnnouncement(cm, s.cfg.RunLabels)
		if err != nil {
			if !s.ignored[cm.UID] {
				s.ignored[cm.UID] = true
				s.log.Warn("ignoring announcement", zap.Error(err))
			}
			continue
		}
		if (s.cfg.RunID != "" && a.runID != s.cfg.RunID) || (s.cfg.Mesh != "" && a.mesh != s.cfg.Mesh) {
			continue
		}
		if a.state == stateRunning && !s.ended[a.uid] {
			want[a.uid] = a
		}
	}
	for _, seen := range []map[types.UID]bool{s.ended, s.ignored} {
		for uid := range seen {
			if !present[uid] {
				delete(seen, uid) // gone: nothing left to remember
			}
		}
	}
	for uid, run := range s.served {
		if _, ok := want[uid]; !ok {
			s.finish(ctx, uid, run, "announcement stopping or gone")
		}
	}
	for uid, a := range want {
		if _, ok := s.served[uid]; ok {
			continue
		}
		if err := s.begin(ctx, a); err != nil {
			// Retried at the next change or node check.
			s.log.Error("cannot serve run yet", zap.String("run", a.runID), zap.Error(err))
		}
	}
}

// runNodes lists the run's nodes by its labels, sorted.
func (s *shardServer) runNodes(ctx context.Context, a announcement, limit int64) ([]string, error) {
	list, err := s.kc.CoreV1().Nodes().List(ctx, metav1.ListOptions{
		LabelSelector: labels.Set(a.runLabels).String(), Limit: limit,
	})
	if err != nil {
		return nil, fmt.Errorf("list nodes of run %s: %w", a.runID, err)
	}
	names := make([]string, 0, len(list.Items))
	for _, n := range list.Items {
		names = append(names, n.Name)
	}
	sort.Strings(names)
	return names, nil
}

// begin takes this shard's share of the run's nodes, starts their agents
// and registers with the run.
func (s *shardServer) begin(ctx context.Context, a announcement) error {
	all, err := s.runNodes(ctx, a, 0)
	if err != nil {
		return err
	}
	if len(all) == 0 {
		return fmt.Errorf("run %s has no nodes labelled %s", a.runID, labels.Set(a.runLabels))
	}
	mine := s.cfg.Shard.Select(all)
	run := &servedRun{ann: a, nodes: mine}
	if len(mine) > 0 {
		rate := 0.0
		if a.rolloutPerSecond > 0 {
			// The run's rate is for the whole fleet of agents.
			rate = a.rolloutPerSecond / float64(s.cfg.Shard.Total)
		}
		m, err := s.start(ctx, Config{
			RESTConfig: s.cfg.RESTConfig, Mesh: a.mesh, Nodes: mine, RunID: a.runID, RunLabels: a.runLabels,
			RolloutPerSecond: rate, Clock: s.cfg.Clock, Logger: s.log, Components: ComponentsPerNode,
		})
		if err != nil {
			return fmt.Errorf("start agents of run %s: %w", a.runID, err)
		}
		run.mesh = m
	}
	s.served[a.uid] = run
	s.log.Info("serving run", zap.String("run", a.runID), zap.String("mesh", a.mesh),
		zap.Int("nodes", len(mine)), zap.Int("runNodes", len(all)))
	s.report(ctx, run, shardReport{Shard: s.cfg.Shard.String(), State: stateRunning, Nodes: mine})
	return nil
}

// finish stops a run's agents, logs their counters and reports them.
func (s *shardServer) finish(ctx context.Context, uid types.UID, run *servedRun, why string) {
	delete(s.served, uid)
	s.ended[uid] = true
	// Stopping and reporting must survive the shard's own shutdown.
	stopCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), shardStopTimeout)
	defer cancel()
	var summary *results.MeshSummary
	if run.mesh != nil {
		var err error
		summary, err = run.mesh.Stop(stopCtx)
		if err != nil {
			s.log.Warn("stop agents", zap.String("run", run.ann.runID), zap.Error(err))
		}
	}
	fields := []zap.Field{zap.String("run", run.ann.runID), zap.String("why", why), zap.Int("nodes", len(run.nodes))}
	if summary != nil {
		for _, c := range summary.Components {
			fields = append(fields, zap.Dict(c.Name, zap.Int("replicas", c.Replicas), zap.Int64("events", c.EventsReceived),
				zap.Int64("relists", c.Relists), zap.Int64("errors", c.Errors), zap.Int64("writes", sumWrites(c.Writes))))
		}
	}
	s.log.Info("run ended", fields...)
	s.report(stopCtx, run, shardReport{Shard: s.cfg.Shard.String(), State: stateDone, Nodes: run.nodes, Summary: summary})
}

func (s *shardServer) finishAll() {
	for uid, run := range s.served {
		s.finish(context.Background(), uid, run, "shard stopping")
	}
}

// report writes r under the shard's key; an announcement already gone
// (the run tore down first) is not an error.
func (s *shardServer) report(ctx context.Context, run *servedRun, r shardReport) {
	body, err := json.Marshal(r)
	if err != nil {
		s.log.Warn("encode shard report", zap.Error(err))
		return
	}
	err = patchData(ctx, s.kc, run.ann.namespace, map[string]string{s.cfg.Shard.key(): string(body)})
	if err != nil && !apierrors.IsNotFound(err) {
		s.log.Warn("report to run", zap.String("run", run.ann.runID), zap.Error(err))
	}
}

// checkNodes ends served runs whose nodes are all gone (a run killed
// before its teardown reached the announcement, or nodes deleted by hand).
func (s *shardServer) checkNodes(ctx context.Context) {
	for uid, run := range s.served {
		left, err := s.runNodes(ctx, run.ann, 1)
		if err != nil {
			s.log.Warn("check run nodes", zap.Error(err))
			continue
		}
		if len(left) == 0 {
			s.finish(ctx, uid, run, "nodes gone")
		}
	}
}

func sumWrites(w map[string]int64) int64 {
	var n int64
	for _, v := range w {
		n += v
	}
	return n
}
