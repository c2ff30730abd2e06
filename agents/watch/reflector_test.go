package watch

import (
	"context"
	"fmt"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/client-go/rest"
	"k8s.io/utils/clock"
	clocktesting "k8s.io/utils/clock/testing"

	"github.com/churn-dev/churn/agents/internal/fakeapi"
)

func newServer(t *testing.T) *fakeapi.Server {
	t.Helper()
	srv := fakeapi.New(fakeapi.BuiltinResources())
	t.Cleanup(srv.Close)
	return srv
}

func newClient(t *testing.T, srv *fakeapi.Server, clk clock.Clock, qps float64, burst int) *Client {
	return newClientVia(t, srv, clk, qps, burst, false)
}

// newClientVia builds a client whose watches go through net/http or, with
// useMux, through a Mux.
func newClientVia(t *testing.T, srv *fakeapi.Server, clk clock.Clock, qps float64, burst int, useMux bool) *Client {
	t.Helper()
	cfg := srv.RESTConfig()
	hc, err := rest.HTTPClientFor(cfg)
	if err != nil {
		t.Fatal(err)
	}
	var mux *Mux
	if useMux {
		if mux, err = NewMux(cfg); err != nil || mux == nil {
			t.Fatalf("NewMux: %v %v", mux, err)
		}
		t.Cleanup(mux.Close)
	}
	return NewClient(ClientConfig{HTTPClient: hc, BaseURL: srv.URL(), UserAgent: "test-agent/emulated", QPS: qps, Burst: burst, Clock: clk, Stats: &Stats{}, Mux: mux})
}

// run starts r: blocking Run on its own goroutine over net/http, the
// goroutine-free Start over a Mux. The test fails if a Start-ed reflector
// does not report done after ctx ends.
func run(t *testing.T, ctx context.Context, r *Reflector, useMux bool) {
	t.Helper()
	if !useMux {
		go r.Run(ctx)
		return
	}
	done := make(chan struct{})
	var once sync.Once
	r.Start(ctx, func() { once.Do(func() { close(done) }) })
	t.Cleanup(func() {
		select {
		case <-done:
		case <-time.After(20 * time.Second):
			t.Error("reflector did not finish after its context ended")
		}
	})
}

// transports runs a test over both watch transports.
func transports(t *testing.T, f func(t *testing.T, useMux bool)) {
	for _, useMux := range []bool{false, true} {
		name := "net-http"
		if useMux {
			name = "mux"
		}
		t.Run(name, func(t *testing.T) { f(t, useMux) })
	}
}

// eventually polls cond; it bounds a wait for something that must happen,
// never asserts how fast.
func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func createPods(t *testing.T, srv *fakeapi.Server, n int, node string) {
	t.Helper()
	for i := 0; i < n; i++ {
		p := testPod(fmt.Sprintf("p-%s-%04d", node, i))
		p.ResourceVersion, p.UID = "", ""
		p.Spec.NodeName = node
		if _, err := srv.Create(p); err != nil {
			t.Fatal(err)
		}
	}
}

type recorder struct {
	mu     sync.Mutex
	events []string
	synced int
}

func (r *recorder) handle(ev *Event) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if ev.Type == Synced {
		r.synced++
		return
	}
	r.events = append(r.events, fmt.Sprintf("%s %s list=%v", ev.Type, ev.Object.Name, ev.FromList))
}

func (r *recorder) count() (int, int) {
	r.mu.Lock()
	defer r.mu.Unlock()
	return len(r.events), r.synced
}

func queryOf(t *testing.T, raw string) url.Values {
	t.Helper()
	q, err := url.ParseQuery(raw)
	if err != nil {
		t.Fatal(err)
	}
	return q
}

