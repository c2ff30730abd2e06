package agents

import (
	"context"
	"encoding/json"
	"fmt"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"go.uber.org/zap"
	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/kubernetes"
	"k8s.io/utils/clock"

	"github.com/churn-dev/churn/results"
)

// External per-node agents: the protocol between a run that leaves its
// per-node agents to others (ComponentsCentral, churn run --agents
// external) and the churn agents shards that run them (ServeShard).
//
//   - The run does the setup, binds a run-labelled ClusterRole that lets
//     the shards' service account impersonate exactly this run's per-node
//     accounts, and creates the announcement: ConfigMap churn-agents in
//     the run's mesh namespace, labelled with the run labels and
//     churn.dev/agents=external, data mesh, run, state=running and
//     rolloutPerSecond.
//   - A shard watches for announcements (by name and label, all
//     namespaces), lists the run's nodes by the run labels, takes its share
//     (Shard.Select) and runs their agents. It registers under the data key
//     shard-<i>-of-<n> (state running, its nodes).
//   - The run's Stop sets state=stopping; each shard stops its agents and
//     writes its final report (state done, its counters) under its key; the
//     run waits (bounded) for shards 0..n-1 and sums their counters into its
//     summary. Teardown deletes the announcement with the run's other
//     labelled objects; a shard also ends a run whose announcement or nodes
//     are gone.

// AnnouncementName is the ConfigMap a run announces external agents with.
const AnnouncementName = "churn-agents"

// LabelAgents=external marks an announcement.
const LabelAgents = "churn.dev/agents"

// Announcement data keys and states.
const (
	annMesh           = "mesh"
	annRun            = "run"
	annState          = "state"
	annRollout        = "rolloutPerSecond"
	shardKeyPrefix    = "shard-"
	stateRunning      = "running"
	stateStopping     = "stopping"
	stateDone         = "done"
	reportPollPeriod  = time.Second
	shardRoleNameTail = "-agents-shards"
)

// announcement is a run's request for external per-node agents, as a
// shard reads it.
type announcement struct {
	uid       types.UID
	namespace string
	runID     string
	mesh      string
	state     string
	// rolloutPerSecond is the run's whole agent rollout rate.
	rolloutPerSecond float64
	runLabels        map[string]string
}

// shardReport is what a shard writes under its key in the announcement.
type shardReport struct {
	Shard   string               `json:"shard"`
	State   string               `json:"state"`
	Nodes   []string             `json:"nodes"`
	Summary *results.MeshSummary `json:"summary,omitempty"`
}

// newAnnouncement is the ConfigMap a ComponentsCentral run creates.
func newAnnouncement(cfg Config, namespace string) *corev1.ConfigMap {
	labels := map[string]string{LabelAgents: AgentsExternal}
	for k, v := range cfg.RunLabels {
		labels[k] = v
	}
	return &corev1.ConfigMap{
		ObjectMeta: metav1.ObjectMeta{Name: AnnouncementName, Namespace: namespace, Labels: labels},
		Data: map[string]string{
			annMesh: cfg.Mesh, annRun: cfg.RunID, annState: stateRunning,
			annRollout: strconv.FormatFloat(cfg.RolloutPerSecond, 'f', -1, 64),
		},
	}
}

