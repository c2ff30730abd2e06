package watch

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"mime"
	"net/http"
	"net/url"
	"strconv"
	"sync/atomic"
	"time"

	"go.uber.org/zap"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	utilnet "k8s.io/apimachinery/pkg/util/net"
)

// Reflector timing, as tools/cache/reflector.go: each WATCH asks the server
// to end it after a random timeout in [5min, 10min], so that watches spread
// their restarts; a watch that ends in under a second with no event counts
// as a failure and leads to a re-LIST.
const (
	minWatchTimeout = 5 * time.Minute
	veryShortWatch  = time.Second
	defaultPageSize = 500 // tools/pager default
)

// LagSource says how a watch measures event lag.
type LagSource uint8

// Lag sources. Both read timestamps the API server writes with one-second
// resolution, so a lag is biased up by up to a second.
const (
	// LagNone records nothing.
	LagNone LagSource = iota
	// LagCreation records, for each ADDED watch event, arrival time minus
	// metadata.creationTimestamp.
	LagCreation
	// LagTriggerTime records, for each ADDED or MODIFIED watch event, arrival
	// time minus the endpoints.kubernetes.io/last-change-trigger-time
	// annotation (the EndpointSlice controller's network-programming SLI
	// timestamp).
	LagTriggerTime
)

// TriggerTimeAnnotation is set by the EndpointSlice controller.
const TriggerTimeAnnotation = "endpoints.kubernetes.io/last-change-trigger-time"

// WatchSpec says what one reflector lists and watches.
type WatchSpec struct {
	Group, Version, Resource string
	// Namespace scopes the watch; empty means all namespaces.
	Namespace     string
	LabelSelector string
	FieldSelector string
	// Protobuf selects the protobuf encoding (built-in kinds); CRDs use JSON.
	Protobuf bool
	// MetadataOnly asks for PartialObjectMetadata, as a metadata informer.
	MetadataOnly bool
	// Fields are the optional fields the handler needs.
	Fields Fields
	// Lag names the lag histogram in the client's Stats; LagFrom says how.
	Lag     string
	LagFrom LagSource
	// StreamingList syncs with a streaming WATCH (sendInitialEvents=true,
	// resourceVersionMatch=NotOlderThan) in place of a LIST, as client-go's
	// reflector does since v0.35 (WatchListClient, on by default): the
	// objects arrive as ADDED events up to a bookmark annotated
	// k8s.io/initial-events-end, and the same stream then carries changes.
	// A sync that fails falls back to a LIST for that round, as there.
	StreamingList bool
}

// Path is the collection's API path.
func (s WatchSpec) Path() string {
	p := "/apis/" + s.Group + "/" + s.Version
	if s.Group == "" {
		p = "/api/" + s.Version
	}
	if s.Namespace != "" {
		p += "/namespaces/" + s.Namespace
	}
	return p + "/" + s.Resource
}

// Event is one watch event or list item handed to a Handler. Object and
// everything it points to are reused after the handler returns.
type Event struct {
	Type     EventType
	Object   *Object
	FromList bool
}

// Handler receives events on the reflector's goroutine; it must be quick
// and must not block (hand work to another goroutine), or the watch stream
// backs up as a slow informer's would.
type Handler func(ev *Event)

// Reflector lists and watches one collection following client-go's
// reflector, and hands skimmed objects to a Handler.
type Reflector struct {
	client  *Client
	spec    WatchSpec
	path    string
	handler Handler
	log     *zap.Logger
	backoff *Backoff

	lastRV        []byte
	rvUnavailable bool
	paginated     bool
	listed        bool
	obj           Object
	lag           *LagHistogram
	lagSince      int64 // unix seconds when the reflector was built: older stamps are not lags
	rewatch       bool  // the current WATCH follows another without a LIST
	// syncing: the open (or next) WATCH is a streaming sync that has not
	// reached its initial-events-end bookmark.
	syncing bool
	// fallback: the streaming sync failed; Start's next list step is a
	// LIST (Run falls back within listAndWatch).
	fallback bool
	async    *async
	// synced is set once the first list (or streaming sync) completed, and
	// stays set: a re-list does not make a reflector unsynced, as in
	// client-go's HasSynced.
	synced atomic.Bool
	// first is the first sync's cost, written by the reflector until
	// synced is set and only read after (FirstSync).
	first      SyncCost
	firstStart time.Time
}

// Resource is the collection the reflector lists, e.g. "pods".
func (r *Reflector) Resource() string { return r.spec.Resource }

