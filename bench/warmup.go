package bench

import (
	"context"
	"fmt"
	"math"
	"time"

	"github.com/zkbench/zkbench/results"
	"github.com/zkbench/zkbench/workloads"
)

// steadyRule is when the automatic warm-up (workloads.Spec.WarmupMax)
// deems the throughput steady: the completions of the last Window buckets
// of Bucket each vary little (coefficient of variation at most MaxCV) and
// do not trend (the means of the window's two halves differ by at most
// MaxDrift of the window's mean).
//
// The coefficient of variation alone passes a slow climb (4 %/s gives
// about 3.5 % over 3 s), hence the drift test. Java's JIT lifts a 3-server
// Java ensemble from ~6k to ~16k ops/s over about 6 s (issue 19): a 3 s
// window sees the climb until it lies wholly past it, at 8-9 s.
type steadyRule struct {
	Bucket   time.Duration
	Window   int
	MaxCV    float64
	MaxDrift float64
}

// defaultSteady: 500 ms buckets judged over the last 3 s, at most 5 %
// variation and 4 % drift. Half-second buckets hold enough operations to
// count (a few thousand at 10k ops/s) yet follow the JIT's climb.
var defaultSteady = steadyRule{Bucket: 500 * time.Millisecond, Window: 6, MaxCV: 0.05, MaxDrift: 0.04}

// String states the rule, for results and warnings.
func (s steadyRule) String() string {
	return fmt.Sprintf("throughput of the last %d buckets of %v: coefficient of variation <= %g%%, halves' means within %g%%",
		s.Window, s.Bucket, 100*s.MaxCV, 100*s.MaxDrift)
}

// verdict is the decision after one more bucket.
type verdict struct {
	done    bool    // the warm-up is over
	settled bool    // it is over because the throughput is steady
	cv      float64 // the last window's coefficient of variation
	drift   float64 // its halves' relative difference
}

// decide judges the warm-up after len(rates) buckets (one throughput per
// bucket, oldest first), given the minimum and maximum warm-up and whether
// an open loop's sessions keep their schedule (always true in closed loop).
func (s steadyRule) decide(rates []float64, minimum, maximum time.Duration, onSchedule bool) verdict {
	elapsed := time.Duration(len(rates)) * s.Bucket
	var v verdict
	if len(rates) >= s.Window {
		v.cv, v.drift = s.judge(rates[len(rates)-s.Window:])
		v.settled = elapsed >= minimum && v.cv <= s.MaxCV && v.drift <= s.MaxDrift && onSchedule
	}
	v.done = v.settled || elapsed >= maximum
	return v
}

// judge returns the window's coefficient of variation and drift; a window
// without throughput is infinitely variable.
func (s steadyRule) judge(w []float64) (cv, drift float64) {
	var sum float64
	for _, x := range w {
		sum += x
	}
	mean := sum / float64(len(w))
	if mean <= 0 {
		return math.Inf(1), math.Inf(1)
	}
	var ss float64
	for _, x := range w {
		ss += (x - mean) * (x - mean)
	}
	cv = math.Sqrt(ss/float64(len(w))) / mean
	h := len(w) / 2
	var a, b float64
	for _, x := range w[:h] {
		a += x
	}
	for _, x := range w[len(w)-h:] {
		b += x
	}
	drift = math.Abs(b-a) / float64(h) / mean
	return cv, drift
}

// boundaryAfter returns the first instant at or after now that is a whole
// number of intervals after start: the measured part starts on the series'
// grid.
func boundaryAfter(start, now time.Time, interval time.Duration) time.Time {
	n := (now.Sub(start) + interval - 1) / interval
	return start.Add(n * interval)
}

// scheduleRule is the open-loop half of the steadiness rule: a steady
// throughput is not enough when the sessions are behind their schedule (a
// server answering less than the offered rate completes a flat rate while
// its backlog grows, and one that caught up late still carries the backlog
// its cold start built), so the warm-up also waits until every session is
// within one operation per slot of its schedule.
const scheduleRule = "open loop: at most one operation per session slot behind schedule"

