package bench

import (
	"sync"
	"time"

	hdr "github.com/HdrHistogram/hdrhistogram-go"

	"github.com/zkbench/zkbench/results"
	"github.com/zkbench/zkbench/workloads"
)

// numShards spreads recording over a few locks so that clients rarely
// contend; each client always records into the same shard.
const numShards = 8

// recorder collects measurements from every client. Recording takes one
// uncontended-in-practice lock and does not allocate in the steady state.
type recorder struct {
	start    time.Time // start of the measured part
	end      time.Time // deadline of the measured part
	interval time.Duration
	open     bool // also record service time
	shards   [numShards]shard
}

type shard struct {
	mu sync.Mutex
	// lat and svc hold the latencies of the operations that started (open
	// loop: were scheduled) inside the measured part.
	lat [workloads.NumOpTypes]*hdr.Histogram
	svc [workloads.NumOpTypes]*hdr.Histogram
	// count and errs count the operations that completed inside the
	// measured part, whenever they started.
	count [workloads.NumOpTypes]int64
	errs  [workloads.NumOpTypes][numKinds]int64
	// done counts the operations that started inside the measured part
	// and completed (successfully or not), whenever.
	done int64
	cur  []*ivAcc // intervals not yet collected, usually one
	free []*ivAcc
	_    [64]byte // keep shards' locks on separate cache lines
}

// ivAcc accumulates one interval.
type ivAcc struct {
	idx  int64
	ops  [workloads.NumOpTypes]int64
	errs [numKinds]int64
	h    *hdr.Histogram
}

func (a *ivAcc) reset(idx int64) {
	h := a.h
	h.Reset()
	*a = ivAcc{idx: idx, h: h}
}

func newIvAcc(idx int64) *ivAcc {
	return &ivAcc{idx: idx, h: results.NewHistogram(results.IntervalDigits)}
}

func newRecorder(start time.Time, d, interval time.Duration, open bool) *recorder {
	r := &recorder{start: start, end: start.Add(d), interval: interval, open: open}
	for i := range r.shards {
		sh := &r.shards[i]
		for t := 1; t < workloads.NumOpTypes; t++ {
			sh.lat[t] = results.NewHistogram(results.TotalDigits)
			if open {
				sh.svc[t] = results.NewHistogram(results.TotalDigits)
			}
		}
	}
	return r
}

// record records one finished operation: intended is when it should have
// started (its actual start in closed loop), sent when it was issued, done
// when it completed. An operation that completed inside the measured part
// counts in the throughput and errors, in the series interval in which it
// completed, whenever it started: an open loop that fell behind answers
// operations scheduled before the measured part, and they are what the
// servers achieved. An operation that started inside the measured part
// adds its latency, from intended, to the run's histograms, whenever it
// completed. record reports whether the operation counted in either way.
func (r *recorder) record(shardIdx int, t workloads.OpType, intended, sent, done time.Time, err error) bool {
	started := !intended.Before(r.start) && intended.Before(r.end)
	completed := !done.Before(r.start) && done.Before(r.end)
	if !started && !completed {
		return false
	}
	lat := int64(done.Sub(intended))
	kind := errKind(0)
	if err != nil {
		kind = classify(err)
	}
	sh := &r.shards[shardIdx%numShards]
	sh.mu.Lock()
	if started {
		sh.done++
		if err == nil {
			sh.lat[t].RecordValue(clampLatency(lat))
			if r.open {
				sh.svc[t].RecordValue(clampLatency(int64(done.Sub(sent))))
			}
		}
	}
	if completed {
		a := sh.acc(int64(done.Sub(r.start) / r.interval))
		if err == nil {
			sh.count[t]++
			a.ops[t]++
			a.h.RecordValue(clampLatency(lat))
		} else {
			sh.errs[t][kind]++
			a.errs[kind]++
		}
	}
	sh.mu.Unlock()
	return true
}

// finished returns how many operations that started inside the measured
// part have completed, successfully or not: the rest of those scheduled
// there are unfinished.
func (r *recorder) finished() int64 {
	var n int64
	for i := range r.shards {
		sh := &r.shards[i]
		sh.mu.Lock()
		n += sh.done
		sh.mu.Unlock()
	}
	return n
}

