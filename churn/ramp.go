package churn

import (
	"context"
	"fmt"
	"sort"
	"strings"
	"time"

	"go.uber.org/zap"
	appsv1 "k8s.io/api/apps/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/churn-dev/churn/results"
)

const (
	// rampPoll is how often the ramp counts Ready replicas.
	rampPoll = 2 * time.Second
	// rampRateWindow is the span the pods/s rate (and so the ETA) is taken
	// over: recent enough to follow the ramp slowing down as the scheduler
	// fills up, long enough not to jump on every poll.
	rampRateWindow = 20 * time.Second
	// rampProgressEvery spaces progress lines: a 30-minute ramp would
	// print 900 lines at the poll rate.
	rampProgressEvery = 10 * time.Second
	// notReadyShown bounds the deployments a timeout error names.
	notReadyShown = 5
)

// WaitReady polls until every replica of every deployment of the run is
// Ready, printing "ready 4200/10000 pods (143 pods/s, ETA 41s)" lines, and
// returns the setup summary. It gives up after the profile's RampTimeout,
// counted from the first deployment's creation, with an error naming the
// deployments that are not Ready. The summary is returned also on error.
func (e *Engine) WaitReady(ctx context.Context) (*results.SetupSummary, error) {
	rampStart := e.firstDeployment
	if rampStart.IsZero() {
		rampStart = e.clock.Now() // Setup ran in another process, or not at all
	}
	setupStart := e.setupStart
	if setupStart.IsZero() {
		setupStart = rampStart
	}
	timeout := e.profile.RampTimeout()
	target := e.w.deployments() * e.w.replicas
	summary := &results.SetupSummary{
		Namespaces:    e.w.namespaces,
		Deployments:   e.w.deployments(),
		Services:      e.services,
		TargetPods:    target,
		CreateSeconds: e.createSeconds,
	}
	finish := func(now time.Time, ready int) {
		summary.ReadyPods = ready
		summary.RampSeconds = now.Sub(rampStart).Seconds()
		if summary.RampSeconds > 0 {
			summary.PodsPerSec = float64(ready) / summary.RampSeconds
		}
		summary.Duration = now.Sub(setupStart)
	}

	rate := rateWindow{}
	var (
		last        readiness // the last successful count
		lastErr     error     // the last poll's error, if it failed
		lastPrinted time.Time
		printedOnce bool
	)
	for {
		now := e.clock.Now()
		st, err := e.readiness(ctx)
		lastErr = err
		if err != nil {
			// The API server may be overloaded by the ramp itself; keep
			// polling until the timeout rather than failing at once.
			e.log.Warn("counting ready replicas failed; retrying", zap.Error(err))
		} else {
			last = st
			rate.add(now, st.ready)
			if st.done(e.w.deployments()) {
				finish(now, st.ready)
				e.printf("ready %d/%d pods after %s (%.0f pods/s)", st.ready, target,
					time.Duration(summary.RampSeconds*float64(time.Second)).Round(time.Second), summary.PodsPerSec)
				return summary, nil
			}
			if !printedOnce || now.Sub(lastPrinted) >= rampProgressEvery {
				e.printf("ready %d/%d pods (%s)", st.ready, target, rate.eta(target-st.ready))
				printedOnce, lastPrinted = true, now
			}
		}
		if now.Sub(rampStart) >= timeout {
			finish(now, last.ready)
			return summary, fmt.Errorf("ramp timed out after %s: %s", timeout, last.describe(e.w, lastErr))
		}
		if err := (pacer{clock: e.clock}).waitUntil(ctx, now.Add(rampPoll)); err != nil {
			finish(e.clock.Now(), last.ready)
			return summary, fmt.Errorf("ramp interrupted at %d/%d ready pods: %w", last.ready, target, err)
		}
	}
}

// readiness is one count of the run's deployments.
type readiness struct {
	ready    int
	found    map[string]bool // namespace/name of every deployment listed
	notReady []string        // "namespace/name ready/desired"
}

