package server_test

import (
	"fmt"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/go-zookeeper/zk"

	"github.com/zkbench/zkbench/internal/zktest"
	"github.com/zkbench/zkbench/server/proto"
)

// The cross-check: one script of operations, run through go-zookeeper/zk
// and a raw protocol client against upstream Java ZooKeeper and against the
// Go server, comparing every reply, stat and watch event. Times are left
// out; session ids are replaced by the session's name; zxids must match
// exactly, which also checks that both servers spend zxids the same way
// (session creation, failed writes).

// extraConfig is what both servers run with.
var extraConfig = []string{"extendedTypesEnabled=true"}

func TestIntegrationCrossCheckStandalone(t *testing.T) {
	crossCheck(t, runScript)
}

// crossCheck runs script against a standalone Java ZooKeeper and a
// standalone Go server, both with extraConfig, and requires identical
// transcripts.
func crossCheck(t *testing.T, script func(*testing.T, string) []string) {
	t.Helper()
	java := zktest.StartJava(t, extraConfig...)
	gosrv := zktest.StartGo(t, extraConfig...)
	want := script(t, java.Addr)
	got := script(t, gosrv.Addr)
	compareTranscripts(t, want, got)
}

// crossCheckOnFollower is crossCheck on 3-server ensembles, the script's
// clients on a follower, so that every write is forwarded to the leader
// and committed by a quorum.
func crossCheckOnFollower(t *testing.T, script func(*testing.T, string) []string) {
	t.Helper()
	java := zktest.StartJavaEnsemble(t, 3, extraConfig...)
	gosrv := zktest.StartEnsemble(t, 3, extraConfig...)
	jf := (java.Leader(20*time.Second) + 1) % 3
	gf := (gosrv.Leader(20*time.Second) + 1) % 3
	want := script(t, java.Servers[jf].Addr)
	got := script(t, gosrv.Servers[gf].Addr)
	compareTranscripts(t, want, got)
}

func compareTranscripts(t *testing.T, java, gosrv []string) {
	t.Helper()
	n := max(len(java), len(gosrv))
	bad := 0
	for i := 0; i < n; i++ {
		var j, g string
		if i < len(java) {
			j = java[i]
		}
		if i < len(gosrv) {
			g = gosrv[i]
		}
		if j != g {
			bad++
			t.Errorf("step %d differs:\n  java: %s\n  go:   %s", i, j, g)
		}
	}
	if bad == 0 {
		t.Logf("%d steps identical", n)
	}
	if testing.Verbose() {
		for i, line := range gosrv {
			t.Logf("%3d %s", i, line)
		}
	}
}

// script records a transcript of normalized outcomes.
type script struct {
	t        *testing.T
	lines    []string
	sessions map[int64]string
}

func (s *script) log(format string, args ...any) {
	s.lines = append(s.lines, fmt.Sprintf(format, args...))
}

func (s *script) stat(st *zk.Stat) string {
	if st == nil {
		return "stat=nil"
	}
	return fmt.Sprintf("czxid=%#x mzxid=%#x pzxid=%#x ver=%d cver=%d aver=%d owner=%s len=%d kids=%d",
		st.Czxid, st.Mzxid, st.Pzxid, st.Version, st.Cversion, st.Aversion, s.owner(st.EphemeralOwner), st.DataLength, st.NumChildren)
}

func (s *script) pstat(st proto.Stat) string {
	return s.stat(&zk.Stat{Czxid: st.Czxid, Mzxid: st.Mzxid, Pzxid: st.Pzxid, Version: st.Version,
		Cversion: st.Cversion, Aversion: st.Aversion, EphemeralOwner: st.EphemeralOwner,
		DataLength: st.DataLength, NumChildren: st.NumChildren})
}

func (s *script) owner(o int64) string {
	if name, ok := s.sessions[o]; ok {
		return name
	}
	return fmt.Sprintf("%#x", uint64(o))
}

func errName(err error) string {
	if err == nil {
		return "ok"
	}
	return err.Error()
}

