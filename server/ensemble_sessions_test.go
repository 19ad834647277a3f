package server_test

import (
	"testing"
	"time"

	"github.com/go-zookeeper/zk"

	"github.com/zkbench/zkbench/internal/zktest"
	"github.com/zkbench/zkbench/server/proto"
)

// Sessions across an ensemble: a client moves to another server with its
// session id and password and keeps its ephemerals; a session whose client
// falls silent is expired by the leader, and its ephemerals vanish from
// every server through a txn.
func TestIntegrationEnsembleSessions(t *testing.T) {
	e := zktest.StartEnsemble(t, 3, "minSessionTimeout=400")
	L := e.Leader(10 * time.Second)
	F := (L + 1) % 3
	other := (L + 2) % 3

	// 1. Move: a client on follower F loses F and continues on another
	// server with the same session.
	c := tightConnect(t, []string{e.Servers[F].Addr, e.Servers[other].Addr})
	if _, err := c.Create("/moving", nil, zk.FlagEphemeral, zk.WorldACL(zk.PermAll)); err != nil {
		t.Fatal(err)
	}
	sid := c.SessionID()
	e.Servers[F].Kill()
	writeUntilOK(t, c, "/moving", []byte("moved"), 20*time.Second)
	if c.SessionID() != sid {
		t.Fatalf("session changed from %#x to %#x when the client moved", sid, c.SessionID())
	}
	if ok, _, err := c.Exists("/moving"); err != nil || !ok {
		t.Fatalf("ephemeral lost when its session moved: %v %v", ok, err)
	}
	e.Servers[F].Start()

	// 2. Expiry: a raw client (no pings) on a follower creates an
	// ephemeral and falls silent; the leader expires the session.
	raw, err := zktest.DialRaw(e.Servers[F].Addr, 400*time.Millisecond)
	if err != nil {
		t.Fatal(err)
	}
	defer raw.Conn().Close()
	h, err := raw.Do(proto.OpCreate, &proto.CreateRequest{Path: "/silent", ACL: proto.OpenACLUnsafe, Flags: proto.ModeEphemeral}, &proto.CreateResponse{})
	if err != nil || h.Err != proto.ErrOK {
		t.Fatalf("create ephemeral through a follower: %v %v", h.Err, err)
	}
	for i := range e.Servers {
		ci := connect(t, e.Servers[i].Addr)
		deadline := time.Now().Add(10 * time.Second)
		for {
			ci.Sync("/silent")
			ok, _, err := ci.Exists("/silent")
			if err == nil && !ok {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("server %d still has the expired session's ephemeral", i+1)
			}
			time.Sleep(50 * time.Millisecond)
		}
		ci.Close()
	}
}