func TestReflectorListsPagesThenWatches(t *testing.T) {
	transports(t, func(t *testing.T, useMux bool) {
		srv := newServer(t)
		createPods(t, srv, 1100, "n1")
		createPods(t, srv, 5, "n2")
		c := newClientVia(t, srv, clock.RealClock{}, 0, 0, useMux)
		rec := &recorder{}
		r := NewReflector(c, WatchSpec{Version: "v1", Resource: "pods", FieldSelector: "spec.nodeName=n1", Protobuf: true, Fields: FieldPod}, rec.handle, nil)
		ctx, cancel := context.WithCancel(context.Background())
		defer cancel()
		run(t, ctx, r, useMux)

		eventually(t, "initial list", func() bool { n, s := rec.count(); return n == 1100 && s == 1 })
		eventually(t, "watch open", func() bool { return srv.Watchers() == 1 })
		createPods(t, srv, 1, "n1-extra") // not on n1: filtered by the server
		p := testPod("late")
		p.ResourceVersion, p.UID, p.Spec.NodeName = "", "", "n1"
		if _, err := srv.Create(p); err != nil {
			t.Fatal(err)
		}
		eventually(t, "watch event", func() bool { n, _ := rec.count(); return n == 1101 })
		rec.mu.Lock()
		last := rec.events[len(rec.events)-1]
		rec.mu.Unlock()
		if last != "ADDED late list=false" {
			t.Errorf("last event = %q", last)
		}

		var lists []url.Values
		var watch url.Values
		for _, rq := range srv.Requests() {
			switch rq.Verb {
			case "list":
				lists = append(lists, queryOf(t, rq.Query))
			case "watch":
				watch = queryOf(t, rq.Query)
				if !strings.HasPrefix(rq.Accept, ContentTypeProtobuf) || rq.UserAgent != "test-agent/emulated" {
					t.Errorf("watch accept %q ua %q", rq.Accept, rq.UserAgent)
				}
			}
		}
		// tools/pager: limit=500 pages, resourceVersion=0 only on the first.
		if len(lists) != 3 {
			t.Fatalf("lists = %d, want 3 pages", len(lists))
		}
		if lists[0].Get("resourceVersion") != "0" || lists[0].Get("limit") != "500" || lists[0].Get("continue") != "" {
			t.Errorf("first page query = %v", lists[0])
		}
		if lists[1].Get("resourceVersion") != "" || lists[1].Get("continue") == "" || lists[2].Get("fieldSelector") != "spec.nodeName=n1" {
			t.Errorf("next pages = %v %v", lists[1], lists[2])
		}
		if watch.Get("allowWatchBookmarks") != "true" || watch.Get("watch") != "true" || watch.Get("resourceVersion") == "" {
			t.Errorf("watch query = %v", watch)
		}
		if ts := watch.Get("timeoutSeconds"); ts < "300" || ts >= "600" || len(ts) != 3 {
			t.Errorf("timeoutSeconds = %q, want [300, 600)", ts)
		}
		st := c.Stats()
		if st.Lists.Load() != 3 || st.Relists.Load() != 0 || st.ListItems.Load() != 1100 || st.Watches.Load() != 1 {
			t.Errorf("stats lists=%d relists=%d items=%d watches=%d", st.Lists.Load(), st.Relists.Load(), st.ListItems.Load(), st.Watches.Load())
		}
	})
}

func TestReflectorRelistsOn410(t *testing.T) {
	transports(t, func(t *testing.T, useMux bool) {
		srv := newServer(t)
		createPods(t, srv, 3, "n1")
		clk := clocktesting.NewFakeClock(time.Now())
		c := newClientVia(t, srv, clk, 0, 0, useMux)
		rec := &recorder{}
		r := NewReflector(c, WatchSpec{Version: "v1", Resource: "pods", Protobuf: true}, rec.handle, nil)
		ctx, cancel := context.WithCancel(context.Background())
		defer cancel()
		run(t, ctx, r, useMux)
		eventually(t, "watch open", func() bool { return srv.Watchers() == 1 })
		createPods(t, srv, 1, "n2")
		eventually(t, "event", func() bool { n, _ := rec.count(); return n == 4 })

		srv.ExpireWatches() // ERROR 410 Expired on the open watch
		// The reflector waits one backoff step (on the fake clock) before
		// listing again; step it once it is waiting.
		eventually(t, "backoff wait", clk.HasWaiters)
		if n := srv.Count("list", "pods"); n != 1 {
			t.Fatalf("re-listed before the backoff: %d lists", n)
		}
		clk.Step(2 * time.Second)
		eventually(t, "re-list", func() bool { _, s := rec.count(); return s == 2 })
		eventually(t, "re-watch", func() bool { return srv.Watchers() == 1 })

		st := c.Stats()
		if st.Gone.Load() != 1 || st.Relists.Load() != 1 || st.Lists.Load() != 2 {
			t.Errorf("gone=%d relists=%d lists=%d", st.Gone.Load(), st.Relists.Load(), st.Lists.Load())
		}
		// After a watch 410 the reflector re-lists at its last resourceVersion
		// (not a quorum read), unpaginated so the watch cache serves it.
		var relist url.Values
		for _, rq := range srv.Requests() {
			if rq.Verb == "list" {
				relist = queryOf(t, rq.Query)
			}
		}
		if relist.Get("resourceVersion") == "" || relist.Get("resourceVersion") == "0" || relist.Get("limit") != "" {
			t.Errorf("re-list query = %v", relist)
		}
	})
}

