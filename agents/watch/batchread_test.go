package watch

import (
	"bytes"
	"io"
	"net"
	"testing"
	"time"
)

// batchReadConn hands out exactly the bytes the socket delivered, in the
// caller's chunk sizes, and then the socket's error: over a pipe (blocking
// reads only) and over TCP, where a writer pausing between bursts makes
// the reader poll empty ticks and then block.
func TestBatchReadConnPassesBytesThrough(t *testing.T) {
	for _, transport := range []string{"pipe", "tcp"} {
		for _, coalesce := range []time.Duration{0, time.Millisecond} {
			client, server := connPair(t, transport)
			want := bytes.Repeat([]byte("0123456789abcdef"), 10000) // 160 KB: more than one buffer
			go func() {
				for i, rest := 0, want; len(rest) > 0; i++ {
					n := min(len(rest), 7000)
					if _, err := server.Write(rest[:n]); err != nil {
						return
					}
					rest = rest[n:]
					if i%5 == 0 {
						time.Sleep(time.Duration(i%20) * time.Millisecond / 2)
					}
				}
				server.Close()
			}()
			c := newBatchReadConn(client)
			c.coalesce = coalesce
			if (c.raw != nil) != (transport == "tcp") {
				t.Fatalf("%s: non-blocking reads available = %v", transport, c.raw != nil)
			}
			var got []byte
			p := make([]byte, 5000)
			var err error
			for err == nil {
				var n int
				n, err = c.Read(p)
				got = append(got, p[:n]...)
			}
			if err != io.EOF {
				t.Errorf("%s, coalesce %s: ended with %v, want EOF", transport, coalesce, err)
			}
			if !bytes.Equal(got, want) {
				t.Errorf("%s, coalesce %s: got %d bytes, want the %d sent", transport, coalesce, len(got), len(want))
			}
			client.Close()
		}
	}
}

// A closed connection ends a polling reader with an error, not a hang.
func TestBatchReadConnPollingSeesClose(t *testing.T) {
	client, _, done := waitingRead(t, time.Millisecond, 10)
	time.Sleep(2 * time.Millisecond) // usually mid-poll; either way it must end
	client.Close()
	select {
	case r := <-done:
		if r.err == nil {
			t.Fatal("read on a closed connection returned no error")
		}
	case <-time.After(10 * time.Second):
		t.Fatal("reader did not return after its connection was closed")
	}
}

type readResult struct {
	n   int
	err error
}

// waitingRead starts one Read of up to size bytes on a batchReadConn over
// TCP whose last read drained the socket, so it begins by waiting.
func waitingRead(t *testing.T, coalesce time.Duration, size int) (client, server net.Conn, done <-chan readResult) {
	t.Helper()
	client, server = connPair(t, "tcp")
	t.Cleanup(func() { client.Close(); server.Close() })
	c := newBatchReadConn(client)
	c.coalesce = coalesce
	c.drained = true
	ch := make(chan readResult, 1)
	go func() {
		n, err := c.Read(make([]byte, size))
		ch <- readResult{n, err}
	}()
	return client, server, ch
}

func connPair(t *testing.T, transport string) (client, server net.Conn) {
	t.Helper()
	if transport == "pipe" {
		return net.Pipe()
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	accepted := make(chan net.Conn, 1)
	go func() {
		s, _ := ln.Accept()
		accepted <- s
	}()
	client, err = net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	server = <-accepted
	if server == nil {
		t.Fatal("accept failed")
	}
	return client, server
}

// A waiting reader is woken by a chunk's worth of queued bytes, not only
// by its tick: a burst must not sit in the kernel until the receive buffer
// fills and the server stalls on a zero window. The tick here is a
// thousand hours away, so only the bytes can end the wait.
func TestBatchReadConnWakesForAFullChunk(t *testing.T) {
	_, server, got := waitingRead(t, 1000*time.Hour, batchReadSize)
	go func() { _, _ = server.Write(make([]byte, 4*batchReadSize)) }()
	select {
	case r := <-got:
		if r.n == 0 {
			t.Fatal("read returned no bytes")
		}
	case <-time.After(30 * time.Second):
		t.Fatal("a waiting reader was not woken by a full chunk of queued bytes")
	}
}

// Once idle, a reader wakes for a single byte: a lone event is not held
// back until more follow.
func TestBatchReadConnIdleWakesForOneByte(t *testing.T) {
	_, server, got := waitingRead(t, time.Millisecond, 10)
	time.Sleep(50 * time.Millisecond) // past batchPollTicks empty ticks
	if _, err := server.Write([]byte("x")); err != nil {
		t.Fatal(err)
	}
	select {
	case r := <-got:
		if r.n != 1 {
			t.Fatalf("read %d bytes, want the 1 sent", r.n)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("an idle reader was not woken by one byte")
	}
}
