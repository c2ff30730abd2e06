package watch

import (
	"context"
	"net/url"
	"testing"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/clock"

	"github.com/churn-dev/churn/agents/internal/fakeapi"
)

// startStreaming runs a streaming-list pod reflector against a server
// holding two pods on n1 and the given faults.
func startStreaming(t *testing.T, useMux bool, faults ...fakeapi.Fault) (*fakeapi.Server, *Client, *recorder) {
	t.Helper()
	srv := newServer(t)
	createPods(t, srv, 2, "n1")
	for _, f := range faults {
		srv.Inject(f)
	}
	c := newClientVia(t, srv, clock.RealClock{}, 0, 0, useMux)
	rec := &recorder{}
	ctx, cancel := context.WithCancel(context.Background())
	run(t, ctx, NewReflector(c, WatchSpec{Version: "v1", Resource: "pods", Protobuf: true, StreamingList: true}, rec.handle, nil), useMux)
	t.Cleanup(cancel) // before run's own cleanup, which waits for the end
	return srv, c, rec
}

func watchQueries(t *testing.T, srv *fakeapi.Server) []url.Values {
	t.Helper()
	var out []url.Values
	for _, rq := range srv.Requests() {
		if rq.Verb == "watch" {
			out = append(out, queryOf(t, rq.Query))
		}
	}
	return out
}

// A streaming sync is client-go's watch list: one WATCH with
// sendInitialEvents, the objects as list items up to the initial-events-end
// bookmark, changes on the same stream, and plain WATCHes from the
// bookmark's version after it ends.
func TestReflectorStreamingListSyncsThenWatches(t *testing.T) {
	transports(t, func(t *testing.T, useMux bool) {
		srv, c, rec := startStreaming(t, useMux)
		eventually(t, "sync", func() bool { n, s := rec.count(); return n == 2 && s == 1 })
		createPods(t, srv, 1, "n2")
		eventually(t, "change on the same stream", func() bool { n, _ := rec.count(); return n == 3 })
		rec.mu.Lock()
		first, last := rec.events[0], rec.events[2]
		rec.mu.Unlock()
		if first != "ADDED p-n1-0000 list=true" || last != "ADDED p-n2-0000 list=false" {
			t.Errorf("events %q ... %q, want the synced pods as list items, then the change", first, last)
		}
		if n := srv.Count("list", "pods"); n != 0 {
			t.Errorf("%d LISTs, want none", n)
		}
		st := c.Stats()
		if st.Lists.Load() != 1 || st.ListItems.Load() != 2 || st.Relists.Load() != 0 || st.Watches.Load() != 1 {
			t.Errorf("stats lists=%d items=%d relists=%d watches=%d, want 1 2 0 1", st.Lists.Load(), st.ListItems.Load(), st.Relists.Load(), st.Watches.Load())
		}

		srv.EndWatches()
		eventually(t, "re-watch", func() bool { return c.Stats().Watches.Load() == 2 && srv.Watchers() == 1 })
		qs := watchQueries(t, srv)
		if len(qs) != 2 {
			t.Fatalf("%d WATCHes, want 2", len(qs))
		}
		sync, next := qs[0], qs[1]
		if sync.Get("sendInitialEvents") != "true" || sync.Get("resourceVersionMatch") != "NotOlderThan" ||
			sync.Get("allowWatchBookmarks") != "true" || sync.Has("resourceVersion") {
			t.Errorf("sync query = %v, want sendInitialEvents, NotOlderThan, bookmarks and no resourceVersion", sync)
		}
		if next.Has("sendInitialEvents") || next.Has("resourceVersionMatch") || next.Get("resourceVersion") == "" {
			t.Errorf("re-watch query = %v, want a plain WATCH from the last version", next)
		}
		if srv.Count("list", "pods") != 0 || c.Stats().Lists.Load() != 1 {
			t.Errorf("a normal end re-listed: lists=%d", srv.Count("list", "pods"))
		}
	})
}

// A server that refuses the streaming sync gets a LIST then a WATCH, as
// client-go falls back.
func TestReflectorStreamingListFallsBackToList(t *testing.T) {
	transports(t, func(t *testing.T, useMux bool) {
		srv, _, rec := startStreaming(t, useMux, fakeapi.Fault{Verb: "watch", Resource: "pods", Code: 422, Reason: metav1.StatusReasonInvalid, Times: 1})
		eventually(t, "synced by a LIST", func() bool { _, s := rec.count(); return s == 1 && srv.Count("list", "pods") == 1 })
		eventually(t, "watch open", func() bool { return srv.Watchers() == 1 })
		createPods(t, srv, 1, "n2")
		eventually(t, "event", func() bool { n, _ := rec.count(); return n == 3 })
		qs := watchQueries(t, srv)
		if len(qs) != 2 || qs[0].Get("sendInitialEvents") != "true" || qs[1].Has("sendInitialEvents") {
			t.Errorf("watches %v, want the refused sync then a plain WATCH", qs)
		}
	})
}

// A 410 on the streaming sync retries it from a consistent read, without a
// LIST.
func TestReflectorStreamingListRetriesAfter410(t *testing.T) {
	transports(t, func(t *testing.T, useMux bool) {
		srv, _, rec := startStreaming(t, useMux, fakeapi.Fault{Verb: "watch", Resource: "pods", Code: 410, Reason: metav1.StatusReasonExpired, Times: 1})
		eventually(t, "sync", func() bool { n, s := rec.count(); return n == 2 && s == 1 })
		if n := srv.Count("list", "pods"); n != 0 {
			t.Errorf("%d LISTs, want none", n)
		}
		if qs := watchQueries(t, srv); len(qs) != 2 || qs[1].Get("sendInitialEvents") != "true" || qs[1].Has("resourceVersion") {
			t.Errorf("watches %v, want the sync twice, the second from a consistent read", qs)
		}
	})
}
