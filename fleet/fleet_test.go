package fleet

import (
	"math/rand/v2"
	"testing"
	"time"

	hdr "github.com/HdrHistogram/hdrhistogram-go"

	"github.com/zkbench/zkbench/agent"
	"github.com/zkbench/zkbench/results"
)

func TestPlanSharesContiguousRanges(t *testing.T) {
	for _, tc := range []struct{ clients, n int }{{4, 2}, {60, 3}, {7, 3}, {5, 5}, {1, 1}} {
		rs := Plan(tc.clients, tc.n)
		next := 0
		for _, r := range rs {
			if r.First != next || r.Count < tc.clients/tc.n || r.Count > tc.clients/tc.n+1 {
				t.Fatalf("Plan(%d, %d) = %v", tc.clients, tc.n, rs)
			}
			next += r.Count
		}
		if next != tc.clients {
			t.Fatalf("Plan(%d, %d) = %v covers %d", tc.clients, tc.n, rs, next)
		}
	}
}

// sample is one raw latency as a driver saw it.
type sample struct {
	op  string
	at  time.Duration // completion, from the common start
	lat int64
}

// report builds an agent's report from its raw samples as bench would:
// whole-run histograms per op type, a histogram and counts per interval,
// and sends it through the wire encoding.
func report(t *testing.T, name string, ss []sample, interval time.Duration, n int) *agent.Report {
	t.Helper()
	r := &results.Result{Interval: interval, Measured: time.Duration(n) * interval, Stop: results.StopDeadline,
		Ops: map[string]*results.OpStats{}, Latency: map[string]*hdr.Histogram{}}
	ivh := map[int64]*hdr.Histogram{}
	r.Series = make([]results.Interval, n)
	for i := range r.Series {
		r.Series[i] = results.Interval{Start: time.Duration(i) * interval, Len: interval}
	}
	for _, s := range ss {
		if r.Latency[s.op] == nil {
			r.Latency[s.op] = results.NewHistogram(results.TotalDigits)
			r.Ops[s.op] = &results.OpStats{}
		}
		r.Latency[s.op].RecordValue(s.lat)
		r.Ops[s.op].Count++
		idx := int64(s.at / interval)
		if ivh[idx] == nil {
			ivh[idx] = results.NewHistogram(results.IntervalDigits)
		}
		ivh[idx].RecordValue(s.lat)
		r.Series[idx].Ops++
	}
	rep := &agent.Report{Agent: name, Result: r, Intervals: map[int64][]byte{}}
	var err error
	if rep.Latency, err = agent.EncodeHists(r.Latency); err != nil {
		t.Fatal(err)
	}
	for idx, h := range ivh {
		if rep.Intervals[idx], err = agent.EncodeHist(h); err != nil {
			t.Fatal(err)
		}
	}
	r.Latency = nil // as it arrives: the histograms travel encoded
	return rep
}

// The merged histograms are exactly those of the union of every agent's
// raw latencies: whole-run per op type, and per interval.
func TestMergeEqualsHistogramOfUnion(t *testing.T) {
	const interval = 100 * time.Millisecond
	const n = 20
	rng := rand.New(rand.NewPCG(1, 2))
	union := map[string]*hdr.Histogram{}
	unionIv := map[int64]*hdr.Histogram{}
	var reps []*agent.Report
	for a := range 3 {
		var ss []sample
		for range 5000 + a*1000 {
			s := sample{op: []string{"getData", "setData"}[rng.IntN(2)], at: time.Duration(rng.Int64N(int64(n * interval))),
				lat: int64(time.Duration(rng.ExpFloat64()*float64(time.Millisecond)*float64(a+1))) + 1000}
			ss = append(ss, s)
			if union[s.op] == nil {
				union[s.op] = results.NewHistogram(results.TotalDigits)
			}
			union[s.op].RecordValue(s.lat)
			idx := int64(s.at / interval)
			if unionIv[idx] == nil {
				unionIv[idx] = results.NewHistogram(results.IntervalDigits)
			}
			unionIv[idx].RecordValue(s.lat)
		}
		reps = append(reps, report(t, string(rune('a'+a)), ss, interval, n))
	}
	start := time.Date(2026, 12, 6, 21, 0, 0, 0, time.UTC)
	res, err := Merge(reps, Meta{Start: start, Interval: interval,
		Ensemble: results.Ensemble{Implementation: "go", Size: 1}})
	if err != nil {
		t.Fatal(err)
	}
	for op, want := range union {
		got := res.Latency[op]
		if got == nil || !got.Equals(want) {
			t.Fatalf("%s: merged histogram differs from the union's", op)
		}
		if res.Ops[op].Count != want.TotalCount() || res.Ops[op].Latency != results.LatencyOf(want) {
			t.Fatalf("%s: merged stats %+v, union %+v", op, res.Ops[op].Latency, results.LatencyOf(want))
		}
	}
	if len(res.Series) != n {
		t.Fatalf("%d intervals, want %d", len(res.Series), n)
	}
	total := results.NewHistogram(results.IntervalDigits)
	for i, iv := range res.Series {
		want := unionIv[int64(i)]
		l := results.LatencyOf(want)
		if iv.Ops != want.TotalCount() || iv.P50 != l.P50 || iv.P99 != l.P99 || iv.P999 != l.P999 || iv.Max != l.Max {
			t.Fatalf("interval %d: ops %d p99 %v, union %d p99 %v", i, iv.Ops, iv.P99, want.TotalCount(), l.P99)
		}
		total.Merge(want)
	}
	// The interval log covers every interval: 1 s stretches of 10.
	if len(res.IntervalLatency) != 2 {
		t.Fatalf("%d interval-log histograms, want 2", len(res.IntervalLatency))
	}
	logged := results.NewHistogram(results.IntervalDigits)
	for _, h := range res.IntervalLatency {
		logged.Merge(h)
	}
	if !logged.Equals(total) {
		t.Fatal("interval log differs from the union of the intervals")
	}
	if got := res.IntervalLatency[1].StartTimeMs(); got != start.Add(time.Second).UnixMilli() {
		t.Fatalf("second log histogram starts at %d", got)
	}
}

// An agent's driver counters add up; its worst scheduling latency wins.
func TestMergeDriver(t *testing.T) {
	mk := func(cpu float64, sched time.Duration) *agent.Report {
		return &agent.Report{Agent: "x", Result: &results.Result{Interval: time.Second,
			Driver: results.Driver{CPUSeconds: cpu, CPUCores: cpu / 2, GOMAXPROCS: 2, SchedP99: sched, Reconnects: 1},
			Ops:    map[string]*results.OpStats{"getData": {Count: 10}}}}
	}
	res, err := Merge([]*agent.Report{mk(1, time.Millisecond), mk(3, 2*time.Millisecond)}, Meta{})
	if err != nil {
		t.Fatal(err)
	}
	d := res.Driver
	if d.CPUSeconds != 4 || d.CPUCores != 2 || d.GOMAXPROCS != 4 || d.SchedP99 != 2*time.Millisecond || d.Reconnects != 2 || d.CPUPer10kOps != 2000 {
		t.Fatalf("driver %+v", d)
	}
}
