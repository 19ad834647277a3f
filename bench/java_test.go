package bench

import (
	"bufio"
	"context"
	"net"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/zkbench/zkbench/harness"
	"github.com/zkbench/zkbench/internal/zktest"
	"github.com/zkbench/zkbench/results"
	"github.com/zkbench/zkbench/workloads"
)

// startJava starts a 3-server upstream Java ZooKeeper ensemble with the
// harness (leaderServes=yes, upstream's default), closed in t.Cleanup.
func startJava(t *testing.T) *harness.Ensemble {
	t.Helper()
	zktest.RequireJava(t)
	e, err := harness.Start(context.Background(), harness.Options{Impl: harness.ImplJava, Servers: 3, LeaderServes: true, JavaHeap: "256m"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { e.Close() })
	return e
}

// javaTargets returns the ensemble's members with the roles they report
// (none for a member not serving, as experiment.Targets).
func javaTargets(t *testing.T, e *harness.Ensemble) []Target {
	t.Helper()
	var out []Target
	for _, m := range e.Members() {
		tg := Target{Addr: m.ClientAddr, ID: int64(m.ID)}
		if m.Role.Serving() {
			tg.Role = string(m.Role)
		}
		out = append(out, tg)
	}
	return out
}

// connections asks a server (srvr) how many client connections it has.
func connections(t *testing.T, addr string) int {
	t.Helper()
	c, err := net.DialTimeout("tcp", addr, time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(2 * time.Second))
	c.Write([]byte("srvr"))
	sc := bufio.NewScanner(c)
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), "Connections: "); ok {
			n, _ := strconv.Atoi(strings.TrimSpace(v))
			return n - 1 // not counting this one
		}
	}
	t.Fatalf("%s: no Connections line in srvr", addr)
	return 0
}

func totalOps(res *results.Result) (ok, failed int64) {
	for _, st := range res.Ops {
		ok += st.Count
		for _, n := range st.Errors {
			failed += n
		}
	}
	return ok, failed
}

