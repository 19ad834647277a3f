package standalone

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"sync"
	"testing"
	"time"
)

// failOnceLog makes every txn durable at once except the txn with zxid
// failAt, which fails. It accepts the txns after it, as a log that skipped
// the failed txn would: the node must not rely on the log to refuse them.
type failOnceLog struct {
	failAt int64
	err    error

	mu      sync.Mutex
	durable []int64
}

func (l *failOnceLog) Submit(zxid int64, _ []byte, done func(error)) {
	if zxid == l.failAt {
		done(l.err)
		return
	}
	l.mu.Lock()
	l.durable = append(l.durable, zxid)
	l.mu.Unlock()
	done(nil)
}

func (l *failOnceLog) Close() error { return nil }

// createSession creates a session through the write path and reports
// whether it was created.
func createSession(t *testing.T, n *Node) bool {
	t.Helper()
	res := make(chan error, 1)
	n.CreateSession(30000, false, func(_ int64, _ []byte, err error) { res <- err })
	select {
	case err := <-res:
		return err == nil
	case <-time.After(5 * time.Second):
		t.Fatal("createSession was never answered")
		return false
	}
}

// TestLogFailureStopsNode: once the log fails a txn, the node answers no
// later write with success, applies nothing more, and Run stops by itself
// with an error that says the log failed, so that a standalone server
// exits instead of serving without a log.
func TestLogFailureStopsNode(t *testing.T) {
	boom := errors.New("no space left on device")
	wal := &failOnceLog{failAt: 2, err: boom}
	n := New(Options{Log: wal, TickMs: 100000, Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	ran := make(chan error, 1)
	go func() { ran <- n.Run(ctx) }()

	if !createSession(t, n) {
		t.Fatal("the first session (zxid 1) failed")
	}
	if createSession(t, n) {
		t.Fatal("the session whose txn the log failed was created")
	}
	for i := 0; i < 3; i++ {
		if createSession(t, n) {
			t.Fatalf("a session was created after the log failed (attempt %d)", i+1)
		}
	}
	if got := n.LastZxid(); got != 1 {
		t.Fatalf("last applied zxid %#x after the log failed at 0x2, want 0x1", got)
	}
	select {
	case err := <-ran:
		if !errors.Is(err, boom) {
			t.Fatalf("Run = %v, want the log's failure", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("Run did not stop after the log failed")
	}
}
