package observers

import (
	"context"
	"time"

	"go.uber.org/zap"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/watch"
	"k8s.io/utils/clock"
)

// rewatchBackoff paces re-establishing a broken watch.
const rewatchBackoff = time.Second

// resumingWatch keeps one watch open the way a reflector does, without its
// cache: after a watch ends it resumes from the last resourceVersion seen,
// and after 410 Gone from a fresh one.
type resumingWatch struct {
	// open starts a watch from rv.
	open func(ctx context.Context, rv string) (watch.Interface, error)
	// fresh returns a current resourceVersion after a 410.
	fresh func(ctx context.Context) (string, error)
	// handle sees every event but errors, bookmarks included.
	handle func(watch.Event)
	// restarted is called each time the watch has to be resumed.
	restarted func()
	clock     clock.Clock
	logger    *zap.Logger
}

// run watches from rv until ctx ends.
func (w resumingWatch) run(ctx context.Context, rv string) {
	for ctx.Err() == nil {
		wi, err := w.open(ctx, rv)
		if err == nil {
			rv = w.consume(ctx, wi, rv)
			wi.Stop()
		} else {
			w.logger.Debug("watch", zap.Error(err))
		}
		if ctx.Err() != nil {
			return
		}
		w.restarted()
		if rv == "" {
			if fresh, err := w.fresh(ctx); err == nil {
				rv = fresh
			}
		}
		select {
		case <-ctx.Done():
			return
		case <-w.clock.After(rewatchBackoff):
		}
	}
}

// consume reads events until the watch ends; it returns the resourceVersion
// to resume from ("" when the server said it is too old).
func (w resumingWatch) consume(ctx context.Context, wi watch.Interface, rv string) string {
	for {
		select {
		case <-ctx.Done():
			return rv
		case ev, ok := <-wi.ResultChan():
			if !ok {
				return rv
			}
			if ev.Type == watch.Error {
				status := apierrors.FromObject(ev.Object)
				if apierrors.IsResourceExpired(status) || apierrors.IsGone(status) {
					return ""
				}
				return rv
			}
			if m, ok := ev.Object.(metav1.Object); ok {
				rv = m.GetResourceVersion()
			}
			w.handle(ev)
		}
	}
}