// TestIntegration_Java drives a 3-server upstream Java ZooKeeper ensemble:
// every operation type, 50 clients on the followers only, open loop, and a
// follower killed mid-run. It runs in the default suite (about 15 s).
func TestIntegration_Java(t *testing.T) {
	e := startJava(t)
	targets := javaTargets(t, e)
	leader := -1
	for i, tg := range targets {
		if tg.Role == RoleLeader {
			leader = i
		}
	}
	if leader < 0 {
		t.Fatalf("no leader among %+v", targets)
	}
	ensemble := results.Ensemble{Implementation: "java", Version: "3.8.0", Launch: "children of the test process"}

	t.Run("every op", func(t *testing.T) {
		spec, _ := workloads.Preset("smoke")
		spec.Duration = time.Second
		res, err := Run(context.Background(), Options{Spec: spec, Targets: targets, Ensemble: ensemble})
		if err != nil {
			t.Fatal(err)
		}
		for _, op := range workloads.OpNames() {
			st := res.Ops[op]
			if st == nil || st.Count == 0 {
				t.Errorf("%s: no successful operations (%+v)", op, st)
				continue
			}
			if len(st.Errors) > 0 {
				t.Errorf("%s: errors %v", op, st.Errors)
			}
			if st.Latency.P50 <= 0 || st.Latency.P50 > 500*time.Millisecond {
				t.Errorf("%s: p50 %v", op, st.Latency.P50)
			}
		}
	})

	t.Run("50 clients on followers", func(t *testing.T) {
		spec, _ := workloads.Preset("readratio")
		spec.ReadPercent = 70
		spec.Clients = 50
		spec.Outstanding = 10
		spec.Keys = 200
		spec.Warmup = 500 * time.Millisecond
		spec.Duration = 2 * time.Second
		done := make(chan struct{})
		conns := make(chan []int, 1)
		events := make(chan results.Event) // unbuffered: see "follower killed"
		go func() {
			// Sample the servers' connection counts mid-run: a second
			// into the measurement, however long the sessions took.
			select {
			case events <- results.Event{Name: "load"}:
			case <-time.After(time.Minute): // Run failed before the load
			}
			time.Sleep(spec.Warmup + time.Second)
			// The harness's own srvr and mntr polls are connections too
			// while they last (a loaded JVM can take a while to close
			// one): the fewest seen in samples over half a second is the
			// clients'.
			n := make([]int, len(targets))
			for round := range 10 {
				if round > 0 {
					time.Sleep(50 * time.Millisecond)
				}
				for i, tg := range targets {
					if c := connections(t, tg.Addr); round == 0 || c < n[i] {
						n[i] = c
					}
				}
			}
			conns <- n
			close(done)
		}()
		res, err := Run(context.Background(), Options{Spec: spec, Targets: targets, Placement: Followers, Ensemble: ensemble, Events: events})
		<-done
		if err != nil {
			t.Fatal(err)
		}
		ok, failed := totalOps(res)
		sum := results.Summarize(res)
		t.Logf("50 clients x 10 outstanding, 70%% reads: %.0f ops/s (sd %.0f), p50 %v p99 %v, driver %.2f cores, %.3f CPU-s per 10k ops",
			sum.Throughput.Mean, sum.Throughput.Stddev, sum.All.P50, sum.All.P99, res.Driver.CPUCores, res.Driver.CPUPer10kOps)
		if ok == 0 || failed != 0 {
			t.Errorf("%d ok, %d failed", ok, failed)
		}
		if got := res.Ops["getData"].Count * 100 / ok; got < 65 || got > 75 {
			t.Errorf("%d%% reads, want 70", got)
		}
		n := <-conns
		for i, tg := range targets {
			placed := res.Ensemble.Members[i].Clients
			if i == leader && (placed != 0 || n[i] != 0) {
				t.Errorf("leader %s has %d clients placed, %d connections: followers placement", tg.Addr, placed, n[i])
			}
			if i != leader && (placed != 25 || n[i] != 25) {
				t.Errorf("follower %s: %d placed, %d connections, want 25", tg.Addr, placed, n[i])
			}
		}
		if len(res.Series) != 20 || res.Machine.Cores == 0 || res.Build.GoVersion == "" || res.Driver.Client == "" {
			t.Errorf("result incomplete: %d intervals, machine %+v, build %+v", len(res.Series), res.Machine, res.Build)
		}
		// And it is written and read back whole.
		dir := t.TempDir()
		if err := results.Write(dir, res); err != nil {
			t.Fatal(err)
		}
		back, err := results.Read(dir)
		if err != nil {
			t.Fatal(err)
		}
		if back.Ops["getData"].Latency != res.Ops["getData"].Latency || len(back.IntervalLatency) != len(res.IntervalLatency) {
			t.Errorf("result changed in the round trip: %+v vs %+v, %d vs %d", back.Ops["getData"].Latency, res.Ops["getData"].Latency, len(back.IntervalLatency), len(res.IntervalLatency))
		}
	})

	t.Run("open loop", func(t *testing.T) {
		spec := workloads.Default()
		spec.ReadPercent = 90
		spec.Clients = 10
		spec.Outstanding = 4
		spec.Keys = 100
		spec.Mode = workloads.Open
		spec.Rate = 500
		spec.Warmup = 300 * time.Millisecond
		spec.Duration = 2 * time.Second
		res, err := Run(context.Background(), Options{Spec: spec, Targets: targets, SkipSetup: false, Ensemble: ensemble})
		if err != nil {
			t.Fatal(err)
		}
		// Of the 1,000 scheduled in the measured part, those that succeeded
		// have a latency; none failed, and the rest are unfinished.
		_, failed := totalOps(res)
		done := results.Summarize(res).All.Count
		if done+res.Driver.Unfinished != 1000 || failed != 0 || res.Driver.Unfinished > 20 {
			t.Errorf("%d ok, %d failed, %d unfinished; want 1000 scheduled, all done", done, failed, res.Driver.Unfinished)
		}
		if res.Service == nil || res.Ops["getData"].Service == nil {
			t.Error("open loop kept no service times")
		}
	})

	// Last: it kills a server.
	t.Run("follower killed", func(t *testing.T) {
		victim := (leader + 1) % len(targets)
		spec, _ := workloads.Preset("reliability")
		spec.Clients = 12
		spec.Outstanding = 4
		spec.Keys = 100
		spec.Warmup = 300 * time.Millisecond
		spec.Duration = 3 * time.Second
		// Unbuffered: Run reads it from the start of the warm-up, so the
		// first send says when that is, however long setup took.
		events := make(chan results.Event)
		go func() {
			select {
			case events <- results.Event{Name: "load"}:
			case <-time.After(time.Minute): // Run failed before the load
				return
			}
			time.Sleep(spec.Warmup + time.Second)
			if err := e.Kill(int(targets[victim].ID)); err != nil {
				t.Error(err)
			}
			events <- results.Event{Name: "kill", Detail: "follower " + targets[victim].Addr}
		}()
		res, err := Run(context.Background(), Options{Spec: spec, Targets: targets, Events: events, Ensemble: ensemble})
		if err != nil {
			t.Fatal(err)
		}
		var lost int64
		for _, st := range res.Ops {
			lost += st.Errors[results.KindConnectionLoss]
		}
		t.Logf("kill at %v: %d requests lost with the connection, %d sessions re-established", res.Events[len(res.Events)-1].At, lost, res.Driver.Reconnects)
		if res.Driver.Reconnects != 4 {
			t.Errorf("%d reconnects, want the killed follower's 4 clients", res.Driver.Reconnects)
		}
		if res.Driver.Expirations != 0 {
			t.Errorf("%d sessions expired", res.Driver.Expirations)
		}
		// Throughput continues after the kill: the last second has operations.
		var after int64
		for _, iv := range res.Series[len(res.Series)-10:] {
			after += iv.Ops
		}
		if after == 0 {
			t.Error("no operations in the last second: clients did not fail over")
		}
	})
}

