package server_test

import (
	"bufio"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/go-zookeeper/zk"

	"github.com/zkbench/zkbench/internal/zktest"
	"github.com/zkbench/zkbench/server/proto"
)

// Mixed ensembles: Go servers and upstream Java servers in one ensemble,
// speaking upstream's quorum protocol to each other (issue 24).

// startMixed starts an ensemble of len(java) servers on loopback in which
// server i+1 is upstream Java when java[i], zkserver otherwise, with
// extraConfig. The last server starts first and the others once its
// election port listens, so that it leads (Fast Leader Election prefers
// the highest id among equal histories): servers 1 to n/2 next, a quorum
// with it, and the rest once those have elected.
// env is every server's extra environment (e.g. SERVER_JVMFLAGS).
// Every process is killed in t.Cleanup.
func startMixed(t *testing.T, java []bool, env ...string) *zktest.Ensemble {
	t.Helper()
	return startMixedConfig(t, java, extraConfig, env...)
}

// startMixedConfig is startMixed with extra zoo.cfg lines instead of
// extraConfig.
func startMixedConfig(t *testing.T, java []bool, extra []string, env ...string) *zktest.Ensemble {
	t.Helper()
	root := t.TempDir()
	if keep := os.Getenv("ZKTEST_KEEP"); keep != "" {
		t.Cleanup(func() { // after the processes are killed
			if t.Failed() {
				out, err := exec.Command("cp", "-r", root, keep).CombinedOutput()
				t.Logf("copied %s to %s: %v %s", root, keep, err, out)
			}
		})
	}
	type ports struct{ client, quorum, election int }
	ps := make([]ports, len(java))
	var lines []string
	for i := range ps {
		ps[i] = ports{zktest.FreePort(t), zktest.FreePort(t), zktest.FreePort(t)}
		lines = append(lines, fmt.Sprintf("server.%d=127.0.0.1:%d:%d", i+1, ps[i].quorum, ps[i].election))
	}
	e := &zktest.Ensemble{}
	for i, p := range ps {
		dir := filepath.Join(root, fmt.Sprintf("s%d", i+1))
		data := filepath.Join(dir, "data")
		if err := os.MkdirAll(data, 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(data, "myid"), []byte(fmt.Sprintf("%d\n", i+1)), 0o644); err != nil {
			t.Fatal(err)
		}
		text := fmt.Sprintf("tickTime=200\ninitLimit=10\nsyncLimit=5\ndataDir=%s\nclientPort=%d\nclientPortAddress=127.0.0.1\n"+
			"4lw.commands.whitelist=*\nmaxClientCnxns=0\nadmin.enableServer=false\n%s\n%s\n",
			data, p.client, strings.Join(lines, "\n"), strings.Join(extra, "\n"))
		cfg := filepath.Join(dir, "zoo.cfg")
		if err := os.WriteFile(cfg, []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
		proc := zktest.NewProcess(t, java[i], cfg, fmt.Sprintf("127.0.0.1:%d", p.client))
		proc.Env = env
		e.Servers = append(e.Servers, proc)
	}
	last := len(ps) - 1
	e.Servers[last].Launch()
	electionAddr := fmt.Sprintf("127.0.0.1:%d", ps[last].election)
	deadline := time.Now().Add(30 * time.Second)
	for {
		c, err := net.DialTimeout("tcp", electionAddr, time.Second)
		if err == nil {
			c.Close()
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("server %d's election port never listened: %v", last+1, err)
		}
		time.Sleep(20 * time.Millisecond)
	}
	quorum := &zktest.Ensemble{Servers: []*zktest.Process{e.Servers[last]}}
	for _, s := range e.Servers[:len(ps)/2] {
		s.Launch()
		quorum.Servers = append(quorum.Servers, s)
	}
	quorum.WaitRoles(t, 30*time.Second)
	for _, s := range e.Servers[len(ps)/2 : last] {
		s.Launch()
	}
	e.WaitRoles(t, 30*time.Second)
	if m := e.Mode(last); m != "leader" {
		t.Fatalf("server %d, started first, is %q, want leader", last+1, m)
	}
	return e
}

// TestIntegrationMixedEnsembles runs the cross-check script through a
// follower of a Go leader with Java followers, and of a Java leader with
// Go followers, against an all-Java ensemble's transcript; then writes
// through every server and requires every server to hold the same tree,
// and, the servers killed, the same txns and state in its data directory.
func TestIntegrationMixedEnsembles(t *testing.T) {
	ref := zktest.StartJavaEnsemble(t, 3, extraConfig...)
	want := runScript(t, ref.Servers[(ref.Leader(20*time.Second)+1)%3].Addr)
	for _, tc := range []struct {
		name string
		java []bool
	}{
		{"GoLeaderJavaFollowers", []bool{true, true, false}},
		{"JavaLeaderGoFollowers", []bool{false, false, true}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := startMixed(t, tc.java)
			// Server 1 follows, so every write is forwarded to the leader.
			got := runScript(t, e.Servers[0].Addr)
			compareTranscripts(t, want, got)
			if t.Failed() {
				for i, s := range e.Servers {
					t.Logf("server %d log:\n%s", i+1, s.LogText(s.Starts()))
				}
			}
			writeThroughEach(t, e)
			requireSameTrees(t, e)
			reattachElsewhere(t, e)
			requireSameDataDirs(t, e)
		})
	}
}

