package watch

import (
	"errors"
	"io"
	"net"
	"os"
	"syscall"
	"time"
)

// batchReadSize is how much of the socket one read syscall may take.
// crypto/tls asks its connection for one record at a time (at most 16 KiB
// plus a header), so without a buffer beneath it a burst of watch events
// queued in the kernel costs a syscall per record.
const batchReadSize = 64 << 10

// batchPollTicks is how many coalescing waits in a row may find a
// connection empty before its reader blocks until bytes arrive. Churn
// comes in bursts (an action a second), so a busy connection is often
// empty at one tick and not at the next; an idle one stops waking within
// a few ticks.
const batchPollTicks = 5

// batchReadConn sits beneath TLS on a watch connection. It reads the socket
// in large chunks and, once a read has found the socket drained, waits
// before reading again until the next coalescing tick or until a full
// chunk has queued, whichever comes first (see await). The second
// bound is the kernel's: SO_RCVLOWAT keeps the socket from waking its
// reader for less than a chunk, so a burst is taken as it arrives and the
// receive buffer never fills; a reader that only slept would let it fill,
// and the server would meet a zero window and stall its writes, which a
// real client reading as fast as it can never causes. After batchPollTicks
// empty waits the reader blocks until any byte arrives. What goes on the
// wire is unchanged: only when the queued bytes are taken, and how many at
// a time.
type batchReadConn struct {
	net.Conn
	raw      syscall.RawConn // nil (not a socket, as in tests): read at once
	buf      []byte
	r, w     int
	err      error
	drained  bool          // the last read took less than buf: nothing was left
	coalesce time.Duration // 0 reads at once
	lowat    bool          // SO_RCVLOWAT is a chunk, not one byte
}

func newBatchReadConn(c net.Conn) *batchReadConn {
	b := &batchReadConn{Conn: c, buf: make([]byte, batchReadSize)}
	if sc, ok := c.(syscall.Conn); ok {
		if raw, err := sc.SyscallConn(); err == nil {
			b.raw = raw
		}
	}
	return b
}

func (c *batchReadConn) Read(p []byte) (int, error) {
	if c.r == c.w {
		if c.err != nil {
			return 0, c.err
		}
		n, err := c.fill()
		c.r, c.w, c.err = 0, n, err
		c.drained = n < len(c.buf)
		if n == 0 {
			c.err = nil
			return 0, err
		}
	}
	n := copy(p, c.buf[c.r:c.w])
	c.r += n
	return n, nil
}

// fill reads into buf: at once when the last read filled it, else after
// coalescing waits, blocking only once the connection has stayed empty.
func (c *batchReadConn) fill() (int, error) {
	if c.drained && c.coalesce > 0 && c.raw != nil {
		for range batchPollTicks {
			if err := c.await(); err != nil {
				return 0, err
			}
			if n, err, ok := c.tryRead(); ok {
				return n, err
			}
		}
		// Idle: the next byte, however few follow, wakes the reader.
		if err := c.setLowat(1); err != nil {
			return 0, err
		}
	}
	return c.Conn.Read(c.buf)
}

// await returns at the next multiple of the coalescing tick on the clock,
// the same instant for every connection, or earlier once a full chunk is
// queued on the socket. Each event the API server sends to each watcher
// would otherwise wake its connection's reader on its own, and waking is
// most of what a mostly idle Go process spends (thread hand-offs, sysmon,
// epoll); aligned, the readers of all connections wake together and take
// what arrived meanwhile in one syscall each. Agents see events at most a
// tick later (event lags are measured at 1 s resolution).
func (c *batchReadConn) await() error {
	if !c.lowat {
		if err := c.setLowat(len(c.buf)); err != nil {
			return err
		}
	}
	now := time.Now()
	if err := c.Conn.SetReadDeadline(now.Truncate(c.coalesce).Add(c.coalesce)); err != nil {
		return err
	}
	waited := false
	err := c.raw.Read(func(uintptr) bool {
		done := waited // called once before waiting for readiness, once after
		waited = true
		return done
	})
	if derr := c.Conn.SetReadDeadline(time.Time{}); err == nil {
		err = derr
	}
	if errors.Is(err, os.ErrDeadlineExceeded) {
		return nil
	}
	return err
}

func (c *batchReadConn) setLowat(n int) error {
	var serr error
	err := c.raw.Control(func(fd uintptr) {
		serr = syscall.SetsockoptInt(int(fd), syscall.SOL_SOCKET, syscall.SO_RCVLOWAT, n)
	})
	if err == nil {
		err = serr
	}
	if err != nil {
		return &net.OpError{Op: "setsockopt SO_RCVLOWAT", Net: "tcp", Source: c.LocalAddr(), Addr: c.RemoteAddr(), Err: err}
	}
	c.lowat = n > 1
	return nil
}

// tryRead reads what the socket holds without waiting; ok is false when it
// holds nothing.
func (c *batchReadConn) tryRead() (n int, err error, ok bool) {
	var rerr error
	cerr := c.raw.Read(func(fd uintptr) bool {
		n, rerr = syscall.Read(int(fd), c.buf)
		return true // never wait here: an empty socket waits for the next tick
	})
	switch {
	case cerr != nil:
		return 0, cerr, true
	case errors.Is(rerr, syscall.EAGAIN) || errors.Is(rerr, syscall.EINTR):
		return 0, nil, false
	case rerr != nil:
		return 0, &net.OpError{Op: "read", Net: "tcp", Source: c.LocalAddr(), Addr: c.RemoteAddr(), Err: rerr}, true
	case n == 0:
		return 0, io.EOF, true
	}
	return n, nil, true
}
