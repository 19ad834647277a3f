package transport_test

import (
	"fmt"
	"net"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/zkbench/zkbench/internal/zktest"
	"github.com/zkbench/zkbench/server/election"
)

// javaPeer is an upstream ZooKeeper quorum member started for a test.
type javaPeer struct {
	dir      string
	election string // its election address
}

// startJavaPeer starts upstream ZooKeeper as server id of an ensemble
// whose server.N lines are given (id -> "host:quorumPort:electionPort").
func startJavaPeer(t *testing.T, id int64, servers map[int64]string) *javaPeer {
	t.Helper()
	zktest.RequireJava(t)
	dir := t.TempDir()
	data := filepath.Join(dir, "data")
	if err := os.MkdirAll(data, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(data, "myid"), []byte(fmt.Sprint(id)), 0o644); err != nil {
		t.Fatal(err)
	}
	var cfg strings.Builder
	fmt.Fprintf(&cfg, "tickTime=200\ninitLimit=10\nsyncLimit=5\ndataDir=%s\nclientPort=%d\nclientPortAddress=127.0.0.1\n"+
		"4lw.commands.whitelist=*\nadmin.enableServer=false\n", data, zktest.FreePort(t))
	for sid, line := range servers {
		fmt.Fprintf(&cfg, "server.%d=%s\n", sid, line)
	}
	cfgPath := filepath.Join(dir, "zoo.cfg")
	if err := os.WriteFile(cfgPath, []byte(cfg.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	// zktest launches it as every test's Java server: harness's command,
	// its log in dir/server.log, killed by PID in cleanup.
	proc := zktest.NewProcess(t, true, cfgPath, "")
	p := &javaPeer{dir: dir}
	t.Cleanup(func() {
		// ZKB_JAVALOG=1 shows the Java log of passing runs too.
		if t.Failed() || os.Getenv("ZKB_JAVALOG") != "" {
			t.Logf("java server %d log:\n%s", id, p.log())
		}
	})
	proc.Launch()
	return p
}

func (p *javaPeer) log() string {
	b, _ := os.ReadFile(filepath.Join(p.dir, "server.log"))
	return string(b)
}

// waitLog waits until the Java server's log has a line containing all of
// the substrings.
func (p *javaPeer) waitLog(t *testing.T, timeout time.Duration, subs ...string) string {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for time.Now().Before(deadline) {
		for _, line := range strings.Split(p.log(), "\n") {
			ok := true
			for _, s := range subs {
				ok = ok && strings.Contains(line, s)
			}
			if ok {
				return line
			}
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Fatalf("java log never had a line with %q", subs)
	return ""
}

// TestIntegration_JavaElection runs our election and transport against an
// upstream Java ZooKeeper 3.8 peer: two Go servers and one Java server
// elect a leader together, so both the connection protocol and the
// notification layout are checked against the real thing, in both
// directions (the Java server follows a Go leader, then Go servers follow
// a Java leader).
func TestIntegration_JavaElection(t *testing.T) {
	zktest.RequireJava(t)
	for _, tc := range []struct {
		name       string
		goIDs      []int64 // Go servers that run; 3 is Java, the rest are down
		goEpoch    int64   // Go servers' current epoch; the Java server's is 0
		wantLeader int64
		javaState  string
	}{
		// Go servers 1 and 2 have a newer epoch: Go server 2 must lead and
		// the Java server must follow it (through the vote exchange, or by
		// joining if the Go quorum settled first).
		{"java follows go", []int64{1, 2}, 1, 2, "following"},
		// Only Go server 1 and the Java server are up, so neither can
		// decide without the other; with empty histories the Java server,
		// the highest id, must lead.
		{"go follows java", []int64{1}, 0, 3, "leading"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			const javaID = 3
			others := map[int64]string{javaID: freeLoopback(t)}
			for _, id := range []int64{1, 2} {
				if !slices.Contains(tc.goIDs, id) {
					others[id] = freeLoopback(t) // configured but down
				}
			}
			c := newMixedCluster(t, tc.goIDs, others)
			servers := map[int64]string{}
			for _, id := range c.ids {
				_, eport, _ := net.SplitHostPort(c.addrs[id])
				servers[id] = fmt.Sprintf("127.0.0.1:%d:%s", zktest.FreePort(t), eport)
			}
			for _, id := range tc.goIDs {
				c.zxids[id] = tc.goEpoch << 32
				c.epochs[id] = tc.goEpoch
			}
			jp := startJavaPeer(t, javaID, servers)
			jp.waitLog(t, 30*time.Second, "New election. My id = "+fmt.Sprint(javaID))
			for _, id := range tc.goIDs {
				c.start(id)
			}
			ds := c.waitDecided(tc.goIDs, 30*time.Second)
			for id, d := range ds {
				want := election.Following
				if id == tc.wantLeader {
					want = election.Leading
				}
				if d.Leader != tc.wantLeader || d.State != want {
					t.Fatalf("Go server %d decided %+v, want %v of %d", id, d, want, tc.wantLeader)
				}
			}
			line := jp.waitLog(t, 30*time.Second, "Peer state changed: "+tc.javaState)
			t.Logf("java: %s", line[strings.Index(line, "Peer state"):])
			if tc.javaState == "following" {
				jp.waitLog(t, 30*time.Second, "FOLLOWING - LEADER ELECTION TOOK")
			}
		})
	}
}

// freeLoopback returns a loopback address that was free a moment ago.
func freeLoopback(t *testing.T) string {
	return fmt.Sprintf("127.0.0.1:%d", zktest.FreePort(t))
}
