package server_test

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/go-zookeeper/zk"

	"github.com/zkbench/zkbench/internal/zktest"
)

// The pseudo-cluster fixtures of server/config (three participants and an observer on
// fixed loopback ports), run as given but for dataDir.
func TestIntegrationObserverFixtures(t *testing.T) {
	dir := t.TempDir()
	var cfgs, addrs []string
	for i := 1; i <= 4; i++ {
		src, err := os.ReadFile(fmt.Sprintf("config/testdata/fixtures/pseudo-cluster-observer-node%d.cfg", i))
		if err != nil {
			t.Fatal(err)
		}
		data := filepath.Join(dir, fmt.Sprintf("zk%d", i))
		if err := os.MkdirAll(data, 0o755); err != nil {
			t.Fatal(err)
		}
		os.WriteFile(filepath.Join(data, "myid"), []byte(fmt.Sprint(i)), 0o644)
		text := regexp.MustCompile(`(?m)^dataDir=.*$`).ReplaceAllString(string(src), "dataDir="+data)
		text += "4lw.commands.whitelist=*\n"
		cfg := filepath.Join(data, "zoo.cfg")
		os.WriteFile(cfg, []byte(text), 0o644)
		cfgs = append(cfgs, cfg)
		addrs = append(addrs, fmt.Sprintf("127.0.0.1:%d", 2180+i))
	}
	e := zktest.StartFromConfigs(t, cfgs, addrs)
	e.Leader(10 * time.Second)

	// zkserver status: three participants (one leader) and one observer.
	bin := zktest.BuildZkserver(t)
	modes := map[string]int{}
	for _, cfg := range cfgs {
		out, err := exec.Command(bin, "status", cfg).CombinedOutput()
		if err != nil {
			t.Fatalf("zkserver status %s: %v\n%s", cfg, err, out)
		}
		for _, line := range strings.Split(string(out), "\n") {
			if m, ok := strings.CutPrefix(line, "Mode: "); ok {
				modes[m]++
			}
		}
	}
	if modes["leader"] != 1 || modes["follower"] != 2 || modes["observer"] != 1 {
		t.Fatalf("modes from zkserver status: %v, want 1 leader, 2 followers, 1 observer", modes)
	}

	// Writes through the observer are forwarded and committed.
	obs := connect(t, addrs[3])
	if _, err := obs.Create("/via-observer", []byte("o"), 0, zk.WorldACL(zk.PermAll)); err != nil {
		t.Fatal(err)
	}
	// Killing the observer never affects writes.
	e.Servers[3].Kill()
	c := tightConnect(t, addrs[:3])
	for i := 0; i < 20; i++ {
		if _, err := c.Set("/via-observer", []byte(fmt.Sprint(i)), -1); err != nil {
			t.Fatalf("write %d with the observer down: %v", i, err)
		}
	}
	e.Servers[3].Start()
	obs2 := connect(t, addrs[3])
	obs2.Sync("/via-observer")
	if data, _, err := obs2.Get("/via-observer"); err != nil || string(data) != "19" {
		t.Fatalf("restarted observer reads %q %v, want 19", data, err)
	}

	// Killing two of the three participants stops writes, observer or not.
	L := e.Leader(5 * time.Second)
	var victims []int
	for i := 0; i < 3 && len(victims) < 2; i++ {
		if i != L {
			victims = append(victims, i)
		}
	}
	victims[1] = L // the leader and one follower
	for _, v := range victims {
		e.Servers[v].Kill()
	}
	oc := tightConnect(t, []string{addrs[3]})
	res := make(chan error, 1)
	go func() { _, err := oc.Set("/via-observer", []byte("no-quorum"), -1); res <- err }()
	select {
	case err := <-res:
		if err == nil {
			t.Fatal("a write was acknowledged with two of three participants down")
		}
	case <-time.After(3 * time.Second):
	}
}

// With leaderServes=no, no client session is ever placed on the leader,
// also after a new leader is elected.
func TestIntegrationLeaderServesNo(t *testing.T) {
	e := zktest.StartEnsemble(t, 3, "leaderServes=no")
	L := e.Leader(20 * time.Second)
	if L < 0 {
		t.Fatal("no leader")
	}
	check := func(leader int) {
		t.Helper()
		for i := range e.Servers {
			out, err := zktest.FourLetterWord(e.Servers[i].Addr, "cons", time.Second)
			if i == leader {
				if err == nil && regexp.MustCompile(`sid=0x[1-9a-f]`).MatchString(out) {
					t.Fatalf("the leader (server %d) has client sessions:\n%s", i+1, out)
				}
			}
		}
	}
	c := tightConnect(t, e.Addrs())
	if _, err := c.Create("/ls", nil, 0, zk.WorldACL(zk.PermAll)); err != nil {
		t.Fatal(err)
	}
	check(L)
	e.Servers[L].Kill()
	if _, err := c.Set("/ls", []byte("x"), -1); err != nil {
		if writeUntilOK(t, c, "/ls", []byte("x"), 20*time.Second) < 0 {
			t.Fatal(err)
		}
	}
	L2 := e.Leader(10 * time.Second)
	e.Servers[L].Start()
	time.Sleep(500 * time.Millisecond)
	check(L2)
}

// Read-only mode: with two of three servers killed, the survivor serves
// read-only clients (kazoo asks for read-only sessions), refuses their
// writes, reports isro=ro, and takes writes again once the quorum returns.
func TestIntegrationReadOnlyMode(t *testing.T) {
	requireTool(t, "/usr/lib/python3/dist-packages/kazoo", "python3-kazoo")
	e := zktest.StartEnsembleEnv(t, 3, []string{"SERVER_JVMFLAGS=-Dreadonlymode.enabled=true"})
	c := connect(t, e.Servers[0].Addr)
	if _, err := c.Create("/ro", []byte("before"), 0, zk.WorldACL(zk.PermAll)); err != nil {
		t.Fatal(err)
	}
	c.Close()
	survivor := e.Servers[0]
	// Wait until the survivor has the write, then cut it off.
	sc := connect(t, survivor.Addr)
	sc.Sync("/ro")
	sc.Close()
	e.Servers[1].Kill()
	e.Servers[2].Kill()
	deadline := time.Now().Add(15 * time.Second)
	for {
		out, _ := zktest.FourLetterWord(survivor.Addr, "isro", time.Second)
		if out == "ro" {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("isro never said ro (last %q)", out)
		}
		time.Sleep(100 * time.Millisecond)
	}
	out, err := exec.Command("/usr/bin/python3", "testdata/kazoo_readonly.py", survivor.Addr, "ro").CombinedOutput()
	if err != nil {
		t.Fatalf("read-only phase: %v\n%s", err, out)
	}
	e.Servers[1].Start()
	e.Servers[2].Start()
	if isro, _ := zktest.FourLetterWord(survivor.Addr, "isro", time.Second); isro != "rw" {
		t.Errorf("isro after the quorum returned: %q, want rw", isro)
	}
	out, err = exec.Command("/usr/bin/python3", "testdata/kazoo_readonly.py", survivor.Addr, "rw").CombinedOutput()
	if err != nil {
		t.Fatalf("read-write phase: %v\n%s", err, out)
	}
}
