package observers

import (
	"context"
	"fmt"
	"sort"
	"strings"
	"sync"
	"time"

	"go.uber.org/zap"
	"k8s.io/client-go/rest"

	"github.com/churn-dev/churn/profiles"
	"github.com/churn-dev/churn/results"
)

// availability checks /readyz and /livez every interval and turns runs of
// failed checks into outage windows; for a local control plane it also
// records process exits, restarts and OOM kills.
type availability struct {
	interval time.Duration
	timeout  time.Duration

	env    Env
	rest   rest.Interface
	cancel context.CancelFunc
	wg     sync.WaitGroup

	mu     sync.Mutex
	checks []healthCheck
	events []ProcessEvent

	// servers are each API server's own /readyz when there are several
	// behind a load balancer; checks above go through the load balancer.
	servers []*serverHealth

	// afterCheck lets tests wait for a check instead of sleeping.
	afterCheck func()
}

// healthCheck is one round; an empty error means the endpoint answered ok.
type healthCheck struct {
	T        time.Time
	ReadyErr string
	LiveErr  string
}

func (c healthCheck) failed() bool { return c.ReadyErr != "" || c.LiveErr != "" }

const defaultAvailabilityTimeout = 5 * time.Second

func newAvailability(spec profiles.ObserverSpec) (Observer, error) {
	s, err := newSettings(spec, "timeout")
	if err != nil {
		return nil, err
	}
	interval, err := s.interval(time.Second)
	if err != nil {
		return nil, err
	}
	// A check slower than the timeout counts as down. 5 s, not 1 s: on a
	// saturated small machine /readyz can take a few seconds while the API
	// server still serves; that is latency (judged by the latency SLOs),
	// not an outage.
	timeout, err := s.duration("timeout", defaultAvailabilityTimeout)
	if err != nil {
		return nil, err
	}
	return &availability{interval: interval, timeout: timeout}, nil
}

func (o *availability) Name() string { return AvailabilityName }

func (o *availability) Start(ctx context.Context, env Env) error {
	if err := env.validate(); err != nil {
		return err
	}
	rc, err := rawClient(env, o.Name())
	if err != nil {
		return err
	}
	o.env, o.rest = env, rc
	if err := o.startServers(env); err != nil {
		return err
	}
	ctx, o.cancel = context.WithCancel(ctx)
	ticker := env.Clock.NewTicker(o.interval)
	o.wg.Add(1)
	go func() {
		defer o.wg.Done()
		defer ticker.Stop()
		o.checkOnce(ctx)
		for {
			select {
			case <-ctx.Done():
				return
			case <-ticker.C():
				o.checkOnce(ctx)
			}
		}
	}()
	if env.ControlPlane != nil {
		o.wg.Add(1)
		go func() {
			defer o.wg.Done()
			o.consumeEvents(ctx, env.ControlPlane.Events())
		}()
	}
	env.Metrics.SetObserverUp(o.Name(), true)
	return nil
}

func (o *availability) consumeEvents(ctx context.Context, events <-chan ProcessEvent) {
	for {
		select {
		case <-ctx.Done():
			return
		case ev, ok := <-events:
			if !ok {
				return
			}
			o.env.Logger.Info("control-plane process event",
				zap.String("process", ev.Name), zap.String("kind", ev.Kind),
				zap.Int("exitCode", ev.ExitCode), zap.String("detail", ev.Detail))
			o.mu.Lock()
			o.events = append(o.events, ev)
			o.mu.Unlock()
		}
	}
}

// checkOnce probes both endpoints at once, so a round takes at most one
// timeout.
func (o *availability) checkOnce(ctx context.Context) {
	c := healthCheck{T: o.env.Clock.Now()}
	var wg sync.WaitGroup
	wg.Add(2)
	go func() { defer wg.Done(); c.ReadyErr = o.probeServing(ctx, o.rest) }()
	go func() { defer wg.Done(); c.LiveErr = o.probe(ctx, o.rest, "/livez") }()
	serverErrs := o.probeServers(ctx, &wg)
	wg.Wait()
	if ctx.Err() != nil {
		// Stopping, not an outage.
		return
	}
	o.recordServers(c.T, serverErrs)
	o.mu.Lock()
	prevFailed := len(o.checks) > 0 && o.checks[len(o.checks)-1].failed()
	o.checks = append(o.checks, c)
	o.mu.Unlock()
	switch {
	case c.failed() && !prevFailed:
		o.env.Metrics.ObserverError(o.Name())
		o.env.Logger.Warn("API server unavailable", zap.String("readyz", c.ReadyErr), zap.String("livez", c.LiveErr))
	case !c.failed() && prevFailed:
		o.env.Logger.Info("API server available again")
	}
	if o.afterCheck != nil {
		o.afterCheck()
	}
}

