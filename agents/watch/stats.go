package watch

import (
	"math"
	"sort"
	"sync"
	"sync/atomic"
	"time"
)

// Stats are the counters of one emulated component, shared by all its
// replicas and watches. Every method is safe for concurrent use and costs an
// atomic add on the hot path.
type Stats struct {
	Events        atomic.Int64 // watch events received (bookmarks included)
	Bookmarks     atomic.Int64
	ListItems     atomic.Int64 // objects received in LIST responses
	Bytes         atomic.Int64 // watch frame and LIST body bytes received
	Lists         atomic.Int64 // LIST requests sent (each page counts)
	Relists       atomic.Int64 // LISTs after a reflector's first successful one
	Gone          atomic.Int64 // 410 Gone / Expired seen by a reflector
	Watches       atomic.Int64 // WATCH requests that got a stream
	WatchRestarts atomic.Int64 // WATCHes re-opened from the last resourceVersion, without a LIST
	Throttled429  atomic.Int64 // 429 responses (each retry counts)
	Errors        atomic.Int64 // other failed requests and broken streams
	ThrottleNanos atomic.Int64 // time spent waiting on the client-side token bucket

	mu     sync.Mutex
	writes map[string]int64
	lags   map[string]*LagHistogram
}

// Write counts one successful write, keyed like "create ciliumendpoints".
func (s *Stats) Write(key string) {
	s.mu.Lock()
	if s.writes == nil {
		s.writes = make(map[string]int64)
	}
	s.writes[key]++
	s.mu.Unlock()
}

// Writes returns a copy of the write counts.
func (s *Stats) Writes() map[string]int64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make(map[string]int64, len(s.writes))
	for k, v := range s.writes {
		out[k] = v
	}
	return out
}

// Lag returns the named lag histogram, creating it on first use.
func (s *Stats) Lag(name string) *LagHistogram {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.lags == nil {
		s.lags = make(map[string]*LagHistogram)
	}
	h := s.lags[name]
	if h == nil {
		h = &LagHistogram{}
		s.lags[name] = h
	}
	return h
}

// LagNames returns the names of the lag histograms, sorted.
func (s *Stats) LagNames() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	names := make([]string, 0, len(s.lags))
	for n := range s.lags {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}

// Lag buckets: upper bounds growing by 2^(1/4) from 1ms to about 20min,
// so a quantile read from a bucket bound is within 19% of the truth.
const lagBuckets = 82

var lagBounds = func() [lagBuckets]float64 {
	var b [lagBuckets]float64
	for i := range b {
		b[i] = 0.001 * math.Pow(2, float64(i)/4)
	}
	return b
}()

// LagHistogram counts lags in fixed log-spaced buckets with atomic adds,
// so thousands of watchers can record without a lock or per-sample memory.
type LagHistogram struct {
	counts [lagBuckets + 1]atomic.Int64
	sum    atomic.Int64 // microseconds
	max    atomic.Int64 // microseconds
}

// Observe records one lag; negative lags (clock skew) count as zero.
func (h *LagHistogram) Observe(d time.Duration) {
	if d < 0 {
		d = 0
	}
	secs := d.Seconds()
	i := sort.SearchFloat64s(lagBounds[:], secs)
	h.counts[i].Add(1)
	us := d.Microseconds()
	h.sum.Add(us)
	for {
		m := h.max.Load()
		if us <= m || h.max.CompareAndSwap(m, us) {
			break
		}
	}
}

// LagStats is a histogram's summary.
type LagStats struct {
	Count               int64
	P50, P99, Max, Mean float64 // seconds
}

// Summary returns the count, quantiles (bucket upper bounds) and max.
func (h *LagHistogram) Summary() LagStats {
	var counts [lagBuckets + 1]int64
	var total int64
	for i := range counts {
		counts[i] = h.counts[i].Load()
		total += counts[i]
	}
	if total == 0 {
		return LagStats{}
	}
	maxSecs := float64(h.max.Load()) / 1e6
	q := func(p float64) float64 {
		rank := int64(math.Ceil(p * float64(total)))
		var cum int64
		for i, c := range counts {
			cum += c
			if cum >= rank {
				if i >= lagBuckets || lagBounds[i] > maxSecs {
					return maxSecs
				}
				return lagBounds[i]
			}
		}
		return maxSecs
	}
	return LagStats{
		Count: total,
		P50:   q(0.50),
		P99:   q(0.99),
		Max:   maxSecs,
		Mean:  float64(h.sum.Load()) / 1e6 / float64(total),
	}
}
