package runner

import (
	"fmt"
	"math"
	"runtime/metrics"
	"strings"
	"time"

	"github.com/churn-dev/churn/observers"
	"github.com/churn-dev/churn/results"
)

// Validity check names and limits. The simulator (kwok for the kubelets,
// churn's engine and emulated agents) stands in for machines a real
// cluster has apart from its control plane; when it falls behind on this
// one, the SLO figures measure the bench as much as the API server.
const (
	CheckKWOKPodReady = "kwok-pod-ready-lag-p99"
	CheckChurnLag     = "churn-lag-p99"
	CheckChurnSched   = "churn-sched-latency-p99"

	// kwokReadyLimit: kwok marks a bound pod Ready at once; with 1 s stamps
	// on both conditions a punctual kwok measures 0-2 s.
	kwokReadyLimit = 2 * time.Second
	// churnLagLimit: an action due while a slot was free must start on its
	// second; the pacer's timers are otherwise exact.
	churnLagLimit = time.Second
	// churnSchedLimit: goroutines of a process that gets its CPU wait
	// microseconds to a few milliseconds for a thread; a tenth of a second
	// at p99 means watch events, actions and probes queued for CPU.
	churnSchedLimit = 100 * time.Millisecond
)

// schedLatencyMetric is the Go runtime's histogram of the time goroutines
// spent runnable before they ran.
const schedLatencyMetric = "/sched/latencies:seconds"

// schedSnapshot reads churn's scheduling latency histogram.
func schedSnapshot() *metrics.Float64Histogram {
	s := []metrics.Sample{{Name: schedLatencyMetric}}
	metrics.Read(s)
	if s[0].Value.Kind() != metrics.KindFloat64Histogram {
		return nil
	}
	return s[0].Value.Float64Histogram()
}

// histDiffQuantile is the q-quantile of the observations b holds beyond a
// (the same histogram read twice), at the upper bound of its bucket; ok is
// false without observations.
func histDiffQuantile(a, b *metrics.Float64Histogram, q float64) (float64, bool) {
	if a == nil || b == nil || len(a.Counts) != len(b.Counts) {
		return 0, false
	}
	var total uint64
	diff := make([]uint64, len(b.Counts))
	for i := range b.Counts {
		diff[i] = b.Counts[i] - a.Counts[i]
		total += diff[i]
	}
	if total == 0 {
		return 0, false
	}
	rank := uint64(math.Ceil(q * float64(total)))
	var seen uint64
	for i, n := range diff {
		seen += n
		if seen >= rank {
			upper := b.Buckets[i+1]
			if math.IsInf(upper, 1) {
				upper = b.Buckets[i]
			}
			return upper, true
		}
	}
	return b.Buckets[len(b.Buckets)-1], true
}

// judgeValidity checks the simulator's own lag over the churn phase.
// schedP99 is churn's scheduling latency p99 over it (ok false when it
// was not measured).
func judgeValidity(r *results.Result, schedP99 float64, schedOK bool, nodeWatchErr error, kwokWait runQueueWait) *results.Validity {
	v := &results.Validity{Valid: true}
	add := func(c results.ValidityCheck) {
		// Checks that count rather than time set their own.
		if c.Threshold == "" {
			c.Threshold = observers.FormatSeconds(c.Limit)
		}
		switch {
		case c.Status == results.ValiditySkipped:
		case c.Value > c.Limit:
			c.Status = results.ValidityBehind
			v.Valid = false
		default:
			c.Status = results.ValidityOK
		}
		if c.Status != results.ValiditySkipped && c.Measured == "" {
			c.Measured = observers.FormatSeconds(c.Value)
		}
		v.Checks = append(v.Checks, c)
	}
	// kwok's checks also say whether kwok waited for a CPU: when it did
	// not, what they measured was the API server answering kwok late.
	withWait := func(c results.ValidityCheck) results.ValidityCheck {
		if w := kwokWait.String(); w != "" && c.Status != results.ValiditySkipped {
			c.Reason += "; " + w
		}
		return c
	}
	add(withWait(nodeHealthCheck(r, nodeWatchErr)))
	add(withWait(kwokReadyCheck(r)))

	churnLag := results.ValidityCheck{Name: CheckChurnLag, Limit: churnLagLimit.Seconds(),
		Description: "churn's own lag starting actions, p99: start minus scheduled time, less the time every slot was held by an API call in flight"}
	if r.Churn == nil || r.Churn.Planned == 0 {
		churnLag.Status, churnLag.Reason = results.ValiditySkipped, "no churn phase"
	} else {
		churnLag.Value = r.Churn.OwnLagP99Seconds
		churnLag.Reason = fmt.Sprintf("whole lag p99 %s, counting waits for slots held by API calls in flight", observers.FormatSeconds(r.Churn.LagP99Seconds))
	}
	add(churnLag)

	sched := results.ValidityCheck{Name: CheckChurnSched, Limit: churnSchedLimit.Seconds(),
		Description: "time churn's goroutines (emulated mesh agents, churn engine, observers) waited for a CPU, p99 over the churn phase (Go runtime " + schedLatencyMetric + ")"}
	if schedOK {
		sched.Value = schedP99
	} else {
		sched.Status, sched.Reason = results.ValiditySkipped, "not measured (no churn phase)"
	}
	add(sched)
	return v
}