func (r readiness) done(deployments int) bool {
	return len(r.found) == deployments && len(r.notReady) == 0
}

// describe names what is missing, for the timeout error.
func (r readiness) describe(w workload, listErr error) string {
	if r.found == nil {
		return fmt.Sprintf("could not list the run's deployments: %v", listErr)
	}
	var parts []string
	if missing := w.deployments() - len(r.found); missing > 0 {
		var names []string
		for d := 0; d < w.deployments() && len(names) < notReadyShown; d++ {
			ns, name := w.slot(d)
			if !r.found[ns+"/"+name] {
				names = append(names, ns+"/"+name)
			}
		}
		parts = append(parts, fmt.Sprintf("%d of %d deployments not found (%s)", missing, w.deployments(), strings.Join(names, ", ")))
	}
	if n := len(r.notReady); n > 0 {
		shown := r.notReady[:min(n, notReadyShown)]
		parts = append(parts, fmt.Sprintf("%d of %d deployments not Ready (%s", n, w.deployments(), strings.Join(shown, ", ")))
		if n > len(shown) {
			parts[len(parts)-1] += ", ..."
		}
		parts[len(parts)-1] += ")"
	}
	msg := fmt.Sprintf("%d/%d pods Ready; %s", r.ready, w.deployments()*w.replicas, strings.Join(parts, "; "))
	if listErr != nil {
		msg += fmt.Sprintf("; last poll failed: %v", listErr)
	}
	return msg
}

// readiness lists the run's deployments in one call. ResourceVersion "0"
// lets the API server answer from its watch cache: a poll every two seconds
// must not add quorum reads to the load being measured.
func (e *Engine) readiness(ctx context.Context) (readiness, error) {
	list, err := e.client.AppsV1().Deployments(metav1.NamespaceAll).List(ctx, metav1.ListOptions{
		LabelSelector:   RunSelector(e.runID),
		ResourceVersion: "0",
	})
	if err != nil {
		return readiness{}, fmt.Errorf("list deployments of run %s: %w", e.runID, err)
	}
	r := readiness{found: make(map[string]bool, len(list.Items))}
	sort.Slice(list.Items, func(i, j int) bool {
		a, b := list.Items[i], list.Items[j]
		return a.Namespace+"/"+a.Name < b.Namespace+"/"+b.Name
	})
	for i := range list.Items {
		d := &list.Items[i]
		key := d.Namespace + "/" + d.Name
		r.found[key] = true
		desired := desiredReplicas(d)
		ready := int(d.Status.ReadyReplicas)
		r.ready += min(ready, desired)
		if ready < desired {
			r.notReady = append(r.notReady, fmt.Sprintf("%s %d/%d", key, ready, desired))
		}
	}
	return r, nil
}

func desiredReplicas(d *appsv1.Deployment) int {
	if d.Spec.Replicas == nil {
		return 1
	}
	return int(*d.Spec.Replicas)
}

// rateWindow turns ready counts into a recent pods/s rate and an ETA.
type rateWindow struct {
	samples []rateSample
}

type rateSample struct {
	at    time.Time
	ready int
}

func (w *rateWindow) add(at time.Time, ready int) {
	w.samples = append(w.samples, rateSample{at, ready})
	// Keep one sample at or beyond the window's start as the base.
	for len(w.samples) > 2 && at.Sub(w.samples[1].at) >= rampRateWindow {
		w.samples = w.samples[1:]
	}
}

func (w *rateWindow) eta(remaining int) string {
	if len(w.samples) < 2 {
		return "measuring rate"
	}
	first, last := w.samples[0], w.samples[len(w.samples)-1]
	rate := float64(last.ready-first.ready) / last.at.Sub(first.at).Seconds()
	if rate <= 0 {
		return "0 pods/s, ETA unknown"
	}
	eta := time.Duration(float64(remaining) / rate * float64(time.Second)).Round(time.Second)
	return fmt.Sprintf("%.0f pods/s, ETA %s", rate, eta)
}
