package snap

import (
	"bytes"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/go-zookeeper/zk"

	"github.com/zkbench/zkbench/harness"
	"github.com/zkbench/zkbench/internal/testenv"
	"github.com/zkbench/zkbench/internal/zkbin"
	"github.com/zkbench/zkbench/server/proto"
)

// javaEnv finds java and upstream ZooKeeper's jars (Debian's zookeeper
// package, logging to stderr) with zkbin's probe; it skips the test loudly
// when they are missing.
func javaEnv(t *testing.T) (java, classpath string) {
	t.Helper()
	j, err := zkbin.FindJava(zkbin.LogSimple)
	if err != nil {
		testenv.Missing(t, "%v: needed to test snapshot interchange with upstream", err)
	}
	return j.Bin, j.ClasspathString()
}

func freePort(t *testing.T) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// javaServer is one upstream standalone server on loopback.
type javaServer struct {
	t    *testing.T
	cmd  *exec.Cmd
	addr string
	dir  string // its output (server.out) and log (server.log)
	done chan struct{}
}

// startJava starts upstream ZooKeeper standalone on dataDir and waits until
// it serves (srvr reports its mode: ruok answers before the data is loaded);
// it is killed (by PID) at the end of the test at the latest.
func startJava(t *testing.T, dataDir string) *javaServer {
	t.Helper()
	javaEnv(t)
	port := freePort(t)
	cfg := filepath.Join(dataDir, "zoo.cfg")
	os.WriteFile(cfg, []byte(fmt.Sprintf("tickTime=2000\ndataDir=%s\nclientPort=%d\nclientPortAddress=127.0.0.1\n"+
		"admin.enableServer=false\n4lw.commands.whitelist=*\n", dataDir, port)), 0o644)
	// Launched as the harness launches every Java server, with its
	// log4j configuration and log (server.log) in a directory of its own.
	dir := t.TempDir()
	cmd, err := harness.Command(harness.Options{Impl: harness.ImplJava, ServerCPUs: -1, JavaHeap: "256m"}, dir, cfg)
	if err != nil {
		t.Fatal(err)
	}
	out, err := os.Create(filepath.Join(dir, "server.out"))
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stdout, cmd.Stderr = out, out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	s := &javaServer{t: t, cmd: cmd, addr: fmt.Sprintf("127.0.0.1:%d", port), dir: dir, done: make(chan struct{})}
	go func() { cmd.Wait(); out.Close(); close(s.done) }()
	t.Cleanup(s.kill)
	deadline := time.Now().Add(30 * time.Second)
	for {
		c, err := net.DialTimeout("tcp", s.addr, time.Second)
		if err == nil {
			c.SetDeadline(time.Now().Add(2 * time.Second))
			c.Write([]byte("srvr"))
			b, _ := io.ReadAll(c)
			c.Close()
			if bytes.Contains(b, []byte("Mode: standalone")) {
				return s
			}
		}
		select {
		case <-s.done:
			t.Fatalf("java exited early:\n%s", s.log())
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("java did not come up in 30s:\n%s", s.log())
		}
		time.Sleep(200 * time.Millisecond)
	}
}

func (s *javaServer) log() string {
	b, _ := os.ReadFile(filepath.Join(s.dir, "server.out"))
	l, _ := os.ReadFile(filepath.Join(s.dir, "server.log"))
	b = append(b, l...)
	if len(b) > 6000 {
		b = b[len(b)-6000:]
	}
	return string(b)
}

// kill stops the server with SIGKILL, by PID, and waits for it.
func (s *javaServer) kill() {
	select {
	case <-s.done:
		return
	default:
	}
	s.cmd.Process.Signal(syscall.SIGKILL)
	select {
	case <-s.done:
	case <-time.After(10 * time.Second):
		s.t.Errorf("java pid %d did not exit", s.cmd.Process.Pid)
	}
}

// quiet drops the client's reconnect chatter (the tests kill servers).
type quiet struct{}

func (quiet) Printf(string, ...any) {}

func connect(t *testing.T, addr string) *zk.Conn {
	t.Helper()
	c, ev, err := zk.Connect([]string{addr}, 10*time.Second, zk.WithLogInfo(false), zk.WithLogger(quiet{}))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Close)
	deadline := time.After(15 * time.Second)
	for {
		select {
		case e := <-ev:
			if e.State == zk.StateHasSession {
				return c
			}
		case <-deadline:
			t.Fatal("no session with the java server in 15s")
		}
	}
}

