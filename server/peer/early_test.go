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
	follower, err := ln.Accept()
	if err != nil {
		t.Fatal(err)
	}
	defer follower.Close()
	c := newQconn(qc, 2)
	defer c.close()
	rs := &reignState{role: zab.Leader, conns: map[int64]*qconn{2: c}}
	msgs := []zab.Message{
		{From: 1, To: 2, Packet: proto.QuorumPacket{Type: zab.TypeProposal, Zxid: 1, Data: make([]byte, 1024)}},
		{From: 1, To: 2, Packet: proto.QuorumPacket{Type: zab.TypeCommit, Zxid: 0}},
	}
	(&Peer{}).broadcastEarly(rs, msgs)

	// What the leader does next is the fsync, which keeps the P: look
	// without yielding it (no scheduler call, no netpoller).
	if c.pending() {
		t.Fatalf("packets still queued for the connection's writer when the fsync would start")
	}
	if n := peekNoYield(t, follower, 2*time.Millisecond); n <= 0 {
		t.Fatal("nothing on the follower's socket when the leader's fsync would start: the proposals would go out after it")
	}
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
