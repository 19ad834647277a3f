package fleet

import (
	"context"
	"encoding/json"
	"log/slog"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/go-zookeeper/zk"

	"github.com/zkbench/zkbench/agent"
	"github.com/zkbench/zkbench/bench"
	"github.com/zkbench/zkbench/internal/zktest"
	"github.com/zkbench/zkbench/workloads"
)

// coordination starts a coordination server and returns a session to it.
func coordination(t *testing.T) (string, *zk.Conn) {
	t.Helper()
	srv := zktest.StartGo(t)
	conn, _, err := zk.Connect([]string{srv.Addr}, 4*time.Second, zk.WithLogger(quiet{}))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(conn.Close)
	return srv.Addr, conn
}

// fakeAgent publishes ops(k) for bucket k every pace, as an agent's
// driver would every bench.WarmupBucketWidth, until /measure appears; it
// returns the last bucket it published.
func fakeAgent(ctx context.Context, conn *zk.Conn, l agent.Layout, run, name string, pace time.Duration, ops func(k int64) int64) <-chan int64 {
	out := make(chan int64, 1)
	go func() {
		var counts agent.WarmupCounts
		k := int64(0)
		defer func() { out <- k - 1 }()
		for ; ctx.Err() == nil; k++ {
			if ok, _, _ := conn.Exists(l.Measure(run)); ok {
				return
			}
			counts.Buckets = append(counts.Buckets, bench.WarmupBucket{Index: k, Ops: ops(k)})
			if len(counts.Buckets) > agent.WarmupKeep {
				counts.Buckets = counts.Buckets[1:]
			}
			b, _ := json.Marshal(counts)
			if err := agent.Put(conn, l.Warmup(run, name), b); err != nil {
				return
			}
			time.Sleep(pace)
		}
	}()
	return out
}

// The coordinator sums the agents' buckets by index and judges the sum by
// the drivers' own rule: with one agent steady and one climbing, the
// measured part starts only once the window lies past the climb, on the
// series' grid and ahead of the decision, and /measure says when in the
// coordination server's clock.
func TestCoordinatorDecidesWarmupOnSummedBuckets(t *testing.T) {
	_, conn := coordination(t)
	l := agent.Layout{Root: "/t"}
	if err := agent.Ensure(conn, l); err != nil {
		t.Fatal(err)
	}
	if err := agent.EnsureRun(conn, l, "r1"); err != nil {
		t.Fatal(err)
	}
	spec := workloads.Default()
	spec.Warmup, spec.WarmupMax = 0, 30*time.Second
	const interval = 100 * time.Millisecond
	const off = 7 * time.Millisecond // the coordinator's clock minus the server's
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	// Buckets paced at 100 ms rather than 500 ms: the coordinator judges
	// by index, not by its clock, and the test takes a fifth of the time.
	steady := fakeAgent(ctx, conn, l, "r1", "a", 100*time.Millisecond, func(int64) int64 { return 2500 })
	climbing := fakeAgent(ctx, conn, l, "r1", "b", 100*time.Millisecond, func(k int64) int64 { return min(500+350*k, 4000) })
	start := time.Now()
	r := &run{conn: conn, l: l, id: "r1", names: []string{"a", "b"}, log: slog.New(slog.DiscardHandler)}
	mStart, w, err := r.decideWarmup(ctx, spec, start, off, interval)
	decided := time.Now()
	if err != nil {
		t.Fatal(err)
	}
	lastSteady, lastClimb := <-steady, <-climbing
	// The climb ends at bucket 10; the 6-bucket window passes the rule
	// once only its first bucket is short of the top (bucket 14).
	if lastClimb < 14 || lastSteady < 14 {
		t.Errorf("decided after buckets %d and %d, want none before the window passed the climb (14)", lastSteady, lastClimb)
	}
	if w == nil || !w.Settled || w.CV > 0.05 || w.Drift > 0.04 || !strings.Contains(w.Rule, "coefficient of variation") {
		t.Fatalf("warm-up %+v, want settled by the rule", w)
	}
	if w.Took != mStart.Sub(start) || w.Took%interval != 0 {
		t.Errorf("took %v, measured part at %v after the start: want them equal, on the %v grid", w.Took, mStart.Sub(start), interval)
	}
	// Two intervals ahead of the decision, less the write of /measure
	// (which a loaded machine may stretch: only the upper bound is sure).
	if ahead := mStart.Sub(decided); ahead > 3*interval {
		t.Errorf("measured part starts %v after the decision, want two intervals ahead at most", ahead)
	}
	b, _, err := conn.Get(l.Measure("r1"))
	if err != nil {
		t.Fatal(err)
	}
	var m agent.Measure
	if err := json.Unmarshal(b, &m); err != nil || m.At != mStart.Add(-off).UnixNano() {
		t.Errorf("/measure %s (%v), want %d: the start in the server's clock", b, err, mStart.Add(-off).UnixNano())
	}
}

