package watch

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"mime"
	"net/http"
	"strconv"
	"time"

	utilnet "k8s.io/apimachinery/pkg/util/net"
	"k8s.io/utils/clock"
)

// Content types.
const (
	ContentTypeProtobuf = "application/vnd.kubernetes.protobuf"
	ContentTypeJSON     = "application/json"
	// AcceptProtobuf is what a typed clientset configured for protobuf sends.
	AcceptProtobuf = "application/vnd.kubernetes.protobuf,application/json"
	// AcceptMetadataList and AcceptMetadata are the metadata-only client's
	// (k8s.io/client-go/metadata) Accept headers for LIST and WATCH.
	AcceptMetadataList = "application/vnd.kubernetes.protobuf;as=PartialObjectMetadataList;g=meta.k8s.io;v=v1,application/json;as=PartialObjectMetadataList;g=meta.k8s.io;v=v1,application/json"
	AcceptMetadata     = "application/vnd.kubernetes.protobuf;as=PartialObjectMetadata;g=meta.k8s.io;v=v1,application/json;as=PartialObjectMetadata;g=meta.k8s.io;v=v1,application/json"

	ContentTypeMergePatch = "application/merge-patch+json"
	ContentTypeJSONPatch  = "application/json-patch+json"
)

// defaultMaxRetries is rest.Request's default number of Retry-After retries.
const defaultMaxRetries = 10

// ClientConfig configures one emulated client (one rest.Config / clientset
// of a real component).
type ClientConfig struct {
	// HTTPClient carries TLS, authentication and impersonation; it is shared
	// by every replica of a component (see package agents for why).
	HTTPClient *http.Client
	// BaseURL is the API server URL, with any path prefix, no trailing slash.
	BaseURL   string
	UserAgent string
	QPS       float64
	Burst     int
	Clock     clock.Clock
	Stats     *Stats
	// MaxRetries bounds Retry-After retries; 0 means client-go's 10, a
	// negative value disables retries.
	MaxRetries int
	// Mux, when set, carries WATCH streams (see Mux); LISTs and writes
	// always go through HTTPClient.
	Mux *Mux
}

// Client sends requests the way rest.Request does: rate limited by a token
// bucket (except the first attempt of a WATCH), retried on 429/5xx answers
// that carry Retry-After, GETs retried on a broken connection.
type Client struct {
	http       *http.Client
	base       string
	userAgent  string
	limiter    *TokenBucket
	clock      clock.Clock
	stats      *Stats
	maxRetries int
	mux        *Mux
}

// NewClient builds a client with its own token bucket.
func NewClient(cfg ClientConfig) *Client {
	clk := cfg.Clock
	if clk == nil {
		clk = clock.RealClock{}
	}
	stats := cfg.Stats
	if stats == nil {
		stats = &Stats{}
	}
	retries := cfg.MaxRetries
	switch {
	case retries == 0:
		retries = defaultMaxRetries
	case retries < 0:
		retries = 0
	}
	hc := cfg.HTTPClient
	if hc == nil {
		hc = http.DefaultClient
	}
	return &Client{
		http:       hc,
		base:       cfg.BaseURL,
		userAgent:  cfg.UserAgent,
		limiter:    NewTokenBucket(cfg.QPS, cfg.Burst, clk),
		clock:      clk,
		stats:      stats,
		maxRetries: retries,
		mux:        cfg.Mux,
	}
}

// Stats returns the counters this client adds to.
func (c *Client) Stats() *Stats { return c.stats }

// Request is one API call.
type Request struct {
	Verb        string // GET, POST, PUT, PATCH, DELETE
	Path        string // absolute API path, e.g. /api/v1/namespaces/a/pods
	Query       string // encoded query, without '?'
	Accept      string
	ContentType string
	Body        []byte
	// Watch marks a WATCH: like rest.Request.Watch, its first attempt skips
	// the rate limiter (retries do not).
	Watch bool
}

