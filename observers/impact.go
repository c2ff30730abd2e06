package observers

import (
	"fmt"
	"time"

	"github.com/churn-dev/churn/results"
)

// Recovery of a disruption step: the mutating p99 is back when within
// recoveryTolerance of its level over baselineWindow before the plan
// began.
const (
	baselineWindow    = time.Minute
	recoveryTolerance = 0.2
	// recoveryFloor is the band when the level before was 0 (no mutating
	// request): kube-apiserver's finest latency bucket.
	recoveryFloor = 0.005
)

// FillStepImpacts fills each disruption step's Impact (r.Disruptions) over
// [Started, Ended] from what the observers wrote into r, so it runs after
// every observer's Summarize: outages through the load balancer
// (r.Availability) and per API server (availability's summary), 429s and
// APF rejections (apiserver-metrics' rate series) and how long after the
// step the mutating p99 took to come back. Lists and Watches, if already
// filled, are kept. A step that never began has no impact; one that never
// ended is taken to the end of churn. Figures an observer that did not
// run would give are 0.
func FillStepImpacts(r *results.Result) error {
	if len(r.Disruptions) == 0 {
		return nil
	}
	var api APIServerSummary
	if _, err := GetObserver(r, APIServerMetricsName, &api); err != nil {
		return fmt.Errorf("step impacts: %w", err)
	}
	var av AvailabilitySummary
	if _, err := GetObserver(r, AvailabilityName, &av); err != nil {
		return fmt.Errorf("step impacts: %w", err)
	}
	_, churnEnd := churnSpan(r.Phases)
	scrapes := scrapeTimes(api.Series)
	latency := recoverySeries(api.Series)
	for di := range r.Disruptions {
		d := &r.Disruptions[di]
		base, haveBase := levelBefore(latency, d.Started())
		for si := range d.Steps {
			s := &d.Steps[si]
			from, to := s.Started, s.Ended
			if to.IsZero() {
				to = churnEnd
			}
			if from.IsZero() || to.Before(from) {
				continue
			}
			im := s.Impact
			if im == nil {
				im = &results.StepImpact{}
				s.Impact = im
			}
			im.OutageSeconds = 0
			if r.Availability != nil {
				im.OutageSeconds = overlapSeconds(r.Availability.Outages, from, to)
			}
			im.OutageByServer = nil
			for _, sv := range av.Servers {
				if im.OutageByServer == nil {
					im.OutageByServer = map[string]float64{}
				}
				im.OutageByServer[sv.Name] = overlapSeconds(sv.Outages, from, to)
			}
			im.Throttled = countIn(FindSeries(api.Series, Series429Rate), scrapes, from, to)
			im.APFRejected = countIn(FindSeries(api.Series, SeriesAPFRejectedRate), scrapes, from, to)
			im.RecoverySeconds = 0
			if haveBase {
				im.RecoverySeconds = recoverySeconds(latency, base, to, churnEnd)
			}
		}
	}
	return nil
}

// scrapeTimes are the instants apiserver-metrics recorded a scrape at: a
// gauge series has a point at every one, and a rate point at T covers
// the time since the scrape before T.
func scrapeTimes(series []Series) []time.Time {
	g := FindSeries(series, SeriesInflight)
	if g == nil {
		return nil
	}
	ts := make([]time.Time, len(g.Points))
	for i, p := range g.Points {
		ts[i] = p.T
	}
	return ts
}

// countIn integrates a per-second rate series over [from, to]: each point
// holds the rate over the time since the previous scrape, and a span cut
// by the window counts in proportion.
func countIn(rate *Series, scrapes []time.Time, from, to time.Time) float64 {
	if rate == nil {
		return 0
	}
	total := 0.0
	j := 0
	for k, p := range rate.Points {
		// The scrape before p: the last scrape time before p.T, or the
		// previous rate point's when the gauge times are missing.
		var start time.Time
		for j+1 < len(scrapes) && scrapes[j+1].Before(p.T) {
			j++
		}
		switch {
		case j < len(scrapes) && scrapes[j].Before(p.T):
			start = scrapes[j]
		case k > 0:
			start = rate.Points[k-1].T
		default:
			continue
		}
		dt := p.T.Sub(start).Seconds()
		if dt <= 0 || p.V == 0 {
			continue
		}
		a, b := start, p.T
		if a.Before(from) {
			a = from
		}
		if b.After(to) {
			b = to
		}
		if b.After(a) {
			total += p.V * b.Sub(a).Seconds()
		}
	}
	return total
}

// recoverySeries is the mutating p99 recovery is judged on: the pooled
// 30 s series when apiserver-metrics wrote it (several API servers),
// else the worst key's 5-minute p99, which a slow step keeps high for up
// to 5 minutes after it.
func recoverySeries(series []Series) *Series {
	if s := FindSeries(series, SeriesMutatingP99Pooled); s != nil && len(s.Points) > 0 {
		return s
	}
	return FindSeries(series, SeriesMutatingP99)
}

// levelBefore is the series' mean over baselineWindow before start, or
// its last point before start when the minute has none.
func levelBefore(s *Series, start time.Time) (float64, bool) {
	if s == nil || start.IsZero() {
		return 0, false
	}
	sum, n := 0.0, 0
	last, haveLast := 0.0, false
	for _, p := range s.Points {
		if !p.T.Before(start) {
			break
		}
		last, haveLast = p.V, true
		if !p.T.Before(start.Add(-baselineWindow)) {
			sum += p.V
			n++
		}
	}
	if n > 0 {
		return sum / float64(n), true
	}
	return last, haveLast
}

// recoverySeconds is how long after end the series first came within
// the tolerance of base; -1 when it did not by until.
func recoverySeconds(s *Series, base float64, end, until time.Time) float64 {
	band := base * (1 + recoveryTolerance)
	if base <= 0 {
		band = recoveryFloor
	}
	for _, p := range s.Points {
		if p.T.Before(end) {
			continue
		}
		if p.T.After(until) {
			break
		}
		if p.V <= band {
			return p.T.Sub(end).Seconds()
		}
	}
	return -1
}
