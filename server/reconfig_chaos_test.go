package server_test

import (
	"context"
	"fmt"
	"math/rand"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/go-zookeeper/zk"
	"github.com/zkbench/zkbench/internal/zktest"
)

// TestIntegrationReconfigChaos changes the membership of a real 5-server
// ensemble again and again — removing voters (the leader too) and adding
// them back — while some of its members are killed with kill -9 and
// restarted, and clients read, write and sync. Every history must pass the
// history package's checks (linearizable writes and synced reads,
// per-session order, no time travel, no lost acknowledged write), and at
// the end every server must agree on the membership. ZKBENCH_CHAOS_SEED=N
// replays one schedule.
func TestIntegrationReconfigChaos(t *testing.T) {
	for _, seed := range chaosSeeds(3, 1) {
		t.Run(fmt.Sprintf("seed-%d", seed), func(t *testing.T) { runReconfigChaos(t, seed, 5*time.Second) })
	}
}

func runReconfigChaos(t *testing.T, seed int64, dur time.Duration) {
	const n = 5
	rng := rand.New(rand.NewSource(seed))
	e, admin := startReconfigEnsemble(t, n)

	// Each server's line as the first configuration gave it, to add it
	// back after a removal.
	specs := map[int]string{}
	members := func() ([]int, string) {
		deadline := time.Now().Add(10 * time.Second)
		for time.Now().Before(deadline) {
			if _, err := admin.Sync("/zookeeper/config"); err == nil {
				if data, _, err := admin.Get("/zookeeper/config"); err == nil {
					var ids []int
					for _, line := range strings.Split(string(data), "\n") {
						if k, _, ok := strings.Cut(line, "="); ok && strings.HasPrefix(k, "server.") {
							id, _ := strconv.Atoi(strings.TrimPrefix(k, "server."))
							ids = append(ids, id)
							if specs[id] == "" {
								// With its client address: a joiner needs one.
								specs[id] = line + ";" + e.Addrs()[id-1]
							}
						}
					}
					return ids, string(data)
				}
			}
			time.Sleep(50 * time.Millisecond)
		}
		t.Fatal("cannot read /zookeeper/config")
		return nil, ""
	}
	voters, _ := members()
	if len(voters) != n {
		t.Fatalf("initial membership %v", voters)
	}

	root := fmt.Sprintf("/rchaos-%d", seed)
	ctx, cancel := context.WithTimeout(context.Background(), dur)
	defer cancel()
	wait := startChaosClients(ctx, e, root, seed)

	// The schedule: every 200-500 ms a reconfig (remove a voter that is up,
	// or add back one that was removed) or a fault (kill -9 a voter, the
	// leader more often; restart it later). At most one voter is down and
	// at least three stay voters, so a quorum of both memberships of a
	// reconfig is always up.
	down := -1 // index of the killed server, or -1
	var events []string
	for deadline := time.Now().Add(dur - 500*time.Millisecond); time.Now().Before(deadline); {
		time.Sleep(time.Duration(200+rng.Intn(300)) * time.Millisecond)
		var removed []int
		for id := 1; id <= n; id++ {
			if !slices.Contains(voters, id) {
				removed = append(removed, id)
			}
		}
		switch r := rng.Intn(4); {
		case r == 0 && down >= 0:
			e.Servers[down].Start()
			events = append(events, fmt.Sprintf("restart s%d", down+1))
			down = -1
		case r == 0 && len(voters) > 3:
			victim := voters[rng.Intn(len(voters))]
			if l := e.Leader(200 * time.Millisecond); l >= 0 && slices.Contains(voters, l+1) && rng.Intn(2) == 0 {
				victim = l + 1
			}
			e.Servers[victim-1].Kill()
			down = victim - 1
			events = append(events, fmt.Sprintf("kill -9 s%d", victim))
		case r == 1 && len(removed) > 0:
			id := removed[rng.Intn(len(removed))]
			err := withTimeout(func() error { _, err := admin.IncrementalReconfig([]string{specs[id]}, nil, -1); return err })
			events = append(events, fmt.Sprintf("add s%d: %v", id, errName(err)))
		case len(voters) > 3:
			var upVoters []int
			for _, id := range voters {
				if id-1 != down {
					upVoters = append(upVoters, id)
				}
			}
			id := upVoters[rng.Intn(len(upVoters))]
			if l := e.Leader(200 * time.Millisecond); l >= 0 && slices.Contains(upVoters, l+1) && rng.Intn(3) == 0 {
				id = l + 1 // remove the leader: its successor takes over
			}
			err := withTimeout(func() error { _, err := admin.IncrementalReconfig(nil, []string{strconv.Itoa(id)}, -1); return err })
			events = append(events, fmt.Sprintf("remove s%d: %v", id, errName(err)))
		}
		voters, _ = members()
	}
	if down >= 0 {
		e.Servers[down].Start()
		events = append(events, fmt.Sprintf("restart s%d", down+1))
	}
	checkChaosHistory(t, e, wait, root, seed, fmt.Sprintf("events %v", events))

	// Every server, voter or not, ends with the same configuration.
	_, want := members()
	for i, addr := range e.Addrs() {
		c, _, err := zk.Connect([]string{addr}, 2*time.Second, zk.WithLogInfo(false))
		if err != nil {
			t.Fatal(err)
		}
		var got string
		for try := 0; try < 50; try++ {
			c.Sync("/zookeeper/config")
			data, _, err := c.Get("/zookeeper/config")
			if got = string(data); err == nil && got == want {
				break
			}
			time.Sleep(100 * time.Millisecond)
		}
		c.Close()
		if got != want {
			t.Errorf("server %d has configuration\n%s\nwant\n%s", i+1, got, want)
		}
	}
}

// startReconfigEnsemble starts n Go servers that let anyone reconfigure
// them, and connects an admin client to all of them.
func startReconfigEnsemble(t *testing.T, n int) (*zktest.Ensemble, *zk.Conn) {
	t.Helper()
	e := zktest.StartEnsemble(t, n, "reconfigEnabled=true", "standaloneEnabled=false", "skipACL=yes")
	admin, _, err := zk.Connect(e.Addrs(), 2*time.Second, zk.WithLogInfo(false))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(admin.Close)
	return e, admin
}

// withTimeout runs a client call that may never be answered (its server
// can lose the request when the leader changes) for up to 5 s.
func withTimeout(call func() error) error {
	done := make(chan error, 1)
	go func() { done <- call() }()
	select {
	case err := <-done:
		return err
	case <-time.After(5 * time.Second):
		return fmt.Errorf("no answer in 5 s")
	}
}