// Synced reports whether the reflector has completed its first list.
func (r *Reflector) Synced() bool { return r.synced.Load() }

// SyncCost is what a reflector's first list cost: the LIST pages (or the
// streaming list WATCH) it sent until one succeeded, the bytes and objects
// they returned, and the time from the first request to the end of the
// list (to the initial-events-end bookmark), as the client saw it.
type SyncCost struct {
	Requests int64
	Errors   int64
	Bytes    int64
	Items    int64
	Duration time.Duration
}

// FirstSync returns the cost of the first list once it has completed.
func (r *Reflector) FirstSync() (SyncCost, bool) {
	if !r.synced.Load() {
		return SyncCost{}, false
	}
	return r.first, true
}

// firstRequest counts a request of the first sync (only before it ends).
func (r *Reflector) firstRequest() {
	if r.listed {
		return
	}
	if r.firstStart.IsZero() {
		r.firstStart = r.client.clock.Now()
	}
	r.first.Requests++
}

// firstDone stamps the first sync's duration, before synced is set.
func (r *Reflector) firstDone() {
	if !r.listed {
		r.first.Duration = r.client.clock.Since(r.firstStart)
	}
}

// NewReflector builds a reflector; handler may be nil when only the traffic
// matters (list items are then skipped unread).
func NewReflector(c *Client, spec WatchSpec, handler Handler, log *zap.Logger) *Reflector {
	if log == nil {
		log = zap.NewNop()
	}
	if spec.LagFrom == LagTriggerTime || spec.StreamingList {
		spec.Fields |= FieldAnnotations
	}
	r := &Reflector{
		client:  c,
		spec:    spec,
		path:    spec.Path(),
		handler: handler,
		log:     log,
		backoff: NewBackoff(c.clock),
	}
	if spec.Lag != "" && spec.LagFrom != LagNone {
		r.lag = c.stats.Lag(spec.Lag)
		r.lagSince = c.clock.Now().Unix()
	}
	return r
}

// Run lists and watches until ctx ends, waiting a backoff step between
// rounds as wait.BackoffUntil does in Reflector.RunWithContext.
func (r *Reflector) Run(ctx context.Context) {
	for ctx.Err() == nil {
		if err := r.listAndWatch(ctx); err != nil && ctx.Err() == nil {
			r.log.Debug("list and watch ended", zap.String("resource", r.spec.Resource), zap.Error(err))
		}
		if r.client.sleep(ctx, r.backoff.Step()) != nil {
			return
		}
	}
}

func (r *Reflector) listAndWatch(ctx context.Context) error {
	if r.spec.StreamingList {
		r.beginSync()
		err := r.watch(ctx)
		if !r.syncing || ctx.Err() != nil {
			r.syncing = false
			return err
		}
		r.syncing = false
		r.log.Debug("streaming list failed, falling back to LIST", zap.String("resource", r.spec.Resource), zap.Error(err))
	}
	if err := offload(func() error { return r.list(ctx) }); err != nil {
		return err
	}
	return r.watch(ctx)
}

// beginSync makes the next WATCH a streaming sync (see
// WatchSpec.StreamingList); it counts as a list.
func (r *Reflector) beginSync() {
	if r.listed {
		r.client.stats.Relists.Add(1)
	}
	r.client.stats.Lists.Add(1)
	r.firstRequest()
	r.syncing = true
}

// endSync: the initial-events-end bookmark arrived.
func (r *Reflector) endSync() {
	r.firstDone()
	r.syncing = false
	r.rvUnavailable = false
	r.listed = true
	r.synced.Store(true)
	if r.handler != nil {
		r.obj.Reset()
		r.handler(&Event{Type: Synced, Object: &r.obj})
	}
}

// errSyncIncomplete: a streaming sync's WATCH ended before the bookmark.
var errSyncIncomplete = errors.New("watch ended before the initial-events-end bookmark")

// offload runs fn on a short-lived goroutine. A reflector's goroutine lives
// as long as its watch and parks in a body read; the deep call chains of
// sending a request and decoding a LIST would grow its stack for good (the
// runtime only shrinks a stack to twice what it uses). Running them
// elsewhere keeps ten thousand idle watch goroutines at their smallest.
func offload(fn func() error) error {
	done := make(chan error, 1)
	go func() { done <- fn() }()
	return <-done
}

