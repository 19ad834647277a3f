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
var defaultSteady = steadyRule{Bucket: WarmupBucketWidth, Window: 6, MaxCV: 0.05, MaxDrift: 0.04}

// WarmupBucketWidth is the bucket of an automatic warm-up: its rule judges
// the completions of each such stretch from the warm-up's start.
const WarmupBucketWidth = 500 * time.Millisecond

// WarmupBucket is one bucket of an automatic warm-up as one driver counted
// it: what SharedWarmup publishes, and what a coordinator sums over
// several drivers.
type WarmupBucket struct {
	// Index counts buckets from the warm-up's start: bucket k spans
	// [k, k+1) × WarmupBucketWidth.
	Index int64 `json:"i"`
	// Ops is how many operations completed in it.
	Ops int64 `json:"ops"`
	// Behind is, in open loop, how many operations scheduled before its
	// end had not been issued, and Slack how many may be for the schedule
	// to count as kept (one per session slot).
	Behind int64 `json:"behind,omitempty"`
	Slack  int64 `json:"slack,omitempty"`
	// End is the bucket's end in the driver's clock.
	End time.Time `json:"-"`
}

// SharedWarmup has an automatic warm-up decided outside the driver, by a
// coordinator summing the buckets of every driver of a run (see
// WarmupJudge).
type SharedWarmup struct {
	// Publish is called with every bucket as it ends, in order, from the
	// driver's warm-up loop: it must not block.
	Publish func(WarmupBucket)
	// Measure delivers the start of the measured part in the driver's
	// clock, an instant on the series' grid from the warm-up's start that
	// should still be ahead when it arrives.
	Measure <-chan time.Time
}

// WarmupJudge decides an automatic warm-up (Spec.WarmupMax) bucket by
// bucket: the one rule a single driver applies to its own completions and
// a coordinator to the sum of its drivers'.
type WarmupJudge struct {
	rule   steadyRule
	spec   workloads.Spec
	rates  []float64
	v      verdict
	behind int64
}

// NewWarmupJudge returns a judge of spec's automatic warm-up under the
// default rule.
func NewWarmupJudge(spec workloads.Spec) *WarmupJudge {
	return newJudge(spec, defaultSteady)
}

func newJudge(spec workloads.Spec, rule steadyRule) *WarmupJudge {
	return &WarmupJudge{rule: rule, spec: spec}
}

// Add judges one more bucket: ops operations completed over span (about
// WarmupBucketWidth) and, in open loop, behind operations overdue of
// which slack may be. It returns true once the warm-up is over: the
// throughput is steady (after Spec.Warmup at least) or Spec.WarmupMax has
// passed.
func (j *WarmupJudge) Add(ops int64, span time.Duration, behind, slack int64) bool {
	j.rates = append(j.rates, float64(ops)/span.Seconds())
	onSchedule := true
	if j.spec.Mode == workloads.Open {
		j.behind = behind
		onSchedule = behind <= slack
	}
	j.v = j.rule.decide(j.rates, j.spec.Warmup, j.spec.WarmupMax, onSchedule)
	return j.v.done
}

// Rate is the throughput of the last bucket judged, in operations per
// second.
func (j *WarmupJudge) Rate() float64 {
	if len(j.rates) == 0 {
		return 0
	}
	return j.rates[len(j.rates)-1]
}

// Outcome is the warm-up's record once it is over, given how long it took
// (from the start of the load to the measured part's start).
func (j *WarmupJudge) Outcome(took time.Duration) *results.Warmup {
	w := &results.Warmup{Took: took, Settled: j.v.settled, CV: j.v.cv, Drift: j.v.drift, Rule: j.rule.String()}
	if j.spec.Mode == workloads.Open {
		w.Rule += "; " + scheduleRule
		w.Behind = max(j.behind, 0)
	}
	return w
}

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
	j := newJudge(spec, rule)
	var c eventLog
	last, prev := r.runStart, int64(0)
	for done := false; !done; {
		select {
		case <-ctx.Done():
			return time.Time{}, nil, nil, ctx.Err()
		case ev, ok := <-*evc:
			if !ok {
				*evc = nil
				continue
			}
			c.add(ev)
		case now := <-tick.C:
			n := r.warmOps.Load()
			var late, slack int64
			if spec.Mode == workloads.Open {
				late, slack = r.behind(now)
			}
			done = j.Add(n-prev, now.Sub(last), late, slack)
			last, prev = now, n
		}
	}
	mStart := boundaryAfter(r.runStart, time.Now(), r.opts.Interval)
	w := j.Outcome(mStart.Sub(r.runStart))
	log.Info("warm-up over", "took", w.Took, "steady", w.Settled, "cv", w.CV, "drift", w.Drift, "ops/s", j.Rate(), "behind", w.Behind)
	return mStart, w, c.stamped(mStart), nil
}