// A sum that never steadies ends at WarmupMax, recorded as unsettled.
func TestCoordinatorWarmupNeverSteadyEndsAtMax(t *testing.T) {
	_, conn := coordination(t)
	l := agent.Layout{Root: "/t"}
	agent.Ensure(conn, l)
	if err := agent.EnsureRun(conn, l, "r2"); err != nil {
		t.Fatal(err)
	}
	spec := workloads.Default()
	spec.Warmup, spec.WarmupMax = 0, 4*time.Second // 8 buckets
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	a := fakeAgent(ctx, conn, l, "r2", "a", 50*time.Millisecond, func(k int64) int64 { return 1000 + 2000*(k%2) })
	b := fakeAgent(ctx, conn, l, "r2", "b", 50*time.Millisecond, func(int64) int64 { return 1000 })
	r := &run{conn: conn, l: l, id: "r2", names: []string{"a", "b"}, log: slog.New(slog.DiscardHandler)}
	_, w, err := r.decideWarmup(ctx, spec, time.Now(), 0, 100*time.Millisecond)
	if err != nil {
		t.Fatal(err)
	}
	if w.Settled || w.CV < 0.05 {
		t.Errorf("warm-up %+v, want unsettled", w)
	}
	if la, lb := <-a, <-b; la < 7 || lb < 7 {
		t.Errorf("decided after buckets %d and %d, want the 8 of WarmupMax", la, lb)
	}
}

// Two real client agents drive a Go server with --warmup auto: the merged
// result records the coordinator's warm-up, and its measured part starts
// on the grid after at least the rule's window.
func TestDriveAutomaticWarmupThroughAgents(t *testing.T) {
	coordAddr, _ := coordination(t)
	target := zktest.StartGo(t)
	connect := coordAddr + "/fleet-auto"
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	done := make(chan error, 2)
	for _, n := range []string{"a1", "a2"} {
		go func() { done <- agent.Run(ctx, agent.Config{Connect: connect, Name: n}) }()
	}
	defer func() {
		cancel()
		for range 2 {
			<-done
		}
	}()
	c, err := New(Options{Connect: connect, Agents: 2})
	if err != nil {
		t.Fatal(err)
	}
	spec := workloads.Default()
	spec.Clients, spec.Outstanding, spec.Keys = 4, 2, 50
	spec.Warmup, spec.WarmupMax, spec.Duration = 0, 5*time.Second, time.Second
	var measureAt time.Time
	res, err := c.Drive(ctx, bench.Options{Spec: spec, Targets: []bench.Target{{Addr: target.Addr}},
		OnMeasure: func(at time.Time) { measureAt = at }})
	if err != nil {
		t.Fatal(err)
	}
	if ab := c.Aborted(); ab != nil {
		t.Fatal(ab)
	}
	w := res.Warmup
	if w == nil {
		t.Fatal("no warm-up recorded for --warmup auto through agents")
	}
	if w.Took < 3*time.Second || w.Took > spec.WarmupMax+2*time.Second || w.Took%res.Interval != 0 {
		t.Errorf("warm-up took %v, want between the 3 s window and the %v maximum, on the %v grid", w.Took, spec.WarmupMax, res.Interval)
	}
	if !measureAt.Equal(res.Start) {
		t.Errorf("OnMeasure told %v, the result starts at %v", measureAt, res.Start)
	}
	if res.Measured != spec.Duration || res.Ops["getData"] == nil || res.Ops["getData"].Count == 0 {
		t.Errorf("measured %v, ops %v", res.Measured, res.Ops)
	}
	unsettledWarned := slices.ContainsFunc(res.Warnings, func(s string) bool { return strings.Contains(s, "never steady") })
	if w.Settled == unsettledWarned {
		t.Errorf("settled %v, warnings %q: want a warning exactly when it never steadied", w.Settled, res.Warnings)
	}
	t.Logf("warm-up %+v", w)
}

// An agent that stops during an automatic warm-up aborts the run at once:
// the warm-up is judged on every agent's counts and cannot end without
// its. (One killed outright is lost, which aborts as at any time:
// TestKilledAgentAbortsRun.)
func TestDriveAutomaticWarmupAgentStoppedAborts(t *testing.T) {
	coordAddr, conn := coordination(t)
	target := zktest.StartGo(t)
	connect := coordAddr + "/fleet-lost"
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	ctx2, lose := context.WithCancel(ctx)
	done := make(chan error, 2)
	go func() { done <- agent.Run(ctx, agent.Config{Connect: connect, Name: "a1"}) }()
	go func() { done <- agent.Run(ctx2, agent.Config{Connect: connect, Name: "a2"}) }()
	defer func() {
		cancel()
		for range 2 {
			<-done
		}
	}()
	c, err := New(Options{Connect: connect, Agents: 2})
	if err != nil {
		t.Fatal(err)
	}
	// Stop a2 once it has published warm-up counts.
	go func() {
		l := agent.Layout{Root: "/fleet-lost"}
		for ctx.Err() == nil {
			runs, _, _ := conn.Children(l.Runs())
			for _, r := range runs {
				if ok, _, _ := conn.Exists(l.Warmup(r, "a2")); ok {
					lose()
					return
				}
			}
			time.Sleep(50 * time.Millisecond)
		}
	}()
	spec := workloads.Default()
	spec.Clients, spec.Outstanding, spec.Keys = 4, 1, 50
	spec.Warmup, spec.WarmupMax, spec.Duration = 0, 20*time.Second, time.Second
	t0 := time.Now()
	_, err = c.Drive(ctx, bench.Options{Spec: spec, Targets: []bench.Target{{Addr: target.Addr}}})
	if ab := c.Aborted(); ab == nil || !strings.Contains(ab.Error(), "a2") {
		t.Fatalf("aborted %v (Drive: %v), want a2's failure", ab, err)
	}
	if took := time.Since(t0); took > 15*time.Second {
		t.Errorf("the run ended %v after its start, want soon after a2 stopped, not at the %v maximum", took, spec.WarmupMax)
	}
}
