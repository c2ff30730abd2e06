package watch

import (
	"bufio"
	"bytes"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"

	"golang.org/x/net/http2"
	"golang.org/x/net/http2/hpack"
	"k8s.io/client-go/rest"
)

// Mux is a minimal HTTP/2 client for long-lived watch streams. net/http
// spends two goroutines and several kilobytes per open stream (the reader
// blocked in the body, the transport's per-request writer); for ten thousand
// idle watches that is most of the emulator's memory. Mux instead has one
// reader goroutine per connection that hands each DATA frame to the
// stream's handler in place, so an open watch costs a small struct.
//
// What the API server sees is an ordinary HTTP/2 client: the same TLS
// identity and headers as the component's rest.Config (captured from
// client-go's own round-tripper chain, so bearer tokens and impersonation
// are right), ALPN h2, flow-control window updates, PINGs after 30 s of
// silence as client-go configures, and new connections when the server's
// concurrent stream limit is reached.
type Mux struct {
	addr, authority string
	tlsConfig       *tls.Config
	wrap            http.RoundTripper // client-go's header wrappers over a capture
	coalesce        time.Duration     // see batchReadConn; 0 reads at once

	mu    sync.Mutex
	conns []*muxConn
}

// Flow control and health, as client-go configures x/net/http2: 4 MiB per
// stream, 1 GiB per connection, a PING after 30 s without frames, and the
// connection dropped when the PING gets no answer in 15 s.
const (
	muxStreamWindow  = 4 << 20
	muxConnWindow    = 1 << 30
	muxUpdateAt      = 1 << 20
	muxReadIdle      = 30 * time.Second
	muxPingTimeout   = 15 * time.Second
	muxDialTimeout   = 30 * time.Second
	muxDefaultStream = 100 // until the server's SETTINGS say otherwise

	// muxReadCoalesce is the coalescing tick of watch connections' reads:
	// see batchReadConn. Each tick wakes every busy connection's reader,
	// and on this kind of load a wake costs more than the bytes it reads.
	muxReadCoalesce = 50 * time.Millisecond
)

var errHeadersCaptured = errors.New("headers captured")

// captureRT ends client-go's round-tripper chain: it records the headers
// the chain put on the request (into the sink carried by the request's
// context) instead of sending it.
type captureRT struct{}

type headerSink struct{ h http.Header }

type sinkKey struct{}

func (captureRT) RoundTrip(req *http.Request) (*http.Response, error) {
	if s, ok := req.Context().Value(sinkKey{}).(*headerSink); ok {
		s.h = req.Header
	}
	return nil, errHeadersCaptured
}

// NewMux builds a mux for cfg. It returns nil (use net/http) when cfg is not
// plain HTTPS to a host: a proxy, a custom dialer or a path prefix are left
// to net/http.
func NewMux(cfg *rest.Config) (*Mux, error) {
	u, _, err := rest.DefaultServerUrlFor(cfg)
	if err != nil {
		return nil, fmt.Errorf("server URL: %w", err)
	}
	if u.Scheme != "https" || cfg.Dial != nil || (u.Path != "" && u.Path != "/") {
		return nil, nil
	}
	if cfg.Proxy != nil {
		if p, err := cfg.Proxy(&http.Request{URL: u}); err != nil || p != nil {
			return nil, nil
		}
	}
	tc, err := rest.TLSConfigFor(cfg)
	if err != nil {
		return nil, fmt.Errorf("TLS config: %w", err)
	}
	if tc == nil {
		tc = &tls.Config{}
	}
	tc = tc.Clone()
	tc.NextProtos = []string{"h2"}
	if tc.ServerName == "" {
		tc.ServerName = u.Hostname()
	}
	addr := u.Host
	if u.Port() == "" {
		addr = net.JoinHostPort(u.Hostname(), "443")
	}
	wrap, err := rest.HTTPWrappersForConfig(cfg, captureRT{})
	if err != nil {
		return nil, fmt.Errorf("client-go wrappers: %w", err)
	}
	return &Mux{addr: addr, authority: u.Host, tlsConfig: tc, wrap: wrap, coalesce: muxReadCoalesce}, nil
}

