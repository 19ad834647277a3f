package server_test

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/go-zookeeper/zk"

	"github.com/zkbench/zkbench/internal/zktest"
	"github.com/zkbench/zkbench/server"
	"github.com/zkbench/zkbench/server/config"
)

// The cross-check of container and TTL reaping and of quota enforcement
// (issue 16, items 12 and 13): one script run against upstream Java
// ZooKeeper 3.8 and against the Go server, both started with the same
// system properties, whose transcripts must be identical, zxids included.

// reaperFlags are the -D flags both servers run with: a short container
// check, never-used containers reaped after 4 s, and enforced quotas.
const reaperFlags = "-Dznode.container.checkIntervalMs=200 -Dznode.container.maxNeverUsedIntervalMs=4000 -Dzookeeper.enforceQuota=true"

func TestIntegrationCrossCheckReaperAndQuota(t *testing.T) {
	java := startWithFlags(t, true, reaperFlags)
	gosrv := startWithFlags(t, false, reaperFlags)
	want := runReaperScript(t, java.Addr)
	got := runReaperScript(t, gosrv.Addr)
	compareTranscripts(t, want, got)
}

// startWithFlags starts a standalone server process with the -D flags
// given: to Java through JAVA_TOOL_OPTIONS (the JVM reads it), to zkserver
// through SERVER_JVMFLAGS, as zkServer.sh passes them.
func startWithFlags(t *testing.T, java bool, flags string) *zktest.Process {
	t.Helper()
	dir := t.TempDir()
	port := zktest.FreePort(t)
	cfg := fmt.Sprintf("tickTime=2000\ndataDir=%s\nclientPort=%d\nclientPortAddress=127.0.0.1\n"+
		"4lw.commands.whitelist=*\nmaxClientCnxns=0\n%s\n",
		filepath.Join(dir, "data"), port, strings.Join(extraConfig, "\n"))
	if java {
		cfg += "admin.enableServer=false\n"
	}
	cfgPath := filepath.Join(dir, "zoo.cfg")
	if err := os.WriteFile(cfgPath, []byte(cfg), 0o644); err != nil {
		t.Fatal(err)
	}
	p := zktest.NewProcess(t, java, cfgPath, fmt.Sprintf("127.0.0.1:%d", port))
	if java {
		p.Env = []string{"JAVA_TOOL_OPTIONS=" + flags}
	} else {
		p.Env = []string{"SERVER_JVMFLAGS=" + flags}
	}
	p.Start()
	return p
}

func runReaperScript(t *testing.T, addr string) []string {
	s := &script{t: t, sessions: map[int64]string{}}
	c := connect(t, addr)
	s.sessions[c.SessionID()] = "S1"
	open := zk.WorldACL(zk.PermAll)
	create := func(path, data string, flags int32) {
		p, err := c.Create(path, []byte(data), flags, open)
		s.log("create %s flags=%d -> %q %s", path, flags, p, errName(err))
	}
	// createContainer (19): Java 3.8 makes a create (1) with the
	// container flag a plain persistent node.
	createContainer := func(path string) {
		p, err := c.CreateContainer(path, nil, zk.FlagContainer, open)
		s.log("createContainer %s -> %q %s", path, p, errName(err))
	}
	get := func(path string) {
		data, st, err := c.Get(path)
		s.log("get %s -> %q %s %s", path, data, s.stat(st), errName(err))
	}
	rootStat := func(why string) {
		_, st, err := c.Exists("/")
		s.log("%s: root %s %s", why, s.stat(st), errName(err))
	}

	// Item 13: a quota set as zkCli's setquota -N 3 -B 10 writes it.
	create("/q", "", 0)
	create("/zookeeper/quota/q", "", 0)
	create("/zookeeper/quota/q/zookeeper_limits", "count=-1,bytes=-1=;byteHardLimit=10;countHardLimit=3", 0)
	create("/zookeeper/quota/q/zookeeper_stats", "count=0,bytes=0", 0)
	get("/zookeeper/quota/q/zookeeper_stats")
	create("/q/a", "12345", 0)
	create("/q/b", "", 0)
	create("/q/c", "", 0) // a 4th node: over countHardLimit
	create("/q/a/deeper", "", 0)
	st, err := c.Set("/q/b", []byte("123456"), -1) // 11 bytes: over byteHardLimit
	s.log("set /q/b 6 bytes -> %s %s", s.stat(st), errName(err))
	st, err = c.Set("/q/b", []byte("123456"), 7) // the quota is checked before the version
	s.log("set /q/b 6 bytes version 7 -> %s %s", s.stat(st), errName(err))
	st, err = c.Set("/q/b", []byte("12345"), -1)
	s.log("set /q/b 5 bytes -> %s %s", s.stat(st), errName(err))
	res, err := c.Multi(&zk.CreateRequest{Path: "/q/m", Acl: open})
	s.log("multi create /q/m -> %d results %s", len(res), errName(err))
	get("/zookeeper/quota/q/zookeeper_stats")

	// Item 12: a container that had a child goes once the child goes; a
	// container never used stays until maxNeverUsedIntervalMs; a TTL
	// node goes once its TTL passed.
	createContainer("/unused")
	createContainer("/used")
	create("/used/kid", "", 0)
	s.log("delete /used/kid -> %s", errName(c.Delete("/used/kid", -1)))
	s.log("/used reaped: %v", waitGone(c, "/used", 5*time.Second))
	rootStat("after /used")
	get("/unused")
	p, err := c.CreateTTL("/ttl", nil, zk.FlagTTL, open, 300*time.Millisecond)
	s.log("createTTL /ttl 300ms -> %q %s", p, errName(err))
	s.log("/ttl reaped: %v", waitGone(c, "/ttl", 5*time.Second))
	rootStat("after /ttl")
	get("/unused")
	s.log("/unused reaped: %v", waitGone(c, "/unused", 10*time.Second))
	rootStat("after /unused")
	return s.lines
}

