package runner

import (
	"path/filepath"
	"strings"

	"go.uber.org/zap"

	"github.com/churn-dev/churn/deploy/local"
	"github.com/churn-dev/churn/internal/auditmix"
	"github.com/churn-dev/churn/results"
)

// auditOptions keeps an audit log of LISTs and WATCHes on every API server
// when the run disrupts the control plane: each step's relists and
// re-established watches, by client, are counted from it. Other runs keep
// none: the log backend blocks each logged request until it is written.
func (r *run) auditOptions(clusterDir string) local.AuditOptions {
	d := r.opts.Profile.Disruptions
	if d.Upgrade == "" && len(d.Faults) == 0 && len(d.Rollouts) == 0 {
		return local.AuditOptions{}
	}
	return local.AuditOptions{LogPath: filepath.Join(clusterDir, "logs", "audit.log"), Policy: local.ListWatchAuditPolicy}
}

// countListsAndWatches fills each step's Lists and Watches from the API
// servers' audit logs: requests received from the step's start to its end,
// by client.
func (r *run) countListsAndWatches(ds []results.Disruption) {
	if r.cluster == nil || r.auditLog == "" || len(ds) == 0 {
		return
	}
	var reqs []auditmix.Request
	for _, ep := range r.cluster.APIServerEndpoints() {
		path := local.AuditLogPathOf(r.auditLog, ep.Name)
		got, err := auditmix.ReadFile(path)
		if err != nil {
			r.log.Warn("relists not counted: audit log unreadable", zap.String("path", path), zap.Error(err))
			return
		}
		reqs = append(reqs, got...)
	}
	countStepRequests(ds, reqs)
}

// countStepRequests fills each ended step's Lists, Watches and
// PeakPerSecond from the requests received between its start and end.
func countStepRequests(ds []results.Disruption, reqs []auditmix.Request) {
	for i := range ds {
		for j := range ds[i].Steps {
			s := &ds[i].Steps[j]
			if s.Ended.IsZero() {
				continue
			}
			lists, watches := map[string]int{}, map[string]int{}
			perSecond := map[int64]int{}
			peak := 0
			for _, q := range reqs {
				if q.Received.Before(s.Started) || q.Received.After(s.Ended) {
					continue
				}
				switch q.Verb {
				case "list":
					lists[clientOf(q.UserAgent)]++
				case "watch", "watchlist":
					watches[clientOf(q.UserAgent)]++
				default:
					continue
				}
				sec := q.Received.Unix()
				perSecond[sec]++
				peak = max(peak, perSecond[sec])
			}
			if s.Impact == nil {
				s.Impact = &results.StepImpact{}
			}
			s.Impact.Lists, s.Impact.Watches, s.Impact.PeakPerSecond = lists, watches, peak
		}
	}
}

// clientOf names a client by its user agent's product:
// "kube-controller-manager/v1.37.2 (linux/amd64) kubernetes/abc/..." is
// kube-controller-manager.
func clientOf(userAgent string) string {
	product, _, _ := strings.Cut(userAgent, " ")
	product, _, _ = strings.Cut(product, "/")
	if product == "" {
		return "unknown"
	}
	return product
}