// headers runs client-go's wrapper chain (user agent, impersonation,
// bearer token, ...) over a request carrying base, and returns the headers
// it would have sent.
func (m *Mux) headers(ctx context.Context, path string, base http.Header) (http.Header, error) {
	sink := &headerSink{}
	req, err := http.NewRequestWithContext(context.WithValue(ctx, sinkKey{}, sink), http.MethodGet, "https://"+m.authority+path, nil)
	if err != nil {
		return nil, err
	}
	req.Header = base
	if _, err := m.wrap.RoundTrip(req); err != nil && !errors.Is(err, errHeadersCaptured) {
		return nil, fmt.Errorf("request headers: %w", err)
	}
	if sink.h == nil {
		return base, nil
	}
	return sink.h, nil
}

// Close ends every connection (and so every stream, with an error).
func (m *Mux) Close() {
	m.mu.Lock()
	conns := m.conns
	m.conns = nil
	m.mu.Unlock()
	for _, c := range conns {
		c.fail(errors.New("mux closed"))
	}
}

// StreamHandler receives one stream's response, on its connection's reader
// goroutine: it must not block. Data is only valid during the call.
type StreamHandler interface {
	OnHeaders(s *Stream, status int, h http.Header)
	OnData(s *Stream, p []byte)
	// OnEnd is called once: err is nil after a normal end of stream.
	OnEnd(s *Stream, err error)
}

// Stream is an open request.
type Stream struct {
	c  *muxConn
	id uint32
	h  StreamHandler

	recv    int // bytes received not yet returned to the window
	ended   bool
	headers bool // the response headers arrived (later HEADERS are trailers)
}

// Cancel resets the stream; its handler's OnEnd is called with
// context.Canceled unless it already ended.
func (s *Stream) Cancel() {
	s.c.endStream(s, context.Canceled, true)
}

// Open starts a GET for pathQuery with the given headers.
func (m *Mux) Open(ctx context.Context, pathQuery string, base http.Header, h StreamHandler) (*Stream, error) {
	hdr, err := m.headers(ctx, pathQuery, base)
	if err != nil {
		return nil, err
	}
	for attempt := 0; attempt < 3; attempt++ {
		c, err := m.conn(ctx)
		if err != nil {
			return nil, err
		}
		s, err := c.open(pathQuery, hdr, h)
		if errors.Is(err, errConnFull) {
			continue
		}
		return s, err
	}
	return nil, errors.New("mux: no connection accepted a new stream")
}

// conn returns a live connection with room for a stream, dialing one if
// needed.
func (m *Mux) conn(ctx context.Context) (*muxConn, error) {
	m.mu.Lock()
	live := m.conns[:0]
	var pick *muxConn
	for _, c := range m.conns {
		if c.usable() {
			live = append(live, c)
			if pick == nil && c.hasRoom() {
				pick = c
			}
		}
	}
	m.conns = live
	m.mu.Unlock()
	if pick != nil {
		return pick, nil
	}
	c, err := m.dial(ctx)
	if err != nil {
		return nil, err
	}
	m.mu.Lock()
	m.conns = append(m.conns, c)
	m.mu.Unlock()
	return c, nil
}

type muxConn struct {
	m    *Mux
	conn net.Conn

	wmu  sync.Mutex // frame writes, the hpack encoder
	bw   *bufio.Writer
	fr   *http2.Framer
	henc *hpack.Encoder
	hbuf bytes.Buffer

	mu          sync.Mutex
	streams     map[uint32]*Stream
	reserved    int
	nextID      uint32
	maxStreams  uint32
	goneAway    bool
	dead        bool
	connRecv    int
	lastRead    time.Time
	pingPending bool
}