// waitGone polls until path does not exist.
func waitGone(c *zk.Conn, path string, timeout time.Duration) bool {
	for deadline := time.Now().Add(timeout); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		if ok, _, err := c.Exists(path); err == nil && !ok {
			return true
		}
	}
	return false
}

// In an ensemble the leader alone reaps (item 12), in every reign: a
// container emptied through a follower goes, the deletion is the txn right
// after the child's, and no member issues a second deleteContainer (which
// would spend a zxid on an error txn). After the leader is killed, the
// next leader reaps too.
func TestIntegrationReaperEnsemble(t *testing.T) {
	e := zktest.StartEnsembleEnv(t, 3, []string{"SERVER_JVMFLAGS=-Dznode.container.checkIntervalMs=100"})
	leader := e.Leader(10 * time.Second)
	if leader < 0 {
		t.Fatal("no leader")
	}
	follower := (leader + 1) % 3
	c := connect(t, e.Servers[follower].Addr)
	reapVia(t, c, "/first")

	e.Servers[leader].Kill()
	c2 := connect(t, e.Servers[(leader+2)%3].Addr)
	if l := e.Leader(20 * time.Second); l < 0 || l == leader {
		t.Fatalf("no new leader (got %d)", l)
	}
	reapVia(t, c2, "/second")
}

// reapVia empties a fresh container through c and checks that the leader
// deleted it with the next zxid and nothing else.
func reapVia(t *testing.T, c *zk.Conn, path string) {
	t.Helper()
	open := zk.WorldACL(zk.PermAll)
	if _, err := c.CreateContainer(path, nil, zk.FlagContainer, open); err != nil {
		t.Fatalf("createContainer %s: %v", path, err)
	}
	if _, err := c.Create(path+"/kid", nil, 0, open); err != nil {
		t.Fatalf("create %s/kid: %v", path, err)
	}
	_, st, err := c.Get(path + "/kid")
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Delete(path+"/kid", -1); err != nil {
		t.Fatal(err)
	}
	reaped := st.Czxid + 2 // the child's delete is the next txn, then the reaper's
	if !waitGone(c, path, 10*time.Second) {
		t.Fatalf("%s was not reaped", path)
	}
	time.Sleep(500 * time.Millisecond) // several checks: a second reaper would have acted
	if _, err := c.Sync("/"); err != nil {
		t.Fatal(err)
	}
	_, root, err := c.Exists("/")
	if err != nil {
		t.Fatal(err)
	}
	if root.Pzxid != reaped {
		t.Fatalf("root pzxid %#x: the deleteContainer of %s should be %#x, right after its child's delete", root.Pzxid, path, reaped)
	}
	p, err := c.Create(path+"-after", nil, 0, open)
	if err != nil {
		t.Fatal(err)
	}
	_, after, err := c.Get(p)
	if err != nil {
		t.Fatal(err)
	}
	if after.Czxid != reaped+1 {
		t.Fatalf("the next write got %#x, want %#x: some member issued another txn", after.Czxid, reaped+1)
	}
}