// Do sends req. On a 2xx answer it returns the response with its body
// unread; the caller must close it. Any other answer is returned as a
// *StatusError after the retries rest.Request would make.
func (c *Client) Do(ctx context.Context, req *Request) (*http.Response, error) {
	if !req.Watch {
		if err := c.throttle(ctx); err != nil {
			return nil, err
		}
	}
	url := c.base + req.Path
	if req.Query != "" {
		url += "?" + req.Query
	}
	for attempt := 0; ; attempt++ {
		hreq, err := http.NewRequestWithContext(ctx, req.Verb, url, bodyReader(req.Body))
		if err != nil {
			return nil, fmt.Errorf("build %s %s: %w", req.Verb, req.Path, err)
		}
		if c.userAgent != "" {
			hreq.Header.Set("User-Agent", c.userAgent)
		}
		if req.Accept != "" {
			hreq.Header.Set("Accept", req.Accept)
		}
		if req.ContentType != "" {
			hreq.Header.Set("Content-Type", req.ContentType)
		}
		// What net/http would add itself; set here so that it leaves the
		// body to gunzipBody (see gzip.go).
		hreq.Header.Set("Accept-Encoding", "gzip")
		resp, err := c.http.Do(hreq)
		if err == nil {
			if gzErr := gunzipBody(resp); gzErr != nil {
				return nil, fmt.Errorf("%s %s: %w", req.Verb, req.Path, gzErr)
			}
		}
		wait, retry := c.shouldRetry(req, resp, err, attempt)
		if !retry {
			if err != nil {
				return nil, fmt.Errorf("%s %s: %w", req.Verb, req.Path, err)
			}
			if resp.StatusCode >= 200 && resp.StatusCode < 300 {
				return resp, nil
			}
			return nil, readStatusError(req, resp)
		}
		if resp != nil {
			drain(resp.Body)
		}
		if err := c.sleep(ctx, wait); err != nil {
			return nil, err
		}
		if err := c.throttle(ctx); err != nil {
			return nil, err
		}
	}
}

// shouldRetry mirrors withRetry.IsNextRetry: a response with Retry-After
// and status 429 or 5xx, or a broken connection on a GET (treated as
// Retry-After: 1), is retried up to maxRetries times.
func (c *Client) shouldRetry(req *Request, resp *http.Response, err error, attempt int) (time.Duration, bool) {
	if resp != nil && resp.StatusCode == http.StatusTooManyRequests {
		c.stats.Throttled429.Add(1)
	}
	if attempt >= c.maxRetries {
		return 0, false
	}
	if err != nil {
		if req.Verb == http.MethodGet && !req.Watch &&
			(utilnet.IsConnectionReset(err) || utilnet.IsProbableEOF(err) || utilnet.IsHTTP2ConnectionLost(err)) {
			return time.Second, true
		}
		if req.Watch && (utilnet.IsProbableEOF(err) || utilnet.IsTimeout(err)) {
			return time.Second, true
		}
		return 0, false
	}
	if resp.StatusCode != http.StatusTooManyRequests && resp.StatusCode < 500 {
		return 0, false
	}
	h := resp.Header.Get("Retry-After")
	if h == "" {
		return 0, false
	}
	secs, perr := strconv.Atoi(h)
	if perr != nil || secs < 0 {
		return 0, false
	}
	return time.Duration(secs) * time.Second, true
}

func (c *Client) throttle(ctx context.Context) error {
	waited, err := c.limiter.Wait(ctx)
	c.stats.ThrottleNanos.Add(int64(waited))
	return err
}

func (c *Client) sleep(ctx context.Context, d time.Duration) error {
	if d <= 0 {
		return ctx.Err()
	}
	t := c.clock.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C():
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

func bodyReader(b []byte) io.Reader {
	if b == nil {
		return nil
	}
	return bytes.NewReader(b)
}

// drain reads a little of an unwanted body so the connection can be
// reused, then closes it.
func drain(body io.ReadCloser) {
	_, _ = io.Copy(io.Discard, io.LimitReader(body, 64<<10))
	_ = body.Close()
}

// readStatusError turns a non-2xx response into a StatusError, decoding the
// metav1.Status body in whichever encoding the server chose.
func readStatusError(req *Request, resp *http.Response) error {
	defer drain(resp.Body)
	se := &StatusError{Code: resp.StatusCode, Verb: req.Verb, Path: req.Path}
	body, err := io.ReadAll(io.LimitReader(resp.Body, 256<<10))
	if err != nil && len(body) == 0 {
		se.Message = err.Error()
		return se
	}
	var obj Object
	mt, _, _ := mime.ParseMediaType(resp.Header.Get("Content-Type"))
	switch mt {
	case ContentTypeProtobuf:
		if msg, err := unwrapProto(body); err == nil {
			_ = skimProtoStatus(msg, &obj)
		}
	case ContentTypeJSON:
		c := jsonCursor{b: body}
		_ = skimJSONObject(&c, 0, &obj, false)
	}
	se.Reason = string(obj.Reason)
	se.Message = string(obj.Message)
	if se.Message == "" {
		se.Message = string(bytes.TrimSpace(body[:min(len(body), 512)]))
	}
	return se
}

// isConnectionRefused reports the reflector's "retry the watch, do not
// re-list" case.
func isConnectionRefused(err error) bool {
	return err != nil && utilnet.IsConnectionRefused(err)
}