func clampLatency(v int64) int64 {
	if v < results.MinLatency {
		return results.MinLatency
	}
	if v > results.MaxLatency {
		return results.MaxLatency
	}
	return v
}

// acc returns the accumulator of interval idx; sh.mu is held.
func (sh *shard) acc(idx int64) *ivAcc {
	for i := len(sh.cur) - 1; i >= 0; i-- {
		if sh.cur[i].idx == idx {
			return sh.cur[i]
		}
	}
	var a *ivAcc
	if n := len(sh.free); n > 0 {
		a = sh.free[n-1]
		sh.free = sh.free[:n-1]
		a.reset(idx)
	} else {
		a = newIvAcc(idx)
	}
	sh.cur = append(sh.cur, a)
	return a
}

// collector turns shard accumulators into the result's series. It is used
// by one goroutine only.
type collector struct {
	rec       *recorder
	next      int64            // next interval to finalise
	pending   map[int64]*ivAcc // merged, not yet finalised
	spare     []*ivAcc
	detached  []*ivAcc
	series    []results.Interval
	logEvery  int64 // intervals per log histogram
	logHist   *hdr.Histogram
	logStart  int64
	logs      []*hdr.Histogram
	cpuMarks  map[int64]cpuMark // CPU reading taken when interval idx began
	seriesEnd time.Duration     // end of the series (shorter when cancelled)
	onLogHist func(from, to int64, h *hdr.Histogram, ivs []results.Interval)
	// onInterval, if not nil, sees each interval's histogram as it is
	// finalised.
	onInterval func(idx int64, h *hdr.Histogram)
}

type cpuMark struct {
	at  time.Time
	cpu time.Duration
}

func newCollector(rec *recorder, logEvery int64) *collector {
	return &collector{
		rec:       rec,
		pending:   map[int64]*ivAcc{},
		logEvery:  logEvery,
		logHist:   results.NewHistogram(results.IntervalDigits),
		cpuMarks:  map[int64]cpuMark{},
		seriesEnd: rec.end.Sub(rec.start),
	}
}

// markCPU notes the driver's CPU time at now, attributing it to the start
// of the interval now falls in.
func (c *collector) markCPU(now time.Time, cpu time.Duration) {
	idx := int64(now.Sub(c.rec.start) / c.rec.interval)
	if _, ok := c.cpuMarks[idx]; !ok && idx >= 0 {
		c.cpuMarks[idx] = cpuMark{now, cpu}
	}
}

// sweep moves every shard accumulator of an interval below upTo into the
// pending merge, then finalises intervals below upTo in order.
func (c *collector) sweep(upTo int64) {
	for i := range c.rec.shards {
		sh := &c.rec.shards[i]
		sh.mu.Lock()
		keep := sh.cur[:0]
		for _, a := range sh.cur {
			if a.idx < upTo {
				c.detached = append(c.detached, a)
			} else {
				keep = append(keep, a)
			}
		}
		clear(sh.cur[len(keep):])
		sh.cur = keep
		sh.mu.Unlock()
		for _, a := range c.detached {
			c.merge(a)
		}
		c.giveBack(sh)
	}
	for c.next < upTo {
		c.finalise(c.next)
		c.next++
	}
}

// giveBack returns the accumulators just merged to sh's free list.
func (c *collector) giveBack(sh *shard) {
	if len(c.detached) == 0 {
		return
	}
	sh.mu.Lock()
	sh.free = append(sh.free, c.detached...)
	sh.mu.Unlock()
	clear(c.detached)
	c.detached = c.detached[:0]
}

func (c *collector) merge(a *ivAcc) {
	if a.idx < c.next {
		// Too late for its interval (the collector ran very late): fold it
		// into the oldest interval still open so that nothing is lost.
		a.idx = c.next
	}
	p := c.pending[a.idx]
	if p == nil {
		if n := len(c.spare); n > 0 {
			p = c.spare[n-1]
			c.spare = c.spare[:n-1]
			p.reset(a.idx)
		} else {
			p = newIvAcc(a.idx)
		}
		c.pending[a.idx] = p
	}
	for t := range a.ops {
		p.ops[t] += a.ops[t]
	}
	for k := range a.errs {
		p.errs[k] += a.errs[k]
	}
	p.h.Merge(a.h)
}

