package noop

import (
	"context"
	"testing"
	"time"

	"github.com/zkbench/zkbench/internal/netutil/netutiltest"
)

// Transient accept errors (out of descriptors, an aborted connection) are
// retried: Serve keeps running and serves the next client.
func TestServeRetriesTransientAcceptErrors(t *testing.T) {
	l := netutiltest.NewFailingListener(t, 7)
	s := &Server{}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- s.Serve(ctx, l) }()
	defer func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Serve after cancel: %v", err)
		}
	}()
	c := connect(t, l.Addr().String())
	if _, _, err := c.Get("/x"); err != nil {
		t.Fatalf("get after accept errors: %v", err)
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
