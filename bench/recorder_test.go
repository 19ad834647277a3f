package bench

import (
	"errors"
	"math"
	"runtime/metrics"
	"strings"
	"testing"
	"time"

	"github.com/go-zookeeper/zk"

	"github.com/zkbench/zkbench/results"
	"github.com/zkbench/zkbench/workloads"
)

// The per-operation path of the driver — next op, record — allocates
// nothing: what a run allocates per operation is go-zookeeper's.
func TestHotPathDoesNotAllocate(t *testing.T) {
	start := time.Now()
	rec := newRecorder(start, time.Hour, 100*time.Millisecond, true)
	spec, _ := workloads.Preset("smoke")
	c := &client{gen: spec.Generator(0)}
	now := start.Add(time.Second)
	rec.record(0, workloads.GetData, now, now, now.Add(time.Millisecond), nil) // the interval's first record allocates its accumulator
	allocs := testing.AllocsPerRun(1000, func() {
		op, _ := c.next()
		rec.record(0, op.Type, now, now, now.Add(time.Millisecond), nil)
		rec.record(0, op.Type, now, now, now.Add(time.Millisecond), zk.ErrConnectionClosed)
	})
	if allocs != 0 {
		t.Errorf("%.1f allocations per operation", allocs)
	}
}

func TestRecorderSeriesAndTotals(t *testing.T) {
	start := time.Unix(1000, 0)
	const iv = 100 * time.Millisecond
	rec := newRecorder(start, time.Second, iv, false)
	col := newCollector(rec, 10)
	at := func(d time.Duration) time.Time { return start.Add(d) }
	// Operations completed in warm-up and started after the deadline are
	// not counted.
	if rec.record(1, workloads.GetData, at(-2*time.Millisecond), at(-2*time.Millisecond), at(-time.Millisecond), nil) {
		t.Error("warm-up operation counted")
	}
	if rec.record(1, workloads.GetData, at(time.Second), at(time.Second), at(time.Second+time.Millisecond), nil) {
		t.Error("operation after the deadline counted")
	}
	// Interval 0: 3 getData of 1, 2, 3 ms from different shards; interval
	// 4: a setData of 10 ms and a session expiry; one op started inside and
	// completed after the end: its latency only.
	for i, lat := range []time.Duration{1, 2, 3} {
		rec.record(i, workloads.GetData, at(10*time.Millisecond), at(10*time.Millisecond), at(10*time.Millisecond+lat*time.Millisecond), nil)
	}
	rec.record(5, workloads.SetData, at(400*time.Millisecond), at(400*time.Millisecond), at(410*time.Millisecond), nil)
	rec.record(6, workloads.SetData, at(420*time.Millisecond), at(420*time.Millisecond), at(430*time.Millisecond), zk.ErrSessionExpired)
	rec.record(7, workloads.GetData, at(990*time.Millisecond), at(990*time.Millisecond), at(1500*time.Millisecond), nil)
	col.sweep(3)
	col.sweep(10)
	if len(col.series) != 10 {
		t.Fatalf("%d intervals", len(col.series))
	}
	s0, s4 := col.series[0], col.series[4]
	if s0.Ops != 3 || s0.ByOp["getData"] != 3 || s0.P50 < 2*time.Millisecond || s0.P50 > 2100*time.Microsecond || s0.Max < 3*time.Millisecond {
		t.Errorf("interval 0: %+v", s0)
	}
	if s4.Ops != 1 || s4.Errors != 1 || s4.ErrorsByKind[results.KindSessionExpired] != 1 || s4.Start != 400*time.Millisecond {
		t.Errorf("interval 4: %+v", s4)
	}
	var res results.Result
	rec.totals(&res)
	if g := res.Ops["getData"]; g.Count != 3 || g.Latency.Count != 4 || g.Latency.Max < 500*time.Millisecond {
		t.Errorf("getData totals %+v", g)
	}
	if s := res.Ops["setData"]; s.Count != 1 || s.Errors[results.KindSessionExpired] != 1 {
		t.Errorf("setData totals %+v", s)
	}
	if len(col.logs) != 1 || col.logs[0].TotalCount() != 4 {
		t.Errorf("log histograms: %d", len(col.logs))
	}
}

func TestClassify(t *testing.T) {
	cases := map[error]string{
		zk.ErrConnectionClosed: results.KindConnectionLoss,
		zk.ErrSessionExpired:   results.KindSessionExpired,
		zk.ErrNoServer:         results.KindNoServer,
		zk.ErrBadVersion:       "server:BADVERSION",
		zk.ErrNoNode:           "server:NONODE",
		errors.New("odd"):      results.KindOther,
		errTimedOut:            results.KindTimeout,
	}
	for err, want := range cases {
		if got := kindName(classify(err)); got != want {
			t.Errorf("%v: %s, want %s", err, got, want)
		}
	}
}