// parseAnnouncement checks that cm is an announcement a shard may act on:
// the right name and marks, in the announced run's mesh namespace, carrying
// that run's labels (runLabels of its ID), for a known mesh.
func parseAnnouncement(cm *corev1.ConfigMap, runLabels func(runID string) map[string]string) (announcement, error) {
	a := announcement{uid: cm.UID, namespace: cm.Namespace, runID: cm.Data[annRun], mesh: cm.Data[annMesh], state: cm.Data[annState]}
	if cm.Name != AnnouncementName || cm.Labels[LabelAgents] != AgentsExternal {
		return a, fmt.Errorf("%s/%s is not an announcement", cm.Namespace, cm.Name)
	}
	if a.runID == "" {
		return a, fmt.Errorf("%s/%s: no %q", cm.Namespace, cm.Name, annRun)
	}
	if want := systemNamespaceName(a.runID); cm.Namespace != want {
		return a, fmt.Errorf("%s/%s: run %s announces in namespace %s only", cm.Namespace, cm.Name, a.runID, want)
	}
	a.runLabels = runLabels(a.runID)
	if len(a.runLabels) == 0 {
		return a, errEmptyLabels
	}
	for k, v := range a.runLabels {
		if cm.Labels[k] != v {
			return a, fmt.Errorf("%s/%s: does not carry run label %s=%s", cm.Namespace, cm.Name, k, v)
		}
	}
	if spec, err := Spec(a.mesh); err != nil || spec.Name == MeshNone {
		return a, fmt.Errorf("%s/%s: mesh %q has no per-node agents", cm.Namespace, cm.Name, a.mesh)
	}
	if a.state != stateRunning && a.state != stateStopping {
		return a, fmt.Errorf("%s/%s: unknown state %q", cm.Namespace, cm.Name, a.state)
	}
	if r := cm.Data[annRollout]; r != "" {
		f, err := strconv.ParseFloat(r, 64)
		if err != nil || f < 0 {
			return a, fmt.Errorf("%s/%s: %s %q is not a rate", cm.Namespace, cm.Name, annRollout, r)
		}
		a.rolloutPerSecond = f
	}
	return a, nil
}

// shardReports reads the shard entries of an announcement's data; entries
// that do not parse are skipped (a shard of another build, say).
func shardReports(data map[string]string, log *zap.Logger) map[string]shardReport {
	out := map[string]shardReport{}
	for k, v := range data {
		if !strings.HasPrefix(k, shardKeyPrefix) {
			continue
		}
		var r shardReport
		if err := json.Unmarshal([]byte(v), &r); err != nil {
			log.Warn("unreadable shard report", zap.String("key", k), zap.Error(err))
			continue
		}
		if _, err := ParseShard(r.Shard); err != nil {
			log.Warn("shard report with a bad shard", zap.String("key", k), zap.String("shard", r.Shard), zap.Error(err))
			continue
		}
		out[k] = r
	}
	return out
}

// patchData merge-patches keys into an announcement's data: each writer
// touches only its own keys, so shards never conflict.
func patchData(ctx context.Context, kc kubernetes.Interface, namespace string, kv map[string]string) error {
	body, err := json.Marshal(map[string]any{"data": kv})
	if err != nil {
		return fmt.Errorf("encode patch: %w", err)
	}
	_, err = kc.CoreV1().ConfigMaps(namespace).Patch(ctx, AnnouncementName, types.MergePatchType, body, metav1.PatchOptions{})
	if err != nil {
		return fmt.Errorf("patch configmap %s/%s: %w", namespace, AnnouncementName, err)
	}
	return nil
}

// externalAgents is the run's side: its announcement and what the shards
// reported.
type externalAgents struct {
	client    kubernetes.Interface
	namespace string
	nodes     int
	timeout   time.Duration
	clock     clock.Clock
	log       *zap.Logger

	mu      sync.Mutex
	reports map[string]shardReport
}

// announce grants the shards their impersonation and creates the
// announcement, replacing one a previous mesh of the run left.
func (m *Mesh) announce(ctx context.Context) error {
	kc, err := kubernetes.NewForConfig(m.cfg.RESTConfig)
	if err != nil {
		return fmt.Errorf("kubernetes client: %w", err)
	}
	if m.cfg.setsUp() && !m.cfg.DisableImpersonation {
		if err := grantShards(ctx, kc, m.spec, m.cfg); err != nil {
			return err
		}
	}
	cm := newAnnouncement(m.cfg, m.systemNamespace)
	cms := kc.CoreV1().ConfigMaps(m.systemNamespace)
	_, err = cms.Create(ctx, cm, metav1.CreateOptions{})
	if apierrors.IsAlreadyExists(err) {
		// A new object (new UID) so that shards end the old one first.
		if err = cms.Delete(ctx, cm.Name, metav1.DeleteOptions{}); err == nil || apierrors.IsNotFound(err) {
			_, err = cms.Create(ctx, cm, metav1.CreateOptions{})
		}
	}
	if err != nil {
		return fmt.Errorf("announce external agents: configmap %s/%s: %w", m.systemNamespace, cm.Name, err)
	}
	m.external = &externalAgents{client: kc, namespace: m.systemNamespace, nodes: len(m.cfg.Nodes),
		timeout: m.cfg.ShardReportTimeout, clock: m.clock, log: m.log, reports: map[string]shardReport{}}
	m.log.Info("per-node agents left to churn agents shards",
		zap.String("announcement", m.systemNamespace+"/"+cm.Name), zap.String("shardServiceAccount", m.cfg.ShardServiceAccount))
	return nil
}

