package bench

import (
	"context"
	"errors"
	"math"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/zkbench/zkbench/results"
	"github.com/zkbench/zkbench/workloads"
)

// replay feeds a synthetic throughput series, one rate per bucket, to the
// automatic warm-up's decision as the live run does and returns how long
// the warm-up lasted and whether it settled.
func replay(t *testing.T, rates []float64, minimum, maximum time.Duration) (time.Duration, bool) {
	t.Helper()
	rule := defaultSteady
	for n := 1; n <= len(rates); n++ {
		if v := rule.decide(rates[:n], minimum, maximum, true); v.done {
			return time.Duration(n) * rule.Bucket, v.settled
		}
	}
	t.Fatalf("series of %d buckets ended before the warm-up did", len(rates))
	return 0, false
}

func series(n int, f func(i int, at time.Duration) float64) []float64 {
	out := make([]float64, n)
	for i := range out {
		out[i] = f(i, time.Duration(i+1)*defaultSteady.Bucket)
	}
	return out
}

func TestSteadyFlatSettlesAtMinimum(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	flat := series(100, func(int, time.Duration) float64 { return 20000 * (1 + 0.01*rng.NormFloat64()) })
	for _, minimum := range []time.Duration{0, 2 * time.Second, 5 * time.Second} {
		took, settled := replay(t, flat, minimum, 30*time.Second)
		want := max(minimum, time.Duration(defaultSteady.Window)*defaultSteady.Bucket)
		if !settled || took != want {
			t.Errorf("minimum %v: flat series: warm-up %v settled=%v, want %v settled", minimum, took, settled, want)
		}
	}
}

func TestSteadyJITRampSettlesLate(t *testing.T) {
	// Java at 60 x 1 on 3 servers (issue 19): ~6k ops/s climbing to ~16k
	// over the first 6 s as the JIT compiles, then flat with 2 % noise.
	rng := rand.New(rand.NewPCG(3, 4))
	ramp := series(120, func(_ int, at time.Duration) float64 {
		base := 16000.0
		if s := at.Seconds(); s < 6 {
			base = 6000 + 10000*s/6
		}
		return base * (1 + 0.02*rng.NormFloat64())
	})
	took, settled := replay(t, ramp, 2*time.Second, 30*time.Second)
	if !settled {
		t.Fatalf("ramp never settled (warm-up %v)", took)
	}
	if took < 6*time.Second || took > 10*time.Second {
		t.Errorf("ramp settled after %v, want between the end of the climb (6 s) and 10 s", took)
	}
}

func TestSteadySlowCreepIsNotSteady(t *testing.T) {
	// A 4 %/s climb has a small coefficient of variation over a 3 s window
	// (about 3.5 %) but its halves differ by 6 %: still warming up.
	creep := series(120, func(_ int, at time.Duration) float64 { return 10000 * math.Pow(1.04, at.Seconds()) })
	took, settled := replay(t, creep, 0, 20*time.Second)
	if settled || took != 20*time.Second {
		t.Errorf("creeping series: warm-up %v settled=%v, want the 20 s maximum, unsettled", took, settled)
	}
}

func TestSteadyNoisyHitsMaximum(t *testing.T) {
	rng := rand.New(rand.NewPCG(5, 6))
	noisy := series(100, func(int, time.Duration) float64 { return 10000 * (1 + 0.3*rng.NormFloat64()) })
	took, settled := replay(t, noisy, 2*time.Second, 12*time.Second)
	if settled || took != 12*time.Second {
		t.Errorf("noisy series: warm-up %v settled=%v, want the 12 s maximum, unsettled", took, settled)
	}
	v := defaultSteady.decide(noisy[:24], 2*time.Second, 12*time.Second, true)
	if v.cv < defaultSteady.MaxCV {
		t.Errorf("noisy series: last window's CV %.3f, want above %.2f", v.cv, defaultSteady.MaxCV)
	}
}

func TestSteadyStalledIsNotSteady(t *testing.T) {
	// No operation completes (an ensemble without quorum): zero throughput
	// is not a steady state to measure.
	zero := make([]float64, 100)
	if took, settled := replay(t, zero, 0, 5*time.Second); settled || took != 5*time.Second {
		t.Errorf("stalled series: warm-up %v settled=%v, want the 5 s maximum, unsettled", took, settled)
	}
}

