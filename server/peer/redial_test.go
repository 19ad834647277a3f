package peer

import (
	"context"
	"encoding/binary"
	"log/slog"
	"net"
	"testing"
	"time"

	"github.com/zkbench/zkbench/server/config"
	"github.com/zkbench/zkbench/server/proto"
	"github.com/zkbench/zkbench/server/quorum"
	"github.com/zkbench/zkbench/server/transport"
	"github.com/zkbench/zkbench/server/zab"
)

// fakeLeader listens on a quorum port and hands over every connection it
// accepts, for the test to speak for the leader or close it.
func fakeLeader(t *testing.T) (addr *net.TCPAddr, conns <-chan *transport.QuorumConn) {
	t.Helper()
	ln, err := transport.ListenQuorum("127.0.0.1:0", slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	ch := make(chan *transport.QuorumConn, 16)
	done := make(chan struct{})
	go func() {
		defer close(done)
		for {
			c, err := ln.Accept(ctx)
			if err != nil {
				return
			}
			t.Cleanup(func() { c.Close() })
			ch <- c
		}
	}()
	t.Cleanup(func() { cancel(); ln.Close(); <-done })
	return ln.Addr().(*net.TCPAddr), ch
}

// learnerReign starts server 2's follower reign of leader 1 at addr as
// reign does: its Zab machine, the connection to the leader and the
// FOLLOWERINFO the machine sends first. tickTime is 100 ms, initLimit 10.
func learnerReign(t *testing.T, addr *net.TCPAddr) (*Peer, *reignState) {
	t.Helper()
	p := &Peer{id: 2, log: slog.New(slog.DiscardHandler), cfg: &config.Config{
		TickTime: 100, InitLimit: 10, SyncLimit: 5,
		Servers: map[int64]quorum.Server{1: {ID: 1, Host: "127.0.0.1", QuorumPort: addr.Port}},
	}}
	z, err := zab.New(zab.Config{ID: 2, Voters: []int64{1, 2, 3}, Leader: 1, Role: zab.Follower,
		InitLimitTicks: 10, SyncLimitTicks: 5, Storage: newTestStorage(t)})
	if err != nil {
		t.Fatal(err)
	}
	rs := &reignState{z: z, role: zab.Follower, leader: 1, in: make(chan inPacket, 16), stop: make(chan struct{}), started: time.Now()}
	t.Cleanup(func() {
		close(rs.stop)
		if rs.toLead != nil {
			rs.toLead.close()
		}
	})
	if err := p.connectLeader(rs); err != nil {
		t.Fatal(err)
	}
	rd := z.Ready()
	for i := range rd.Messages {
		p.route(rs, &rd.Messages[i])
	}
	z.Advance(rd)
	return p, rs
}

// nextEvent hands the reign's next inbound packet (or end of connection)
// to the peer, as the reign loop does.
func nextEvent(t *testing.T, p *Peer, rs *reignState) inPacket {
	t.Helper()
	select {
	case in := <-rs.in:
		p.onPacket(rs, in)
		return in
	case <-time.After(10 * time.Second):
		t.Fatal("nothing from the leader's connection in 10 s")
		return inPacket{}
	}
}

// nextConn is the fake leader's next connection, within a generous bound.
func nextConn(t *testing.T, conns <-chan *transport.QuorumConn) *transport.QuorumConn {
	t.Helper()
	select {
	case c := <-conns:
		return c
	case <-time.After(10 * time.Second):
		t.Fatal("the learner did not connect to the leader again")
		return nil
	}
}

// A learner whose connection to its leader closes before the leader said
// anything redials and sends its FOLLOWERINFO again, instead of going back
// to election: behind a proxy (harness partitions), the connection is
// accepted before the leader listens and closed when the proxy's own dial
// is refused. Upstream's learner retries its connect within initLimit.
func TestLearnerRedialsALeaderThatClosedBeforeSpeaking(t *testing.T) {
	addr, conns := fakeLeader(t)
	p, rs := learnerReign(t, addr)
	nextConn(t, conns).Close()
	if in := nextEvent(t, p, rs); in.err == nil {
		t.Fatalf("got packet %s, want the connection's end", zab.TypeName(in.pkt.Type))
	}
	if st := rs.z.Status(); st.Stopped {
		t.Fatal("the learner gave up its leader (back to election) when the connection closed before the leader spoke")
	}
	expectPackets(t, nextConn(t, conns), zab.TypeFollowerInfo)
}

// The redial is bounded as upstream's connect: at most leaderTries
// connections in all, then the learner elects again.
func TestLearnerRedialIsBounded(t *testing.T) {
	addr, conns := fakeLeader(t)
	p, rs := learnerReign(t, addr)
	n := 0
	for !rs.z.Status().Stopped {
		nextConn(t, conns).Close()
		n++
		if in := nextEvent(t, p, rs); in.err == nil {
			t.Fatalf("got packet %s, want the connection's end", zab.TypeName(in.pkt.Type))
		}
		if n > leaderTries {
			t.Fatalf("%d connections to a leader that closes each at once, want at most %d", n, leaderTries)
		}
	}
	if n != leaderTries {
		t.Fatalf("the learner gave up after %d connections, want %d", n, leaderTries)
	}
}

// Once the leader has spoken, a closed connection ends the reign at once:
// the leader is gone, and the learner must elect again.
func TestLearnerDoesNotRedialALeaderThatSpoke(t *testing.T) {
	addr, conns := fakeLeader(t)
	p, rs := learnerReign(t, addr)
	c := nextConn(t, conns)
	expectPackets(t, c, zab.TypeFollowerInfo)
	if err := c.Send(&proto.QuorumPacket{Type: zab.TypeLeaderInfo, Zxid: zab.Zxid(1, 0),
		Data: binary.BigEndian.AppendUint32(nil, zab.ProtocolVersion)}); err != nil {
		t.Fatal(err)
	}
	if err := c.Flush(); err != nil {
		t.Fatal(err)
	}
	if in := nextEvent(t, p, rs); in.err != nil || in.pkt.Type != zab.TypeLeaderInfo {
		t.Fatalf("got %+v, want LEADERINFO", in)
	}
	c.Close()
	for {
		if in := nextEvent(t, p, rs); in.err != nil {
			break
		}
	}
	if !rs.z.Status().Stopped {
		t.Fatal("the learner kept its reign after the leader that spoke closed the connection")
	}
}