// relistResourceVersion is the reflector's: "0" (watch cache) first, the
// last seen version after that, "" (quorum read) after a 410.
func (r *Reflector) relistResourceVersion() string {
	switch {
	case r.rvUnavailable:
		return ""
	case len(r.lastRV) == 0:
		return "0"
	}
	return string(r.lastRV)
}

func (r *Reflector) list(ctx context.Context) error {
	rv := r.relistResourceVersion()
	pageSize := int64(defaultPageSize)
	if !r.paginated && rv != "" && rv != "0" {
		// Force the watch cache: an unpaginated LIST at a resourceVersion.
		pageSize = 0
	}
	if r.listed {
		r.client.stats.Relists.Add(1)
	}
	listRV, paginated, err := r.pagedList(ctx, rv, pageSize)
	if IsExpired(err) || isTooLargeResourceVersion(err) {
		if IsExpired(err) {
			r.client.stats.Gone.Add(1)
		}
		r.rvUnavailable = true
		listRV, paginated, err = r.pagedList(ctx, r.relistResourceVersion(), pageSize)
	}
	if err != nil {
		if ctx.Err() != nil {
			return nil
		}
		return fmt.Errorf("list %s: %w", r.path, err)
	}
	if rv == "0" && paginated {
		r.paginated = true
	}
	r.rvUnavailable = false
	r.firstDone()
	r.listed = true
	r.synced.Store(true)
	r.lastRV = append(r.lastRV[:0], listRV...)
	if r.handler != nil {
		r.obj.Reset()
		r.handler(&Event{Type: Synced, Object: &r.obj})
	}
	return nil
}

// pagedList is tools/pager: pages of pageSize following continue tokens
// (resourceVersion only on the first page); an expired continue token falls
// back to one full list at the requested version.
func (r *Reflector) pagedList(ctx context.Context, rv string, pageSize int64) (string, bool, error) {
	var listRV, cont string
	paginated := false
	for {
		res, err := r.listPage(ctx, rv, pageSize, cont)
		if err != nil {
			if IsExpired(err) && cont != "" {
				res, err = r.listPage(ctx, rv, 0, "")
				if err != nil {
					return "", paginated, err
				}
				return res.rv, paginated, nil
			}
			return "", paginated, err
		}
		if cont == "" {
			listRV = res.rv
		}
		if res.cont == "" {
			return listRV, paginated, nil
		}
		cont = res.cont
		paginated = true
	}
}

func (r *Reflector) listPage(ctx context.Context, rv string, limit int64, cont string) (listResult, error) {
	q := url.Values{}
	r.selectors(q)
	if limit > 0 {
		q.Set("limit", strconv.FormatInt(limit, 10))
	}
	if cont != "" {
		q.Set("continue", cont)
	} else if rv != "" {
		q.Set("resourceVersion", rv)
	}
	accept := ContentTypeJSON
	switch {
	case r.spec.MetadataOnly:
		accept = AcceptMetadataList
	case r.spec.Protobuf:
		accept = AcceptProtobuf
	}
	stats := r.client.stats
	stats.Lists.Add(1)
	r.firstRequest()
	resp, err := r.client.Do(ctx, &Request{Verb: http.MethodGet, Path: r.path, Query: q.Encode(), Accept: accept})
	if err != nil {
		if ctx.Err() == nil {
			stats.Errors.Add(1)
			if !r.listed {
				r.first.Errors++
			}
		}
		return listResult{}, err
	}
	defer drain(resp.Body)
	body := &countingReader{r: resp.Body}
	var fn itemFunc
	if r.handler != nil {
		ev := Event{Type: Added, FromList: true, Object: &r.obj}
		fn = func(*Object) error { r.handler(&ev); return nil }
	}
	var res listResult
	if isProtobuf(resp) {
		res, err = readProtoList(body, r.spec.Fields, &r.obj, fn)
	} else {
		res, err = readJSONList(body, r.spec.Fields, &r.obj, fn)
	}
	stats.Bytes.Add(body.n)
	stats.ListItems.Add(int64(res.items))
	if !r.listed {
		r.first.Bytes += body.n
		r.first.Items += int64(res.items)
	}
	if err != nil {
		if ctx.Err() == nil {
			stats.Errors.Add(1)
		}
		return res, fmt.Errorf("read list body: %w", err)
	}
	return res, nil
}

func (r *Reflector) selectors(q url.Values) {
	if r.spec.LabelSelector != "" {
		q.Set("labelSelector", r.spec.LabelSelector)
	}
	if r.spec.FieldSelector != "" {
		q.Set("fieldSelector", r.spec.FieldSelector)
	}
}

