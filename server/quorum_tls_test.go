package server_test

import (
	"errors"
	"fmt"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/go-zookeeper/zk"

	"github.com/zkbench/zkbench/harness"
	"github.com/zkbench/zkbench/internal/certgen"
	"github.com/zkbench/zkbench/internal/zktest"
)

// roleWait bounds how long waitModes waits for a role. Generous on
// purpose: Java's election backs off its notifications up to 60 s while
// peers are down, so on a loaded machine a Java member can take well over
// 30 s to find a restarted quorum. A healthy ensemble passes in seconds.
const roleWait = 90 * time.Second

// waitModes waits, at most roleWait, until every server of idx reports a
// role.
func waitModes(t *testing.T, e *zktest.Ensemble, idx []int) {
	t.Helper()
	deadline := time.Now().Add(roleWait)
	for _, i := range idx {
		for {
			if m := e.Mode(i); m == "leader" || m == "follower" {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("server %d has no role after %v\n%s", i+1, roleWait, e.Servers[i].LogText(e.Servers[i].Starts()))
			}
			time.Sleep(20 * time.Millisecond)
		}
	}
}

// readEach checks that every server of idx serves path with data.
func readEach(t *testing.T, e *zktest.Ensemble, idx []int, path, data string) {
	t.Helper()
	for _, i := range idx {
		c, _, err := zk.Connect([]string{e.Servers[i].Addr}, 10*time.Second, zk.WithLogInfo(false))
		if err != nil {
			t.Fatal(err)
		}
		deadline := time.Now().Add(30 * time.Second)
		for {
			if _, err := c.Sync(path); err == nil {
				got, _, err := c.Get(path)
				if err == nil && string(got) == data {
					break
				}
			}
			if time.Now().After(deadline) {
				t.Fatalf("server %d does not serve %s=%q", i+1, path, data)
			}
			time.Sleep(50 * time.Millisecond)
		}
		c.Close()
	}
}

// TestIntegration_SSLQuorum: a 3-server ensemble with sslQuorum elects,
// replicates and survives a leader kill; a process without the
// certificate (plaintext peer ports) cannot join, and joins again once it
// has it. The Go ensemble, and upstream Java 3.8 with the same stores and
// zoo.cfg lines.
func TestIntegration_SSLQuorum(t *testing.T) {
	for _, impl := range []string{"go", "java"} {
		t.Run(impl, func(t *testing.T) { testSSLQuorum(t, impl) })
	}
}

func testSSLQuorum(t *testing.T, impl string) {
	tl, err := harness.NewTLS(t.TempDir(), certgen.PKCS12)
	if err != nil {
		t.Fatal(err)
	}
	var e *zktest.Ensemble
	if impl == "java" {
		e = zktest.StartJavaEnsemble(t, 3, tl.QuorumLines()...)
	} else {
		e = zktest.StartEnsemble(t, 3, tl.QuorumLines()...)
	}
	leader, rest := replicatesAndSurvivesLeaderKill(t, e)

	// The killed server comes back without the certificate: plaintext
	// peer ports. Nobody answers it, and the others serve on.
	p := e.Servers[leader]
	tlsCfg, err := os.ReadFile(p.CfgPath)
	if err != nil {
		t.Fatal(err)
	}
	var plain []string
	for _, l := range strings.Split(string(tlsCfg), "\n") {
		if !strings.HasPrefix(l, "ssl.quorum.") && !strings.HasPrefix(l, "sslQuorum=") {
			plain = append(plain, l)
		}
	}
	if err := os.WriteFile(p.CfgPath, []byte(strings.Join(plain, "\n")), 0o644); err != nil {
		t.Fatal(err)
	}
	p.Launch()
	time.Sleep(3 * time.Second) // 15 ticks: far beyond an election on loopback
	if m := e.Mode(leader); m == "leader" || m == "follower" {
		t.Errorf("a server without the certificate joined the ensemble as %s", m)
	}
	readEach(t, e, rest, "/q2", "two")

	// With the certificate it rejoins and catches up.
	p.Kill()
	if err := os.WriteFile(p.CfgPath, tlsCfg, 0o644); err != nil {
		t.Fatal(err)
	}
	p.Launch()
	waitModes(t, e, []int{leader})
	readEach(t, e, []int{leader}, "/q2", "two")
}

