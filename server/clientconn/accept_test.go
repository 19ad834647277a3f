package clientconn

import (
	"context"
	"testing"
	"time"

	"github.com/zkbench/zkbench/internal/netutil/netutiltest"
	"github.com/zkbench/zkbench/server/proto"
)

// Transient accept errors (out of descriptors, an aborted connection) are
// retried: Serve keeps running and serves the next client.
func TestServeRetriesTransientAcceptErrors(t *testing.T) {
	l := netutiltest.NewFailingListener(t, 7)
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
	c := dial(t, l.Addr().String())
	c.send(1, proto.OpExists, &proto.ExistsRequest{Path: "/"})
	if h, _ := c.reply(); h.Xid != 1 || h.Err != proto.ErrOK {
		t.Fatalf("exists after accept errors: %+v", h)
	}
	select {
	case err := <-done:
		t.Fatalf("Serve returned: %v", err)
	case <-time.After(10 * time.Millisecond):
	}
	if n := l.Unseen(); n > 0 {
		t.Fatalf("%d injected accept errors were never seen", n)
	}
}
