package server_test

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/go-zookeeper/zk"
	"github.com/zkbench/zkbench/internal/zktest"
)

// TestIntegrationReconfigAddObserver adds an observer by reconfig: started
// with the members plus itself as an observer, it follows without a vote
// until it is added, then observes (it comes back in the role the
// configuration gives it), serves and forwards writes, and its death never
// stops writes. (The Java comparison scripts do not cover this case: in
// them, Java 3.8.0's joiner configured as an observer never came to serve.)
func TestIntegrationReconfigAddObserver(t *testing.T) {
	e := zktest.StartEnsemble(t, 3, "reconfigEnabled=true", "standaloneEnabled=false", "skipACL=yes")
	c, _, err := zk.Connect(e.Addrs(), 5*time.Second, zk.WithLogInfo(false))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	time.Sleep(300 * time.Millisecond)
	data, _, _ := c.Get("/zookeeper/config")
	lines := strings.Split(string(data), "\n")
	dir := t.TempDir()
	q, el, cl := zktest.FreePort(t), zktest.FreePort(t), zktest.FreePort(t)
	os.MkdirAll(filepath.Join(dir, "data"), 0o755)
	os.WriteFile(filepath.Join(dir, "data", "myid"), []byte("4\n"), 0o644)
	text := fmt.Sprintf("tickTime=200\ninitLimit=10\nsyncLimit=5\ndataDir=%s\nclientPort=%d\nclientPortAddress=127.0.0.1\n4lw.commands.whitelist=*\nreconfigEnabled=true\nstandaloneEnabled=false\n%s\nserver.4=127.0.0.1:%d:%d:observer\n",
		filepath.Join(dir, "data"), cl, strings.Join(lines[:3], "\n"), q, el)
	os.WriteFile(filepath.Join(dir, "zoo.cfg"), []byte(text), 0o644)
	e4 := zktest.StartFromConfigs(t, []string{filepath.Join(dir, "zoo.cfg")}, []string{fmt.Sprintf("127.0.0.1:%d", cl)})
	if m := e4.Mode(0); m != "follower" {
		t.Errorf("before it is added, server 4 is %q, want a non-voting follower", m)
	}
	st, err := c.IncrementalReconfig([]string{fmt.Sprintf("server.4=127.0.0.1:%d:%d:observer;127.0.0.1:%d", q, el, cl)}, nil, -1)
	if err != nil {
		t.Fatalf("add server 4 as an observer: %v", err)
	}
	mode := ""
	for try := 0; try < 50 && mode != "observer"; try++ {
		time.Sleep(100 * time.Millisecond)
		mode = e4.Mode(0)
	}
	if mode != "observer" {
		t.Fatalf("after it is added, server 4 is %q, want observer", mode)
	}
	c4, _, err := zk.Connect([]string{e4.Servers[0].Addr}, 5*time.Second, zk.WithLogInfo(false))
	if err != nil {
		t.Fatal(err)
	}
	defer c4.Close()
	if _, err := c4.Create("/via-observer", []byte("x"), 0, zk.WorldACL(zk.PermAll)); err != nil {
		t.Fatalf("write via observer: %v", err)
	}
	c4.Sync("/zookeeper/config")
	d4, st4, _ := c4.Get("/zookeeper/config")
	if !strings.Contains(string(d4), fmt.Sprintf("server.4=127.0.0.1:%d:%d:observer;127.0.0.1:%d", q, el, cl)) || st4.Mzxid != st.Mzxid {
		t.Errorf("the observer's /zookeeper/config (mzxid %#x, reconfig %#x):\n%s", st4.Mzxid, st.Mzxid, d4)
	}
	// Kill the observer: writes go on.
	e4.Servers[0].Kill()
	if _, err := c.Create("/after-observer-death", nil, 0, zk.WorldACL(zk.PermAll)); err != nil {
		t.Fatalf("write after the observer died: %v", err)
	}
}

// TestIntegrationReconfigStaleVoterRejoins restarts a voter that was down
// while a reconfig removed two others: its own files still name the five
// original servers, and of those only two (the leader and one follower)
// still answer, too few for a quorum of five. As upstream, it learns the
// current membership from the configuration the others' election
// notifications carry, adopts it (and stores it) and follows.
func TestIntegrationReconfigStaleVoterRejoins(t *testing.T) {
	e := zktest.StartEnsemble(t, 5, "reconfigEnabled=true", "standaloneEnabled=false", "skipACL=yes")
	c, _, err := zk.Connect(e.Addrs(), 5*time.Second, zk.WithLogInfo(false))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	e.Servers[3].Kill() // server 4, which may have led: the others may still be electing
	if err := reconfigUntil(c, nil, []string{"1", "2"}, func(cfg string) bool {
		return !strings.Contains(cfg, "server.1=") && !strings.Contains(cfg, "server.2=")
	}); err != nil {
		t.Fatalf("remove servers 1 and 2: %v", err)
	}
	e.Servers[0].Kill()
	e.Servers[1].Kill()
	e.Servers[3].Start() // waits until it serves; fails the test if it never does
	c4, _, err := zk.Connect([]string{e.Servers[3].Addr}, 5*time.Second, zk.WithLogInfo(false))
	if err != nil {
		t.Fatal(err)
	}
	defer c4.Close()
	if _, err := c4.Sync("/zookeeper/config"); err != nil {
		t.Fatal(err)
	}
	data, _, err := c4.Get("/zookeeper/config")
	if err != nil {
		t.Fatal(err)
	}
	if s := string(data); strings.Contains(s, "server.1=") || strings.Contains(s, "server.2=") || !strings.Contains(s, "server.4=") {
		t.Errorf("server 4's /zookeeper/config after rejoining:\n%s\nwant servers 3, 4 and 5", s)
	}
	if _, err := c4.Create("/after-rejoin", nil, 0, zk.WorldACL(zk.PermAll)); err != nil {
		t.Errorf("write through the rejoined server: %v", err)
	}
	cfg, err := os.ReadFile(filepath.Join(e.Servers[3].Dir, "zoo.cfg"))
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(cfg), "dynamicConfigFile=") {
		t.Errorf("server 4 did not store the configuration it learned: zoo.cfg is\n%s", cfg)
	}
}