// behind returns how many open-loop operations scheduled before now have
// not been issued, and how many may be (one per session slot) for the
// schedule to count as kept.
func (r *run) behind(now time.Time) (n, slack int64) {
	sr := r.opts.sessions()
	return scheduledBefore(r.spec, sr, now.Sub(r.runStart)) - r.issued.Load(), int64(sr.Count) * int64(r.spec.Outstanding)
}

// scheduledBefore counts the open-loop operations of the sessions sr whose
// intended start (from the start of the load) is before d; each session's
// schedule is evenly spaced (workloads.Spec.IntendedStart).
func scheduledBefore(spec workloads.Spec, sr SessionRange, d time.Duration) int64 {
	var n int64
	for c := sr.First; c < sr.First+sr.Count; c++ {
		first := spec.IntendedStart(c, 0)
		period := spec.IntendedStart(c, 1) - first
		if d <= first || period <= 0 {
			continue
		}
		n += int64((d - first + period - 1) / period)
	}
	return n
}

// record records one finished operation, or during an automatic warm-up
// counts it.
func (r *run) record(shard int, t workloads.OpType, intended, sent, done time.Time, err error) {
	if rec := r.rec.Load(); rec != nil {
		rec.record(shard, t, intended, sent, done, err)
	} else if err == nil {
		r.warmOps.Add(1)
	}
}

// warmUp runs an automatic warm-up from r.runStart: every rule.Bucket it
// takes the throughput of the operations completed since the last, until
// the rule finds it steady (after Spec.Warmup at least) or Spec.WarmupMax
// passes. It returns the start of the measured part, the next instant on
// the series' grid from r.runStart, and the outcome. Events arriving from
// *evc meanwhile are returned stamped relative to that start (negative:
// before it); *evc is set to nil if it closes.
func (r *run) warmUp(ctx context.Context, rule steadyRule, evc *<-chan results.Event) (time.Time, *results.Warmup, []results.Event, error) {
	spec, log := r.spec, r.opts.Logger
	tick := time.NewTicker(rule.Bucket)
	defer tick.Stop()
	var rates []float64
	var events []results.Event
	var arrived []time.Time
	var v verdict
	var late int64
	open := spec.Mode == workloads.Open
	last, prev := r.runStart, int64(0)
	for !v.done {
		select {
		case <-ctx.Done():
			return time.Time{}, nil, nil, ctx.Err()
		case ev, ok := <-*evc:
			if !ok {
				*evc = nil
				continue
			}
			events, arrived = append(events, ev), append(arrived, time.Now())
		case now := <-tick.C:
			n := r.warmOps.Load()
			rates = append(rates, float64(n-prev)/now.Sub(last).Seconds())
			last, prev = now, n
			onSchedule := true
			if open {
				var slack int64
				late, slack = r.behind(now)
				onSchedule = late <= slack
			}
			v = rule.decide(rates, spec.Warmup, spec.WarmupMax, onSchedule)
		}
	}
	mStart := boundaryAfter(r.runStart, time.Now(), r.opts.Interval)
	w := &results.Warmup{Took: mStart.Sub(r.runStart), Settled: v.settled, CV: v.cv, Drift: v.drift, Rule: rule.String()}
	if open {
		w.Rule += "; " + scheduleRule
		w.Behind = max(late, 0)
	}
	for i := range events {
		events[i].At = arrived[i].Sub(mStart)
	}
	log.Info("warm-up over", "took", w.Took, "steady", w.Settled, "cv", v.cv, "drift", v.drift, "ops/s", rates[len(rates)-1], "behind", w.Behind)
	return mStart, w, events, nil
}

// unsettled is the warning of a warm-up that never found a steady
// throughput.
func unsettled(w *results.Warmup, spec workloads.Spec) string {
	s := fmt.Sprintf("warm-up never steady: after %v (the maximum) the throughput still varied by %.1f%% (CV) and drifted %.1f%% over the last window",
		w.Took.Round(time.Millisecond), 100*w.CV, 100*w.Drift)
	if w.Behind > 0 && spec.Rate > 0 {
		s += fmt.Sprintf(", and the sessions were %d operations (%v at the offered rate) behind their schedule", w.Behind, time.Duration(float64(w.Behind)/spec.Rate*float64(time.Second)).Round(time.Millisecond))
	}
	return s + fmt.Sprintf(" (%s); the measured part may include a climb, a stall or a backlog", w.Rule)
}