func TestReflectorRewatchesAfterNormalEnd(t *testing.T) {
	transports(t, func(t *testing.T, useMux bool) {
		srv := newServer(t)
		createPods(t, srv, 2, "n1")
		c := newClientVia(t, srv, clock.RealClock{}, 0, 0, useMux)
		rec := &recorder{}
		r := NewReflector(c, WatchSpec{Version: "v1", Resource: "pods", Protobuf: true}, rec.handle, nil)
		ctx, cancel := context.WithCancel(context.Background())
		defer cancel()
		run(t, ctx, r, useMux)
		eventually(t, "watch open", func() bool { return srv.Watchers() == 1 })
		createPods(t, srv, 1, "n2")
		eventually(t, "event", func() bool { n, _ := rec.count(); return n == 3 })
		srv.SendBookmarks()
		eventually(t, "bookmark", func() bool { return c.Stats().Bookmarks.Load() == 1 })
		srv.EndWatches()
		eventually(t, "re-watch", func() bool { return c.Stats().Watches.Load() == 2 && srv.Watchers() == 1 })
		if c.Stats().WatchRestarts.Load() != 1 || srv.Count("list", "pods") != 1 {
			t.Errorf("restarts=%d lists=%d, want 1 and 1", c.Stats().WatchRestarts.Load(), srv.Count("list", "pods"))
		}
	})
}

func TestClientHonoursRetryAfter(t *testing.T) {
	srv := newServer(t)
	createPods(t, srv, 1, "n1")
	srv.Inject(fakeapi.Fault{Verb: "list", Resource: "pods", Code: 429, Reason: metav1.StatusReasonTooManyRequests, RetryAfterSeconds: 3, Times: 2})
	clk := clocktesting.NewFakeClock(time.Now())
	c := newClient(t, srv, clk, 0, 0)
	rec := &recorder{}
	r := NewReflector(c, WatchSpec{Version: "v1", Resource: "pods", Protobuf: true}, rec.handle, nil)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	run(t, ctx, r, false)

	for attempt := 1; attempt <= 2; attempt++ {
		eventually(t, "retry wait", clk.HasWaiters)
		if n := srv.Count("list", "pods"); n != attempt {
			t.Fatalf("attempt %d: %d list requests before Retry-After elapsed", attempt, n)
		}
		clk.Step(2 * time.Second) // not yet the 3 s asked for
		if n := srv.Count("list", "pods"); n != attempt {
			t.Fatalf("attempt %d: retried before Retry-After: %d", attempt, n)
		}
		clk.Step(time.Second)
	}
	eventually(t, "list succeeds", func() bool { _, s := rec.count(); return s == 1 })
	if got := c.Stats().Throttled429.Load(); got != 2 {
		t.Errorf("429s = %d, want 2", got)
	}
	if n := srv.Count("list", "pods"); n != 3 {
		t.Errorf("list requests = %d, want 3", n)
	}
}