func TestMeasuredStartOnIntervalBoundary(t *testing.T) {
	start := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	iv := 100 * time.Millisecond
	for _, tc := range []struct{ now, want time.Duration }{
		{3*time.Second + 2*time.Millisecond, 3100 * time.Millisecond},
		{3 * time.Second, 3 * time.Second},
		{3099 * time.Millisecond, 3100 * time.Millisecond},
	} {
		if got := boundaryAfter(start, start.Add(tc.now), iv); got != start.Add(tc.want) {
			t.Errorf("now %v: measured start %v, want %v", tc.now, got.Sub(start), tc.want)
		}
	}
}

// A fake server answering after a fixed delay gives a flat throughput: the
// automatic warm-up ends at its shortest (the 3 s window), on the series'
// grid, and says so in the result.
func TestAutoWarmupSettlesOnFlatLoad(t *testing.T) {
	srv := startFake(t, time.Millisecond)
	spec := fakeSpec()
	spec.Warmup, spec.WarmupMax, spec.Duration = 0, 20*time.Second, time.Second
	// The rule's thresholds loosened: on a busy shared machine even a
	// fixed-delay server's throughput varies by more than 5 % per 500 ms
	// (the rule itself is tested on synthetic series above).
	rule := defaultSteady
	rule.MaxCV, rule.MaxDrift = 0.3, 0.3
	res, err := Run(context.Background(), Options{Spec: spec, Targets: []Target{{Addr: srv.Addr()}}, steady: &rule})
	if err != nil {
		t.Fatal(err)
	}
	w := res.Warmup
	if w == nil {
		t.Fatal("no warm-up recorded for an automatic warm-up")
	}
	window := time.Duration(rule.Window) * rule.Bucket
	if !w.Settled || w.Took < window || w.Took > window+2*time.Second {
		t.Errorf("flat load: warm-up %+v, want settled after about %v", w, window)
	}
	if w.Took%res.Interval != 0 {
		t.Errorf("measured part starts %v after the load, not on the %v grid", w.Took, res.Interval)
	}
	if res.Measured != spec.Duration || len(res.Series) != int(spec.Duration/res.Interval) {
		t.Errorf("measured %v in %d intervals, want %v in %d", res.Measured, len(res.Series), spec.Duration, spec.Duration/res.Interval)
	}
	for _, s := range res.Warnings {
		if strings.Contains(s, "warm-up") {
			t.Errorf("settled warm-up warned: %s", s)
		}
	}
}

// A load whose throughput never steadies ends the warm-up at its maximum
// and warns.
func TestAutoWarmupUnsettledWarns(t *testing.T) {
	srv := startFake(t, time.Millisecond)
	spec := fakeSpec()
	spec.Warmup, spec.WarmupMax, spec.Duration = 0, 4*time.Second, 500*time.Millisecond
	// An open-loop rate that climbs is not expressible; a rule no load can
	// meet stands in for an unsteady one.
	opts := Options{Spec: spec, Targets: []Target{{Addr: srv.Addr()}}, steady: &steadyRule{Bucket: 500 * time.Millisecond, Window: 6, MaxCV: -1, MaxDrift: -1}}
	res, err := Run(context.Background(), opts)
	if err != nil {
		t.Fatal(err)
	}
	if w := res.Warmup; w == nil || w.Settled || w.Took < spec.WarmupMax || w.Took > spec.WarmupMax+time.Second {
		t.Fatalf("warm-up %+v, want unsettled after the %v maximum", res.Warmup, spec.WarmupMax)
	}
	if !slices.ContainsFunc(res.Warnings, func(s string) bool { return strings.Contains(s, "never steady") }) {
		t.Errorf("no warning of an unsettled warm-up in %q", res.Warnings)
	}
}

func TestAutoWarmupRefusedWithSeveralDrivers(t *testing.T) {
	spec := fakeSpec()
	spec.WarmupMax = 10 * time.Second
	_, err := Run(context.Background(), Options{Spec: spec, Targets: []Target{{Addr: "127.0.0.1:1"}}, Sessions: SessionRange{0, 2}})
	if !errors.Is(err, ErrInvalidOptions) || !strings.Contains(err.Error(), "automatic warm-up") {
		t.Errorf("automatic warm-up over a share of the sessions: %v, want it refused", err)
	}
}

