package agents

import (
	"context"
	"sort"
	"sync"
	"time"

	"go.uber.org/zap"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/watch"
	"k8s.io/client-go/kubernetes"
	"k8s.io/utils/clock"
)

// Retry bounds of the announcement watch after an error.
const (
	announceRetryMin = time.Second
	announceRetryMax = 30 * time.Second
)

// announcementSelectors find announcements in every namespace; the name
// selector also lets RBAC restrict the shard to ConfigMaps of that name.
func announcementSelectors() metav1.ListOptions {
	return metav1.ListOptions{
		FieldSelector: fields.OneTermEqualSelector("metadata.name", AnnouncementName).String(),
		LabelSelector: labels.Set{LabelAgents: AgentsExternal}.String(),
	}
}

// announcementWatch keeps the current announcements from a LIST and a
// WATCH (a handful of small objects, so no informer machinery): a watch
// that ends or fails leads to a fresh LIST. changed is poked after every
// change; snapshot reads the set.
type announcementWatch struct {
	kc      kubernetes.Interface
	clock   clock.Clock
	log     *zap.Logger
	changed chan struct{}

	mu   sync.Mutex
	objs map[types.UID]*corev1.ConfigMap
}

func newAnnouncementWatch(kc kubernetes.Interface, clk clock.Clock, log *zap.Logger) *announcementWatch {
	return &announcementWatch{kc: kc, clock: clk, log: log, changed: make(chan struct{}, 1), objs: map[types.UID]*corev1.ConfigMap{}}
}

func (w *announcementWatch) snapshot() []*corev1.ConfigMap {
	w.mu.Lock()
	defer w.mu.Unlock()
	out := make([]*corev1.ConfigMap, 0, len(w.objs))
	for _, cm := range w.objs {
		out = append(out, cm)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Namespace < out[j].Namespace })
	return out
}

func (w *announcementWatch) poke() {
	select {
	case w.changed <- struct{}{}:
	default:
	}
}

func (w *announcementWatch) run(ctx context.Context) {
	retry := announceRetryMin
	for ctx.Err() == nil {
		if w.listAndWatch(ctx) {
			retry = announceRetryMin
		} else {
			retry = min(2*retry, announceRetryMax)
		}
		t := w.clock.NewTimer(retry)
		select {
		case <-ctx.Done():
			t.Stop()
			return
		case <-t.C():
		}
	}
}

// listAndWatch replaces the set from a LIST and follows a WATCH until it
// ends; it reports whether it got as far as watching.
func (w *announcementWatch) listAndWatch(ctx context.Context) bool {
	cms := w.kc.CoreV1().ConfigMaps(metav1.NamespaceAll)
	list, err := cms.List(ctx, announcementSelectors())
	if err != nil {
		if ctx.Err() == nil {
			w.log.Warn("list announcements", zap.Error(err))
		}
		return false
	}
	w.mu.Lock()
	w.objs = make(map[types.UID]*corev1.ConfigMap, len(list.Items))
	for i := range list.Items {
		w.objs[list.Items[i].UID] = &list.Items[i]
	}
	w.mu.Unlock()
	w.poke()
	opts := announcementSelectors()
	opts.ResourceVersion, opts.AllowWatchBookmarks = list.ResourceVersion, true
	wi, err := cms.Watch(ctx, opts)
	if err != nil {
		if ctx.Err() == nil {
			w.log.Warn("watch announcements", zap.Error(err))
		}
		return false
	}
	defer wi.Stop()
	for {
		select {
		case <-ctx.Done():
			return true
		case ev, ok := <-wi.ResultChan():
			if !ok {
				return true
			}
			cm, isCM := ev.Object.(*corev1.ConfigMap)
			switch {
			case ev.Type == watch.Error:
				// 410 Gone and the like: a fresh LIST catches up.
				return true
			case !isCM || ev.Type == watch.Bookmark:
				continue
			}
			w.mu.Lock()
			if ev.Type == watch.Deleted {
				delete(w.objs, cm.UID)
			} else {
				w.objs[cm.UID] = cm
			}
			w.mu.Unlock()
			w.poke()
		}
	}
}
