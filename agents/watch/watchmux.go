package watch

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"mime"
	"net/http"
	"strconv"

	"golang.org/x/net/http2"
)

// watchMux opens a watch on the client's Mux and waits for its end; the
// events are handled on the connection's reader as they arrive. opened is
// false when the request failed before a 200 answer. Like rest.Request's
// Watch, a 429 or 5xx answer with Retry-After is retried.
func (r *Reflector) watchMux(ctx context.Context, pathQuery, accept string) (int, bool, error) {
	base := http.Header{"Accept": {accept}}
	if r.client.userAgent != "" {
		base.Set("User-Agent", r.client.userAgent)
	}
	for attempt := 0; ; attempt++ {
		w := &muxWatch{r: r, done: make(chan error, 1)}
		var s *Stream
		// Sending a request runs deep (TLS, HPACK); keep it off the
		// reflector's long-lived stack.
		err := offload(func() error {
			var err error
			s, err = r.client.mux.Open(ctx, pathQuery, base.Clone(), w)
			return err
		})
		if err != nil {
			return 0, false, err
		}
		select {
		case err = <-w.done:
		case <-ctx.Done():
			s.Cancel()
			<-w.done
			return w.events, true, nil
		}
		if w.status == 0 {
			return 0, false, err // the connection failed before an answer
		}
		if w.status != http.StatusOK {
			se := w.statusError(pathQuery)
			wait, retry := r.client.shouldRetry(&Request{Verb: http.MethodGet, Watch: true}, &http.Response{StatusCode: w.status, Header: w.header}, nil, attempt)
			if !retry {
				return 0, false, se
			}
			if err := r.client.sleep(ctx, wait); err != nil {
				return 0, false, err
			}
			if err := r.client.throttle(ctx); err != nil {
				return 0, false, err
			}
			continue
		}
		if w.err != nil {
			return w.events, true, w.err
		}
		var se http2.StreamError
		if errors.As(err, &se) {
			// A reset stream is not a quiet end for client-go's decoder.
			return w.events, true, r.internalError(err.Error())
		}
		return w.events, true, nil
	}
}

// muxWatch is one watch stream's handler: it reassembles frames split
// across DATA frames (zero-copy when a DATA frame holds whole events) and
// hands each to the reflector, on the connection's reader goroutine.
type muxWatch struct {
	r      *Reflector
	done   chan error                   // blocking use (Run)
	onEnd  func(w *muxWatch, err error) // asynchronous use (Start)
	status int
	header http.Header
	proto  bool

	errBody []byte
	hdr     [4]byte
	hdrN    int
	need    int
	buf     *[]byte
	events  int
	err     error
	stopped bool
}

func (w *muxWatch) OnHeaders(_ *Stream, status int, h http.Header) {
	w.status, w.header = status, h
	mt, _, _ := mime.ParseMediaType(h.Get("Content-Type"))
	w.proto = mt == ContentTypeProtobuf
	if status == http.StatusOK {
		w.r.countOpen()
	}
}

func (w *muxWatch) OnData(s *Stream, p []byte) {
	if w.stopped {
		return
	}
	if w.status != http.StatusOK {
		if len(w.errBody) < 256<<10 {
			w.errBody = append(w.errBody, p...)
		}
		return
	}
	if w.proto {
		w.feedProto(s, p)
	} else {
		w.feedJSON(s, p)
	}
}

func (w *muxWatch) OnEnd(_ *Stream, err error) {
	putBuf(w.buf)
	w.buf = nil
	if w.onEnd != nil {
		w.onEnd(w, err)
		return
	}
	w.done <- err
}

func (w *muxWatch) frame(s *Stream, f []byte) {
	w.events++
	if err := w.r.handleFrame(f, w.proto); err != nil {
		// client-go stops a watch at an ERROR event or a decode failure.
		w.err, w.stopped = err, true
		s.Cancel()
	}
}

func (w *muxWatch) feedProto(s *Stream, p []byte) {
	for len(p) > 0 && !w.stopped {
		if w.buf == nil && w.hdrN == 0 && len(p) >= 4 {
			n := int(binary.BigEndian.Uint32(p))
			if n <= len(p)-4 {
				w.frame(s, p[4:4+n])
				p = p[4+n:]
				continue
			}
		}
		if w.hdrN < 4 {
			c := copy(w.hdr[w.hdrN:], p)
			w.hdrN += c
			p = p[c:]
			if w.hdrN < 4 {
				return
			}
			w.need = int(binary.BigEndian.Uint32(w.hdr[:]))
			if w.need > maxFrameBytes {
				w.err, w.stopped = w.r.internalError("watch frame of "+strconv.Itoa(w.need)+" bytes"), true
				s.Cancel()
				return
			}
			w.buf = getBuf(w.need)
		}
		c := min(w.need-len(*w.buf), len(p))
		*w.buf = append(*w.buf, p[:c]...)
		p = p[c:]
		if len(*w.buf) == w.need {
			w.frame(s, *w.buf)
			putBuf(w.buf)
			w.buf, w.hdrN = nil, 0
		}
	}
}

func (w *muxWatch) feedJSON(s *Stream, p []byte) {
	for len(p) > 0 && !w.stopped {
		i := bytes.IndexByte(p, '\n')
		if i < 0 {
			if w.buf == nil {
				w.buf = getBuf(frameBufSize)
			}
			if len(*w.buf)+len(p) > maxFrameBytes {
				w.err, w.stopped = w.r.internalError("watch document too large"), true
				s.Cancel()
				return
			}
			*w.buf = append(*w.buf, p...)
			return
		}
		line := p[:i]
		p = p[i+1:]
		if w.buf != nil {
			*w.buf = append(*w.buf, line...)
			line = *w.buf
		}
		if len(bytes.TrimSpace(line)) > 0 {
			w.frame(s, line)
		}
		if w.buf != nil {
			putBuf(w.buf)
			w.buf = nil
		}
	}
}

// statusError decodes a non-200 answer's metav1.Status.
func (w *muxWatch) statusError(path string) error {
	resp := &http.Response{StatusCode: w.status, Header: w.header, Body: nopCloser{bytes.NewReader(w.errBody)}}
	return readStatusError(&Request{Verb: http.MethodGet, Path: path}, resp)
}

type nopCloser struct{ *bytes.Reader }

func (nopCloser) Close() error { return nil }
