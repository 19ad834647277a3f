package fleet

import (
	"fmt"
	"sort"
	"strings"
	"time"

	hdr "github.com/HdrHistogram/hdrhistogram-go"

	"github.com/zkbench/zkbench/agent"
	"github.com/zkbench/zkbench/bench"
	"github.com/zkbench/zkbench/results"
)

// Meta is what the coordinator knows of a run that no agent reports.
type Meta struct {
	// Start is the common start of the measured part, in the
	// coordinator's clock.
	Start time.Time
	// Interval is the series interval; LogInterval the stretch of each
	// IntervalLatency histogram (default the smallest multiple of Interval
	// of at least a second, as bench's).
	Interval, LogInterval time.Duration
	// Ensemble describes the servers; Members' client counts are summed
	// from the agents'.
	Ensemble results.Ensemble
	// Revision is recorded when the binary carries none.
	Revision string
	// Warmup is the coordinator's record of an automatic warm-up (nil for
	// a fixed one); one that never steadied is warned about.
	Warmup *results.Warmup
}

// Restore decodes a report's histograms into its Result.
func Restore(rep *agent.Report) error {
	if rep.Result == nil {
		return nil
	}
	var err error
	if rep.Result.Latency, err = agent.DecodeHists(rep.Latency); err != nil {
		return fmt.Errorf("fleet: report of %s: %w", rep.Agent, err)
	}
	if rep.Result.Service, err = agent.DecodeHists(rep.Service); err != nil {
		return fmt.Errorf("fleet: report of %s: %w", rep.Agent, err)
	}
	return nil
}