func TestRateLimiterSharedByReflectorsAndWrites(t *testing.T) {
	srv := newServer(t)
	clk := clocktesting.NewFakeClock(time.Now())
	// Burst 2 and a slow refill: the third request of the client waits,
	// whichever reflector or writer sends it.
	c := newClient(t, srv, clk, 0.5, 2)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	for _, res := range []string{"pods", "namespaces"} {
		go NewReflector(c, WatchSpec{Version: "v1", Resource: res, Protobuf: true}, nil, nil).Run(ctx)
	}
	eventually(t, "two lists", func() bool { return srv.Count("list", "pods")+srv.Count("list", "namespaces") == 2 })
	var wrote atomic.Bool
	go func() {
		resp, err := c.Do(ctx, &Request{Verb: "GET", Path: "/api/v1/namespaces/default/pods/x", Accept: AcceptProtobuf})
		if err == nil {
			resp.Body.Close()
		}
		wrote.Store(true)
	}()
	eventually(t, "get waits on the bucket", clk.HasWaiters)
	if wrote.Load() || srv.Count("get", "pods") != 0 {
		t.Fatal("third request was not throttled")
	}
	clk.Step(2 * time.Second) // one token at 0.5 qps
	eventually(t, "get sent", wrote.Load)
	if srv.Count("get", "pods") != 1 {
		t.Errorf("gets = %d", srv.Count("get", "pods"))
	}
	// Watches are not rate limited (rest.Request.Watch), so both are open.
	eventually(t, "watches open", func() bool { return srv.Watchers() == 2 })
	if c.Stats().ThrottleNanos.Load() < int64(time.Second) {
		t.Errorf("throttle wait = %v, want >= 1s", time.Duration(c.Stats().ThrottleNanos.Load()))
	}
}

func TestBackoffMatchesClientGo(t *testing.T) {
	clk := clocktesting.NewFakeClock(time.Now())
	b := NewBackoff(clk)
	base := []time.Duration{800 * time.Millisecond, 1600 * time.Millisecond, 3200 * time.Millisecond, 6400 * time.Millisecond,
		12800 * time.Millisecond, 25600 * time.Millisecond, 30 * time.Second, 30 * time.Second}
	for i, want := range base {
		got := b.Step()
		if got < want || got >= 2*want {
			t.Errorf("step %d = %v, want in [%v, %v)", i, got, want, 2*want)
		}
	}
	clk.Step(2*time.Minute + time.Second)
	if got := b.Step(); got >= 1600*time.Millisecond {
		t.Errorf("after reset = %v, want < 1.6s", got)
	}
}

func TestMuxWatchHonoursRetryAfter(t *testing.T) {
	srv := newServer(t)
	createPods(t, srv, 1, "n1")
	srv.Inject(fakeapi.Fault{Verb: "watch", Resource: "pods", Code: 429, Reason: metav1.StatusReasonTooManyRequests, RetryAfterSeconds: 2, Times: 1})
	clk := clocktesting.NewFakeClock(time.Now())
	c := newClientVia(t, srv, clk, 0, 0, true)
	rec := &recorder{}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	run(t, ctx, NewReflector(c, WatchSpec{Version: "v1", Resource: "pods", Protobuf: true}, rec.handle, nil), true)
	eventually(t, "retry wait", func() bool { return srv.Count("watch", "pods") == 1 && clk.HasWaiters() })
	if srv.Watchers() != 0 {
		t.Fatal("watch open despite the 429")
	}
	clk.Step(2 * time.Second)
	eventually(t, "watch open", func() bool { return srv.Watchers() == 1 })
	if c.Stats().Throttled429.Load() != 1 || srv.Count("list", "pods") != 1 {
		t.Errorf("429s=%d lists=%d", c.Stats().Throttled429.Load(), srv.Count("list", "pods"))
	}
	// Events flow over the mux.
	createPods(t, srv, 2, "n2")
	eventually(t, "events", func() bool { n, _ := rec.count(); return n == 3 })
}