// setLines rewrites server i's zoo.cfg: lines starting with a key of set
// are dropped, then set's lines appended.
func setLines(t *testing.T, p *zktest.Process, set ...string) {
	t.Helper()
	b, err := os.ReadFile(p.CfgPath)
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, l := range strings.Split(strings.TrimRight(string(b), "\n"), "\n") {
		keep := true
		for _, s := range set {
			if k, _, _ := strings.Cut(s, "="); strings.HasPrefix(l, k+"=") {
				keep = false
			}
		}
		if keep {
			out = append(out, l)
		}
	}
	if err := os.WriteFile(p.CfgPath, []byte(strings.Join(append(out, set...), "\n")+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
}

// The rolling upgrade portUnification is for: a plaintext ensemble whose
// peer ports take both (portUnification=true) turns on sslQuorum one
// server at a time, then drops portUnification one at a time, serving
// writes at every step.
func TestIntegration_QuorumPortUnificationUpgrade(t *testing.T) {
	tl, err := harness.NewTLS(t.TempDir(), certgen.PKCS12)
	if err != nil {
		t.Fatal(err)
	}
	var stores []string
	for _, l := range tl.QuorumLines() {
		if strings.HasPrefix(l, "ssl.quorum.") {
			stores = append(stores, l)
		}
	}
	e := zktest.StartEnsemble(t, 3, append(stores, "portUnification=true", "sslQuorum=false")...)
	all := []int{0, 1, 2}
	step := 0
	write := func(what string) {
		t.Helper()
		step++
		path := fmt.Sprintf("/step%d", step)
		c, _, err := zk.Connect(e.Addrs(), 10*time.Second, zk.WithLogInfo(false))
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		if _, err := c.Create(path, []byte(what), 0, zk.WorldACL(zk.PermAll)); err != nil {
			t.Fatalf("%s: write: %v", what, err)
		}
		readEach(t, e, all, path, what)
	}
	write("plaintext, unified ports")
	restart := func(i int, set ...string) {
		t.Helper()
		p := e.Servers[i]
		p.Kill()
		setLines(t, p, set...)
		p.Launch()
		waitModes(t, e, all)
	}
	for i := range all {
		restart(i, "sslQuorum=true")
		write(fmt.Sprintf("sslQuorum on %d servers", i+1))
	}
	for i := range all {
		restart(i, "portUnification=false")
		write(fmt.Sprintf("portUnification off on %d servers", i+1))
	}
}

// replicatesAndSurvivesLeaderKill checks that a 3-server ensemble
// replicates a write to every member, then kills its leader and checks
// that the other two elect, take a write and replicate it. It returns the
// killed leader's index and the others'.
func replicatesAndSurvivesLeaderKill(t *testing.T, e *zktest.Ensemble) (leader int, rest []int) {
	t.Helper()
	c, _, err := zk.Connect(e.Addrs(), 10*time.Second, zk.WithLogInfo(false))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if _, err := c.Create("/q", []byte("one"), 0, zk.WorldACL(zk.PermAll)); err != nil {
		t.Fatal(err)
	}
	readEach(t, e, []int{0, 1, 2}, "/q", "one")

	leader = e.Leader(10 * time.Second)
	if leader < 0 {
		t.Fatal("no leader")
	}
	e.Servers[leader].Kill()
	for i := range e.Servers {
		if i != leader {
			rest = append(rest, i)
		}
	}
	waitModes(t, e, rest)
	w, _, err := zk.Connect([]string{e.Servers[rest[0]].Addr}, 10*time.Second, zk.WithLogInfo(false))
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	// A Java server that reports its new mode may still turn clients away
	// ("ZooKeeperServer not running") until it serves: a client retries a
	// lost connection, and so does this one, for a while.
	for deadline := time.Now().Add(30 * time.Second); ; {
		_, err := w.Create("/q2", []byte("two"), 0, zk.WorldACL(zk.PermAll))
		if err == nil {
			break
		}
		if !errors.Is(err, zk.ErrNoServer) && !errors.Is(err, zk.ErrConnectionClosed) || time.Now().After(deadline) {
			t.Fatalf("write after the leader's kill: %v", err)
		}
		time.Sleep(100 * time.Millisecond)
	}
	readEach(t, e, rest, "/q2", "two")
	return leader, rest
}
