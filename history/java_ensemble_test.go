package history

import (
	"context"
	"testing"
	"time"

	"github.com/zkbench/zkbench/harness"
	"github.com/zkbench/zkbench/internal/zktest"
)

// TestIntegration_JavaEnsembleFaults runs the clients against a three-server
// upstream ZooKeeper ensemble while the leader is partitioned from its peers
// and healed, and a follower is killed and restarted, and requires upstream's
// history to pass every check: the checkers accept what real ZooKeeper does
// under faults.
func TestIntegration_JavaEnsembleFaults(t *testing.T) {
	zktest.RequireJava(t)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	e, err := harness.Start(ctx, harness.Options{Impl: harness.ImplJava, Servers: 3, LeaderServes: true,
		TickTime: 300, PeerProxy: true, RunDir: t.TempDir(), JavaHeap: "128m",
		JavaOpts: []string{"-XX:+UseSerialGC", "-XX:TieredStopAtLevel=1"}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := e.Close(); err != nil {
			t.Errorf("close ensemble: %v", err)
		}
	})
	var addrs []string
	for _, m := range e.Members() {
		addrs = append(addrs, m.ClientAddr)
	}
	leader, ok := e.Leader()
	if !ok {
		t.Fatal("no leader")
	}
	follower := leader%3 + 1
	runCtx, runCancel := context.WithTimeout(ctx, 8*time.Second)
	defer runCancel()
	faults := make(chan error, 1)
	go func() {
		wait := func(d time.Duration) bool {
			select {
			case <-runCtx.Done():
				return false
			case <-time.After(d):
				return true
			}
		}
		var err error
		steps := []struct {
			after time.Duration
			do    func() error
		}{
			{time.Second, func() error { return e.Partition(leader) }},
			{2 * time.Second, func() error { return e.Heal(leader) }},
			{time.Second, func() error { return e.Kill(follower) }},
			{1500 * time.Millisecond, func() error { return e.Restart(follower) }},
		}
		for _, s := range steps {
			if !wait(s.after) {
				break
			}
			if err = s.do(); err != nil {
				break
			}
		}
		faults <- err
	}()
	opts := Options{Addrs: addrs, Clients: 5, Keys: 3, Seed: 11, Root: "/hist/java",
		Timeout: 2 * time.Second, MaxOps: 20000, Think: time.Millisecond}
	h, err := RunClients(runCtx, opts)
	if err != nil {
		t.Fatal(err)
	}
	if err := <-faults; err != nil {
		t.Fatalf("fault injection: %v", err)
	}
	if err := e.WaitServing(ctx); err != nil {
		t.Fatal(err)
	}
	_, final := checkRun(t, h, addrs, opts, "upstream ZooKeeper under faults")
	c := h.Counts()
	if c.WritesOK < 50 || c.SyncsOK < 10 {
		t.Fatalf("too little happened: %+v", c)
	}
	if len(final.Servers) != 3 {
		t.Fatalf("final read reached %d servers: %v", len(final.Servers), final.Unreachable)
	}
}