func TestLargeEventsAcrossFrames(t *testing.T) {
	transports(t, func(t *testing.T, useMux bool) {
		srv := newServer(t)
		c := newClientVia(t, srv, clock.RealClock{}, 0, 0, useMux)
		ctx, cancel := context.WithCancel(context.Background())
		defer cancel()
		pods, crds := &recorder{}, &recorder{}
		run(t, ctx, NewReflector(c, WatchSpec{Version: "v1", Resource: "pods", Protobuf: true, Fields: FieldAnnotations}, pods.handle, nil), useMux)
		run(t, ctx, NewReflector(c, WatchSpec{Group: "apiextensions.k8s.io", Version: "v1", Resource: "customresourcedefinitions"}, crds.handle, nil), useMux)
		eventually(t, "watches", func() bool { return srv.Watchers() == 2 })
		big := strings.Repeat("x", 70<<10) // several HTTP/2 DATA frames
		for i := 0; i < 3; i++ {
			p := testPod(fmt.Sprintf("big-%d", i))
			p.ResourceVersion, p.UID = "", ""
			p.Annotations = map[string]string{"big": big}
			if _, err := srv.Create(p); err != nil {
				t.Fatal(err)
			}
			crd := &unstructured.Unstructured{Object: map[string]any{
				"apiVersion": "apiextensions.k8s.io/v1", "kind": "CustomResourceDefinition",
				"metadata": map[string]any{"name": fmt.Sprintf("big%d.example.com", i), "annotations": map[string]any{"big": big}},
			}}
			if _, err := srv.Create(crd); err != nil {
				t.Fatal(err)
			}
		}
		eventually(t, "big events", func() bool {
			np, _ := pods.count()
			nc, _ := crds.count()
			return np == 3 && nc == 3
		})
		pods.mu.Lock()
		defer pods.mu.Unlock()
		if pods.events[2] != "ADDED big-2 list=false" {
			t.Errorf("last pod event = %q", pods.events[2])
		}
		if c.Stats().Errors.Load() != 0 {
			t.Errorf("errors = %d", c.Stats().Errors.Load())
		}
	})
}

func TestMuxOpensConnectionsPastTheStreamLimit(t *testing.T) {
	srv := newServer(t)
	c := newClientVia(t, srv, clock.RealClock{}, 0, 0, true)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	// The test server allows 250 concurrent streams per connection.
	const n = 300
	for i := 0; i < n; i++ {
		run(t, ctx, NewReflector(c, WatchSpec{Version: "v1", Resource: "pods", Protobuf: true,
			FieldSelector: fmt.Sprintf("spec.nodeName=n%d", i)}, nil, nil), true)
	}
	eventually(t, "all watches open", func() bool { return srv.Watchers() == n })
	c.mux.mu.Lock()
	conns := len(c.mux.conns)
	c.mux.mu.Unlock()
	if conns < 2 {
		t.Errorf("%d connections for %d streams, want at least 2", conns, n)
	}
	// A pod lands on exactly one of them.
	createPods(t, srv, 1, "n7")
	eventually(t, "one event", func() bool { return c.Stats().Events.Load() == 1 })
}

func TestMuxRewatchesAfterConnectionLoss(t *testing.T) {
	srv := newServer(t)
	createPods(t, srv, 2, "n1")
	c := newClientVia(t, srv, clock.RealClock{}, 0, 0, true)
	rec := &recorder{}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	run(t, ctx, NewReflector(c, WatchSpec{Version: "v1", Resource: "pods", Protobuf: true}, rec.handle, nil), true)
	eventually(t, "watch open", func() bool { return srv.Watchers() == 1 })
	createPods(t, srv, 1, "n2")
	eventually(t, "event", func() bool { n, _ := rec.count(); return n == 3 })
	time.Sleep(1100 * time.Millisecond) // past the very-short-watch window, so this is a re-watch, not a re-list
	srv.DropConnections()
	eventually(t, "re-watch on a new connection", func() bool { return c.Stats().Watches.Load() == 2 && srv.Watchers() == 1 })
	createPods(t, srv, 1, "n3")
	eventually(t, "event after reconnect", func() bool { n, _ := rec.count(); return n == 4 })
	if got := srv.Count("list", "pods"); got != 1 {
		t.Errorf("lists = %d, want 1 (a dropped connection re-watches from the last version)", got)
	}
}