var errVeryShortWatch = errors.New("very short watch: ended in under a second with no event")

// watch re-watches from the last seen resourceVersion until something
// calls for a re-LIST (410, a broken stream, a very short watch).
func (r *Reflector) watch(ctx context.Context) error {
	stats := r.client.stats
	first := true
	for ctx.Err() == nil {
		start := r.client.clock.Now()
		query, accept := r.watchRequest()
		var events int
		var opened bool
		var err error
		r.rewatch = !first
		if r.client.mux != nil {
			events, opened, err = r.watchMux(ctx, r.path+"?"+query, accept)
		} else {
			events, opened, err = r.watchHTTP(ctx, query, accept)
		}
		if ctx.Err() != nil {
			return nil
		}
		if !opened {
			stats.Errors.Add(1)
			if isConnectionRefused(err) || IsTooManyRequests(err) {
				if r.client.sleep(ctx, r.backoff.Step()) != nil {
					return nil
				}
				continue
			}
			if r.syncing && (IsExpired(err) || isTooLargeResourceVersion(err)) {
				r.rvUnavailable = true // sync again from a consistent read
				continue
			}
			return fmt.Errorf("watch %s: %w", r.path, err)
		}
		first = false
		if err != nil {
			switch {
			case IsExpired(err) && r.syncing:
				stats.Gone.Add(1)
				r.rvUnavailable = true
				continue
			case IsExpired(err):
				stats.Gone.Add(1)
				return err
			case IsTooManyRequests(err):
				if r.client.sleep(ctx, r.backoff.Step()) != nil {
					return nil
				}
				continue
			default:
				stats.Errors.Add(1)
				return err
			}
		}
		if r.syncing {
			return errSyncIncomplete
		}
		if events == 0 && r.client.clock.Since(start) < veryShortWatch {
			return errVeryShortWatch
		}
	}
	return nil
}

// watchRequest is a WATCH's query and Accept header: from the last seen
// resourceVersion, with bookmarks, ended by the server after a random
// timeout in [5min, 10min].
func (r *Reflector) watchRequest() (string, string) {
	timeout := time.Duration(float64(minWatchTimeout) * (1 + rand.Float64()))
	timeoutSecs := int64(timeout.Seconds())
	q := url.Values{}
	r.selectors(q)
	q.Set("allowWatchBookmarks", "true")
	if r.syncing {
		// client-go's watchList: from the last synced version, or a
		// consistent read ("") at first and after an expired version.
		q.Set("sendInitialEvents", "true")
		q.Set("resourceVersionMatch", "NotOlderThan")
		if !r.rvUnavailable && len(r.lastRV) > 0 {
			q.Set("resourceVersion", string(r.lastRV))
		}
	} else {
		q.Set("resourceVersion", string(r.lastRV))
	}
	q.Set("timeout", (time.Duration(timeoutSecs) * time.Second).String())
	q.Set("timeoutSeconds", strconv.FormatInt(timeoutSecs, 10))
	q.Set("watch", "true")
	accept := ContentTypeJSON
	switch {
	case r.spec.MetadataOnly:
		accept = AcceptMetadata
	case r.spec.Protobuf:
		accept = AcceptProtobuf
	}
	return q.Encode(), accept
}

// watchHTTP opens a watch with net/http and reads it to its end; opened
// is false when the request itself failed.
func (r *Reflector) watchHTTP(ctx context.Context, query, accept string) (int, bool, error) {
	var resp *http.Response
	err := offload(func() error {
		var err error
		resp, err = r.client.Do(ctx, &Request{Verb: http.MethodGet, Path: r.path, Query: query, Accept: accept, Watch: true})
		return err
	})
	if err != nil {
		return 0, false, err
	}
	r.countOpen()
	events, err := r.consume(resp)
	return events, true, err
}

// countOpen counts a WATCH that got its stream.
func (r *Reflector) countOpen() {
	r.client.stats.Watches.Add(1)
	if r.rewatch {
		r.client.stats.WatchRestarts.Add(1)
	}
}