// In an ensemble the leader's prep stage enforces quotas (item 13), for
// writes sent through a follower too.
func TestIntegrationQuotaEnsemble(t *testing.T) {
	e := zktest.StartEnsembleEnv(t, 3, []string{"SERVER_JVMFLAGS=-Dzookeeper.enforceQuota=true"})
	leader := e.Leader(10 * time.Second)
	if leader < 0 {
		t.Fatal("no leader")
	}
	c := connect(t, e.Servers[(leader+1)%3].Addr)
	open := zk.WorldACL(zk.PermAll)
	for _, n := range []struct{ path, data string }{
		{"/q", ""}, {"/zookeeper/quota/q", ""},
		{"/zookeeper/quota/q/zookeeper_limits", "count=-1,bytes=-1=;byteHardLimit=4;countHardLimit=2"},
		{"/zookeeper/quota/q/zookeeper_stats", "count=0,bytes=0"},
		{"/q/a", "1234"},
	} {
		if _, err := c.Create(n.path, []byte(n.data), 0, open); err != nil {
			t.Fatalf("create %s: %v", n.path, err)
		}
	}
	// go-zookeeper has no name for QUOTAEXCEEDED (-125).
	isQuotaExceeded := func(err error) bool { return err != nil && strings.HasSuffix(err.Error(), "-125") }
	if _, err := c.Create("/q/b", nil, 0, open); !isQuotaExceeded(err) {
		t.Fatalf("a third node under a count hard limit of 2: %v, want error -125", err)
	}
	if _, err := c.Set("/q/a", []byte("12345"), -1); !isQuotaExceeded(err) {
		t.Fatalf("5 bytes under a byte hard limit of 4: %v, want error -125", err)
	}
	if _, err := c.Set("/q/a", []byte("1"), -1); err != nil {
		t.Fatalf("shrinking under the quota: %v", err)
	}
}

// Settings the container reaper cannot run with stop the server at start,
// naming the property, instead of leaving it without a reaper.
func TestReaperSettingsRefused(t *testing.T) {
	for _, ensemble := range []bool{false, true} {
		for _, flag := range []string{"-Dznode.container.checkIntervalMs=0", "-Dznode.container.maxPerMinute=-5"} {
			t.Run(fmt.Sprintf("ensemble=%v/%s", ensemble, flag), func(t *testing.T) {
				checkReaperSettingRefused(t, ensemble, flag)
			})
		}
	}
}

// checkReaperSettingRefused requires server.Run to refuse flag at start,
// naming the key, for a standalone server or a member of a two-server
// ensemble (the leader's reaper is checked before any election).
func checkReaperSettingRefused(t *testing.T, ensemble bool, flag string) {
	dir := t.TempDir()
	cfgPath := filepath.Join(dir, "zoo.cfg")
	text := fmt.Sprintf("tickTime=2000\ndataDir=%s\nclientPort=%d\nclientPortAddress=127.0.0.1\n",
		filepath.Join(dir, "data"), zktest.FreePort(t))
	if ensemble {
		text += fmt.Sprintf("initLimit=5\nsyncLimit=2\nserver.1=127.0.0.1:%d:%d\nserver.2=127.0.0.1:%d:%d\n",
			zktest.FreePort(t), zktest.FreePort(t), zktest.FreePort(t), zktest.FreePort(t))
		if err := os.MkdirAll(filepath.Join(dir, "data"), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, "data", "myid"), []byte("1\n"), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.WriteFile(cfgPath, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
	cfg, err := config.Load(cfgPath, []string{"SERVER_JVMFLAGS=" + flag})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
	err = server.Run(ctx, cfg, server.Options{Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	cancel()
	name, _, _ := strings.Cut(strings.TrimPrefix(flag, "-D"), "=")
	if err == nil || !strings.Contains(err.Error(), name) {
		t.Errorf("server.Run = %v, want an error naming %s", err, name)
	}
}
