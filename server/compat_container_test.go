package server_test

import (
	"testing"
	"time"

	"github.com/go-zookeeper/zk"

	"github.com/zkbench/zkbench/internal/zktest"
	"github.com/zkbench/zkbench/server/proto"
)

// The cross-check of container nodes, deleteContainer and ACL-filtered
// watch events (issue 16, items 1, 6 and 11): one script run against
// upstream Java ZooKeeper 3.8 and against the Go server, whose transcripts
// must be identical.

func TestIntegrationCrossCheckContainers(t *testing.T) {
	crossCheck(t, runContainerScript)
}

// The same on 3-server ensembles, the clients on a follower: their writes
// (and a client's deleteContainer) are forwarded to the leader's prep, and
// the events come from the follower's tree.
func TestIntegrationCrossCheckContainersEnsemble(t *testing.T) {
	crossCheckOnFollower(t, runContainerScript)
}

func runContainerScript(t *testing.T, addr string) []string {
	s := &script{t: t, sessions: map[int64]string{}}
	owner := connect(t, addr)
	s.sessions[owner.SessionID()] = "S1"
	if err := owner.AddAuth("digest", []byte("admin:secret")); err != nil {
		t.Fatalf("addauth: %v", err)
	}
	raw, err := zktest.DialRaw(addr, 10*time.Second)
	if err != nil {
		t.Fatalf("raw client: %v", err)
	}
	defer raw.Close()
	s.sessions[raw.Session] = "R"
	open := zk.WorldACL(zk.PermAll)
	adminOnly := zk.DigestACL(zk.PermAll, "admin", "secret")

	// Item 11: go-zookeeper's Create with FlagContainer sends create (1)
	// with flags 4.
	p, err := owner.Create("/c11", []byte("x"), zk.FlagContainer, open)
	s.log("create(flags=container) /c11 -> %q %s", p, errName(err))
	_, st, err := owner.Get("/c11")
	s.log("get /c11 -> %s %s", s.stat(st), errName(err))
	p, err = owner.CreateContainer("/c19", nil, zk.FlagContainer, open)
	s.log("createContainer /c19 -> %q %s", p, errName(err))
	_, st, err = owner.Get("/c19")
	s.log("get /c19 -> %s %s", s.stat(st), errName(err))
	p, err = owner.Create("/c11/kid", nil, zk.FlagEphemeral, open)
	s.log("create /c11/kid -> %q %s", p, errName(err))
	err = owner.Delete("/c11/kid", -1)
	s.log("delete /c11/kid -> %s", errName(err))

	// Item 1: deleteContainer (20) from a client, on nodes whose ACL
	// refuses the client a delete.
	p, err = owner.Create("/locked", nil, 0, append(zk.WorldACL(zk.PermRead), adminOnly...))
	s.log("create /locked -> %q %s", p, errName(err))
	for _, name := range []string{"/locked/empty", "/locked/cont"} {
		flags := int32(0)
		if name == "/locked/cont" {
			flags = zk.FlagContainer
		}
		p, err = owner.Create(name, nil, flags, adminOnly)
		s.log("create %s -> %q %s", name, p, errName(err))
	}
	for _, path := range []string{"/locked/empty", "/locked/cont", "/c11", "/c19", "/nothere"} {
		h, err := raw.Do(proto.OpDelete, &proto.DeleteRequest{Path: path, Version: -1}, nil)
		s.log("raw delete %s -> zxid=%#x err=%v %v", path, h.Zxid, h.Err, err)
		h, err = raw.Do(proto.OpDeleteContainer, &proto.DeleteRequest{Path: path, Version: -1}, nil)
		s.log("raw deleteContainer %s -> zxid=%#x err=%v %v", path, h.Zxid, h.Err, err)
		var ex proto.ExistsResponse
		h, err = raw.Do(proto.OpExists, &proto.ExistsRequest{Path: path}, &ex)
		s.log("raw exists %s -> err=%v %v", path, h.Err, err)
	}
	watchesFilteredByACL(s, owner, raw)
	return s.lines
}

// watchesFilteredByACL is item 6: a client holding a recursive watch over a
// subtree, or a persistent one on a node, gets no event about a znode it may
// not read. (One watcher, one mode per path: 3.8.0 lets a second addWatch on
// a path replace the first.)
func watchesFilteredByACL(s *script, owner *zk.Conn, raw *zktest.RawClient) {
	open := zk.WorldACL(zk.PermAll)
	adminOnly := zk.DigestACL(zk.PermAll, "admin", "secret")
	p, err := owner.Create("/w6", nil, 0, open)
	s.log("create /w6 -> %q %s", p, errName(err))
	for _, w := range []struct {
		path string
		mode proto.AddWatchMode
	}{{"/w6", proto.AddWatchPersistentRecursive}, {"/locked/empty", proto.AddWatchPersistent}} {
		h, err := raw.Do(proto.OpAddWatch, &proto.AddWatchRequest{Path: w.path, Mode: w.mode}, nil)
		s.log("raw addWatch %s mode=%d -> err=%v %v", w.path, w.mode, h.Err, err)
	}
	p, err = owner.Create("/w6/secret", []byte("s"), 0, adminOnly)
	s.log("create /w6/secret -> %q %s", p, errName(err))
	_, err = owner.Set("/w6/secret", []byte("t"), -1)
	s.log("set /w6/secret -> %s", errName(err))
	_, err = owner.Set("/locked/empty", []byte("t"), -1)
	s.log("set /locked/empty -> %s", errName(err))
	err = owner.Delete("/w6/secret", -1)
	s.log("delete /w6/secret -> %s", errName(err))
	p, err = owner.Create("/w6/public", nil, 0, open)
	s.log("create /w6/public -> %q %s", p, errName(err))
	// A read that sees the last change comes after every event the
	// changes fired for this session, so Do has collected them all.
	h, err := raw.Do(proto.OpExists, &proto.ExistsRequest{Path: "/w6/public"}, &proto.ExistsResponse{})
	s.log("raw exists /w6/public -> err=%v %v", h.Err, err)
	for _, ev := range raw.Events {
		s.log("raw event type=%d path=%s", ev.Type, ev.Path)
	}
}