// TestIntegration_JavaScale runs 1,000 simulated clients, each with its own
// session, against a 3-server Java ensemble and reports what the driver
// costs. Long: skipped with -short.
func TestIntegration_JavaScale(t *testing.T) {
	if testing.Short() {
		t.Skip("long test (1,000 sessions against 3 JVMs, ~15 s): skipped with -short")
	}
	e := startJava(t)
	targets := javaTargets(t, e)
	spec, _ := workloads.Preset("readratio")
	spec.ReadPercent = 100
	spec.Clients = 1000
	spec.Outstanding = 2
	spec.Keys = 1000
	spec.Warmup = time.Second
	spec.Duration = 2 * time.Second
	res, err := Run(context.Background(), Options{Spec: spec, Targets: targets, ConnectTimeout: 60 * time.Second,
		Ensemble: results.Ensemble{Implementation: "java", Version: "3.8.0"}})
	if err != nil {
		t.Fatal(err)
	}
	ok, failed := totalOps(res)
	sum := results.Summarize(res)
	perCore := 1e4 / res.Driver.CPUPer10kOps
	t.Logf("1000 clients x 2 outstanding, 100%% reads: %.0f ops/s (sd %.0f), p50 %v p99 %v; driver %.2f cores, %.3f CPU-s per 10k ops => one driver core sustains ~%.0f ops/s; machine %.0f%% busy",
		sum.Throughput.Mean, sum.Throughput.Stddev, sum.All.P50, sum.All.P99, res.Driver.CPUCores, res.Driver.CPUPer10kOps, perCore, 100*res.Driver.MachineBusy)
	for _, w := range res.Warnings {
		t.Logf("warning: %s", w)
	}
	if ok == 0 || failed != 0 {
		t.Errorf("%d ok, %d failed", ok, failed)
	}
	for _, m := range res.Ensemble.Members {
		if m.Clients < 333 || m.Clients > 334 {
			t.Errorf("member %s got %d clients", m.Addr, m.Clients)
		}
	}
}
