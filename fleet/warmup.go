package fleet

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/go-zookeeper/zk"

	"github.com/zkbench/zkbench/agent"
	"github.com/zkbench/zkbench/bench"
	"github.com/zkbench/zkbench/results"
	"github.com/zkbench/zkbench/workloads"
)

// warmupPoll is how often the coordinator reads the agents' warm-up
// counts: a fifth of a bucket, so that its decision lags the last bucket
// by little.
const warmupPoll = bench.WarmupBucketWidth / 5

// decideWarmup decides an automatic warm-up (spec.WarmupMax) for every
// agent: it sums the buckets the agents publish (agent.WarmupCounts) by
// index, judges each sum by bench's rule (bench.WarmupJudge) and, once
// the warm-up is over, writes /runs/<run>/measure: the measured part's
// start, two intervals ahead on the series' grid from start (the warm-up's
// start in this coordinator's clock; off is this clock minus the
// coordination server's). It returns that start and the warm-up's record.
func (r *run) decideWarmup(ctx context.Context, spec workloads.Spec, start time.Time, off, interval time.Duration) (time.Time, *results.Warmup, error) {
	judge := bench.NewWarmupJudge(spec)
	width := bench.WarmupBucketWidth
	// The agents' drivers publish each bucket as it ends; one that has
	// published nothing this long after the maximum is stuck.
	limit := start.Add(spec.WarmupMax + 10*time.Second)
	tick := time.NewTicker(warmupPoll)
	defer tick.Stop()
	var next int64 // the next bucket to judge
	for {
		sums, missing, err := r.warmupSums(next)
		if err != nil {
			return time.Time{}, nil, err
		}
		done := false
		for _, b := range sums {
			next++
			if done = judge.Add(b.Ops, width, b.Behind, b.Slack); done {
				break
			}
		}
		if done {
			break
		}
		if time.Now().After(limit) {
			return time.Time{}, nil, fmt.Errorf("fleet: no warm-up bucket %d from %s %v after the warm-up started (at most %v)",
				next, strings.Join(missing, ", "), time.Since(start).Round(time.Second), spec.WarmupMax)
		}
		select {
		case <-tick.C:
		case <-ctx.Done():
			return time.Time{}, nil, context.Cause(ctx)
		}
	}
	// Far enough ahead that every agent reads it before it passes.
	n := (time.Since(start) + 2*interval + interval - 1) / interval
	mStart := start.Add(n * interval)
	b, _ := json.Marshal(agent.Measure{At: mStart.Add(-off).UnixNano()})
	if err := agent.Put(r.conn, r.l.Measure(r.id), b); err != nil {
		return time.Time{}, nil, err
	}
	w := judge.Outcome(mStart.Sub(start))
	r.log.Info("warm-up over", "took", w.Took, "steady", w.Settled, "cv", w.CV, "drift", w.Drift, "ops/s", judge.Rate(), "buckets", next, "behind", w.Behind)
	return mStart, w, nil
}

// warmupSums reads every agent's published buckets and returns the sums,
// by index, of the buckets from index from on that every agent has
// published, and the agents that have not yet published bucket from.
func (r *run) warmupSums(from int64) ([]bench.WarmupBucket, []string, error) {
	var sums []bench.WarmupBucket
	var missing []string
	for k, n := range r.names {
		data, _, err := r.conn.Get(r.l.Warmup(r.id, n))
		if errors.Is(err, zk.ErrNoNode) {
			return nil, []string{n}, nil // nothing published yet
		}
		if err != nil {
			return nil, nil, fmt.Errorf("fleet: warm-up counts of %s: %w", n, err)
		}
		var c agent.WarmupCounts
		if err := json.Unmarshal(data, &c); err != nil {
			return nil, nil, fmt.Errorf("fleet: warm-up counts of %s: %w", n, err)
		}
		if len(c.Buckets) > 0 && c.Buckets[0].Index > from {
			return nil, nil, fmt.Errorf("fleet: warm-up bucket %d is gone from agent %s's counts (it keeps its last %d) before every agent published it: an agent stalled or the coordinator fell behind", from, n, agent.WarmupKeep)
		}
		var got []bench.WarmupBucket
		for _, b := range c.Buckets {
			if b.Index >= from {
				got = append(got, b)
			}
		}
		if len(got) == 0 {
			missing = append(missing, n)
		}
		if k == 0 {
			sums = got
			continue
		}
		sums = sums[:min(len(sums), len(got))]
		for i := range sums {
			sums[i].Ops += got[i].Ops
			sums[i].Behind += got[i].Behind
			sums[i].Slack += got[i].Slack
		}
	}
	return sums, missing, nil
}
