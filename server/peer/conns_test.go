package peer

import (
	"context"
	"net"
	"testing"
	"time"

	"github.com/zkbench/zkbench/server/proto"
	"github.com/zkbench/zkbench/server/transport"
	"github.com/zkbench/zkbench/server/zab"
)

// stalledConn returns a qconn to a peer that accepts the connection and
// never reads from it, as a frozen (SIGSTOPped) follower does.
func stalledConn(t *testing.T) *qconn {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	qc, err := transport.DialQuorum(ctx, ln.Addr().String(), 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	stalled, err := ln.Accept()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { stalled.Close() })
	c := newQconn(qc, 2)
	t.Cleanup(c.close)
	return c
}

// A follower frozen for a few seconds under load misses a burst of small
// packets (each write is a PROPOSAL and a COMMIT): far more packets than
// a count bound of 64Ki would allow, though little memory. Its connection
// must survive, as upstream's learner queue does until syncLimit: closing
// it forces a resync that fails every request its clients have in flight.
func TestStalledPeerKeepsItsConnectionWithinTheByteBudget(t *testing.T) {
	c := stalledConn(t)
	for i := range 200_000 {
		if !c.send(&proto.QuorumPacket{Type: zab.TypeCommit, Zxid: int64(i)}) {
			t.Fatalf("connection closed after %d commits (%d bytes queued)", i, c.queuedBytes())
		}
	}
}

// The queue to a stalled peer is bounded in bytes: past the budget the
// connection closes and sends fail.
func TestStalledPeerOverTheByteBudgetIsDropped(t *testing.T) {
	c := stalledConn(t)
	c.maxQueued = 1 << 20
	data := make([]byte, 1024)
	sent := 0
	for range 4096 {
		if !c.send(&proto.QuorumPacket{Type: zab.TypeProposal, Data: data}) {
			break
		}
		sent++
	}
	if sent == 4096 {
		t.Fatalf("4 MiB queued to a stalled peer with a 1 MiB budget; the connection is still open")
	}
	select {
	case <-c.done:
	default:
		t.Fatal("the connection over budget was not closed")
	}
}
