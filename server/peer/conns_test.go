package peer

import (
	"context"
	"fmt"
	"net"
	"runtime"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/zkbench/zkbench/internal/netutil/netutiltest"
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

// A follower forwards each client's write to the leader as the peer loop
// takes it. With GOMAXPROCS=1, the server's share of a small machine, the
// loop's send hands the P to the connection's writer at once, ahead of the
// client goroutines already runnable: without a yield the writer took the
// queue at one packet and wrote each forward alone (0.93 write(2) per
// operation on a follower, issue 19). The writer lets them run first, so
// the forwards they make go out in one write.
func TestWriterCoalescesPacketsQueuedByGoroutinesAlreadyRunnable(t *testing.T) {
	defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(1))
	inner, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var writes atomic.Int64
	ln := transport.NewQuorumListener(netutiltest.CountingListener{Listener: inner, Writes: &writes}, nil)
	t.Cleanup(func() { ln.Close() })
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	peerSide, err := transport.DialQuorum(ctx, ln.Addr().String(), 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { peerSide.Close() })
	qc, err := ln.Accept(ctx)
	if err != nil {
		t.Fatal(err)
	}
	c := newQconn(qc, 2)
	t.Cleanup(c.close)

	const clients = 40
	received := make(chan error, 1)
	go func() {
		for i := range clients {
			p, err := peerSide.Recv()
			if err == nil && p.Zxid != int64(i) {
				err = fmt.Errorf("packet %d has zxid %d", i, p.Zxid)
			}
			if err != nil {
				received <- err
				return
			}
		}
		received <- nil
	}()
	// The peer loop: one send per request, as it takes them.
	in := make(chan int64)
	go func() {
		for zxid := range in {
			c.send(&proto.QuorumPacket{Type: zab.TypeRequest, Zxid: zxid})
		}
	}()
	// The clients, all runnable at once, each handing the loop a request.
	var wg sync.WaitGroup
	var next sync.Mutex
	zxid := int64(0)
	for range clients {
		wg.Add(1)
		go func() {
			defer wg.Done()
			next.Lock()
			z := zxid
			zxid++
			in <- z
			next.Unlock()
		}()
	}
	wg.Wait()
	close(in)
	select {
	case err := <-received:
		if err != nil {
			t.Fatal(err)
		}
	case <-ctx.Done():
		t.Fatal("the peer did not receive every packet")
	}
	t.Logf("%d packets, %d writes", clients, writes.Load())
	if n := writes.Load(); n > clients/4 {
		t.Fatalf("%d packets queued by %d runnable goroutines took %d writes; want at most %d", clients, clients, n, clients/4)
	}
}
