package serve

import (
	"context"
	"net"
	"os"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/zkbench/zkbench/server/proto"
)

// exhaustedListener fails its first fails Accepts as a process out of
// file descriptors does (EMFILE, then ENFILE, then ECONNABORTED), then
// accepts for real.
type exhaustedListener struct {
	net.Listener
	fails atomic.Int32
}

func (l *exhaustedListener) Accept() (net.Conn, error) {
	if n := l.fails.Add(-1); n >= 0 {
		errno := []syscall.Errno{syscall.EMFILE, syscall.ENFILE, syscall.ECONNABORTED}[n%3]
		return nil, &net.OpError{Op: "accept", Net: "tcp", Addr: l.Addr(), Err: os.NewSyscallError("accept4", errno)}
	}
	return l.Listener.Accept()
}

// Transient accept errors (out of descriptors, an aborted connection) are
// retried: Serve keeps running and serves the next client.
func TestServeRetriesTransientAcceptErrors(t *testing.T) {
	inner, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	l := &exhaustedListener{Listener: inner}
	l.fails.Store(7)
	s := New(Options{Backend: newFake()})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- s.Serve(ctx, l) }()
	defer func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Serve after cancel: %v", err)
		}
	}()
	c := dial(t, inner.Addr().String())
	c.send(1, proto.OpExists, &proto.ExistsRequest{Path: "/"})
	if h, _ := c.reply(); h.Xid != 1 || h.Err != proto.ErrOK {
		t.Fatalf("exists after accept errors: %+v", h)
	}
	select {
	case err := <-done:
		t.Fatalf("Serve returned: %v", err)
	case <-time.After(10 * time.Millisecond):
	}
	if n := l.fails.Load(); n >= 0 {
		t.Fatalf("%d injected accept errors were never seen", n+1)
	}
}