// grantShards binds a run-labelled ClusterRole letting the shards'
// service account impersonate this run's per-node accounts and nothing
// else (a fixed role could not name them: they carry the run ID).
func grantShards(ctx context.Context, kc kubernetes.Interface, spec *MeshSpec, cfg Config) error {
	var accounts, groups []string
	seenGroup := map[string]bool{}
	for _, c := range spec.Components {
		if !c.PerNode {
			continue
		}
		_, name := serviceAccount(c, cfg.RunID)
		accounts = append(accounts, name)
		for _, g := range impersonation(c, cfg.RunID).Groups {
			if !seenGroup[g] {
				seenGroup[g] = true
				groups = append(groups, g)
			}
		}
	}
	if len(accounts) == 0 {
		return nil
	}
	name := sanitizeName("churn-" + cfg.RunID + shardRoleNameTail)
	role := &rbacv1.ClusterRole{
		ObjectMeta: metav1.ObjectMeta{Name: name, Labels: cfg.RunLabels},
		Rules: []rbacv1.PolicyRule{
			{APIGroups: []string{""}, Resources: []string{"serviceaccounts"}, Verbs: []string{"impersonate"}, ResourceNames: accounts},
			{APIGroups: []string{""}, Resources: []string{"groups"}, Verbs: []string{"impersonate"}, ResourceNames: groups},
		},
	}
	if _, err := kc.RbacV1().ClusterRoles().Create(ctx, role, metav1.CreateOptions{}); err != nil && !apierrors.IsAlreadyExists(err) {
		return fmt.Errorf("create ClusterRole %s: %w", name, err)
	}
	saNS, saName, _ := strings.Cut(cfg.ShardServiceAccount, "/")
	binding := &rbacv1.ClusterRoleBinding{
		ObjectMeta: metav1.ObjectMeta{Name: name, Labels: cfg.RunLabels},
		RoleRef:    rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "ClusterRole", Name: name},
		Subjects:   []rbacv1.Subject{{Kind: rbacv1.ServiceAccountKind, Namespace: saNS, Name: saName}},
	}
	if _, err := kc.RbacV1().ClusterRoleBindings().Create(ctx, binding, metav1.CreateOptions{}); err != nil && !apierrors.IsAlreadyExists(err) {
		return fmt.Errorf("create ClusterRoleBinding %s: %w", name, err)
	}
	return nil
}

// markStopping tells the shards to stop and report. A failure only costs
// their counters: teardown deleting the announcement stops them too.
func (e *externalAgents) markStopping(ctx context.Context) {
	if err := patchData(ctx, e.client, e.namespace, map[string]string{annState: stateStopping}); err != nil {
		e.log.Warn("could not tell the agent shards to stop; teardown will", zap.Error(err))
	}
}

// collect waits until every registered shard (0..n-1 of the largest n
// seen) has reported done, for at most the report timeout.
func (e *externalAgents) collect(ctx context.Context) {
	deadline := e.clock.Now().Add(e.timeout)
	for {
		cm, err := e.client.CoreV1().ConfigMaps(e.namespace).Get(ctx, AnnouncementName, metav1.GetOptions{})
		if err != nil {
			e.log.Warn("read agent shard reports", zap.Error(err))
		} else {
			reports := shardReports(cm.Data, e.log)
			e.mu.Lock()
			e.reports = reports
			e.mu.Unlock()
			if allDone(reports) {
				return
			}
		}
		if !e.clock.Now().Before(deadline) {
			e.log.Warn("agent shards did not all report in time; their counters are missing", zap.Duration("waited", e.timeout))
			return
		}
		t := e.clock.NewTimer(reportPollPeriod)
		select {
		case <-ctx.Done():
			t.Stop()
			return
		case <-t.C():
		}
	}
}