// TestIntegration_ReadJavaSnapshot has upstream write a snapshot and reads it.
func TestIntegration_ReadJavaSnapshot(t *testing.T) {
	javaEnv(t)
	dataDir := t.TempDir()
	s := startJava(t, dataDir)
	c := connect(t, s.addr)
	big := bytes.Repeat([]byte("0123456789abcdef"), 64)
	must := func(_ string, err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	must(c.Create("/bench", []byte("a"), 0, zk.WorldACL(zk.PermAll)))
	must(c.Create("/bench/child", big, 0, zk.WorldACL(zk.PermAll)))
	must(c.Create("/bench/empty", []byte{}, 0, zk.WorldACL(zk.PermAll)))
	must(c.Create("/locked", []byte("x"), 0, zk.DigestACL(zk.PermRead, "user", "pass")))
	must(c.Create("/bench/eph", []byte("e"), zk.FlagEphemeral, zk.WorldACL(zk.PermAll)))
	if _, err := c.Set("/bench", []byte("b"), 0); err != nil {
		t.Fatal(err)
	}
	session := c.SessionID()
	// Kill without closing the session, restart (upstream takes a clean
	// snapshot when it loads), and kill again.
	s.kill()
	s2 := startJava(t, dataDir)
	s2.kill()
	if testing.Verbose() {
		ents, _ := os.ReadDir(filepath.Join(dataDir, "version-2"))
		for _, e := range ents {
			t.Logf("version-2/%s", e.Name())
		}
		t.Logf("second server log:\n%s", s2.log())
	}

	files, err := List(filepath.Join(dataDir, "version-2"))
	if err != nil || len(files) < 2 {
		t.Fatalf("snapshots %v %v", files, err)
	}
	newest := files[0]
	r, err := Open(newest.Path)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	nodes := map[string]Node{}
	var order []string
	for {
		n, ok, err := r.Next()
		if err != nil {
			t.Fatalf("reading upstream's %s: %v", newest.Path, err)
		}
		if !ok {
			break
		}
		nodes[n.Path] = n
		order = append(order, n.Path)
	}
	h := r.Header()
	t.Logf("upstream snapshot %s: %d nodes %v, sessions %v, digest %+v", filepath.Base(newest.Path), len(nodes), order, h.Sessions, h.Digest)
	if order[0] != "" {
		t.Errorf("first node %q", order[0])
	}
	for _, p := range []string{"/zookeeper", "/zookeeper/quota", "/bench", "/bench/child", "/bench/empty", "/bench/eph", "/locked"} {
		if _, ok := nodes[p]; !ok {
			t.Errorf("node %s missing", p)
		}
	}
	if string(nodes["/bench"].Data) != "b" || nodes["/bench"].Stat.Version != 1 || !bytes.Equal(nodes["/bench/child"].Data, big) {
		t.Errorf("/bench %q v%d", nodes["/bench"].Data, nodes["/bench"].Stat.Version)
	}
	if d := nodes["/bench/empty"].Data; d == nil || len(d) != 0 {
		t.Errorf("/bench/empty data %v", d)
	}
	if nodes["/bench/eph"].Stat.EphemeralOwner != session {
		t.Errorf("ephemeral owner %#x, want %#x", nodes["/bench/eph"].Stat.EphemeralOwner, session)
	}
	if _, ok := h.Sessions[session]; !ok {
		t.Errorf("session %#x not in %v", session, h.Sessions)
	}
	acl := h.ACLs[nodes["/locked"].ACLRef]
	if len(acl) != 1 || acl[0].ID.Scheme != "digest" || !strings.HasPrefix(acl[0].ID.ID, "user:") || acl[0].Perms != zk.PermRead {
		t.Errorf("/locked ACL %+v", acl)
	}
	if h.Digest == nil || h.Digest.Version != 2 || h.Digest.Zxid != newest.Zxid {
		t.Errorf("digest %+v (snapshot zxid %#x)", h.Digest, newest.Zxid)
	}
	// Every snapshot upstream wrote reads cleanly.
	for _, f := range files {
		r, err := Open(f.Path)
		if err == nil {
			err = r.Drain()
			r.Close()
		}
		if err != nil {
			t.Errorf("%s: %v", f.Path, err)
		}
	}
}

// TestIntegration_JavaReadsOurSnapshot writes a snapshot, has upstream's
// SnapshotFormatter print it, starts upstream on it and reads nodes back.
func TestIntegration_JavaReadsOurSnapshot(t *testing.T) {
	java, cp := javaEnv(t)
	dataDir := t.TempDir()
	snapDir := filepath.Join(dataDir, "version-2")
	os.MkdirAll(snapDir, 0o755)
	const zxid = 0x100000003
	world := []proto.ACL{{Perms: 31, ID: proto.ID{Scheme: "world", ID: "anyone"}}}
	st := func(czxid int64) proto.StatPersisted {
		return proto.StatPersisted{Czxid: czxid, Mzxid: czxid, Pzxid: czxid, Ctime: 1700000000000, Mtime: 1700000000000}
	}
	nodes := []Node{
		{Path: "", Data: []byte{}, ACLRef: -1, Stat: proto.StatPersisted{Pzxid: 0x100000002, Cversion: 1}},
		{Path: "/ours", Data: []byte("from go"), ACLRef: 1, Stat: proto.StatPersisted{Czxid: 0x100000001, Mzxid: 0x100000003, Pzxid: 0x100000002, Ctime: 1700000000000, Mtime: 1700000001000, Version: 1, Cversion: 1}},
		{Path: "/ours/child", Data: []byte{0, 1, 2, 255}, ACLRef: 1, Stat: st(0x100000002)},
		{Path: "/zookeeper", Data: []byte{}, ACLRef: -1},
		{Path: "/zookeeper/config", Data: []byte{}, ACLRef: -1},
		{Path: "/zookeeper/quota", Data: []byte{}, ACLRef: -1},
	}
	path, err := Write(snapDir, Header{Zxid: zxid, Sessions: map[int64]int32{}, ACLs: map[int64][]proto.ACL{1: world}, Digest: &Digest{Version: 2}}, emitAll(nodes))
	if err != nil {
		t.Fatal(err)
	}

	out, err := exec.Command(java, "-Xmx128m", "-cp", cp, "org.apache.zookeeper.server.SnapshotFormatter", "-d", path).CombinedOutput()
	if err != nil {
		t.Fatalf("SnapshotFormatter: %v\n%s", err, out)
	}
	text := string(out)
	// Upstream counts the root twice (it is both "" and "/" in DataTree's map).
	for _, want := range []string{"ZNode Details (count=7)", "/ours\n", "/ours/child\n", "data = ZnJvbSBnbw==", "data = AAEC/w==",
		"mZxid = 0x00000100000003", "Session Details (sid, timeout, ephemeralCount):", "Last zxid: 0x100000003"} {
		if !strings.Contains(text, want) {
			t.Errorf("SnapshotFormatter output lacks %q:\n%s", want, text)
		}
	}

	s := startJava(t, dataDir)
	c := connect(t, s.addr)
	data, stat, err := c.Get("/ours")
	if err != nil || string(data) != "from go" || stat.Version != 1 || stat.Mzxid != 0x100000003 {
		t.Fatalf("get /ours: %q %+v %v\n%s", data, stat, err, s.log())
	}
	kids, _, err := c.Children("/ours")
	sort.Strings(kids)
	if err != nil || len(kids) != 1 || kids[0] != "child" {
		t.Fatalf("children %v %v", kids, err)
	}
	if d, _, err := c.Get("/ours/child"); err != nil || !bytes.Equal(d, []byte{0, 1, 2, 255}) {
		t.Fatalf("get /ours/child: %v %v", d, err)
	}
	if _, err := c.Create("/ours/new", []byte("n"), 0, zk.WorldACL(zk.PermAll)); err != nil {
		t.Fatal(err)
	}
	_, stat, err = c.Get("/ours/new")
	if err != nil || stat.Czxid <= zxid {
		t.Errorf("new node czxid %#x after snapshot zxid %#x: %v", stat.Czxid, int64(zxid), err)
	}
	c.Close()
	s.kill()
	if strings.Contains(s.log(), "Digest mismatch") {
		t.Errorf("upstream reported a digest mismatch:\n%s", s.log())
	}
}