var errConnFull = errors.New("mux: connection full")

func (m *Mux) dial(ctx context.Context) (*muxConn, error) {
	d := &net.Dialer{Timeout: muxDialTimeout, KeepAlive: 30 * time.Second}
	tcp, err := d.DialContext(ctx, "tcp", m.addr)
	if err != nil {
		return nil, fmt.Errorf("mux: dial %s: %w", m.addr, err)
	}
	raw := newBatchReadConn(tcp)
	tc := tls.Client(raw, m.tlsConfig)
	hctx, cancel := context.WithTimeout(ctx, muxDialTimeout)
	err = tc.HandshakeContext(hctx)
	cancel()
	if err != nil {
		tcp.Close()
		return nil, fmt.Errorf("mux: TLS handshake with %s: %w", m.addr, err)
	}
	nc := net.Conn(tc)
	if p := tc.ConnectionState().NegotiatedProtocol; p != "h2" {
		nc.Close()
		return nil, fmt.Errorf("mux: server negotiated %q, not h2", p)
	}
	c := &muxConn{m: m, conn: nc, streams: map[uint32]*Stream{}, nextID: 1, maxStreams: muxDefaultStream, lastRead: time.Now()}
	c.bw = bufio.NewWriterSize(nc, 4<<10)
	// No bufio beneath the framer: tls.Conn already holds a decrypted
	// record, so the framer copies from it straight into its frame buffer.
	c.fr = http2.NewFramer(c.bw, nc)
	c.fr.ReadMetaHeaders = hpack.NewDecoder(4096, nil)
	c.fr.MaxHeaderListSize = 10 << 20
	c.henc = hpack.NewEncoder(&c.hbuf)

	if _, err := c.bw.WriteString(http2.ClientPreface); err != nil {
		nc.Close()
		return nil, err
	}
	err = c.fr.WriteSettings(
		http2.Setting{ID: http2.SettingEnablePush, Val: 0},
		http2.Setting{ID: http2.SettingInitialWindowSize, Val: muxStreamWindow},
		http2.Setting{ID: http2.SettingMaxHeaderListSize, Val: 10 << 20},
	)
	if err == nil {
		err = c.fr.WriteWindowUpdate(0, muxConnWindow-65535)
	}
	if err == nil {
		err = c.bw.Flush()
	}
	if err != nil {
		nc.Close()
		return nil, fmt.Errorf("mux: preface: %w", err)
	}
	// The server's first frame is its SETTINGS: read it here so the
	// stream limit is known before the first stream.
	_ = nc.SetReadDeadline(time.Now().Add(muxDialTimeout))
	f, err := c.fr.ReadFrame()
	_ = nc.SetReadDeadline(time.Time{})
	if err != nil {
		nc.Close()
		return nil, fmt.Errorf("mux: server settings: %w", err)
	}
	sf, ok := f.(*http2.SettingsFrame)
	if !ok {
		nc.Close()
		return nil, fmt.Errorf("mux: first frame %T, want SETTINGS", f)
	}
	c.applySettings(sf)
	raw.coalesce = m.coalesce // set up: from here on, reads may wait
	go c.readLoop()
	go c.health()
	return c, nil
}

func (c *muxConn) usable() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return !c.dead && !c.goneAway
}

func (c *muxConn) hasRoom() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return uint32(len(c.streams)+c.reserved) < c.maxStreams && c.nextID < 1<<31-2
}

func (c *muxConn) applySettings(sf *http2.SettingsFrame) {
	_ = sf.ForeachSetting(func(s http2.Setting) error {
		if s.ID == http2.SettingMaxConcurrentStreams {
			c.mu.Lock()
			c.maxStreams = s.Val
			c.mu.Unlock()
		}
		return nil
	})
	c.send(c.fr.WriteSettingsAck)
}