// consume reads one watch stream to its end. A normal end (EOF, the
// server's timeout, a dropped connection) returns nil, as client-go's
// StreamWatcher closes quietly then; an ERROR event returns its status; any
// other broken stream or undecodable event is an internal error.
func (r *Reflector) consume(resp *http.Response) (int, error) {
	defer drain(resp.Body)
	var frames frameReader
	proto := isProtobuf(resp)
	if proto {
		frames = &protoFrames{body: resp.Body}
	} else {
		frames = &jsonLines{body: resp.Body}
	}
	defer frames.release()
	events := 0
	for {
		frame, err := frames.next()
		if err != nil {
			if isNormalEnd(err) {
				return events, nil
			}
			return events, r.internalError(err.Error())
		}
		events++
		if err := r.handleFrame(frame, proto); err != nil {
			return events, err
		}
	}
}

// isNormalEnd: the ends of a watch stream client-go treats as a quiet close.
func isNormalEnd(err error) bool {
	return errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) ||
		utilnet.IsProbableEOF(err) || utilnet.IsTimeout(err) || errors.Is(err, context.Canceled)
}

func (r *Reflector) internalError(msg string) error {
	return &StatusError{Code: http.StatusInternalServerError, Reason: "InternalError", Message: msg, Verb: "WATCH", Path: r.path}
}

// handleFrame skims one watch event and hands it on. It returns the status
// of an ERROR event, or an internal error for an undecodable one.
func (r *Reflector) handleFrame(frame []byte, proto bool) error {
	stats := r.client.stats
	framing := int64(1) // the newline after a JSON document
	if proto {
		framing = 4 // the length prefix
	}
	stats.Bytes.Add(int64(len(frame)) + framing)
	if r.syncing && !r.listed {
		r.first.Bytes += int64(len(frame)) + framing
	}
	r.obj.Reset()
	var typ EventType
	var err error
	if proto {
		typ, err = skimProtoEvent(frame, r.spec.Fields, &r.obj)
	} else {
		typ, err = skimJSONEvent(frame, r.spec.Fields, &r.obj)
	}
	if err != nil {
		stats.Events.Add(1)
		return r.internalError("decode watch event: " + err.Error())
	}
	if !r.syncing || typ != Added {
		stats.Events.Add(1) // a streaming sync's objects count as list items
	}
	if typ == Error {
		return &StatusError{Code: int(r.obj.Code), Reason: string(r.obj.Reason), Message: string(r.obj.Message), Verb: "WATCH", Path: r.path}
	}
	// A streaming sync's objects carry their own versions; the sync's is
	// its bookmark's, as client-go keeps it.
	if len(r.obj.ResourceVersion) > 0 && (!r.syncing || typ != Added) {
		r.lastRV = append(r.lastRV[:0], r.obj.ResourceVersion...)
	}
	if typ == Bookmark {
		stats.Bookmarks.Add(1)
		if r.syncing {
			if v, ok := r.obj.Annotation(metav1.InitialEventsAnnotationKey); ok && string(v) == "true" {
				r.endSync()
			}
		}
		return nil
	}
	if r.syncing && typ == Added {
		// The initial state: list items, not changes.
		stats.ListItems.Add(1)
		if !r.listed {
			r.first.Items++
		}
		if r.handler != nil {
			ev := Event{Type: Added, Object: &r.obj, FromList: true}
			r.handler(&ev)
		}
		return nil
	}
	if r.lag != nil {
		r.observeLag(typ)
	}
	if r.handler != nil {
		ev := Event{Type: typ, Object: &r.obj}
		r.handler(&ev)
	}
	return nil
}

// observeLag records the event's lag. A stamp older than the reflector is
// skipped: a change made before the watcher existed is not a delay it saw
// (a warm start's EndpointSlices can be modified again carrying an
// hours-old trigger time).
func (r *Reflector) observeLag(typ EventType) {
	switch r.spec.LagFrom {
	case LagCreation:
		if typ == Added && r.obj.CreationUnix >= r.lagSince {
			r.lag.Observe(r.client.clock.Since(time.Unix(r.obj.CreationUnix, 0)))
		}
	case LagTriggerTime:
		if typ != Added && typ != Modified {
			return
		}
		if v, ok := r.obj.Annotation(TriggerTimeAnnotation); ok {
			if t, ok := parseRFC3339(v); ok && t.Unix() >= r.lagSince {
				r.lag.Observe(r.client.clock.Since(t))
			}
		}
	}
}

func isProtobuf(resp *http.Response) bool {
	mt, _, err := mime.ParseMediaType(resp.Header.Get("Content-Type"))
	return err == nil && mt == ContentTypeProtobuf
}

type countingReader struct {
	r io.Reader
	n int64
}

func (c *countingReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n += int64(n)
	return n, err
}