func connect(t *testing.T, addr string) *zk.Conn {
	t.Helper()
	c, _, err := zk.Connect([]string{addr}, 10*time.Second, zk.WithLogInfo(false), zk.WithLogger(quietLogger{}))
	if err != nil {
		t.Fatalf("connect %s: %v", addr, err)
	}
	deadline := time.Now().Add(10 * time.Second)
	for c.State() != zk.StateHasSession {
		if time.Now().After(deadline) {
			t.Fatalf("no session with %s", addr)
		}
		time.Sleep(5 * time.Millisecond)
	}
	t.Cleanup(c.Close)
	return c
}

type quietLogger struct{}

func (quietLogger) Printf(string, ...any) {}

func waitEvent(ch <-chan zk.Event) string {
	select {
	case ev := <-ch:
		return fmt.Sprintf("event type=%v path=%s", ev.Type, ev.Path)
	case <-time.After(5 * time.Second):
		return "event timeout"
	}
}

func runScript(t *testing.T, addr string) []string {
	s := &script{t: t, sessions: map[int64]string{}}
	c1 := connect(t, addr)
	s.sessions[c1.SessionID()] = "S1"
	c2 := connect(t, addr)
	s.sessions[c2.SessionID()] = "S2"
	raw, err := zktest.DialRaw(addr, 10*time.Second)
	if err != nil {
		t.Fatalf("raw client: %v", err)
	}
	defer raw.Close()
	s.sessions[raw.Session] = "S3"
	open := zk.WorldACL(zk.PermAll)

	// The system nodes.
	for _, p := range []string{"/zookeeper", "/zookeeper/quota", "/zookeeper/config"} {
		ok, st, err := c1.Exists(p)
		s.log("exists %s -> %v %s %s", p, ok, s.stat(st), errName(err))
	}
	kids, _, err := c1.Children("/zookeeper")
	sort.Strings(kids)
	s.log("children /zookeeper -> %v %s", kids, errName(err))
	acl, st, err := c1.GetACL("/zookeeper/config")
	s.log("getACL /zookeeper/config -> %v %s %s", acl, s.stat(st), errName(err))

	// Creates of every kind, and their errors.
	p, err := c1.Create("/a", []byte("x"), 0, open)
	s.log("create /a -> %s %s", p, errName(err))
	_, err = c1.Create("/a", []byte("x"), 0, open)
	s.log("create /a again -> %s", errName(err))
	_, err = c1.Create("/missing/child", nil, 0, open)
	s.log("create under missing parent -> %s", errName(err))
	p, err = c2.Create("/a/eph", []byte("e"), zk.FlagEphemeral, open)
	s.log("create ephemeral -> %s %s", p, errName(err))
	_, err = c1.Create("/a/eph/child", nil, 0, open)
	s.log("create under ephemeral -> %s", errName(err))
	for i := 0; i < 3; i++ {
		p, err = c1.Create("/a/seq-", []byte{byte(i)}, zk.FlagSequence, open)
		s.log("create sequential -> %s %s", p, errName(err))
	}
	p, err = c2.Create("/a/eseq-", nil, zk.FlagEphemeral|zk.FlagSequence, open)
	s.log("create ephemeral sequential -> %s %s", p, errName(err))
	p, err = c1.CreateContainer("/ctr", nil, zk.FlagContainer, open)
	s.log("create container -> %s %s", p, errName(err))
	p, err = c1.CreateTTL("/ttl", nil, zk.FlagTTL, open, time.Hour)
	s.log("create ttl -> %s %s", p, errName(err))
	_, st, err = c1.Exists("/ttl")
	s.log("exists ttl -> %s %s", s.stat(st), errName(err))
	_, st, err = c1.Exists("/ctr")
	s.log("exists container -> %s %s", s.stat(st), errName(err))
	_, err = c1.Create("/bad-acl", nil, 0, []zk.ACL{{Perms: zk.PermAll, Scheme: "world", ID: "nobody"}})
	s.log("create with invalid acl -> %s", errName(err))
	_, err = c1.Create("/auth-acl", nil, 0, []zk.ACL{{Perms: zk.PermAll, Scheme: "auth", ID: ""}})
	s.log("create with auth acl and no auth -> %s", errName(err))
	_, err = c1.Create("/empty-acl", nil, 0, []zk.ACL{})
	s.log("create with empty acl -> %s", errName(err))

	// Invalid paths go through the raw client: go-zookeeper checks them itself.
	for _, bad := range []string{"a", "/a/", "/a//b", "/a/.", "/a/..", "/a\x01"} {
		h, err := raw.Do(proto.OpCreate, &proto.CreateRequest{Path: bad, ACL: proto.OpenACLUnsafe}, &proto.CreateResponse{})
		s.log("raw create %q -> err=%v zxid=%#x %v", bad, h.Err, h.Zxid, err)
	}
	h, err := raw.Do(proto.OpCreate, &proto.CreateRequest{Path: "/badflags", ACL: proto.OpenACLUnsafe, Flags: 42}, &proto.CreateResponse{})
	s.log("raw create bad flags -> err=%v zxid=%#x %v", h.Err, h.Zxid, err)

	// Reads and data changes.
	data, st, err := c1.Get("/a")
	s.log("get /a -> %q %s %s", data, s.stat(st), errName(err))
	st, err = c1.Set("/a", []byte("y"), 0)
	s.log("set /a v0 -> %s %s", s.stat(st), errName(err))
	_, err = c1.Set("/a", []byte("z"), 0)
	s.log("set /a stale version -> %s", errName(err))
	_, err = c1.Set("/nope", nil, -1)
	s.log("set missing -> %s", errName(err))
	st, err = c1.Set("/a", make([]byte, 1024), -1)
	s.log("set /a 1KiB any version -> %s %s", s.stat(st), errName(err))
	kids, st, err = c1.Children("/a")
	sort.Strings(kids)
	s.log("children /a -> %v %s %s", kids, s.stat(st), errName(err))
	ok, st, err := c1.Exists("/nope")
	s.log("exists missing -> %v %s %s", ok, s.stat(st), errName(err))
	_, _, err = c1.Get("/nope")
	s.log("get missing -> %s", errName(err))
	_, _, err = c1.Children("/nope")
	s.log("children missing -> %s", errName(err))

	// Deletes.
	err = c1.Delete("/a", -1)
	s.log("delete non-empty -> %s", errName(err))
	err = c1.Delete("/a/seq-0000000002", 7)
	s.log("delete bad version -> %s", errName(err))
	err = c1.Delete("/a/seq-0000000002", 0)
	s.log("delete -> %s", errName(err))
	err = c1.Delete("/a/seq-0000000002", -1)
	s.log("delete again -> %s", errName(err))
	err = c1.Delete("/zookeeper", -1)
	s.log("delete /zookeeper -> %s", errName(err))
	_, st, err = c1.Exists("/a")
	s.log("exists /a after child delete -> %s %s", s.stat(st), errName(err))

	// ACLs and auth.
	digest := zk.DigestACL(zk.PermAll, "alice", "secret")
	_, err = c1.Create("/secure", []byte("s"), 0, digest)
	s.log("create digest-protected -> %s", errName(err))
	_, _, err = c2.Get("/secure")
	s.log("get without auth -> %s", errName(err))
	acl, st, err = c2.GetACL("/secure")
	s.log("getACL without auth -> %v %s %s", acl, s.stat(st), errName(err))
	err = c2.AddAuth("digest", []byte("alice:secret"))
	s.log("addAuth -> %s", errName(err))
	data, _, err = c2.Get("/secure")
	s.log("get with auth -> %q %s", data, errName(err))
	acl, st, err = c2.GetACL("/secure")
	s.log("getACL with auth -> %v %s %s", acl, s.stat(st), errName(err))
	st, err = c2.SetACL("/secure", open, 5)
	s.log("setACL bad version -> %s %s", s.stat(st), errName(err))
	st, err = c2.SetACL("/secure", zk.WorldACL(zk.PermRead), 0)
	s.log("setACL -> %s %s", s.stat(st), errName(err))
	_, err = c1.Set("/secure", nil, -1)
	s.log("set read-only node -> %s", errName(err))
	_, err = c1.Create("/secure/kid", nil, 0, open)
	s.log("create under read-only node -> %s", errName(err))
	_, err = c2.Create("/mine", nil, 0, []zk.ACL{{Perms: zk.PermAll, Scheme: "auth"}})
	s.log("create with auth acl -> %s", errName(err))
	acl, _, err = c2.GetACL("/mine")
	s.log("getACL auth-expanded -> %v %s", acl, errName(err))
	_, err = c1.Create("/ipacl", nil, 0, []zk.ACL{{Perms: zk.PermRead, Scheme: "ip", ID: "127.0.0.1"}})
	s.log("create ip acl -> %s", errName(err))
	data, _, err = c1.Get("/ipacl")
	s.log("get ip-acl node from loopback -> %q %s", data, errName(err))

	// Multi: a success and a failure in the middle.
	res, err := c1.Multi(
		&zk.CreateRequest{Path: "/m", Data: []byte("1"), Acl: open},
		&zk.SetDataRequest{Path: "/m", Data: []byte("2"), Version: 0},
		&zk.CheckVersionRequest{Path: "/m", Version: 1},
		&zk.CreateRequest{Path: "/m/k", Acl: open},
		&zk.DeleteRequest{Path: "/m/k", Version: 0},
	)
	s.log("multi ok -> %s %s", s.multi(res), errName(err))
	res, err = c1.Multi(
		&zk.CreateRequest{Path: "/m2", Acl: open},
		&zk.CheckVersionRequest{Path: "/m", Version: 99},
		&zk.SetDataRequest{Path: "/m", Data: []byte("3"), Version: -1},
	)
	s.log("multi failing -> %s %s", s.multi(res), errName(err))
	ok, _, err = c1.Exists("/m2")
	s.log("exists /m2 after failed multi -> %v %s", ok, errName(err))
	data, st, err = c1.Get("/m")
	s.log("get /m -> %q %s %s", data, s.stat(st), errName(err))

	// Sync.
	p, err = c1.Sync("/a")
	s.log("sync -> %s %s", p, errName(err))

	// One-shot watches, triggered by another session.
	_, err = c1.Create("/w", nil, 0, open)
	s.log("create /w -> %s", errName(err))
	_, _, dataW, err := c1.GetW("/w")
	s.log("getW /w -> %s", errName(err))
	_, _, childW, err := c1.ChildrenW("/w")
	s.log("childrenW /w -> %s", errName(err))
	_, _, existW, err := c1.ExistsW("/w/new")
	s.log("existsW /w/new -> %s", errName(err))
	_, err = c2.Set("/w", []byte("changed"), -1)
	s.log("c2 set /w -> %s", errName(err))
	s.log("c1 %s", waitEvent(dataW))
	_, err = c2.Create("/w/new", nil, 0, open)
	s.log("c2 create /w/new -> %s", errName(err))
	s.log("c1 %s", waitEvent(existW))
	s.log("c1 %s", waitEvent(childW))
	_, _, dataW, err = c1.GetW("/w/new")
	s.log("getW /w/new -> %s", errName(err))
	_, _, childW, err = c1.ChildrenW("/w")
	s.log("childrenW /w -> %s", errName(err))
	err = c2.Delete("/w/new", -1)
	s.log("c2 delete /w/new -> %s", errName(err))
	s.log("c1 %s", waitEvent(dataW))
	s.log("c1 %s", waitEvent(childW))

	// The operations go-zookeeper lacks, through the raw client.
	var c2r proto.Create2Response
	h, err = raw.Do(proto.OpCreate2, &proto.CreateRequest{Path: "/r", Data: []byte("raw"), ACL: proto.OpenACLUnsafe, Flags: proto.ModeEphemeral}, &c2r)
	s.log("raw create2 -> err=%v %s %s %v", h.Err, c2r.Path, s.pstat(c2r.Stat), err)
	var eph proto.GetEphemeralsResponse
	h, err = raw.Do(proto.OpGetEphemerals, &proto.GetEphemeralsRequest{PrefixPath: "/"}, &eph)
	s.log("raw getEphemerals -> err=%v %v %v", h.Err, eph.Ephemerals, err)
	var cnt proto.GetAllChildrenNumberResponse
	h, err = raw.Do(proto.OpGetAllChildrenNumber, &proto.GetAllChildrenNumberRequest{Path: "/a"}, &cnt)
	s.log("raw getAllChildrenNumber /a -> err=%v %d %v", h.Err, cnt.TotalNumber, err)
	var who proto.WhoAmIResponse
	h, err = raw.Do(proto.OpWhoAmI, nil, &who)
	s.log("raw whoAmI -> err=%v %v %v", h.Err, who.ClientInfo, err)
	h, err = raw.Do(proto.OpRemoveWatches, &proto.RemoveWatchesRequest{Path: "/a", Type: proto.WatcherData}, nil)
	s.log("raw removeWatches none -> err=%v %v", h.Err, err)
	h, err = raw.Do(proto.OpCheckWatches, &proto.CheckWatchesRequest{Path: "/a", Type: proto.WatcherAny}, nil)
	s.log("raw checkWatches none -> err=%v %v", h.Err, err)
	h, err = raw.Do(proto.OpAddWatch, &proto.AddWatchRequest{Path: "/pw", Mode: proto.AddWatchPersistentRecursive}, &proto.ErrorResponse{})
	s.log("raw addWatch recursive /pw -> err=%v %v", h.Err, err)
	_, err = c2.Create("/pw", nil, 0, open)
	s.log("c2 create /pw -> %s", errName(err))
	_, err = c2.Create("/pw/x", nil, 0, open)
	s.log("c2 create /pw/x -> %s", errName(err))
	_, err = c2.Set("/pw/x", []byte("d"), -1)
	s.log("c2 set /pw/x -> %s", errName(err))
	for _, ev := range raw.WaitEvents(3, 5*time.Second) {
		s.log("raw event type=%d state=%d path=%s", ev.Type, ev.State, ev.Path)
	}
	h, err = raw.Do(proto.OpCheckWatches, &proto.CheckWatchesRequest{Path: "/pw", Type: proto.WatcherAny}, nil)
	s.log("raw checkWatches persistent -> err=%v %v", h.Err, err)
	h, err = raw.Do(proto.OpRemoveWatches, &proto.RemoveWatchesRequest{Path: "/pw", Type: proto.WatcherAny}, nil)
	s.log("raw removeWatches persistent -> err=%v %v", h.Err, err)
	mr := &proto.MultiRequest{Ops: []proto.MultiOp{
		proto.NewMultiOp(proto.OpGetData, &proto.GetDataRequest{Path: "/m"}),
		proto.NewMultiOp(proto.OpGetChildren, &proto.GetChildrenRequest{Path: "/nope"}),
	}}
	var mresp proto.MultiResponse
	h, err = raw.Do(proto.OpMultiRead, mr, &mresp)
	s.log("raw multiRead -> err=%v %v", h.Err, err)
	for _, r := range mresp.Results {
		s.log("  result type=%v err=%v data=%q %s", r.Type, r.Err, r.Data, s.pstat(r.Stat))
	}

	// Closing a session removes its ephemerals.
	c2.Close()
	time.Sleep(200 * time.Millisecond)
	for _, p := range []string{"/a/eph", "/a/eseq-0000000004"} {
		ok, _, err := c1.Exists(p)
		s.log("exists %s after its session closed -> %v %s", p, ok, errName(err))
	}
	kids, st, err = c1.Children("/a")
	sort.Strings(kids)
	s.log("children /a at end -> %v %s %s", kids, s.stat(st), errName(err))
	return s.lines
}

func (s *script) multi(res []zk.MultiResponse) string {
	var parts []string
	for _, r := range res {
		parts = append(parts, fmt.Sprintf("{%s %s %s}", r.String, s.stat(r.Stat), errName(r.Error)))
	}
	return strings.Join(parts, " ")
}

// The same cross-check on 3-server ensembles, the clients on a follower so
// that every write is forwarded to the leader and committed by a quorum.
func TestIntegrationCrossCheckEnsemble(t *testing.T) {
	crossCheckOnFollower(t, runScript)
}