// send writes frames with write under the write lock and flushes them; a
// failure fails the connection and returns false.
func (c *muxConn) send(write func() error) bool {
	c.wmu.Lock()
	err := write()
	if err == nil {
		err = c.bw.Flush()
	}
	c.wmu.Unlock()
	if err != nil {
		c.fail(err)
		return false
	}
	return true
}

func (c *muxConn) open(pathQuery string, hdr http.Header, h StreamHandler) (*Stream, error) {
	c.mu.Lock()
	if c.dead || c.goneAway || uint32(len(c.streams)+c.reserved) >= c.maxStreams {
		c.mu.Unlock()
		return nil, errConnFull
	}
	c.reserved++
	c.mu.Unlock()

	c.wmu.Lock()
	c.mu.Lock()
	id := c.nextID
	c.nextID += 2
	s := &Stream{c: c, id: id, h: h}
	c.streams[id] = s
	c.reserved--
	c.mu.Unlock()
	c.hbuf.Reset()
	enc := func(k, v string) { _ = c.henc.WriteField(hpack.HeaderField{Name: k, Value: v}) }
	enc(":authority", c.m.authority)
	enc(":method", http.MethodGet)
	enc(":path", pathQuery)
	enc(":scheme", "https")
	for k, vs := range hdr {
		lk := strings.ToLower(k)
		if lk == "host" || lk == "connection" || lk == "transfer-encoding" {
			continue
		}
		for _, v := range vs {
			enc(lk, v)
		}
	}
	block := c.hbuf.Bytes()
	const maxFrag = 16 << 10
	first := block
	if len(first) > maxFrag {
		first = first[:maxFrag]
	}
	err := c.fr.WriteHeaders(http2.HeadersFrameParam{StreamID: id, BlockFragment: first, EndStream: true, EndHeaders: len(first) == len(block)})
	for rest := block[len(first):]; err == nil && len(rest) > 0; {
		n := min(len(rest), maxFrag)
		err = c.fr.WriteContinuation(id, n == len(rest), rest[:n])
		rest = rest[n:]
	}
	if err == nil {
		err = c.bw.Flush()
	}
	c.wmu.Unlock()
	if err != nil {
		c.fail(err)
		return nil, fmt.Errorf("mux: send request: %w", err)
	}
	return s, nil
}

// readLoop reads frames until the connection fails, dispatching stream
// frames to their handlers.
func (c *muxConn) readLoop() {
	for {
		f, err := c.fr.ReadFrame()
		if err != nil {
			c.fail(err)
			return
		}
		if df, ok := f.(*http2.DataFrame); ok {
			c.data(df)
			continue
		}
		c.mu.Lock()
		c.lastRead = time.Now()
		c.pingPending = false
		c.mu.Unlock()
		switch f := f.(type) {
		case *http2.MetaHeadersFrame:
			s := c.stream(f.StreamID)
			if s == nil {
				continue
			}
			if !s.headers {
				status, _ := strconv.Atoi(f.PseudoValue("status"))
				if status >= 100 && status < 200 {
					continue // 1xx
				}
				s.headers = true
				h := http.Header{}
				for _, hf := range f.RegularFields() {
					h.Add(hf.Name, hf.Value)
				}
				s.h.OnHeaders(s, status, h)
			}
			if f.StreamEnded() {
				c.endStream(s, nil, false)
			}
		case *http2.RSTStreamFrame:
			if s := c.stream(f.StreamID); s != nil {
				c.endStream(s, http2.StreamError{StreamID: f.StreamID, Code: f.ErrCode}, false)
			}
		case *http2.SettingsFrame:
			if !f.IsAck() {
				c.applySettings(f)
			}
		case *http2.PingFrame:
			if !f.IsAck() && !c.send(func() error { return c.fr.WritePing(true, f.Data) }) {
				return
			}
		case *http2.GoAwayFrame:
			c.goAway(f.LastStreamID, f.ErrCode)
		}
	}
}

