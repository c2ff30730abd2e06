package watch

import (
	"bytes"
	"io"
	"net"
	"testing"
	"time"
)

// batchReadConn hands out exactly the bytes the socket delivered, in the
// caller's chunk sizes, and then the socket's error.
func TestBatchReadConnPassesBytesThrough(t *testing.T) {
	for _, coalesce := range []time.Duration{0, time.Millisecond} {
		client, server := net.Pipe()
		want := bytes.Repeat([]byte("0123456789abcdef"), 10000) // 160 KB: more than one buffer
		go func() {
			for rest := want; len(rest) > 0; {
				n := min(len(rest), 7000)
				if _, err := server.Write(rest[:n]); err != nil {
					return
				}
				rest = rest[n:]
			}
			server.Close()
		}()
		c := newBatchReadConn(client)
		c.coalesce = coalesce
		var got []byte
		p := make([]byte, 5000)
		var err error
		for err == nil {
			var n int
			n, err = c.Read(p)
			got = append(got, p[:n]...)
		}
		if err != io.EOF {
			t.Errorf("coalesce %s: ended with %v, want EOF", coalesce, err)
		}
		if !bytes.Equal(got, want) {
			t.Errorf("coalesce %s: got %d bytes, want the %d sent", coalesce, len(got), len(want))
		}
	}
}