// sharedWarmUp runs an automatic warm-up decided outside the driver
// (Options.SharedWarmup): at the end of every bucket from r.runStart it
// publishes the bucket's completions, until the measured part's start
// arrives, which it returns. Events are handled as by warmUp.
func (r *run) sharedWarmUp(ctx context.Context, sh *SharedWarmup, evc *<-chan results.Event) (time.Time, []results.Event, error) {
	width := WarmupBucketWidth
	// The coordinator decides by WarmupMax; past that and a margin for
	// its writes, it is gone or stuck.
	limit := time.NewTimer(time.Until(r.runStart.Add(r.spec.WarmupMax + 30*time.Second)))
	defer limit.Stop()
	next := time.NewTimer(time.Until(r.runStart.Add(width)))
	defer next.Stop()
	var c eventLog
	var k, prev int64
	for {
		select {
		case <-ctx.Done():
			return time.Time{}, nil, ctx.Err()
		case <-limit.C:
			return time.Time{}, nil, fmt.Errorf("bench: no measured start given %v after the warm-up started (WarmupMax %v)", time.Since(r.runStart).Round(time.Second), r.spec.WarmupMax)
		case ev, ok := <-*evc:
			if !ok {
				*evc = nil
				continue
			}
			c.add(ev)
		case <-next.C:
			end := r.runStart.Add(time.Duration(k+1) * width)
			n := r.warmOps.Load()
			b := WarmupBucket{Index: k, Ops: n - prev, End: end}
			if r.spec.Mode == workloads.Open {
				b.Behind, b.Slack = r.behind(end)
			}
			sh.Publish(b)
			k, prev = k+1, n
			next.Reset(time.Until(end.Add(width)))
		case at := <-sh.Measure:
			r.opts.Logger.Info("warm-up over (decided by the coordinator)", "took", at.Sub(r.runStart), "ahead", time.Until(at))
			return at, c.stamped(at), nil
		}
	}
}

// eventLog holds the events that arrive during a warm-up, to be stamped
// once the measured part's start is known.
type eventLog struct {
	events  []results.Event
	arrived []time.Time
}

func (l *eventLog) add(ev results.Event) {
	l.events, l.arrived = append(l.events, ev), append(l.arrived, time.Now())
}

// stamped returns the events with their arrival relative to mStart
// (negative: before it).
func (l *eventLog) stamped(mStart time.Time) []results.Event {
	for i := range l.events {
		l.events[i].At = l.arrived[i].Sub(mStart)
	}
	return l.events
}

// UnsettledWarning is the warning of a warm-up that never found a steady
// throughput, for the result of the run (spec's).
func UnsettledWarning(w *results.Warmup, spec workloads.Spec) string {
	s := fmt.Sprintf("warm-up never steady: after %v (the maximum) the throughput still varied by %.1f%% (CV) and drifted %.1f%% over the last window",
		w.Took.Round(time.Millisecond), 100*w.CV, 100*w.Drift)
	if w.Behind > 0 && spec.Rate > 0 {
		s += fmt.Sprintf(", and the sessions were %d operations (%v at the offered rate) behind their schedule", w.Behind, time.Duration(float64(w.Behind)/spec.Rate*float64(time.Second)).Round(time.Millisecond))
	}
	return s + fmt.Sprintf(" (%s); the measured part may include a climb, a stall or a backlog", w.Rule)
}