// data hands a DATA frame to its stream and returns the consumed bytes to
// the connection and stream windows. It is the per-event path: one lock.
func (c *muxConn) data(f *http2.DataFrame) {
	n := int(f.Header().Length)
	c.mu.Lock()
	c.lastRead = time.Now()
	c.pingPending = false
	c.connRecv += n
	connInc := 0
	if c.connRecv >= muxUpdateAt {
		connInc, c.connRecv = c.connRecv, 0
	}
	streamInc := 0
	s := c.streams[f.StreamID]
	if s != nil && !f.StreamEnded() {
		s.recv += n
		if s.recv >= muxUpdateAt {
			streamInc, s.recv = s.recv, 0
		}
	}
	c.mu.Unlock()
	if connInc > 0 || streamInc > 0 {
		ok := c.send(func() error {
			if connInc > 0 {
				if err := c.fr.WriteWindowUpdate(0, uint32(connInc)); err != nil {
					return err
				}
			}
			if streamInc > 0 {
				return c.fr.WriteWindowUpdate(f.StreamID, uint32(streamInc))
			}
			return nil
		})
		if !ok {
			return
		}
	}
	if s == nil {
		return
	}
	if d := f.Data(); len(d) > 0 {
		s.h.OnData(s, d)
	}
	if f.StreamEnded() {
		c.endStream(s, nil, false)
	}
}

func (c *muxConn) stream(id uint32) *Stream {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.streams[id]
}

// endStream removes s and tells its handler; reset sends RST_STREAM.
func (c *muxConn) endStream(s *Stream, err error, reset bool) {
	c.mu.Lock()
	if s.ended {
		c.mu.Unlock()
		return
	}
	s.ended = true
	delete(c.streams, s.id)
	dead := c.dead
	c.mu.Unlock()
	if reset && !dead {
		c.send(func() error { return c.fr.WriteRSTStream(s.id, http2.ErrCodeCancel) })
	}
	s.h.OnEnd(s, err)
}

// goAway stops new streams; streams the server will not process end with
// a retryable error.
func (c *muxConn) goAway(last uint32, code http2.ErrCode) {
	c.mu.Lock()
	c.goneAway = true
	var lost []*Stream
	for id, s := range c.streams {
		if id > last {
			lost = append(lost, s)
		}
	}
	idle := len(c.streams) == len(lost)
	c.mu.Unlock()
	for _, s := range lost {
		c.endStream(s, fmt.Errorf("http2: server sent GOAWAY and closed the connection; LastStreamID=%d, ErrCode=%v", last, code), false)
	}
	if idle {
		c.fail(errors.New("http2: server sent GOAWAY and closed the connection"))
	}
}

// fail closes the connection and ends every stream with err.
func (c *muxConn) fail(err error) {
	c.mu.Lock()
	if c.dead {
		c.mu.Unlock()
		return
	}
	c.dead = true
	streams := make([]*Stream, 0, len(c.streams))
	for _, s := range c.streams {
		streams = append(streams, s)
	}
	c.mu.Unlock()
	_ = c.conn.Close()
	for _, s := range streams {
		c.endStream(s, err, false)
	}
}

// health pings the server after muxReadIdle without a frame and drops the
// connection when the PING goes unanswered.
func (c *muxConn) health() {
	t := time.NewTicker(muxReadIdle / 6)
	defer t.Stop()
	var pingSent time.Time
	for range t.C {
		c.mu.Lock()
		dead, idle, pending := c.dead, time.Since(c.lastRead), c.pingPending
		c.mu.Unlock()
		switch {
		case dead:
			return
		case pending && time.Since(pingSent) > muxPingTimeout:
			c.fail(errors.New("http2: client connection lost"))
			return
		case !pending && idle > muxReadIdle:
			c.mu.Lock()
			c.pingPending = true
			c.mu.Unlock()
			pingSent = time.Now()
			if !c.send(func() error { return c.fr.WritePing(false, [8]byte{'c', 'h', 'u', 'r', 'n'}) }) {
				return
			}
		}
	}
}
