package fakeapi

import (
	"bufio"
	"net/http"
	"strconv"
	"sync"
	"time"

	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
)

// watcher is one open watch stream.
type watcher struct {
	sel       *selector
	bookmarks bool
	mu        sync.Mutex
	queue     []event
	wake      chan struct{}
	done      chan struct{}
	closeOnce sync.Once
	expire    bool
}

func (w *watcher) send(ev event) {
	w.mu.Lock()
	w.queue = append(w.queue, ev)
	w.mu.Unlock()
	select {
	case w.wake <- struct{}{}:
	default:
	}
}

func (w *watcher) close() { w.closeOnce.Do(func() { close(w.done) }) }

func (w *watcher) take() ([]event, bool) {
	w.mu.Lock()
	defer w.mu.Unlock()
	q := w.queue
	w.queue = nil
	return q, w.expire
}

// translate applies the selector to an event as the watch cache does: an
// object entering the selection is ADDED, one leaving it is DELETED.
func (w *watcher) translate(ev event) (string, runtime.Object, bool) {
	if ev.typ == "BOOKMARK" {
		return ev.typ, ev.obj, w.bookmarks
	}
	cur := w.sel.matches(ev.obj)
	switch ev.typ {
	case "MODIFIED":
		prev := ev.prev != nil && w.sel.matches(ev.prev)
		switch {
		case cur && prev:
			return "MODIFIED", ev.obj, true
		case cur:
			return "ADDED", ev.obj, true
		case prev:
			return "DELETED", ev.obj, true
		}
		return "", nil, false
	default:
		return ev.typ, ev.obj, cur
	}
}

func (s *Server) watch(w http.ResponseWriter, r *http.Request, rt *route) {
	sel, err := parseSelector(r, rt.ns)
	if err != nil {
		writeStatus(w, r, statusObject(http.StatusBadRequest, metav1.StatusReasonBadRequest, err.Error()), nil)
		return
	}
	q := r.URL.Query()
	from, _ := strconv.ParseInt(q.Get("resourceVersion"), 10, 64)
	timeout := 10 * time.Minute
	if ts, err := strconv.Atoi(q.Get("timeoutSeconds")); err == nil && ts > 0 {
		timeout = time.Duration(ts) * time.Second
	}
	wt := &watcher{sel: sel, bookmarks: q.Get("allowWatchBookmarks") == "true", wake: make(chan struct{}, 1), done: make(chan struct{})}
	proto := wantsProtobuf(r.Header.Get("Accept"), rt.coll)
	streaming := q.Get("sendInitialEvents") == "true"
	if streaming && (q.Get("resourceVersionMatch") != string(metav1.ResourceVersionMatchNotOlderThan) || !wt.bookmarks) {
		writeStatus(w, r, statusObject(http.StatusUnprocessableEntity, metav1.StatusReasonInvalid,
			"sendInitialEvents needs resourceVersionMatch=NotOlderThan and allowWatchBookmarks=true"), nil)
		return
	}

	s.mu.Lock()
	// NotOlderThan is met by the current state whatever the version asked.
	tooOld := !streaming && from > 0 && from < s.compactedRV
	if streaming {
		// The API server's watch list: the current objects as ADDED, a
		// bookmark marking their end, then changes.
		for _, obj := range rt.coll.sortedObjects() {
			wt.queue = append(wt.queue, event{typ: "ADDED", obj: obj})
		}
		bm := rt.coll.newObject()
		m, _ := meta.Accessor(bm)
		m.SetResourceVersion(strconv.FormatInt(s.rv, 10))
		m.SetAnnotations(map[string]string{metav1.InitialEventsAnnotationKey: "true"})
		wt.queue = append(wt.queue, event{typ: "BOOKMARK", obj: bm})
		rt.coll.watchers[wt] = struct{}{}
	} else if !tooOld {
		for _, ev := range rt.coll.history {
			if ev.rv > from {
				wt.queue = append(wt.queue, ev)
			}
		}
		rt.coll.watchers[wt] = struct{}{}
	}
	s.mu.Unlock()
	defer func() {
		s.mu.Lock()
		delete(rt.coll.watchers, wt)
		s.mu.Unlock()
	}()

	if proto {
		w.Header().Set("Content-Type", mediaProtobuf+";stream=watch")
	} else {
		w.Header().Set("Content-Type", mediaJSON)
	}
	w.WriteHeader(http.StatusOK)
	flusher, _ := w.(http.Flusher)
	if flusher != nil {
		flusher.Flush() // headers now, as the API server does
	}
	bw := bufio.NewWriter(w)
	write := func(typ string, obj runtime.Object) bool {
		var err error
		if proto {
			err = WriteProtoWatchEvent(bw, typ, obj)
		} else {
			err = WriteJSONWatchEvent(bw, typ, obj)
		}
		if err == nil {
			err = bw.Flush()
		}
		if flusher != nil {
			flusher.Flush()
		}
		return err == nil
	}
	expired := func() {
		write("ERROR", statusObject(http.StatusGone, metav1.StatusReasonExpired, "too old resource version"))
	}
	if tooOld {
		expired()
		return
	}
	timer := time.NewTimer(timeout)
	defer timer.Stop()
	for {
		evs, expire := wt.take()
		for _, ev := range evs {
			typ, obj, ok := wt.translate(ev)
			if !ok {
				continue
			}
			if typ != "ERROR" && typ != "BOOKMARK" {
				obj = withTypeMeta(rt.coll, obj)
			}
			if !write(typ, obj) {
				return
			}
		}
		if expire {
			expired()
			return
		}
		select {
		case <-wt.wake:
		case <-wt.done:
			return
		case <-timer.C:
			return
		case <-r.Context().Done():
			return
		}
	}
}
