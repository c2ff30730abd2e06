package churn

import (
	"math"
	"sort"
	"time"

	"github.com/churn-dev/churn/results"
)

// summarize turns the recorded actions into the phase's accounting. The
// phase runs from start to the later of its planned end and finished (when
// the last action ended); rates divide by that span.
func summarize(seed int64, maxInFlight int, start, plannedEnd, finished time.Time, actions []results.Action) *results.ChurnSummary {
	end := plannedEnd
	if finished.After(end) {
		end = finished
	}
	s := &results.ChurnSummary{
		Seed:        seed,
		Start:       start,
		End:         end,
		Duration:    end.Sub(start),
		MaxInFlight: maxInFlight,
		Planned:     len(actions),
		Actions:     actions,
	}
	var lags, ownLags, latencies []float64
	for _, a := range actions {
		counts := &s.Scale
		if a.Kind == results.ActionRelabel {
			counts = &s.Relabel
		}
		counts.Planned++
		switch {
		case a.Result == results.ResultNotStarted:
			counts.NotStarted++
			s.NotStarted++
			continue
		case a.OK():
			counts.Succeeded++
			s.Succeeded++
			if a.Kind == results.ActionScale {
				s.PodChanges += abs(a.To - a.From)
			}
		default:
			counts.Failed++
			s.Failed++
			if s.Errors == nil {
				s.Errors = map[string]int{}
			}
			s.Errors[a.Result]++
		}
		lags = append(lags, a.LagSeconds)
		ownLags = append(ownLags, a.OwnLagSeconds)
		latencies = append(latencies, a.LatencySeconds)
	}
	s.LagP50Seconds, s.LagP99Seconds, s.LagMaxSeconds = quantile(lags, 0.5), quantile(lags, 0.99), quantile(lags, 1)
	s.OwnLagP99Seconds, s.OwnLagMaxSeconds = quantile(ownLags, 0.99), quantile(ownLags, 1)
	s.LatencyP50Seconds, s.LatencyP99Seconds = quantile(latencies, 0.5), quantile(latencies, 0.99)
	if secs := s.Duration.Seconds(); secs > 0 {
		s.ActionsPerSecond = float64(s.Succeeded) / secs
		s.PodChangesPerSecond = float64(s.PodChanges) / secs
	}
	return s
}

// quantile is the nearest-rank q-quantile (0 for no samples).
func quantile(xs []float64, q float64) float64 {
	if len(xs) == 0 {
		return 0
	}
	sorted := append([]float64(nil), xs...)
	sort.Float64s(sorted)
	rank := int(math.Ceil(q*float64(len(sorted)))) - 1
	return sorted[min(max(rank, 0), len(sorted)-1)]
}

func abs(x int) int {
	if x < 0 {
		return -x
	}
	return x
}