func TestWarnings(t *testing.T) {
	ms := time.Millisecond
	cases := []struct {
		d    results.Driver
		p50  time.Duration
		want []string
	}{
		{results.Driver{GOMAXPROCS: 2, CPUCores: 0.5, MachineBusy: 0.5, SchedP99: 50 * time.Microsecond}, ms, nil},
		{results.Driver{GOMAXPROCS: 2, CPUCores: 1.9, MachineBusy: 0.5}, ms, []string{"driver saturated"}},
		{results.Driver{GOMAXPROCS: 2, CPUCores: 0.5, MachineBusy: 0.99}, ms, []string{"machine CPU saturated"}},
		{results.Driver{GOMAXPROCS: 2, CPUCores: 0.5, MachineBusy: 0.5, SchedP99: ms}, 2 * ms, []string{"driver starved"}},
		// A millisecond of scheduling delay beside 60 ms operations is not
		// what sets the pace.
		{results.Driver{GOMAXPROCS: 2, CPUCores: 0.5, MachineBusy: 0.5, SchedP99: ms}, 60 * ms, nil},
	}
	for i, c := range cases {
		got := warnings(c.d, 2, c.p50)
		if len(got) != len(c.want) {
			t.Errorf("case %d: %q, want %q", i, got, c.want)
			continue
		}
		for j := range got {
			if !strings.HasPrefix(got[j], c.want[j]) {
				t.Errorf("case %d: %q, want %q...", i, got[j], c.want[j])
			}
		}
	}
}

func TestSchedQuantile(t *testing.T) {
	a := &metrics.Float64Histogram{Counts: []uint64{5, 5, 5}, Buckets: []float64{0, 1e-6, 1e-3, math.Inf(1)}}
	b := &metrics.Float64Histogram{Counts: []uint64{95, 15, 5}, Buckets: a.Buckets}
	// 90 new values up to 1 µs, 10 up to 1 ms: p50 1 µs, p99 1 ms.
	if q := schedQuantile(a, b, 0.5); q != time.Microsecond {
		t.Errorf("p50 %v", q)
	}
	if q := schedQuantile(a, b, 0.99); q != time.Millisecond {
		t.Errorf("p99 %v", q)
	}
	if q := schedQuantile(nil, b, 0.99); q != 0 {
		t.Errorf("no snapshot: %v", q)
	}
}

// Throughput is what completed inside the measured part, whenever it was
// scheduled: an open loop that fell behind during warm-up answers, in the
// measured part, operations scheduled before it, and those are its
// throughput. Latency keeps the operations scheduled inside the measured
// part, from their intended start.
func TestRecorderCountsCompletionsInsideMeasuredPart(t *testing.T) {
	start := time.Unix(1000, 0)
	const iv = 100 * time.Millisecond
	rec := newRecorder(start, time.Second, iv, true)
	col := newCollector(rec, 10)
	at := func(d time.Duration) time.Time { return start.Add(d) }
	// Scheduled 2 s before the measured part, completed in its interval 1:
	// counted there, latency 2.15 s in the interval; not in the run's
	// latency histogram.
	if !rec.record(0, workloads.GetData, at(-2*time.Second), at(100*time.Millisecond), at(150*time.Millisecond), nil) {
		t.Error("a warm-up operation completed inside the measured part was not counted")
	}
	rec.record(1, workloads.SetData, at(-time.Second), at(110*time.Millisecond), at(160*time.Millisecond), zk.ErrSessionExpired)
	// Scheduled inside, completed after the end: latency only.
	rec.record(2, workloads.GetData, at(900*time.Millisecond), at(900*time.Millisecond), at(1200*time.Millisecond), nil)
	// Scheduled and completed inside.
	rec.record(3, workloads.GetData, at(500*time.Millisecond), at(500*time.Millisecond), at(510*time.Millisecond), nil)
	// Completed before the measured part: nothing.
	if rec.record(4, workloads.GetData, at(-time.Second), at(-time.Second), at(-time.Millisecond), nil) {
		t.Error("an operation completed during warm-up was counted")
	}
	col.sweep(10)
	s1, s5 := col.series[1], col.series[5]
	if s1.Ops != 1 || s1.Errors != 1 || s1.Max < 2*time.Second {
		t.Errorf("interval 1: %+v, want the late getData (2.15 s) and the failed setData", s1)
	}
	if s5.Ops != 1 {
		t.Errorf("interval 5: %+v", s5)
	}
	var res results.Result
	rec.totals(&res)
	g := res.Ops["getData"]
	if g.Count != 2 {
		t.Errorf("getData completed inside the measured part: %d, want 2", g.Count)
	}
	if g.Latency.Count != 2 || g.Latency.Max > 400*time.Millisecond {
		t.Errorf("getData latency %+v: want the 2 operations scheduled inside (10 ms, 300 ms)", g.Latency)
	}
	if s := res.Ops["setData"]; s == nil || s.Errors[results.KindSessionExpired] != 1 {
		t.Errorf("setData %+v: the failure inside the measured part is missing", s)
	}
	if got := rec.finished(); got != 2 {
		t.Errorf("%d operations scheduled inside the measured part finished, want 2", got)
	}
}