// probeServing is /readyz as clients experience it: a server that fails
// readiness only because it is shutting down still answers every request
// (kube-apiserver's --shutdown-delay-duration is exactly that window, for
// load balancers to notice), so it counts as serving. Each API server's own
// readiness (probeServers) still counts it as not ready.
func (o *availability) probeServing(ctx context.Context, rc rest.Interface) string {
	ctx, cancel := context.WithTimeout(ctx, o.timeout)
	defer cancel()
	body, err := rc.Get().AbsPath("/readyz").Param("verbose", "true").MaxRetries(0).DoRaw(ctx)
	if err == nil || onlyShuttingDown(string(body)+"\n"+err.Error()) {
		return ""
	}
	return truncate(err.Error(), 300)
}

// onlyShuttingDown reports whether a verbose /readyz answer fails on the
// shutdown check alone.
func onlyShuttingDown(readyz string) bool {
	failed := map[string]bool{}
	for _, line := range strings.Split(strings.ReplaceAll(readyz, `\n`, "\n"), "\n") {
		line = strings.TrimSpace(line)
		if i := strings.Index(line, "[-]"); i >= 0 {
			name, _, _ := strings.Cut(line[i+3:], " ")
			failed[name] = true
		}
	}
	return len(failed) == 1 && failed["shutdown"]
}

func (o *availability) probe(ctx context.Context, rc rest.Interface, path string) string {
	ctx, cancel := context.WithTimeout(ctx, o.timeout)
	defer cancel()
	_, err := rc.Get().AbsPath(path).MaxRetries(0).DoRaw(ctx)
	if err != nil {
		return truncate(err.Error(), 300)
	}
	return ""
}

func (o *availability) Stop(context.Context) error {
	if o.cancel == nil {
		return nil
	}
	o.cancel()
	o.wg.Wait()
	o.env.Metrics.SetObserverUp(o.Name(), false)
	return nil
}

// AvailabilitySummary is what availability writes to
// r.Observers["availability"]; the outages themselves go to r.Availability.
type AvailabilitySummary struct {
	Checks       int    `json:"checks"`
	ReadyzFailed int    `json:"readyzFailed"`
	LivezFailed  int    `json:"livezFailed"`
	Interval     string `json:"interval"`
	Timeout      string `json:"timeout"`
	// Servers are each API server's own /readyz when there are several
	// behind a load balancer (the figures above are through it).
	Servers []ServerAvailability `json:"servers,omitempty"`
}

func (o *availability) Summarize(r *results.Result) error {
	o.mu.Lock()
	defer o.mu.Unlock()
	a := outagesOf(o.checks)
	a.Events = append([]ProcessEvent(nil), o.events...)
	sort.SliceStable(a.Events, func(i, j int) bool { return a.Events[i].Time.Before(a.Events[j].Time) })
	r.Availability = a
	s := AvailabilitySummary{Checks: len(o.checks), Interval: o.interval.String(), Timeout: o.timeout.String()}
	s.Servers = o.serverSummaries(r)
	for _, c := range o.checks {
		if c.ReadyErr != "" {
			s.ReadyzFailed++
		}
		if c.LiveErr != "" {
			s.LivezFailed++
		}
	}
	return putObserver(r, o.Name(), s)
}

// outagesOf turns consecutive failed checks into outages: an outage starts
// at its first failed check and ends at the next successful one.
func outagesOf(checks []healthCheck) *results.Availability {
	a := &results.Availability{Outages: []results.Outage{}, Checks: len(checks)}
	var cur *results.Outage
	failed := map[string]bool{}
	closeOutage := func(end time.Time, open bool) {
		cur.End, cur.Open = end, open
		cur.DurationSeconds = end.Sub(cur.Start).Seconds()
		for _, ep := range []string{"readyz", "livez"} {
			if failed[ep] {
				cur.Failed = append(cur.Failed, ep)
			}
		}
		a.Outages = append(a.Outages, *cur)
		a.DowntimeSeconds += cur.DurationSeconds
		if cur.DurationSeconds > a.LongestSeconds {
			a.LongestSeconds = cur.DurationSeconds
		}
		cur = nil
		clear(failed)
	}
	for _, c := range checks {
		if !c.failed() {
			if cur != nil {
				closeOutage(c.T, false)
			}
			continue
		}
		a.FailedChecks++
		if cur == nil {
			first := c.ReadyErr
			if first == "" {
				first = c.LiveErr
			}
			cur = &results.Outage{Start: c.T, FirstError: first}
		}
		failed["readyz"] = failed["readyz"] || c.ReadyErr != ""
		failed["livez"] = failed["livez"] || c.LiveErr != ""
	}
	if cur != nil {
		closeOutage(checks[len(checks)-1].T, true)
	}
	return a
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return fmt.Sprintf("%s...", s[:n])
}
