package bench

import (
	"io"
	"net"
	"sync/atomic"
	"testing"
	"time"
)

// countingConn counts the writes that reach the socket.
type countingConn struct {
	net.Conn
	writes atomic.Int64
}

func (c *countingConn) Write(p []byte) (int, error) {
	c.writes.Add(1)
	return c.Conn.Write(p)
}

func TestDriverConnCoalescesWritesInOrder(t *testing.T) {
	a, b := net.Pipe() // synchronous: a write waits for the reader
	cc := &countingConn{Conn: a}
	d := newDriverConn(cc, time.Second, nil)
	defer d.Close()
	d.Write([]byte("first."))
	time.Sleep(20 * time.Millisecond) // the flusher is now stuck writing "first."
	for _, s := range []string{"second.", "third.", "fourth."} {
		if n, err := d.Write([]byte(s)); n != len(s) || err != nil {
			t.Fatalf("write: %d, %v", n, err)
		}
	}
	want := "first.second.third.fourth."
	got := make([]byte, len(want))
	if _, err := io.ReadFull(b, got); err != nil {
		t.Fatal(err)
	}
	if string(got) != want {
		t.Errorf("read %q, want %q", got, want)
	}
	if n := cc.writes.Load(); n != 2 {
		t.Errorf("%d writes reached the connection, want 2 (one, then the three queued behind it)", n)
	}
	// A failed write sticks: later writes report it.
	b.Close()
	d.Write([]byte("lost"))
	deadline := time.Now().Add(time.Second)
	for {
		if _, err := d.Write([]byte("x")); err != nil {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("writes keep succeeding after the peer closed")
		}
		time.Sleep(time.Millisecond)
	}
}

func TestDriverConnReportsReadTimeout(t *testing.T) {
	a, b := net.Pipe()
	defer b.Close()
	var timedOut atomic.Bool
	d := newDriverConn(a, time.Second, func() { timedOut.Store(true) })
	defer d.Close()
	d.SetReadDeadline(time.Now().Add(10 * time.Millisecond))
	if _, err := d.Read(make([]byte, 4)); err == nil {
		t.Fatal("read did not time out")
	}
	if !timedOut.Load() {
		t.Error("timeout not reported")
	}
	// Buffered reads still deliver the bytes.
	d.SetReadDeadline(time.Time{})
	go b.Write([]byte("hello"))
	buf := make([]byte, 5)
	if _, err := io.ReadFull(d, buf); err != nil || string(buf) != "hello" {
		t.Errorf("read %q, %v", buf, err)
	}
}