// In open loop a steady throughput is not enough: a server that answers
// half the offered rate completes a flat 800 ops/s while its backlog grows
// without end. The warm-up is steady only when the sessions keep their
// schedule; this one never does, and the result says how far behind it was.
func TestAutoWarmupOpenLoopBehindIsNotSteady(t *testing.T) {
	srv := startFake(t, 5*time.Millisecond) // 4 sessions x 1: at most 800 ops/s
	spec := fakeSpec()
	spec.Clients, spec.Outstanding = 4, 1
	spec.Mode, spec.Rate = workloads.Open, 1600
	spec.Warmup, spec.WarmupMax, spec.Duration = 0, 4*time.Second, 500*time.Millisecond
	rule := defaultSteady
	rule.MaxCV, rule.MaxDrift = 0.3, 0.3 // the flat 800 ops/s passes on a busy machine too
	res, err := Run(context.Background(), Options{Spec: spec, Targets: []Target{{Addr: srv.Addr()}}, steady: &rule})
	if err != nil {
		t.Fatal(err)
	}
	w := res.Warmup
	if w == nil || w.Settled || w.Took < spec.WarmupMax {
		t.Fatalf("warm-up %+v: a schedule falling ever further behind was judged steady", w)
	}
	// After 4 s about 3,200 operations are overdue.
	if w.Behind < 1000 {
		t.Errorf("warm-up ended %d operations behind schedule, want about 3,200", w.Behind)
	}
	if !slices.ContainsFunc(res.Warnings, func(s string) bool { return strings.Contains(s, "behind") }) {
		t.Errorf("no warning of the backlog in %q", res.Warnings)
	}
}

// An open loop the server keeps up with settles as before.
func TestAutoWarmupOpenLoopOnScheduleSettles(t *testing.T) {
	srv := startFake(t, time.Millisecond)
	spec := fakeSpec()
	spec.Clients, spec.Outstanding = 4, 1
	spec.Mode, spec.Rate = workloads.Open, 400
	spec.Warmup, spec.WarmupMax, spec.Duration = 0, 10*time.Second, 500*time.Millisecond
	rule := defaultSteady
	rule.MaxCV, rule.MaxDrift = 0.3, 0.3
	res, err := Run(context.Background(), Options{Spec: spec, Targets: []Target{{Addr: srv.Addr()}}, steady: &rule})
	if err != nil {
		t.Fatal(err)
	}
	if w := res.Warmup; w == nil || !w.Settled || w.Took > 6*time.Second || w.Behind > int64(spec.Clients) {
		t.Errorf("warm-up %+v: want settled after about 3 s, on schedule", w)
	}
}

// scheduledBefore, the warm-up's count of what is due, agrees with the
// count behind Driver.Unfinished.
func TestScheduledBeforeCountsTheSchedule(t *testing.T) {
	spec := fakeSpec()
	spec.Clients, spec.Mode, spec.Rate = 7, workloads.Open, 1234
	sr := SessionRange{0, 7}
	for _, d := range []time.Duration{0, time.Millisecond, 333 * time.Millisecond, 5 * time.Second} {
		if got, want := scheduledBefore(spec, sr, d), scheduled(spec, sr, 0, d); got < want-int64(sr.Count) || got > want+int64(sr.Count) {
			t.Errorf("before %v: %d, want %d (within one per session)", d, got, want)
		}
	}
}

// With SharedWarmup the driver does not decide: it publishes every
// bucket's completions as it ends, on the grid of the warm-up's start, and
// measures from the instant it is given.
func TestSharedWarmupPublishesBucketsAndMeasuresFromTheGivenStart(t *testing.T) {
	srv := startFake(t, time.Millisecond)
	spec := fakeSpec()
	spec.Warmup, spec.WarmupMax, spec.Duration = 0, 20*time.Second, time.Second
	buckets := make(chan WarmupBucket, 100)
	measure := make(chan time.Time, 1)
	var want time.Time
	var got []WarmupBucket
	go func() {
		for b := range buckets {
			got = append(got, b)
			if b.Index == 2 {
				// The coordinator's decision: two intervals after the
				// third bucket's end, on the grid of the warm-up start.
				want = b.End.Add(200 * time.Millisecond)
				measure <- want
			}
		}
	}()
	start := time.Now().Add(100 * time.Millisecond)
	res, err := Run(context.Background(), Options{Spec: spec, Targets: []Target{{Addr: srv.Addr()}},
		Sessions: SessionRange{0, 2},
		Barrier:  func(context.Context) (time.Time, error) { return start, nil },
		SharedWarmup: &SharedWarmup{
			Publish: func(b WarmupBucket) { buckets <- b },
			Measure: measure,
		}})
	close(buckets)
	if err != nil {
		t.Fatal(err)
	}
	if !res.Start.Equal(want) {
		t.Errorf("measured part starts at %v, want the given %v", res.Start, want)
	}
	if res.Warmup != nil {
		t.Errorf("a driver that did not decide recorded the warm-up %+v", res.Warmup)
	}
	if res.Measured != spec.Duration || len(res.Series) != int(spec.Duration/res.Interval) {
		t.Errorf("measured %v in %d intervals, want %v", res.Measured, len(res.Series), spec.Duration)
	}
	if len(got) < 3 {
		t.Fatalf("%d buckets published, want at least 3", len(got))
	}
	for k, b := range got {
		if b.Index != int64(k) || b.Ops <= 0 || !b.End.Equal(start.Add(time.Duration(k+1)*WarmupBucketWidth)) {
			t.Errorf("bucket %d: %+v (end %v after the start), want index %d, operations, end on the %v grid", k, b, b.End.Sub(start), k, WarmupBucketWidth)
		}
	}
}