// writeThroughEach creates a znode and sets data through every server, and
// checks that each server, after a sync, reads every other's write.
func writeThroughEach(t *testing.T, e *zktest.Ensemble) {
	t.Helper()
	conns := make([]*zk.Conn, len(e.Servers))
	for i, s := range e.Servers {
		conns[i] = connect(t, s.Addr)
	}
	if _, err := conns[0].Create("/each", nil, 0, zk.WorldACL(zk.PermAll)); err != nil {
		t.Fatalf("create /each: %v", err)
	}
	for i, c := range conns {
		p := fmt.Sprintf("/each/s%d", i+1)
		if _, err := c.Create(p, []byte("v0"), 0, zk.WorldACL(zk.PermAll)); err != nil {
			t.Fatalf("create %s through server %d: %v", p, i+1, err)
		}
		if _, err := c.Set(p, []byte(fmt.Sprintf("by %d", i+1)), 0); err != nil {
			t.Fatalf("set %s through server %d: %v", p, i+1, err)
		}
	}
	for i, c := range conns {
		if _, err := c.Sync("/each"); err != nil {
			t.Fatalf("sync through server %d: %v", i+1, err)
		}
		for j := range conns {
			p := fmt.Sprintf("/each/s%d", j+1)
			data, st, err := c.Get(p)
			if err != nil || string(data) != fmt.Sprintf("by %d", j+1) || st.Version != 1 {
				t.Fatalf("server %d reads %s as %q (stat %+v, %v), want %q at version 1", i+1, p, data, st, err, fmt.Sprintf("by %d", j+1))
			}
		}
	}
}

// requireSameTrees dumps the whole tree through a client on each server,
// after a sync, and requires the dumps to be identical.
func requireSameTrees(t *testing.T, e *zktest.Ensemble) {
	t.Helper()
	var first []string
	for i, s := range e.Servers {
		c := connect(t, s.Addr)
		if _, err := c.Sync("/"); err != nil {
			t.Fatalf("sync through server %d: %v", i+1, err)
		}
		dump := clientTree(t, c, "/")
		if i == 0 {
			first = dump
			t.Logf("%d znodes", len(dump))
			continue
		}
		if !slices.Equal(dump, first) {
			t.Errorf("server %d's tree differs from server 1's:\n%s\nserver 1:\n%s", i+1, strings.Join(dump, "\n"), strings.Join(first, "\n"))
		}
	}
}

// clientTree lists every znode under path (itself included, the /zookeeper
// subtree excepted: its config node differs by design) with its data and
// stat, in path order.
func clientTree(t *testing.T, c *zk.Conn, path string) []string {
	t.Helper()
	data, st, err := c.Get(path)
	if errors.Is(err, zk.ErrNoAuth) {
		_, st, err = c.Exists(path)
		data = []byte("(no read permission)")
	}
	if err != nil {
		t.Fatalf("get %s: %v", path, err)
	}
	out := []string{fmt.Sprintf("%s %q czxid=%#x mzxid=%#x pzxid=%#x ver=%d cver=%d aver=%d owner=%#x kids=%d",
		path, data, st.Czxid, st.Mzxid, st.Pzxid, st.Version, st.Cversion, st.Aversion, st.EphemeralOwner, st.NumChildren)}
	kids, _, err := c.Children(path)
	if errors.Is(err, zk.ErrNoAuth) {
		return out
	}
	if err != nil {
		t.Fatalf("children %s: %v", path, err)
	}
	slices.Sort(kids)
	for _, k := range kids {
		child := strings.TrimSuffix(path, "/") + "/" + k
		if child == "/zookeeper" {
			continue
		}
		out = append(out, clientTree(t, c, child)...)
	}
	return out
}

