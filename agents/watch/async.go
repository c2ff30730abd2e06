package watch

import (
	"context"
	"errors"
	"net/http"
	"sync"
	"time"

	"go.uber.org/zap"
	"golang.org/x/net/http2"
	"k8s.io/utils/clock"
)

// Start runs the reflector like Run, but when its client has a Mux it holds
// no goroutine while a watch is open: the stream's end (on the mux reader)
// schedules the next step (re-watch, backoff, re-LIST) on a short-lived
// goroutine or timer. The request sequence is Run's exactly. done is called
// once, after ctx ends and the last step has finished.
func (r *Reflector) Start(ctx context.Context, done func()) {
	_, timers := r.client.clock.(clock.WithDelayedExecution)
	if r.client.mux == nil || !timers {
		go func() {
			defer done()
			r.Run(ctx)
		}()
		return
	}
	a := &async{r: r, ctx: ctx, done: done}
	r.async = a
	a.begin()
	context.AfterFunc(ctx, a.stop)
	go a.list()
}

// async is the state of a Start-ed reflector: work in flight is counted so
// that done fires exactly once after the end.
type async struct {
	r    *Reflector
	ctx  context.Context
	done func()

	mu       sync.Mutex
	pending  int
	finished bool
	stream   *Stream
	timer    clock.Timer
	attempt  int
	start    time.Time
}

func (a *async) begin() {
	a.mu.Lock()
	a.pending++
	a.mu.Unlock()
}

func (a *async) end() {
	a.mu.Lock()
	a.pending--
	fire := a.pending == 0 && a.ctx.Err() != nil && !a.finished
	if fire {
		a.finished = true
	}
	a.mu.Unlock()
	if fire {
		a.done()
	}
}

// stop cancels the open stream or pending timer when ctx ends.
func (a *async) stop() {
	a.mu.Lock()
	s, t := a.stream, a.timer
	a.timer = nil
	a.mu.Unlock()
	if t != nil && t.Stop() {
		a.end() // the timer's work will never run
	}
	if s != nil {
		s.Cancel()
	}
	a.begin()
	a.end() // fires done if nothing is in flight
}

// after runs f on a new goroutine after d (f must call a.end).
func (a *async) after(d time.Duration, f func()) {
	if a.ctx.Err() != nil {
		return
	}
	a.begin()
	a.mu.Lock()
	// The callback starts its own goroutine: a fake clock runs AfterFunc
	// callbacks inside Step, under its lock.
	a.timer = a.r.client.clock.(clock.WithDelayedExecution).AfterFunc(d, func() {
		go func() {
			a.mu.Lock()
			a.timer = nil
			a.mu.Unlock()
			f()
		}()
	})
	a.mu.Unlock()
}

// relist waits a backoff step then lists again, as Reflector.Run does
// after ListAndWatch returns.
func (a *async) relist() { a.after(a.r.backoff.Step(), a.list) }

func (a *async) list() {
	defer a.end()
	if a.ctx.Err() != nil {
		return
	}
	r := a.r
	if r.spec.StreamingList && !r.fallback {
		r.beginSync()
		r.rewatch = false
		a.attempt = 0
		a.open()
		return
	}
	r.fallback = false
	if err := offload(func() error { return r.list(a.ctx) }); err != nil {
		if a.ctx.Err() == nil {
			r.log.Debug("list ended", zap.String("resource", r.spec.Resource), zap.Error(err))
		}
		a.relist()
		return
	}
	r.rewatch = false
	a.attempt = 0
	a.open()
}

// rewatch opens the next watch from the last resourceVersion.
func (a *async) rewatch() {
	defer a.end()
	a.r.rewatch = true
	a.attempt = 0
	a.open()
}

// open sends a WATCH; the stream's end continues the sequence. It runs on
// a step goroutine and keeps its own pending count for the stream.
func (a *async) open() {
	if a.ctx.Err() != nil {
		return
	}
	r := a.r
	query, accept := r.watchRequest()
	base := http.Header{"Accept": {accept}}
	if r.client.userAgent != "" {
		base.Set("User-Agent", r.client.userAgent)
	}
	a.start = r.client.clock.Now()
	w := &muxWatch{r: r, onEnd: a.ended}
	a.begin() // the stream
	s, err := r.client.mux.Open(a.ctx, r.path+"?"+query, base, w)
	if err != nil {
		a.end()
		a.failed(err)
		return
	}
	a.mu.Lock()
	a.stream = s
	a.mu.Unlock()
	if a.ctx.Err() != nil {
		s.Cancel()
	}
}

// failed handles a WATCH that got no stream: connection refused and 429
// back off and watch again; anything else re-lists after a backoff.
func (a *async) failed(err error) {
	if a.ctx.Err() != nil {
		return
	}
	r := a.r
	r.client.stats.Errors.Add(1)
	if isConnectionRefused(err) || IsTooManyRequests(err) {
		a.after(r.backoff.Step(), a.rewatchSame)
		return
	}
	if r.syncing && (IsExpired(err) || isTooLargeResourceVersion(err)) {
		r.rvUnavailable = true // sync again from a consistent read
		a.begin()
		go a.rewatchSame()
		return
	}
	r.log.Debug("watch failed", zap.String("resource", r.spec.Resource), zap.Error(err))
	a.relistOrFallBack()
}

// relistOrFallBack re-lists after a backoff, or, when a streaming sync
// failed, LISTs at once, as client-go falls back within the same round.
func (a *async) relistOrFallBack() {
	r := a.r
	if !r.syncing {
		a.relist()
		return
	}
	r.syncing, r.fallback = false, true
	r.log.Debug("streaming list failed, falling back to LIST", zap.String("resource", r.spec.Resource))
	a.begin()
	go a.list()
}

// rewatchSame retries a WATCH that never opened (no watch restart counted).
func (a *async) rewatchSame() {
	defer a.end()
	a.attempt = 0
	a.open()
}

// ended runs on the mux reader when a stream ends; it must not block.
func (a *async) ended(w *muxWatch, err error) {
	defer a.end()
	a.mu.Lock()
	a.stream = nil
	a.mu.Unlock()
	if a.ctx.Err() != nil {
		return
	}
	r := a.r
	switch {
	case w.status == 0:
		a.failed(err)
		return
	case w.status != http.StatusOK:
		se := w.statusError(r.path)
		wait, retry := r.client.shouldRetry(&Request{Verb: http.MethodGet, Watch: true}, &http.Response{StatusCode: w.status, Header: w.header}, nil, a.attempt)
		if !retry {
			a.failed(se)
			return
		}
		a.attempt++
		a.after(wait, func() {
			defer a.end()
			if r.client.throttle(a.ctx) != nil {
				return
			}
			a.open()
		})
		return
	}
	stats := r.client.stats
	switch {
	case w.err != nil && IsExpired(w.err) && r.syncing:
		stats.Gone.Add(1)
		r.rvUnavailable = true
		a.begin()
		go a.rewatchSame()
	case w.err != nil && IsExpired(w.err):
		stats.Gone.Add(1)
		a.relist()
	case w.err != nil && IsTooManyRequests(w.err):
		a.after(r.backoff.Step(), a.rewatch)
	case w.err != nil:
		stats.Errors.Add(1)
		a.relistOrFallBack()
	case isStreamReset(err):
		stats.Errors.Add(1)
		a.relistOrFallBack()
	case r.syncing, w.events == 0 && r.client.clock.Since(a.start) < veryShortWatch:
		a.relistOrFallBack()
	default:
		a.begin()
		go a.rewatch()
	}
}

func isStreamReset(err error) bool {
	var se http2.StreamError
	return errors.As(err, &se)
}