// allDone: every shard of the largest total any shard registered with has
// reported done (vacuously true with no shard at all: nothing to wait for).
func allDone(reports map[string]shardReport) bool {
	total := 0
	for _, r := range reports {
		sh, _ := ParseShard(r.Shard)
		total = max(total, sh.Total)
	}
	for i := 0; i < total; i++ {
		r, ok := reports[Shard{Index: i, Total: total}.key()]
		if !ok || r.State != stateDone {
			return false
		}
	}
	return true
}

// addTo records the shards in s and sums their reported counters into its
// per-node components.
func (e *externalAgents) addTo(s *results.MeshSummary) {
	e.mu.Lock()
	reports := make([]shardReport, 0, len(e.reports))
	for _, r := range e.reports {
		reports = append(reports, r)
	}
	e.mu.Unlock()
	sort.Slice(reports, func(i, j int) bool {
		a, _ := ParseShard(reports[i].Shard)
		b, _ := ParseShard(reports[j].Shard)
		return a.Total < b.Total || a.Total == b.Total && a.Index < b.Index
	})
	s.PerNodeAgents = AgentsExternal
	covered, reported := 0, 0
	for _, r := range reports {
		done := r.State == stateDone
		s.Shards = append(s.Shards, results.ShardSummary{Shard: r.Shard, Nodes: len(r.Nodes), Reported: done})
		covered += len(r.Nodes)
		if !done || r.Summary == nil {
			continue
		}
		reported++
		s.RolloutSeconds = max(s.RolloutSeconds, r.Summary.RolloutSeconds)
		for _, c := range r.Summary.Components {
			s.Components = mergeComponent(s.Components, c)
		}
	}
	switch {
	case len(reports) == 0:
		s.Notes = append(s.Notes, "per-node agents were left to churn agents shards, and none registered: no per-node agent ran")
	default:
		s.Notes = append(s.Notes, fmt.Sprintf(
			"per-node agents ran in %d churn agents shard(s) over %d of the run's %d nodes; counters of the %d that reported in time are summed, lag percentiles are the largest shard's (an upper bound)",
			len(reports), covered, e.nodes, reported))
	}
}

// mergeComponent adds c into the summary of the same name in cs.
func mergeComponent(cs []results.ComponentSummary, c results.ComponentSummary) []results.ComponentSummary {
	i := 0
	for i < len(cs) && cs[i].Name != c.Name {
		i++
	}
	if i == len(cs) {
		c.Writes = mergeWrites(nil, c.Writes)
		c.Lags = append([]results.LagSummary(nil), c.Lags...)
		return append(cs, c)
	}
	d := &cs[i]
	d.Replicas += c.Replicas
	d.EventsReceived += c.EventsReceived
	d.Bookmarks += c.Bookmarks
	d.ListItems += c.ListItems
	d.BytesReceived += c.BytesReceived
	d.Lists += c.Lists
	d.Relists += c.Relists
	d.Gone += c.Gone
	d.WatchRequests += c.WatchRequests
	d.WatchRestarts += c.WatchRestarts
	d.Throttled429 += c.Throttled429
	d.Errors += c.Errors
	d.ClientThrottleSeconds += c.ClientThrottleSeconds
	d.Gets += c.Gets
	d.Writes = mergeWrites(d.Writes, c.Writes)
	d.LagP50, d.LagP99 = max(d.LagP50, c.LagP50), max(d.LagP99, c.LagP99)
	for _, l := range c.Lags {
		d.Lags = mergeLag(d.Lags, l)
	}
	return cs
}

func mergeWrites(dst, src map[string]int64) map[string]int64 {
	if len(src) == 0 {
		return dst
	}
	if dst == nil {
		dst = map[string]int64{}
	}
	for k, v := range src {
		dst[k] += v
	}
	return dst
}

// mergeLag sums samples and weights the mean; percentiles of different
// shards cannot be combined from summaries, so the larger is kept.
func mergeLag(ls []results.LagSummary, l results.LagSummary) []results.LagSummary {
	for i := range ls {
		d := &ls[i]
		if d.Name != l.Name {
			continue
		}
		if n := d.Samples + l.Samples; n > 0 {
			d.Mean = (d.Mean*float64(d.Samples) + l.Mean*float64(l.Samples)) / float64(n)
		}
		d.Samples += l.Samples
		d.P50, d.P99, d.Max = max(d.P50, l.P50), max(d.P99, l.P99), max(d.Max, l.Max)
		return ls
	}
	return append(ls, l)
}