// reattachElsewhere opens a session on server 1, drops its connection and
// reattaches it on server 2: a Java server asks the leader whether the
// session lives (REVALIDATE) before it answers.
func reattachElsewhere(t *testing.T, e *zktest.Ensemble) {
	t.Helper()
	first, nc, err := rawConnect(e.Servers[0].Addr, proto.ConnectRequest{TimeOut: 10000, Passwd: make([]byte, 16)})
	if err != nil {
		t.Fatalf("session on server 1: %v", err)
	}
	nc.Close()
	again, nc, err := rawConnect(e.Servers[1].Addr, proto.ConnectRequest{TimeOut: 10000, SessionID: first.SessionID, Passwd: first.Passwd, LastZxidSeen: 0})
	if err != nil {
		t.Fatalf("reattaching session %#x on server 2: %v", first.SessionID, err)
	}
	defer nc.Close()
	if again.SessionID != first.SessionID || again.TimeOut <= 0 {
		t.Fatalf("reattaching session %#x on server 2 gave session %#x timeout %d", first.SessionID, again.SessionID, again.TimeOut)
	}
}

// rawConnect sends req as a client's connect request and returns the
// server's answer and the connection.
func rawConnect(addr string, req proto.ConnectRequest) (proto.ConnectResponse, net.Conn, error) {
	var resp proto.ConnectResponse
	nc, err := net.DialTimeout("tcp", addr, 5*time.Second)
	if err != nil {
		return resp, nil, err
	}
	nc.SetDeadline(time.Now().Add(10 * time.Second))
	if _, err := nc.Write(proto.AppendFrame(nil, &req)); err != nil {
		nc.Close()
		return resp, nil, err
	}
	frame, err := proto.ReadFrame(bufio.NewReader(nc), nil, proto.DefaultMaxBuffer)
	if err != nil {
		nc.Close()
		return resp, nil, fmt.Errorf("connect response: %w", err)
	}
	d := proto.NewDecoder(frame)
	resp.Decode(d)
	if d.Err() != nil {
		nc.Close()
		return resp, nil, d.Err()
	}
	return resp, nc, nil
}

// TestIntegrationMixedSync restarts a follower of the other implementation
// behind the leader by a few txns (DIFF) and by more than the leader's
// in-memory committed log (SNAP; zookeeper.commitLogCount=50, which
// upstream raises to 500), a Java follower of a
// Go leader and a Go follower of a Java leader, and requires it to serve
// the leader's data.
func TestIntegrationMixedSync(t *testing.T) {
	for _, tc := range []struct {
		name string
		java []bool
		// javaLog is the Java server's log line that names each sync.
		javaLog map[string]string
		// snapWrites is more than the leader's committed log holds: 50
		// here, upstream's at least 500.
		snapWrites int
	}{
		{"GoLeaderJavaFollower", []bool{true, true, false},
			map[string]string{"DIFF": "Getting a diff from the leader", "SNAP": "Getting a snapshot from leader"}, 120},
		{"JavaLeaderGoFollower", []bool{false, false, true},
			map[string]string{"DIFF": "Sending DIFF zxid", "SNAP": "Sending snapshot last zxid of peer"}, 600},
	} {
		t.Run(tc.name, func(t *testing.T) {
			// snapshotSizeFactor<0: upstream's leader never syncs from its
			// txn log files, only from its in-memory committed log.
			e := startMixed(t, tc.java, "SERVER_JVMFLAGS=-Dzookeeper.snapshotSizeFactor=-1 -Dzookeeper.commitLogCount=50")
			javaLog := filepath.Join(e.Servers[0].Dir, "server.log")
			if !tc.java[0] {
				javaLog = filepath.Join(e.Servers[2].Dir, "server.log")
			}
			c := connect(t, e.Servers[1].Addr)
			if _, err := c.Create("/sync", []byte("0"), 0, zk.WorldACL(zk.PermAll)); err != nil {
				t.Fatal(err)
			}
			for _, step := range []struct {
				mode   string
				writes int
			}{{"DIFF", 5}, {"SNAP", tc.snapWrites}} {
				// Server 1 has logged everything so far: it is behind by
				// exactly the writes made while it is down.
				pre := connect(t, e.Servers[0].Addr)
				if _, err := pre.Sync("/sync"); err != nil {
					t.Fatalf("%s: sync on server 1 before the kill: %v", step.mode, err)
				}
				pre.Close()
				since := fileSize(javaLog)
				e.Servers[0].Kill()
				last := setConcurrently(t, c, "/sync", step.writes)
				e.Servers[0].Launch()
				if err := zktest.WaitMode(e.Servers[0].Addr, 30*time.Second); err != nil {
					t.Fatalf("%s: server 1 after restart: %v", step.mode, err)
				}
				f := connect(t, e.Servers[0].Addr)
				if _, err := f.Sync("/sync"); err != nil {
					t.Fatalf("%s: sync on server 1: %v", step.mode, err)
				}
				data, st, err := f.Get("/sync")
				if err != nil || st.Version != last.Version || st.Mzxid != last.Mzxid {
					t.Fatalf("%s: server 1 reads /sync as %q %+v %v, want version %d mzxid %#x", step.mode, data, st, err, last.Version, last.Mzxid)
				}
				f.Close()
				if !logSays(t, javaLog, since, tc.javaLog[step.mode]) {
					t.Fatalf("%s: %s does not say %q after the restart", step.mode, javaLog, tc.javaLog[step.mode])
				}
			}
			requireSameTrees(t, e)
		})
	}
}

