package peer

import (
	"context"
	"net"
	"runtime"
	"syscall"
	"testing"
	"time"
	"unsafe"

	"github.com/zkbench/zkbench/server/proto"
	"github.com/zkbench/zkbench/server/transport"
	"github.com/zkbench/zkbench/server/zab"
)

// TestBroadcastEarlyReachesTheSocketBeforeFsync: the proposals a leader
// sends before its own fsync are on the wire when the fsync starts, even
// with one P (each Go server of a 3-server ensemble on a 2-core machine runs
// with GOMAXPROCS=1). A blocking fdatasync keeps its P until the runtime's
// monitor takes it away, so writers that have not run by then send only
// after it, and the followers' fsyncs follow the leader's instead of
// overlapping it.
func TestBroadcastEarlyReachesTheSocketBeforeFsync(t *testing.T) {
	defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(1))
	c, follower := quorumPair(t, 2)
	rs := &reignState{role: zab.Leader, conns: map[int64]*qconn{2: c}}
	msgs := []zab.Message{
		{From: 1, To: 2, Packet: proto.QuorumPacket{Type: zab.TypeProposal, Zxid: 1, Data: make([]byte, 1024)}},
		{From: 1, To: 2, Packet: proto.QuorumPacket{Type: zab.TypeCommit, Zxid: 0}},
	}
	p := &Peer{}
	p.broadcastEarly(rs, msgs)
	p.yieldToWriters(rs)

	// What the leader does next is the fsync, which keeps the P: look
	// without yielding it (no scheduler call, no netpoller).
	if c.pending() {
		t.Fatalf("packets still queued for the connection's writer when the fsync would start")
	}
	if n := peekNoYield(t, follower, 2*time.Millisecond); n <= 0 {
		t.Fatal("nothing on the follower's socket when the leader's fsync would start: the proposals would go out after it")
	}
}

// TestAcksReachTheSocketBeforeTheNextFsync: a learner that handles two
// Readies in a row (proposals arrived while it synced the first batch)
// sends the first batch's ACKs before it starts the second batch's fsync,
// not after it.
func TestAcksReachTheSocketBeforeTheNextFsync(t *testing.T) {
	defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(1))
	c, leader := quorumPair(t, 1)
	rs := &reignState{role: zab.Follower, leader: 1, toLead: c}
	p := &Peer{}
	// The first Ready's ACK, routed after its fsync.
	p.route(rs, &zab.Message{From: 2, To: 1, Packet: proto.QuorumPacket{Type: zab.TypeAck, Zxid: 1}})
	// The second Ready's fsync comes next.
	p.yieldToWriters(rs)
	if c.pending() {
		t.Fatalf("the ACK still queued for the connection's writer when the next fsync would start")
	}
	if n := peekNoYield(t, leader, 2*time.Millisecond); n <= 0 {
		t.Fatal("nothing on the leader's socket when the next fsync would start: the ACK would wait for it")
	}
}

// quorumPair returns a quorum connection to peer sid over loopback TCP,
// and the peer's end of it, both closed when t ends.
func quorumPair(t *testing.T, sid int64) (*qconn, net.Conn) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	qc, err := transport.DialQuorum(ctx, ln.Addr().String(), 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	other, err := ln.Accept()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { other.Close() })
	c := newQconn(qc, sid)
	t.Cleanup(c.close)
	return c, other
}

// peekNoYield reports how many bytes wait in c's receive buffer, looking
// for up to d without ever handing this goroutine's P to another
// goroutine (raw syscalls, never long enough for an async preemption).
func peekNoYield(t *testing.T, c net.Conn, d time.Duration) int {
	t.Helper()
	rc, err := c.(*net.TCPConn).SyscallConn()
	if err != nil {
		t.Fatal(err)
	}
	var fd uintptr
	if err := rc.Control(func(f uintptr) { fd = f }); err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, 64)
	for start := time.Now(); ; {
		n, _, errno := syscall.RawSyscall6(syscall.SYS_RECVFROM, fd, uintptr(unsafe.Pointer(&buf[0])), uintptr(len(buf)),
			syscall.MSG_PEEK|syscall.MSG_DONTWAIT, 0, 0)
		if errno == 0 && int(n) > 0 {
			return int(n)
		}
		if time.Since(start) > d {
			return 0
		}
	}
}