// Merge combines the agents' reports into one result, exactly: counts are
// summed and histograms merged (whole-run per operation type, and per
// series interval by the index each agent computed from the common start),
// and every percentile is read from a merged histogram, never averaged.
// The driver's CPU and counters are summed over the agents, its scheduling
// latency and machine load are the worst agent's; Machine is the first
// agent's, with every agent's host name.
func Merge(reps []*agent.Report, m Meta) (*results.Result, error) {
	if len(reps) == 0 {
		return nil, fmt.Errorf("fleet: no report to merge")
	}
	for _, rep := range reps {
		if rep.Result == nil {
			return nil, fmt.Errorf("fleet: report of %s holds no result", rep.Agent)
		}
		if rep.Result.Latency == nil && rep.Latency != nil {
			if err := Restore(rep); err != nil {
				return nil, err
			}
		}
	}
	first := reps[0].Result
	if m.Interval == 0 {
		m.Interval = first.Interval
	}
	if m.LogInterval == 0 {
		m.LogInterval = (time.Second + m.Interval - 1) / m.Interval * m.Interval
	}
	res := &results.Result{
		Schema:   results.SchemaVersion,
		Spec:     first.Spec,
		Ensemble: m.Ensemble,
		Machine:  first.Machine,
		Build:    bench.BuildInfo(m.Revision),
		Start:    m.Start,
		Stop:     results.StopDeadline,
		Interval: m.Interval,
		Ops:      map[string]*results.OpStats{},
		Latency:  map[string]*hdr.Histogram{},
	}
	if first.Service != nil {
		res.Service = map[string]*hdr.Histogram{}
	}
	var hosts []string
	clients := map[string]int{}
	d := &res.Driver
	d.Placement, d.Reconnect, d.SessionTimeout, d.Client = first.Driver.Placement, first.Driver.Reconnect, first.Driver.SessionTimeout, first.Driver.Client
	d.MachineBusy = -1
	series := map[int64]*ivMerge{}
	var nSeries int64
	for _, rep := range reps {
		r := rep.Result
		hosts = append(hosts, r.Machine.Hostname)
		res.Measured = max(res.Measured, r.Measured)
		if r.Stop != results.StopDeadline {
			res.Stop = r.Stop
		}
		for name, st := range r.Ops {
			t := res.Ops[name]
			if t == nil {
				t = &results.OpStats{}
				res.Ops[name] = t
			}
			t.Count += st.Count
			for k, n := range st.Errors {
				if t.Errors == nil {
					t.Errors = map[string]int64{}
				}
				t.Errors[k] += n
			}
		}
		if err := mergeInto(res.Latency, r.Latency); err != nil {
			return nil, err
		}
		if res.Service != nil {
			if err := mergeInto(res.Service, r.Service); err != nil {
				return nil, err
			}
		}
		for _, mb := range r.Ensemble.Members {
			clients[mb.Addr] += mb.Clients
		}
		for _, w := range r.Warnings {
			res.Warnings = append(res.Warnings, fmt.Sprintf("agent %s: %s", rep.Agent, w))
		}
		rd := r.Driver
		d.GOMAXPROCS += rd.GOMAXPROCS
		d.CPUSeconds += rd.CPUSeconds
		d.CPUCores += rd.CPUCores
		d.SchedP99 = max(d.SchedP99, rd.SchedP99)
		d.Unfinished += rd.Unfinished
		d.Reconnects += rd.Reconnects
		d.Expirations += rd.Expirations
		d.MachineBusy = max(d.MachineBusy, rd.MachineBusy)
		for _, iv := range r.Series {
			idx := int64(iv.Start / m.Interval)
			s := series[idx]
			if s == nil {
				s = &ivMerge{iv: results.Interval{Start: time.Duration(idx) * m.Interval}}
				series[idx] = s
			}
			s.add(iv)
			nSeries = max(nSeries, idx+1)
		}
		for idx, b := range rep.Intervals {
			h, err := agent.DecodeHist(b)
			if err != nil {
				return nil, fmt.Errorf("fleet: report of %s, interval %d: %w", rep.Agent, idx, err)
			}
			s := series[idx]
			if s == nil {
				s = &ivMerge{iv: results.Interval{Start: time.Duration(idx) * m.Interval, Len: m.Interval}}
				series[idx] = s
				nSeries = max(nSeries, idx+1)
			}
			if s.h == nil {
				s.h = results.NewHistogram(results.IntervalDigits)
			}
			s.h.Merge(h)
		}
	}
	res.Machine.Hostname = strings.Join(hosts, ",")
	for i, mb := range res.Ensemble.Members {
		res.Ensemble.Members[i].Clients = clients[mb.Addr]
	}
	if len(res.Ensemble.Members) == 0 {
		res.Ensemble.Members = first.Ensemble.Members
		for i, mb := range res.Ensemble.Members {
			res.Ensemble.Members[i].Clients = clients[mb.Addr]
		}
	}
	var completed int64
	for _, st := range res.Ops {
		completed += st.Count
		for _, n := range st.Errors {
			completed += n
		}
	}
	if completed > 0 {
		d.CPUPer10kOps = d.CPUSeconds / float64(completed) * 1e4
	}
	res.UpdateStats()

	logEvery := int64(m.LogInterval / m.Interval)
	var logHist *hdr.Histogram
	flush := func(from, to int64) {
		if logHist == nil {
			return
		}
		logHist.SetStartTimeMs(m.Start.Add(time.Duration(from) * m.Interval).UnixMilli())
		logHist.SetEndTimeMs(m.Start.Add(min(time.Duration(to)*m.Interval, res.Measured)).UnixMilli())
		res.IntervalLatency = append(res.IntervalLatency, logHist)
		logHist = nil
	}
	for idx := range nSeries {
		s := series[idx]
		if s == nil {
			s = &ivMerge{iv: results.Interval{Start: time.Duration(idx) * m.Interval, Len: m.Interval}}
		}
		iv := s.iv
		if s.h != nil && s.h.TotalCount() > 0 {
			l := results.LatencyOf(s.h)
			iv.P50, iv.P99, iv.P999, iv.Max = l.P50, l.P99, l.P999, l.Max
		}
		res.Series = append(res.Series, iv)
		if logHist == nil {
			logHist = results.NewHistogram(results.IntervalDigits)
		}
		if s.h != nil {
			logHist.Merge(s.h)
		}
		if (idx+1)%logEvery == 0 {
			flush(idx+1-logEvery, idx+1)
		}
	}
	flush(nSeries-nSeries%logEvery, nSeries)
	if res.Warmup = m.Warmup; m.Warmup != nil && !m.Warmup.Settled {
		res.Warnings = append(res.Warnings, bench.UnsettledWarning(m.Warmup, res.Spec))
	}
	sort.Strings(res.Warnings)
	return res, nil
}

// ivMerge accumulates one series interval over the agents.
type ivMerge struct {
	iv results.Interval
	h  *hdr.Histogram
}

func (s *ivMerge) add(iv results.Interval) {
	s.iv.Len = max(s.iv.Len, iv.Len)
	s.iv.Ops += iv.Ops
	s.iv.Errors += iv.Errors
	s.iv.DriverCPU += iv.DriverCPU
	for k, n := range iv.ByOp {
		if s.iv.ByOp == nil {
			s.iv.ByOp = map[string]int64{}
		}
		s.iv.ByOp[k] += n
	}
	for k, n := range iv.ErrorsByKind {
		if s.iv.ErrorsByKind == nil {
			s.iv.ErrorsByKind = map[string]int64{}
		}
		s.iv.ErrorsByKind[k] += n
	}
}

// mergeInto merges src's histograms into dst's, by name.
func mergeInto(dst, src map[string]*hdr.Histogram) error {
	for name, h := range src {
		if h == nil {
			continue
		}
		t := dst[name]
		if t == nil {
			t = results.NewHistogram(results.TotalDigits)
			dst[name] = t
		}
		if dropped := t.Merge(h); dropped != 0 {
			return fmt.Errorf("fleet: %d values of %s out of the histogram's range", dropped, name)
		}
	}
	return nil
}
