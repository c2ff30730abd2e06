package watch

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"sync"
)

// Frame buffers come from a pool and are held only while a frame is being
// read and handled: an idle watch blocks on a 4-byte header (protobuf) or a
// small fixed array (JSON), so ten thousand idle watches hold no buffers.
const (
	frameBufSize  = 16 << 10
	maxPooledBuf  = 1 << 20
	maxFrameBytes = 64 << 20 // a watch event larger than this is a broken stream
	jsonIdleRead  = 256
)

var framePool = sync.Pool{New: func() any { b := make([]byte, 0, frameBufSize); return &b }}

func getBuf(n int) *[]byte {
	bp := framePool.Get().(*[]byte)
	if cap(*bp) < n {
		b := make([]byte, 0, n)
		bp = &b
	}
	*bp = (*bp)[:0]
	return bp
}

func putBuf(bp *[]byte) {
	if bp == nil || cap(*bp) > maxPooledBuf {
		return
	}
	framePool.Put(bp)
}

// frameReader yields one watch event document at a time.
type frameReader interface {
	// next returns the next frame; it stays valid until the next call.
	next() ([]byte, error)
	// release returns any held buffer to the pool.
	release()
}

// protoFrames reads protobuf.LengthDelimitedFramer frames.
type protoFrames struct {
	body io.Reader
	hdr  [4]byte
	buf  *[]byte
}

func (f *protoFrames) next() ([]byte, error) {
	f.release()
	if _, err := io.ReadFull(f.body, f.hdr[:]); err != nil {
		return nil, err
	}
	n := int(binary.BigEndian.Uint32(f.hdr[:]))
	if n > maxFrameBytes {
		return nil, fmt.Errorf("watch frame of %d bytes exceeds %d", n, maxFrameBytes)
	}
	f.buf = getBuf(n)
	b := (*f.buf)[:n]
	if _, err := io.ReadFull(f.body, b); err != nil {
		if errors.Is(err, io.EOF) {
			err = io.ErrUnexpectedEOF
		}
		return nil, err
	}
	return b, nil
}

func (f *protoFrames) release() {
	putBuf(f.buf)
	f.buf = nil
}

// jsonLines reads the API server's JSON watch stream: one compact document
// per line (json.Encoder output; JSON strings cannot hold a raw newline).
type jsonLines struct {
	body    io.Reader
	idle    [jsonIdleRead]byte
	buf     *[]byte
	pending []byte // unread bytes, inside *buf
}

func (l *jsonLines) next() ([]byte, error) {
	for {
		if len(l.pending) > 0 {
			if i := bytes.IndexByte(l.pending, '\n'); i >= 0 {
				line := l.pending[:i]
				l.pending = l.pending[i+1:]
				if len(bytes.TrimSpace(line)) == 0 {
					continue
				}
				return line, nil
			}
		}
		if len(l.pending) == 0 {
			// Nothing buffered: give the buffer back and block on the
			// small idle array.
			l.release()
			n, err := l.body.Read(l.idle[:])
			if n > 0 {
				l.buf = getBuf(frameBufSize)
				l.pending = append(*l.buf, l.idle[:n]...)
				*l.buf = l.pending
				continue
			}
			if err == nil {
				continue
			}
			return nil, err
		}
		// A partial document is buffered: move it to the front, grow if
		// full, and read more after it.
		buf := *l.buf
		n := copy(buf[:cap(buf)], l.pending)
		buf = buf[:n]
		if n == cap(buf) {
			if n >= maxFrameBytes {
				return nil, fmt.Errorf("watch document exceeds %d bytes", maxFrameBytes)
			}
			grown := make([]byte, n, 2*cap(buf))
			copy(grown, buf)
			putBuf(l.buf)
			buf = grown
			l.buf = &grown
		}
		m, err := l.body.Read(buf[n:cap(buf)])
		buf = buf[:n+m]
		*l.buf = buf
		l.pending = buf
		if m > 0 {
			continue
		}
		if err != nil {
			if errors.Is(err, io.EOF) {
				err = io.ErrUnexpectedEOF
			}
			return nil, err
		}
	}
}

func (l *jsonLines) release() {
	putBuf(l.buf)
	l.buf = nil
	l.pending = nil
}
