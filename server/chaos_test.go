package server_test

import (
	"context"
	"fmt"
	"math/rand"
	"os"
	"strconv"
	"syscall"
	"testing"
	"time"

	"github.com/zkbench/zkbench/history"
	"github.com/zkbench/zkbench/internal/zktest"
)

// TestIntegrationChaosHistories runs seeded random fault schedules against
// real zkserver ensembles — kill -9 and restart, SIGSTOP/SIGCONT pauses,
// never more than a minority down at once — while clients read, write and
// sync, and checks every history: linearizable writes (porcupine), synced
// reads, per-session order, no time travel, and no lost acknowledged write.
// ZKBENCH_CHAOS_SEED=N replays one schedule.
func TestIntegrationChaosHistories(t *testing.T) {
	for _, seed := range chaosSeeds(10, 3) {
		n := 3
		if seed%2 == 1 {
			n = 5
		}
		t.Run(fmt.Sprintf("seed-%d-%dservers", seed, n), func(t *testing.T) {
			runChaos(t, seed, n, 4*time.Second)
		})
	}
}

func runChaos(t *testing.T, seed int64, n int, dur time.Duration) {
	rng := rand.New(rand.NewSource(seed))
	e := zktest.StartEnsemble(t, n)
	root := fmt.Sprintf("/chaos-%d", seed)
	ctx, cancel := context.WithTimeout(context.Background(), dur)
	defer cancel()
	wait := startChaosClients(ctx, e, root, seed)

	// The fault schedule: every 300-700 ms, one of kill, pause or restore,
	// keeping at most a minority of servers down.
	down := map[int]string{} // index -> "killed" | "paused"
	var events []string
	restore := func(i int) {
		switch down[i] {
		case "killed":
			e.Servers[i].Start()
		case "paused":
			syscall.Kill(e.Servers[i].PID(), syscall.SIGCONT)
		}
		delete(down, i)
		events = append(events, fmt.Sprintf("restore s%d", i+1))
	}
	for deadline := time.Now().Add(dur - 500*time.Millisecond); time.Now().Before(deadline); {
		time.Sleep(time.Duration(300+rng.Intn(400)) * time.Millisecond)
		victim := rng.Intn(n)
		if rng.Intn(3) == 0 {
			if l := e.Leader(200 * time.Millisecond); l >= 0 {
				victim = l // leaders get hit more often
			}
		}
		if _, isDown := down[victim]; isDown {
			restore(victim)
			continue
		}
		if len(down) >= (n-1)/2 {
			for i := range down {
				restore(i)
				break
			}
			continue
		}
		if rng.Intn(2) == 0 {
			e.Servers[victim].Kill()
			down[victim] = "killed"
			events = append(events, fmt.Sprintf("kill -9 s%d", victim+1))
		} else {
			syscall.Kill(e.Servers[victim].PID(), syscall.SIGSTOP)
			down[victim] = "paused"
			events = append(events, fmt.Sprintf("pause s%d", victim+1))
		}
	}
	for i := range down {
		restore(i)
	}
	checkChaosHistory(t, e, wait, root, seed, fmt.Sprintf("%d servers, faults %v", n, events))
}

// chaosSeeds returns the seeds a chaos test runs: n consecutive ones from a
// time-based start (short in -short), or the one ZKBENCH_CHAOS_SEED names.
func chaosSeeds(n, short int) []int64 {
	if testing.Short() {
		n = short
	}
	first := time.Now().UnixNano() % 100000
	if s := os.Getenv("ZKBENCH_CHAOS_SEED"); s != "" {
		first, _ = strconv.ParseInt(s, 10, 64)
		n = 1
	}
	seeds := make([]int64, n)
	for i := range seeds {
		seeds[i] = first + int64(i)
	}
	return seeds
}

// startChaosClients runs 6 history clients on e's servers until ctx ends;
// the returned function waits for their history.
func startChaosClients(ctx context.Context, e *zktest.Ensemble, root string, seed int64) func() (*history.History, error) {
	type result struct {
		h   *history.History
		err error
	}
	done := make(chan result, 1)
	go func() {
		h, err := history.RunClients(ctx, history.Options{
			Addrs: e.Addrs(), Clients: 6, Keys: 3, Root: root, Seed: seed,
			Timeout: time.Second, SessionTimeout: 4 * time.Second,
		})
		done <- result{h, err}
	}()
	return func() (*history.History, error) {
		r := <-done
		return r.h, r.err
	}
}

// checkChaosHistory waits for the clients, reads the final state once the
// ensemble serves again, and checks the history.
func checkChaosHistory(t *testing.T, e *zktest.Ensemble, wait func() (*history.History, error), root string, seed int64, what string) {
	t.Helper()
	h, err := wait()
	if err != nil {
		t.Fatalf("clients: %v", err)
	}
	e.WaitRoles(t, 20*time.Second)
	fctx, fcancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer fcancel()
	final, err := history.FinalCheck(fctx, e.Addrs(), history.KeyPaths(root, 3))
	if err != nil {
		t.Fatalf("final read: %v", err)
	}
	report := history.Check(h, final)
	t.Logf("seed %d, %s: %+v", seed, what, h.Counts())
	if !report.OK() {
		t.Fatalf("seed %d: history check failed (replay with ZKBENCH_CHAOS_SEED=%d):\n%s", seed, seed, report.String())
	}
}
