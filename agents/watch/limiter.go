package watch

import (
	"context"
	"time"

	"golang.org/x/time/rate"
	"k8s.io/utils/clock"
)

// TokenBucket is client-go's client-side rate limiter
// (flowcontrol.NewTokenBucketRateLimiter: QPS refill, Burst capacity, Wait
// blocks) on an injectable clock, so tests can step time. One bucket is
// shared by every request of one emulated client, as one rest.Config's
// limiter is shared by all informers and writes of a clientset.
type TokenBucket struct {
	limiter *rate.Limiter
	clock   clock.Clock
}

// NewTokenBucket returns a bucket that starts full. qps <= 0 means no limit.
func NewTokenBucket(qps float64, burst int, clk clock.Clock) *TokenBucket {
	if qps <= 0 {
		return nil
	}
	if burst < 1 {
		burst = 1
	}
	return &TokenBucket{limiter: rate.NewLimiter(rate.Limit(qps), burst), clock: clk}
}

// Wait blocks until a token is available or ctx ends. It returns how long
// it waited. A nil bucket never waits.
func (t *TokenBucket) Wait(ctx context.Context) (time.Duration, error) {
	if t == nil {
		return 0, nil
	}
	now := t.clock.Now()
	r := t.limiter.ReserveN(now, 1)
	delay := r.DelayFrom(now)
	if delay <= 0 {
		return 0, nil
	}
	timer := t.clock.NewTimer(delay)
	defer timer.Stop()
	select {
	case <-timer.C():
		return delay, nil
	case <-ctx.Done():
		r.CancelAt(t.clock.Now())
		return t.clock.Since(now), ctx.Err()
	}
}
