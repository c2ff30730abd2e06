package watch

import (
	"math/rand/v2"
	"sync"
	"time"

	"k8s.io/utils/clock"
)

// Reflector backoff, as tools/cache/reflector.go configures
// wait.Backoff.DelayWithReset: 800ms doubling to a 30s cap, each step
// jittered by up to +100%, and reset to the start when the last reset is
// more than two minutes old.
const (
	backoffInit   = 800 * time.Millisecond
	backoffCap    = 30 * time.Second
	backoffReset  = 2 * time.Minute
	backoffFactor = 2.0
	backoffJitter = 1.0
)

// Backoff is a jittered exponential backoff with periodic reset.
type Backoff struct {
	mu        sync.Mutex
	clock     clock.PassiveClock
	duration  time.Duration
	steps     int
	lastReset time.Time
}

// NewBackoff returns a backoff in its initial state.
func NewBackoff(clk clock.PassiveClock) *Backoff {
	b := &Backoff{clock: clk}
	b.reset(clk.Now())
	return b
}

func (b *Backoff) reset(now time.Time) {
	b.duration = backoffInit
	b.steps = int((backoffCap + backoffInit - 1) / backoffInit)
	b.lastReset = now
}

// Step returns the next delay.
func (b *Backoff) Step() time.Duration {
	b.mu.Lock()
	defer b.mu.Unlock()
	if now := b.clock.Now(); now.Sub(b.lastReset) > backoffReset {
		b.reset(now)
	}
	d := b.duration
	if b.steps > 0 {
		b.steps--
		next := time.Duration(float64(b.duration) * backoffFactor)
		if next > backoffCap {
			next = backoffCap
			b.steps = 0
		}
		b.duration = next
	}
	return d + time.Duration(rand.Float64()*backoffJitter*float64(d))
}
