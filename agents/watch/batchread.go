package watch

import (
	"net"
	"time"
)

// batchReadSize is how much of the socket one read syscall may take.
// crypto/tls asks its connection for one record at a time (at most 16 KiB
// plus a header), so without a buffer beneath it a burst of watch events
// queued in the kernel costs a syscall per record.
const batchReadSize = 64 << 10

// batchReadConn sits beneath TLS on a watch connection. It reads the socket
// in large chunks and, once a read has found the socket drained, waits for
// the next coalescing tick before reading it again (see coalesceReads).
// What goes on the wire is unchanged: it only decides when the queued bytes
// are taken and how many at a time.
type batchReadConn struct {
	net.Conn
	buf      []byte
	r, w     int
	err      error
	drained  bool          // the last read took less than buf: nothing was left
	coalesce time.Duration // 0 reads at once
}

func newBatchReadConn(c net.Conn) *batchReadConn {
	return &batchReadConn{Conn: c, buf: make([]byte, batchReadSize)}
}

func (c *batchReadConn) Read(p []byte) (int, error) {
	if c.r == c.w {
		if c.err != nil {
			return 0, c.err
		}
		if c.drained && c.coalesce > 0 {
			coalesceReads(c.coalesce)
		}
		n, err := c.Conn.Read(c.buf)
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

// coalesceReads waits until the next multiple of d on the clock, the same
// instant for every connection. Each event the API server sends to each
// watcher would otherwise wake its connection's reader on its own, and
// waking is most of what a mostly idle Go process spends (thread hand-offs,
// sysmon, epoll); aligned, the readers of all connections wake together and
// take what arrived meanwhile in one syscall each. It delays what an agent
// sees by at most d (event lags are measured at 1 s resolution) and changes
// nothing the API server sees: the kernel holds a few milliseconds of
// events, far below the flow-control windows, and a reader that finds a
// full buffer reads on without waiting.
func coalesceReads(d time.Duration) {
	now := time.Now()
	time.Sleep(now.Truncate(d).Add(d).Sub(now))
}
