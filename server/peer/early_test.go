package peer

import (
	"context"
	"errors"
	"log/slog"
	"runtime"
	"testing"
	"time"

	"github.com/zkbench/zkbench/server/proto"
	"github.com/zkbench/zkbench/server/transport"
	"github.com/zkbench/zkbench/server/zab"
)

// TestSyncerLetsWritersGoFirst: the proposals and ACKs the loop routed are
// on the wire when the syncer's fdatasync starts, even with one P (each Go
// server of a 3-server ensemble on a 2-core machine runs with
// GOMAXPROCS=1). A blocking fdatasync keeps its P until the runtime's
// monitor takes it away, so writers that have not run by then would send
// only after it, and the followers' fsyncs would follow the leader's
// instead of overlapping it (decisions #29).
//
// The order is the scheduler's, and the writer's own yield (it waits for
// client connections to add to its batch) lets the syncer win now and
// then: 3-7 rounds in 100 here, which failed stop 28's CI when the test
// had one round. Without the syncer's yield every round loses, so the test
// asks for most rounds, not all.
func TestSyncerLetsWritersGoFirst(t *testing.T) {
	defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(1))
	const rounds = 100
	for _, role := range []zab.Role{zab.Leader, zab.Follower} {
		t.Run(role.String(), func(t *testing.T) {
			c, other := quorumPair(t, 2)
			rs := &reignState{role: role, leader: 2, toLead: c, conns: map[int64]*qconn{2: c}}
			typ := int32(zab.TypeProposal)
			if role != zab.Leader {
				typ = zab.TypeAck
			}
			p := &Peer{}
			s := newLogSyncer()
			defer s.stop()
			late := 0
			for i := range rounds {
				zxid := int64(i + 1)
				p.route(rs, &zab.Message{From: 1, To: 2, Packet: proto.QuorumPacket{Type: typ, Zxid: zxid, Data: make([]byte, 1024)}})
				s.add(func() error {
					if c.pending() {
						late++
					}
					return nil
				}, []zab.Entry{{Zxid: zxid}})
				if _, err := s.synced(<-s.done); err != nil {
					t.Fatal(err)
				}
				expectPackets(t, other, typ)
			}
			if late > rounds/2 {
				t.Fatalf("in %d of %d rounds the packet was still queued for the connection's writer when the fsync started", late, rounds)
			}
			t.Logf("%d of %d rounds late", late, rounds)
		})
	}
}

// TestSyncerGroupsWhatComesDuringAnFsync: appends made while an fsync runs
// do not wait for it, and the next fsync covers all of them at once.
func TestSyncerGroupsWhatComesDuringAnFsync(t *testing.T) {
	s := newLogSyncer()
	defer s.stop()
	entered, release := make(chan struct{}), make(chan struct{})
	var syncs int
	sync := func() error {
		syncs++
		if syncs == 1 {
			close(entered)
			<-release
		}
		return nil
	}
	s.add(sync, []zab.Entry{{Zxid: 1}})
	<-entered
	s.add(sync, []zab.Entry{{Zxid: 2}})
	s.add(sync, []zab.Entry{{Zxid: 3}, {Zxid: 4}})
	close(release)
	got, err := s.synced(<-s.done)
	if err != nil || len(got) != 1 || got[0].Zxid != 1 {
		t.Fatalf("first fsync covered %v, %v; want zxid 1 only", got, err)
	}
	if !s.busy() {
		t.Fatal("entries appended during the fsync are not waiting for the next")
	}
	s.kick(sync)
	got, err = s.synced(<-s.done)
	if err != nil || len(got) != 3 || got[2].Zxid != 4 {
		t.Fatalf("second fsync covered %v, %v; want zxids 2-4", got, err)
	}
	if s.busy() || syncs != 2 {
		t.Fatalf("busy %v after %d fsyncs; want idle after 2", s.busy(), syncs)
	}
	// A failed fsync covers nothing.
	s.add(func() error { return errors.New("EIO") }, []zab.Entry{{Zxid: 5}})
	if got, err := s.synced(<-s.done); err == nil || got != nil {
		t.Fatalf("failed fsync gave %v, %v; want an error and nothing durable", got, err)
	}
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
