package observers

import (
	"time"
)

// histStore keeps histogram series as sparse per-scrape deltas so a long run
// costs memory in proportion to what changed, not to scrapes x series x
// buckets. Deltas are reset-aware: a counter that went down (the API server
// restarted) counts from zero again, as Prometheus' rate() does.
type histStore struct {
	ids    map[RequestKey]int32
	keys   []RequestKey
	bounds [][]float64
	prev   map[int32][]float64
	steps  []histStep
}

// histStep is one scrape's deltas; counts are per-bucket cumulative deltas.
type histStep struct {
	T      time.Time
	deltas []seriesDelta
}

type seriesDelta struct {
	id     int32
	counts []uint32
}

func newHistStore() *histStore {
	return &histStore{ids: map[RequestKey]int32{}, prev: map[int32][]float64{}}
}

func (s *histStore) id(k RequestKey, upper []float64) int32 {
	if id, ok := s.ids[k]; ok {
		return id
	}
	id := int32(len(s.keys))
	s.ids[k] = id
	s.keys = append(s.keys, k)
	s.bounds = append(s.bounds, upper)
	return id
}

// add records one scrape. The first scrape is only a baseline: its counts
// hold everything since the API server started. restarted says the server
// restarted since the previous scrape, so every count starts from zero.
func (s *histStore) add(t time.Time, hs map[RequestKey]histogram, restarted bool) {
	baseline := len(s.steps) == 0 && len(s.prev) == 0
	if restarted {
		clear(s.prev)
	}
	present := make(map[int32]bool, len(hs))
	step := histStep{T: t}
	for k, h := range hs {
		id := s.id(k, h.upper)
		if !sameBounds(s.bounds[id], h.upper) {
			// Layout changed (a different server version): start over.
			s.bounds[id] = h.upper
			delete(s.prev, id)
		}
		present[id] = true
		prev, seen := s.prev[id]
		s.prev[id] = h.counts
		if baseline {
			continue
		}
		d := make([]uint32, len(h.counts))
		nonzero := false
		reset := false
		if seen {
			for i := range h.counts {
				if h.counts[i] < prev[i] {
					reset = true
					break
				}
			}
		}
		for i := range h.counts {
			v := h.counts[i]
			if seen && !reset {
				v -= prev[i]
			}
			d[i] = uint32(v)
			nonzero = nonzero || d[i] != 0
		}
		if nonzero {
			step.deltas = append(step.deltas, seriesDelta{id: id, counts: d})
		}
	}
	// A series that vanished (its server restarted) counts from zero when
	// it comes back.
	for id := range s.prev {
		if !present[id] {
			delete(s.prev, id)
		}
	}
	// The baseline is kept as an empty step so windows can start at its time.
	s.steps = append(s.steps, step)
}

// windowVisit is called for each window end j with the series sums over
// steps (l, j] (as cumulative bucket counts) and the window's bounds.
type windowVisit func(j int, start, end time.Time, sums map[int32][]float64)

// slide walks windows of length w ending at each step in [a, b]; steps
// before a never enter a window. Window k includes step i when
// T_i > T_k - w. With wholeOnly, the windows shorter than w at the start of
// the span are skipped (a span shorter than w is visited once, whole).
func (s *histStore) slide(a, b int, w time.Duration, wholeOnly bool, visit windowVisit) {
	sums := map[int32][]float64{}
	l := a
	spanStart := s.steps[a].T
	if a > 0 {
		spanStart = s.steps[a-1].T
	}
	last := min(b, len(s.steps)-1)
	visitedWhole := false
	for j := a; j <= b && j < len(s.steps); j++ {
		for _, d := range s.steps[j].deltas {
			acc := sums[d.id]
			if acc == nil {
				acc = make([]float64, len(d.counts))
				sums[d.id] = acc
			}
			if len(acc) != len(d.counts) {
				continue
			}
			for i, c := range d.counts {
				acc[i] += float64(c)
			}
		}
		cut := s.steps[j].T.Add(-w)
		for l < j && !s.steps[l].T.After(cut) {
			for _, d := range s.steps[l].deltas {
				acc := sums[d.id]
				if len(acc) != len(d.counts) {
					continue
				}
				empty := true
				for i, c := range d.counts {
					acc[i] -= float64(c)
					empty = empty && acc[i] <= 0
				}
				if empty {
					delete(sums, d.id)
				}
			}
			l++
		}
		// The window starts where the first included step's delta begins.
		start := s.steps[l].T
		if l > 0 {
			start = s.steps[l-1].T
		}
		// Only whole windows are judged, as quantile_over_time over w
		// would: the growing windows at the start of the span hold a few
		// seconds of requests, whose p99 is noise. A span shorter than w
		// is judged once, as a whole.
		short := wholeOnly && s.steps[j].T.Sub(spanStart) < w
		if short && (j < last || visitedWhole) {
			continue
		}
		visitedWhole = visitedWhole || s.steps[j].T.Sub(spanStart) >= w
		visit(j, start, s.steps[j].T, sums)
	}
}

// stepRange returns the indices of the steps whose deltas lie inside
// [from, to]: step i covers (times[i-1], times[i]], so the first is the
// step that begins at or after from and the last the one that ends at or
// before to. Requests of the phases around the judged one (mesh set-up,
// teardown) thus never count; up to one scrape interval at each edge goes
// unjudged instead. When the span is shorter than two scrapes, it falls
// back to the steps that overlap it. ok is false when none do.
func stepRange(times []time.Time, from, to time.Time) (a, b int, ok bool) {
	a, b = -1, -1
	for i := 1; i < len(times); i++ {
		if a < 0 && !times[i-1].Before(from) {
			a = i
		}
		if !times[i].After(to) {
			b = i
		}
	}
	if a >= 0 && b >= a {
		return a, b, true
	}
	return overlappingSteps(times, from, to)
}

// overlappingSteps returns the steps whose deltas overlap [from, to]: from
// the first step after from to the first step at or after to.
func overlappingSteps(times []time.Time, from, to time.Time) (a, b int, ok bool) {
	a = -1
	for i, t := range times {
		if a < 0 && t.After(from) {
			a = i
		}
		if a >= 0 {
			b = i
			if !t.Before(to) {
				break
			}
		}
	}
	return a, b, a >= 0
}

func (s *histStore) times() []time.Time {
	ts := make([]time.Time, len(s.steps))
	for i, st := range s.steps {
		ts[i] = st.T
	}
	return ts
}