// kwokReadyCheck: how long the simulated kubelets took to start a bound
// pod, beyond the API server's own watch delay.
func kwokReadyCheck(r *results.Result) results.ValidityCheck {
	c := results.ValidityCheck{Name: CheckKWOKPodReady, Limit: kwokReadyLimit.Seconds(),
		Description: "kwok's reaction to a bound pod, p99 over pods created during churn: Ready minus PodScheduled as stamped, less the API server's watch delivery p99 (watch-propagation)"}
	var ps observers.PodStartupSummary
	found, err := observers.GetObserver(r, observers.PodStartupName, &ps)
	switch {
	case err != nil:
		c.Status, c.Reason = results.ValiditySkipped, err.Error()
		return c
	case !found:
		c.Status, c.Reason = results.ValiditySkipped, "observer pod-startup did not run"
		return c
	case ps.Churn.Kubelet.Count == 0:
		c.Status, c.Reason = results.ValiditySkipped, "no pod was created and started during churn"
		return c
	}
	kubelet := ps.Churn.Kubelet.P99
	var wp observers.WatchPropagationSummary
	if ok, err := observers.GetObserver(r, observers.WatchPropagationName, &wp); err == nil && ok && wp.Delay.Count > 0 {
		c.Value = math.Max(0, kubelet-wp.Delay.P99)
		c.Reason = fmt.Sprintf("scheduled to Ready p99 %s over %d pods, API server watch delay p99 %s",
			observers.FormatSeconds(kubelet), ps.Churn.Kubelet.Count, observers.FormatSeconds(wp.Delay.P99))
	} else {
		c.Value = kubelet
		c.Reason = fmt.Sprintf("scheduled to Ready p99 %s over %d pods; no watch delay measured to subtract",
			observers.FormatSeconds(kubelet), ps.Churn.Kubelet.Count)
	}
	return c
}

// applyVerdictQualifiers makes a run whose simulator fell behind
// inconclusive and names a mesh that did not settle.
func applyVerdictQualifiers(r *results.Result) {
	v := &r.Verdict
	if inst := r.Install; inst != nil && !inst.Settled {
		note := fmt.Sprintf("mesh %s did not settle in %s (%s): its install storm ran into the churn phase",
			inst.Mesh, time.Duration(inst.SettleTimeoutSeconds*float64(time.Second)), inst.Why())
		if inst.SettleTimeoutSeconds == 0 {
			note = fmt.Sprintf("mesh %s: churn did not wait for it to settle (mesh.settleTimeout 0; %s)", inst.Mesh, inst.Why())
		}
		v.Notes = append(v.Notes, note)
	}
	behind := r.Validity.Behind()
	if len(behind) > 0 {
		var parts []string
		for _, c := range r.Validity.Checks {
			if c.Status == results.ValidityBehind {
				parts = append(parts, fmt.Sprintf("%s %s > %s", c.Name, c.Measured, c.Threshold))
			}
		}
		v.Inconclusive, v.Behind, v.Passed = true, behind, false
		v.Summary = fmt.Sprintf("INCONCLUSIVE: the simulator fell behind (%s), so the SLO figures measure the bench as much as the API server; SLOs: %s",
			strings.Join(parts, ", "), v.Summary)
	}
	for _, n := range v.Notes {
		v.Summary += "; " + n
	}
}
