// Package netutiltest has test doubles for the network helpers: a
// listener that fails the way a process out of file descriptors does.
package netutiltest

import (
	"net"
	"os"
	"sync/atomic"
	"syscall"
	"testing"
	"time"
)

// FailingListener fails its first Accepts as accept4 does for a process or
// system out of descriptors or for an aborted connection — EMFILE, ENFILE,
// ECONNABORTED in turn — then accepts for real.
type FailingListener struct {
	*net.TCPListener
	fails atomic.Int32
}

// NewFailingListener listens on a loopback port and fails the first fails
// Accepts. The listener is closed in t.Cleanup.
func NewFailingListener(t testing.TB, fails int32) *FailingListener {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	l := &FailingListener{TCPListener: ln.(*net.TCPListener)}
	l.fails.Store(fails)
	t.Cleanup(func() { ln.Close() })
	return l
}

var acceptErrnos = []syscall.Errno{syscall.EMFILE, syscall.ENFILE, syscall.ECONNABORTED}

// Accept fails while injected failures remain, then accepts.
func (l *FailingListener) Accept() (net.Conn, error) {
	if n := l.fails.Add(-1); n >= 0 {
		errno := acceptErrnos[int(n)%len(acceptErrnos)]
		return nil, &net.OpError{Op: "accept", Net: "tcp", Addr: l.Addr(), Err: os.NewSyscallError("accept4", errno)}
	}
	return l.TCPListener.Accept()
}

// Unseen reports how many injected failures no Accept has returned yet.
func (l *FailingListener) Unseen() int { return int(max(l.fails.Load(), 0)) }

// SetDeadline is the TCP listener's, so that accept loops that wake
// Accept with a deadline work through the double.
func (l *FailingListener) SetDeadline(t time.Time) error { return l.TCPListener.SetDeadline(t) }

// Fail makes the next n Accepts fail (in place of what remained).
func (l *FailingListener) Fail(n int32) { l.fails.Store(n) }