func (c *collector) finalise(idx int64) {
	rec := c.rec
	iv := results.Interval{Start: time.Duration(idx) * rec.interval, Len: rec.interval}
	if iv.Start+iv.Len > c.seriesEnd {
		iv.Len = c.seriesEnd - iv.Start
	}
	if p := c.pending[idx]; p != nil {
		delete(c.pending, idx)
		for t, n := range p.ops {
			if n > 0 {
				if iv.ByOp == nil {
					iv.ByOp = map[string]int64{}
				}
				iv.ByOp[workloads.OpType(t).String()] = n
				iv.Ops += n
			}
		}
		for k, n := range p.errs {
			if n > 0 {
				if iv.ErrorsByKind == nil {
					iv.ErrorsByKind = map[string]int64{}
				}
				iv.ErrorsByKind[kindName(errKind(k))] = n
				iv.Errors += n
			}
		}
		if c.onInterval != nil {
			c.onInterval(idx, p.h)
		}
		if p.h.TotalCount() > 0 {
			l := results.LatencyOf(p.h)
			iv.P50, iv.P99, iv.P999, iv.Max = l.P50, l.P99, l.P999, l.Max
			c.logHist.Merge(p.h)
		}
		c.spare = append(c.spare, p)
	}
	if a, ok := c.cpuMarks[idx]; ok {
		if b, ok := c.cpuMarks[idx+1]; ok && b.at.After(a.at) {
			iv.DriverCPU = float64(b.cpu-a.cpu) / float64(b.at.Sub(a.at))
		}
		delete(c.cpuMarks, idx)
	}
	c.series = append(c.series, iv)
	if (idx+1)%c.logEvery == 0 {
		c.flushLog(idx + 1)
	}
}

// flushLog closes the log histogram covering intervals [logStart, upTo).
func (c *collector) flushLog(upTo int64) {
	if upTo <= c.logStart {
		return
	}
	h := c.logHist
	start := c.rec.start.Add(time.Duration(c.logStart) * c.rec.interval)
	end := c.rec.start.Add(min(time.Duration(upTo)*c.rec.interval, c.seriesEnd))
	h.SetStartTimeMs(start.UnixMilli())
	h.SetEndTimeMs(end.UnixMilli())
	c.logs = append(c.logs, h)
	if c.onLogHist != nil {
		c.onLogHist(c.logStart, upTo, h, c.series[c.logStart:upTo])
	}
	c.logHist = results.NewHistogram(results.IntervalDigits)
	c.logStart = upTo
}

// totals merges the shards' whole-run numbers into r.
func (rec *recorder) totals(r *results.Result) {
	r.Ops = map[string]*results.OpStats{}
	r.Latency = map[string]*hdr.Histogram{}
	if rec.open {
		r.Service = map[string]*hdr.Histogram{}
	}
	for t := 1; t < workloads.NumOpTypes; t++ {
		name := workloads.OpType(t).String()
		st := &results.OpStats{}
		lat := results.NewHistogram(results.TotalDigits)
		var svc *hdr.Histogram
		if rec.open {
			svc = results.NewHistogram(results.TotalDigits)
		}
		for i := range rec.shards {
			sh := &rec.shards[i]
			sh.mu.Lock()
			st.Count += sh.count[t]
			for k, n := range sh.errs[t] {
				if n > 0 {
					if st.Errors == nil {
						st.Errors = map[string]int64{}
					}
					st.Errors[kindName(errKind(k))] += n
				}
			}
			lat.Merge(sh.lat[t])
			if svc != nil {
				svc.Merge(sh.svc[t])
			}
			sh.mu.Unlock()
		}
		if st.Count == 0 && st.Errors == nil {
			continue
		}
		r.Ops[name] = st
		r.Latency[name] = lat
		if svc != nil {
			r.Service[name] = svc
		}
	}
	r.UpdateStats()
}