// setConcurrently sets path n times from 8 goroutines and returns the stat
// of the write that came last.
func setConcurrently(t *testing.T, c *zk.Conn, path string, n int) *zk.Stat {
	t.Helper()
	type res struct {
		st  *zk.Stat
		err error
	}
	out := make(chan res, n)
	work := make(chan int, n)
	for i := 0; i < n; i++ {
		work <- i
	}
	close(work)
	for g := 0; g < 8; g++ {
		go func() {
			for i := range work {
				st, err := c.Set(path, []byte(fmt.Sprint(i)), -1)
				out <- res{st, err}
			}
		}()
	}
	var last *zk.Stat
	for i := 0; i < n; i++ {
		r := <-out
		if r.err != nil {
			t.Fatalf("set %s: %v", path, r.err)
		}
		if last == nil || r.st.Mzxid > last.Mzxid {
			last = r.st
		}
	}
	return last
}

// fileSize is the size of the file at path, 0 if there is none.
func fileSize(path string) int64 {
	fi, err := os.Stat(path)
	if err != nil {
		return 0
	}
	return fi.Size()
}

// logSays reports whether the log at path says s after offset since (from
// its start if it was rewritten since).
func logSays(t *testing.T, path string, since int64, s string) bool {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if int64(len(b)) < since {
		since = 0
	}
	return strings.Contains(string(b[since:]), s)
}

// TestIntegrationMixedTrunc makes the leader of one implementation log a
// txn that no follower got (its followers are down: a client's
// createSession, or its create of /lost if it gets that far), kills it,
// lets the two followers of the other implementation elect, and restarts
// it: the new leader must TRUNC its extra txn away (the restarted server's
// log says so; upstream's leader logs its TRUNC only at DEBUG), and every
// server then holds the same tree without it.
func TestIntegrationMixedTrunc(t *testing.T) {
	for _, tc := range []struct {
		name string
		java []bool
		says string // server 3's log line for the TRUNC
	}{
		{"JavaAheadOfGoLeader", []bool{false, false, true}, "Truncating log to get in sync with the leader"},
		{"GoAheadOfJavaLeader", []bool{true, true, false}, "truncating the log to get in sync with the leader"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := startMixed(t, tc.java)
			c := connect(t, e.Servers[0].Addr)
			if _, err := c.Create("/kept", []byte("k"), 0, zk.WorldACL(zk.PermAll)); err != nil {
				t.Fatal(err)
			}
			for _, s := range e.Servers[:2] {
				s.Kill()
			}
			// The leader, alone, logs a proposal it can never commit.
			lone, _, err := zk.Connect([]string{e.Servers[2].Addr}, 10*time.Second, zk.WithLogInfo(false), zk.WithLogger(quietLogger{}))
			if err != nil {
				t.Fatal(err)
			}
			go lone.Create("/lost", []byte("x"), 0, zk.WorldACL(zk.PermAll))
			time.Sleep(500 * time.Millisecond)
			e.Servers[2].Kill()
			lone.Close()
			for _, s := range e.Servers[:2] {
				s.Launch()
			}
			pair := &zktest.Ensemble{Servers: e.Servers[:2]}
			pair.WaitRoles(t, 30*time.Second)
			third := e.Servers[2]
			logPath := filepath.Join(third.Dir, "server.log") // Java's, appended to
			since := fileSize(logPath)
			third.Launch()
			if !tc.java[2] {
				logPath, since = filepath.Join(third.Dir, fmt.Sprintf("zkserver-%d.log", third.Starts())), 0
			}
			e.WaitRoles(t, 30*time.Second)
			if !logSays(t, logPath, since, tc.says) {
				t.Errorf("%s does not say %q after server 3 rejoined", logPath, tc.says)
			}
			for i, s := range e.Servers {
				ci := connect(t, s.Addr)
				if _, err := ci.Sync("/"); err != nil {
					t.Fatalf("sync on server %d: %v", i+1, err)
				}
				if ok, _, err := ci.Exists("/lost"); ok || err != nil {
					t.Errorf("server %d: the uncommitted /lost exists=%v (%v)", i+1, ok, err)
				}
				if ok, _, err := ci.Exists("/kept"); !ok || err != nil {
					t.Errorf("server %d: /kept exists=%v (%v)", i+1, ok, err)
				}
			}
			requireSameTrees(t, e)
		})
	}
}
