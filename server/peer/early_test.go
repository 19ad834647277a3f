package peer

import (
	"context"
	"log/slog"
	"runtime"
	"testing"
	"time"

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

	// What the leader does next is the fsync, which keeps the P: with one
	// P, a writer that took its queue has run, up to its write(2).
	if c.pending() {
		t.Fatalf("packets still queued for the connection's writer when the fsync would start")
	}
	expectPackets(t, follower, zab.TypeProposal, zab.TypeCommit)
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
	expectPackets(t, leader, zab.TypeAck)
}

// quorumPair returns a quorum connection to peer sid over loopback TCP,
// and the peer's end of it, both closed when t ends.
func quorumPair(t *testing.T, sid int64) (*qconn, *transport.QuorumConn) {
	t.Helper()
	ln, err := transport.ListenQuorum("127.0.0.1:0", slog.New(slog.DiscardHandler))
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
	other, err := ln.Accept(ctx)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { other.Close() })
	c := newQconn(qc, sid)
	t.Cleanup(c.close)
	return c, other
}

// expectPackets reads packets of the given types, in order, from c (the
// writer did write what it took), within a generous bound.
func expectPackets(t *testing.T, c *transport.QuorumConn, types ...int32) {
	t.Helper()
	c.SetReadDeadline(time.Now().Add(10 * time.Second))
	for _, want := range types {
		p, err := c.Recv()
		if err != nil {
			t.Fatalf("reading the packet of type %d: %v", want, err)
		}
		if p.Type != want {
			t.Fatalf("packet of type %d, want %d", p.Type, want)
		}
	}
}
