package server_test

import (
	"errors"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/go-zookeeper/zk"

	"github.com/zkbench/zkbench/internal/zktest"
)

// TestIntegrationReconfigRejoinCountsPromotedFollower is the schedule that
// TestIntegrationReconfigChaos seed 29645 found. A server removed by a
// reconfig goes through an election as a non-voter (it decides OBSERVING
// and follows), is added back as a voter while it follows, and then a
// killed voter restarts. The restarted voter joins the leader only when a
// quorum of the new membership tells it so, and the promoted server is
// part of that quorum: it must advertise FOLLOWING, not OBSERVING, which a
// looking voter ignores. Before the fix the restarted server never served.
func TestIntegrationReconfigRejoinCountsPromotedFollower(t *testing.T) {
	e, admin := startReconfigEnsemble(t, 5)

	// Each server's line, with its client address for adding it back.
	specs := map[int]string{}
	if _, err := admin.Sync("/zookeeper/config"); err != nil {
		t.Fatal(err)
	}
	data, _, err := admin.Get("/zookeeper/config")
	if err != nil {
		t.Fatal(err)
	}
	for _, line := range strings.Split(string(data), "\n") {
		if k, _, ok := strings.Cut(line, "="); ok && strings.HasPrefix(k, "server.") {
			id, _ := strconv.Atoi(strings.TrimPrefix(k, "server."))
			specs[id] = line + ";" + e.Addrs()[id-1]
		}
	}
	leader := e.Leader(5*time.Second) + 1
	if leader == 0 {
		t.Fatal("no leader")
	}
	var others []int
	for id := 1; id <= 5; id++ {
		if id != leader {
			others = append(others, id)
		}
	}
	promoted, dropped := others[0], others[1]

	// 1. Remove two followers: three voters remain, the leader among them.
	if _, err := admin.IncrementalReconfig(nil, []string{strconv.Itoa(promoted), strconv.Itoa(dropped)}, -1); err != nil {
		t.Fatalf("remove %d and %d: %v", promoted, dropped, err)
	}
	// 2. Kill the leader: the two voters left elect one of themselves, and
	// the removed server follows the winner as a non-voter.
	e.Servers[leader-1].Kill()
	waitMode(t, e, promoted-1, 10*time.Second, "follower", "observer")
	// 3. Add the removed server back as a voter, while it follows.
	if err := reconfigUntil(admin, []string{specs[promoted]}, nil, func(cfg string) bool {
		return strings.Contains(cfg, "server."+strconv.Itoa(promoted)+"=")
	}); err != nil {
		t.Fatalf("add %d back: %v", promoted, err)
	}
	// 4. Restart the old leader with its stale state. Of the four voters,
	// it needs three: the new leader, its follower and the promoted one.
	e.Servers[leader-1].Start()
	if m := e.Mode(leader - 1); !slices.Contains([]string{"follower", "leader"}, m) {
		t.Fatalf("restarted server %d reports mode %q", leader, m)
	}
}

// waitMode waits until server i reports one of modes.
func waitMode(t *testing.T, e *zktest.Ensemble, i int, timeout time.Duration, modes ...string) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		m := e.Mode(i)
		if slices.Contains(modes, m) {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("server %d reports mode %q after %v, want one of %v", i+1, m, timeout, modes)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// reconfigUntil reconfigures (joining, leaving) until /zookeeper/config
// satisfies done. The
// reply of a reconfig can be lost while the ensemble settles after a
// leader change, or when the client's own server changes role on the
// commit (go-zookeeper: connection closed, could not connect to a
// server): then the membership, not the reply, says whether it took.
func reconfigUntil(admin *zk.Conn, joining, leaving []string, done func(cfg string) bool) error {
	deadline := time.Now().Add(30 * time.Second)
	for {
		err := withTimeout(func() error {
			_, err := admin.IncrementalReconfig(joining, leaving, -1)
			return err
		})
		if err == nil {
			return nil
		}
		if serr := withTimeout(func() error {
			if _, err := admin.Sync("/zookeeper/config"); err != nil {
				return err
			}
			cfg, _, err := admin.Get("/zookeeper/config")
			if err == nil && !done(string(cfg)) {
				return errors.New("not in the membership yet")
			}
			return err
		}); serr == nil {
			return nil
		}
		if time.Now().After(deadline) {
			return err
		}
		time.Sleep(200 * time.Millisecond)
	}
}