// The coordinator judges the sum of the drivers' buckets with the driver's
// own rule: a flat sum settles after the rule's window, a climbing one only
// once the window lies past the climb, and one that never steadies runs to
// the maximum and says so.
func TestWarmupJudgeOnSummedBuckets(t *testing.T) {
	spec := fakeSpec()
	spec.Warmup, spec.WarmupMax = 0, 20*time.Second
	judge := func(ops func(k int) int64) (*results.Warmup, int) {
		j := NewWarmupJudge(spec)
		for k := 0; ; k++ {
			if j.Add(ops(k), WarmupBucketWidth, 0, 0) {
				return j.Outcome(time.Duration(k+1) * WarmupBucketWidth), k + 1
			}
		}
	}
	if w, n := judge(func(int) int64 { return 5000 }); !w.Settled || n != 6 {
		t.Errorf("flat: %d buckets, %+v; want settled after 6", n, w)
	}
	// One driver flat at 5000, one climbing from 1000 to 8000 over 5 s.
	climb := func(k int) int64 { return 5000 + min(1000+int64(k)*700, 8000) }
	if w, n := judge(climb); !w.Settled || n < 15 || n > 17 {
		t.Errorf("climb: %d buckets, %+v; want settled once the window is nearly past the climb (15)", n, w)
	}
	if w, n := judge(func(k int) int64 { return int64(1000 + 3000*(k%2)) }); w.Settled || n != 40 || w.CV < 0.05 {
		t.Errorf("noisy: %d buckets, %+v; want unsettled at the 40-bucket maximum", n, w)
	}
	// In open loop a flat sum is not enough while the summed schedule
	// lags by more than the summed slack.
	spec.Mode, spec.Rate = workloads.Open, 10000
	j := NewWarmupJudge(spec)
	k := 0
	for ; !j.Add(5000, WarmupBucketWidth, int64(100*k), 8); k++ {
	}
	if w := j.Outcome(time.Duration(k+1) * WarmupBucketWidth); w.Settled || k+1 != 40 || w.Behind != int64(100*k) || !strings.Contains(w.Rule, "behind schedule") {
		t.Errorf("open loop falling behind: %d buckets, %+v; want unsettled at the maximum, %d behind", k+1, w, 100*k)
	}
}

// A SharedWarmup is for an automatic warm-up, with both of its ends.
func TestSharedWarmupNeedsAutomaticWarmup(t *testing.T) {
	spec := fakeSpec()
	for _, tc := range []struct {
		max time.Duration
		sh  *SharedWarmup
	}{
		{0, &SharedWarmup{Publish: func(WarmupBucket) {}, Measure: make(chan time.Time)}},
		{10 * time.Second, &SharedWarmup{Measure: make(chan time.Time)}},
		{10 * time.Second, &SharedWarmup{Publish: func(WarmupBucket) {}}},
	} {
		spec.WarmupMax = tc.max
		_, err := Run(context.Background(), Options{Spec: spec, Targets: []Target{{Addr: "127.0.0.1:1"}}, Sessions: SessionRange{0, 2}, SharedWarmup: tc.sh})
		if !errors.Is(err, ErrInvalidOptions) || !strings.Contains(err.Error(), "SharedWarmup") {
			t.Errorf("WarmupMax %v, %+v: %v, want it refused", tc.max, tc.sh, err)
		}
	}
}
