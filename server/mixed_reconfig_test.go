package server_test

import (
	"fmt"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/go-zookeeper/zk"

	"github.com/zkbench/zkbench/internal/zktest"
)

// Reconfig in mixed ensembles: the leader's COMMITANDACTIVATE and
// INFORMANDACTIVATE, and the configuration NEWLEADER carries, between Go
// and Java servers (issue 24).

// TestIntegrationMixedReconfig, with reconfigEnabled, adds a server of
// the other implementation than the leader's, turns a follower into an
// observer and back, removes a follower, then removes the leader; after
// each step every member's /zookeeper/config reads the same and a write
// through each serving member reaches all of them.
func TestIntegrationMixedReconfig(t *testing.T) {
	for _, tc := range []struct {
		name string
		java []bool // servers 1-3 vote and 3 leads; 4 joins
	}{
		{"GoLeaderJavaFollowers", []bool{true, true, false, true}},
		{"JavaLeaderGoFollowers", []bool{false, false, true, false}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			all := newMixedServers(t, tc.java)
			extra := []string{"reconfigEnabled=true", "standaloneEnabled=false", "skipACL=yes"}
			e := startMixedMembers(t, all[:3], extra)
			// Server 4 starts with the members and itself: it follows
			// without a vote until it is added.
			j := writeMixedConfig(t, t.TempDir(), all[3], all[:3], extra)
			j.Start()
			e.Servers = append(e.Servers, j)
			admin := connect(t, e.Servers[2].Addr)
			step := func(name string, joining, leaving []string, modes map[int]string) {
				t.Helper()
				if _, err := admin.IncrementalReconfig(joining, leaving, -1); err != nil {
					t.Fatalf("%s: reconfig: %v", name, err)
				}
				sameConfig(t, name, e, modes)
			}
			step("add 4", []string{all[3].spec()}, nil, map[int]string{1: "follower", 2: "follower", 3: "leader", 4: "follower"})
			step("2 observes", []string{all[1].specAs("observer")}, nil, map[int]string{1: "follower", 2: "observer", 3: "leader", 4: "follower"})
			step("2 votes again", []string{all[1].spec()}, nil, map[int]string{1: "follower", 2: "follower", 3: "leader", 4: "follower"})
			step("remove 1", nil, []string{"1"}, map[int]string{1: "follower", 2: "follower", 3: "leader", 4: "follower"})
			// Removing the leader: it names a successor among 2 and 4 (the
			// other implementation), which the rest follow.
			admin = connect(t, e.Servers[1].Addr)
			s2 := e.Servers[1]
			log2, says := filepath.Join(s2.Dir, "server.log"), "Suggested leader: "
			if !tc.java[1] {
				log2, says = filepath.Join(s2.Dir, fmt.Sprintf("zkserver-%d.log", s2.Starts())), "following the successor the reconfig designated"
			}
			since := fileSize(log2)
			if _, err := admin.IncrementalReconfig(nil, []string{"3"}, -1); err != nil && !strings.Contains(err.Error(), "connection") {
				// The reply may be lost as the leader goes.
				t.Logf("remove 3: %v", err)
			}
			waitLeaderAmong(t, e, 2, 4)
			sameConfig(t, "remove 3", e, nil)
			// Server 2 took the successor from the leader's activation,
			// not from an election.
			if !logSays(t, log2, since, says) {
				t.Errorf("%s does not say %q after the leader was removed", log2, says)
			}
		})
	}
}

// sameConfig waits until every server of e reports the mode modes gives it
// (by id; nil: any serving mode), then requires every server's
// /zookeeper/config, read through a client after a sync, to be the same
// and to be the membership its conf shows, and a write through each
// server to reach every other.
func sameConfig(t *testing.T, name string, e *zktest.Ensemble, modes map[int]string) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for i := range e.Servers {
		for {
			m := e.Mode(i)
			if want, ok := modes[i+1]; ok && m == want || !ok && m != "" && m != "looking" {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("%s: server %d is %q, want %q", name, i+1, m, modes[i+1])
			}
			time.Sleep(50 * time.Millisecond)
		}
	}
	var first string
	var firstZxid int64
	for i, s := range e.Servers {
		c := connect(t, s.Addr)
		if _, err := c.Sync("/zookeeper/config"); err != nil {
			t.Fatalf("%s: sync on server %d: %v", name, i+1, err)
		}
		data, st, err := c.Get("/zookeeper/config")
		if err != nil {
			t.Fatalf("%s: server %d's /zookeeper/config: %v", name, i+1, err)
		}
		// conf shows the configuration in force, which a txn applied
		// without its activation leaves behind.
		if out, err := zktest.FourLetterWord(s.Addr, "conf", time.Second); err != nil {
			t.Errorf("%s: server %d's conf: %v", name, i+1, err)
		} else if _, m, _ := strings.Cut(out, "membership: \n"); strings.TrimSpace(m) != strings.TrimSpace(string(data)) {
			t.Errorf("%s: server %d's conf shows the membership\n%s\nbut its /zookeeper/config is\n%s", name, i+1, m, data)
		}
		if i == 0 {
			first, firstZxid = string(data), st.Mzxid
			t.Logf("%s: /zookeeper/config (mzxid %#x):\n%s", name, st.Mzxid, data)
		} else if string(data) != first || st.Mzxid != firstZxid {
			t.Errorf("%s: server %d's /zookeeper/config (mzxid %#x):\n%s\nserver 1's (mzxid %#x):\n%s", name, i+1, st.Mzxid, data, firstZxid, first)
		}
		c.Close()
	}
	if t.Failed() {
		t.FailNow()
	}
	path := "/" + strings.ReplaceAll(name, " ", "-")
	conns := make([]*zk.Conn, len(e.Servers))
	for i, s := range e.Servers {
		conns[i] = connect(t, s.Addr)
	}
	if _, err := conns[0].Create(path, nil, 0, zk.WorldACL(zk.PermAll)); err != nil {
		t.Fatalf("%s: create %s: %v", name, path, err)
	}
	for i, c := range conns {
		if _, err := c.Create(fmt.Sprintf("%s/s%d", path, i+1), nil, 0, zk.WorldACL(zk.PermAll)); err != nil {
			t.Fatalf("%s: create through server %d: %v", name, i+1, err)
		}
	}
	for i, c := range conns {
		if _, err := c.Sync(path); err != nil {
			t.Fatalf("%s: sync on server %d: %v", name, i+1, err)
		}
		kids, _, err := c.Children(path)
		if err != nil || len(kids) != len(conns) {
			t.Fatalf("%s: server %d lists %s as %v %v, want %d children", name, i+1, path, kids, err, len(conns))
		}
		c.Close()
	}
}

// waitLeaderAmong waits until one of the servers with the given ids leads.
func waitLeaderAmong(t *testing.T, e *zktest.Ensemble, ids ...int) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for time.Now().Before(deadline) {
		for _, id := range ids {
			if e.Mode(id-1) == "leader" {
				return
			}
		}
		time.Sleep(50 * time.Millisecond)
	}
	var modes []string
	for i := range e.Servers {
		modes = append(modes, fmt.Sprintf("%d:%s", i+1, e.Mode(i)))
	}
	t.Fatalf("none of servers %v leads: %s", ids, strings.Join(modes, " "))
}
