package observers

import (
	"context"
	"sync"
	"time"

	"go.uber.org/zap"
	"k8s.io/client-go/rest"

	"github.com/churn-dev/churn/results"
)

// serverHealth is one API server of several, its own /readyz checked
// directly: the load balancer hides a server that is down from clients,
// and an upgrade takes each down in turn on purpose.
type serverHealth struct {
	name, url string
	rest      rest.Interface
	// checks hold only ReadyErr: /livez is judged through the load
	// balancer; one probe per server keeps the rounds cheap.
	checks []healthCheck
}

func (o *availability) startServers(env Env) error {
	for _, ep := range env.APIServers {
		rc, err := serverClient(env, ep, o.Name())
		if err != nil {
			return err
		}
		o.servers = append(o.servers, &serverHealth{name: ep.Name, url: ep.URL, rest: rc})
	}
	return nil
}

// probeServers starts each server's /readyz probe under wg; the returned
// errors, in o.servers' order, are final once wg is done.
func (o *availability) probeServers(ctx context.Context, wg *sync.WaitGroup) []string {
	errs := make([]string, len(o.servers))
	for i, s := range o.servers {
		wg.Add(1)
		go func() { defer wg.Done(); errs[i] = o.probe(ctx, s.rest, "/readyz") }()
	}
	return errs
}

func (o *availability) recordServers(t time.Time, errs []string) {
	if len(o.servers) == 0 {
		return
	}
	o.mu.Lock()
	defer o.mu.Unlock()
	for i, s := range o.servers {
		prevFailed := len(s.checks) > 0 && s.checks[len(s.checks)-1].failed()
		s.checks = append(s.checks, healthCheck{T: t, ReadyErr: errs[i]})
		// Info, not Warn: during an upgrade a server is down on purpose,
		// and what clients see is judged through the load balancer.
		switch {
		case errs[i] != "" && !prevFailed:
			o.env.Logger.Info("API server not ready", zap.String("server", s.name), zap.String("readyz", errs[i]))
		case errs[i] == "" && prevFailed:
			o.env.Logger.Info("API server ready again", zap.String("server", s.name))
		}
	}
}

// ServerAvailability is one API server's own /readyz over the run.
type ServerAvailability struct {
	Name            string           `json:"name"`
	URL             string           `json:"url"`
	Checks          int              `json:"checks"`
	FailedChecks    int              `json:"failedChecks"`
	DowntimeSeconds float64          `json:"downtimeSeconds"`
	LongestSeconds  float64          `json:"longestOutageSeconds"`
	Outages         []results.Outage `json:"outages"`
}

// serverSummaries turns each server's checks into outages and copies the
// time each was down during churn into r.APIServers; o.mu is held.
func (o *availability) serverSummaries(r *results.Result) []ServerAvailability {
	if len(o.servers) == 0 {
		return nil
	}
	from, to := churnSpan(r.Phases)
	out := make([]ServerAvailability, 0, len(o.servers))
	for _, s := range o.servers {
		a := outagesOf(s.checks)
		out = append(out, ServerAvailability{
			Name: s.name, URL: s.url, Checks: a.Checks, FailedChecks: a.FailedChecks,
			DowntimeSeconds: a.DowntimeSeconds, LongestSeconds: a.LongestSeconds, Outages: a.Outages,
		})
		instanceOf(r, s.name, s.url).OutageSeconds = overlapSeconds(a.Outages, from, to)
	}
	return out
}

// churnSpan is the churn phase; an unfinished one runs to the end of time,
// and without one the span is the whole of time (zero from, far to).
func churnSpan(phases []results.Phase) (from, to time.Time) {
	to = time.Unix(1<<62, 0)
	for _, p := range phases {
		if p.Name == ChurnPhase && !p.Start.IsZero() {
			if !p.End.IsZero() {
				to = p.End
			}
			return p.Start, to
		}
	}
	return time.Time{}, to
}

// overlapSeconds is how much of the outages lies inside [from, to].
func overlapSeconds(outages []results.Outage, from, to time.Time) float64 {
	total := 0.0
	for _, o := range outages {
		s, e := o.Start, o.End
		if s.Before(from) {
			s = from
		}
		if e.After(to) {
			e = to
		}
		if e.After(s) {
			total += e.Sub(s).Seconds()
		}
	}
	return total
}
