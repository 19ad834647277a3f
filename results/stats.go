package results

import (
	"maps"
	"slices"

	hdr "github.com/HdrHistogram/hdrhistogram-go"
	"github.com/montanaflynn/stats"
)

// Summary is the headline numbers of a run.
type Summary struct {
	// Ops and Errors count the operations of every type that succeeded and
	// failed inside the measured part (OpStats.Count and Errors).
	Ops    int64 `json:"ops"`
	Errors int64 `json:"errors"`
	// ErrorRate is Errors / (Ops + Errors).
	ErrorRate float64 `json:"error_rate"`
	// Throughput is the distribution of successful operations per second
	// over the full-length intervals of the series.
	Throughput Dist `json:"throughput"`
	// All summarises the latency of every successful operation.
	All Latency `json:"all"`
	// ByOp summarises latency per operation type.
	ByOp map[string]Latency `json:"by_op"`
	// CPUPer10kOps is the driver's CPU seconds per 10,000 operations.
	CPUPer10kOps float64 `json:"cpu_per_10k_ops"`
}

// Dist summarises a sample.
type Dist struct {
	N      int     `json:"n"`
	Mean   float64 `json:"mean"`
	Stddev float64 `json:"stddev"`
	Min    float64 `json:"min"`
	Median float64 `json:"median"`
	Max    float64 `json:"max"`
}

// DistOf summarises xs (sample standard deviation); the zero Dist for an
// empty sample.
func DistOf(xs []float64) Dist {
	if len(xs) == 0 {
		return Dist{}
	}
	d := Dist{N: len(xs)}
	d.Mean, _ = stats.Mean(xs)
	if len(xs) > 1 {
		d.Stddev, _ = stats.StandardDeviationSample(xs)
	}
	d.Min, _ = stats.Min(xs)
	d.Median, _ = stats.Median(xs)
	d.Max, _ = stats.Max(xs)
	return d
}

// Throughputs returns the throughput (ops/s) of every full-length interval
// of the series; a shorter last interval of a cancelled run is left out so
// that it does not drag the mean down.
func (r *Result) Throughputs() []float64 {
	out := make([]float64, 0, len(r.Series))
	for _, iv := range r.Series {
		if r.Interval > 0 && iv.Len < r.Interval {
			continue
		}
		out = append(out, iv.Throughput())
	}
	return out
}

// OpNames returns the names of the operation types in Ops, sorted.
func (r *Result) OpNames() []string { return slices.Sorted(maps.Keys(r.Ops)) }

// UpdateStats recomputes every OpStats latency summary from the Latency and
// Service histograms (as after Read or after a driver finishes).
func (r *Result) UpdateStats() {
	for name, h := range r.Latency {
		st := r.op(name)
		st.Latency = LatencyOf(h)
	}
	for name, h := range r.Service {
		l := LatencyOf(h)
		r.op(name).Service = &l
	}
}

func (r *Result) op(name string) *OpStats {
	if r.Ops == nil {
		r.Ops = map[string]*OpStats{}
	}
	st := r.Ops[name]
	if st == nil {
		st = &OpStats{}
		r.Ops[name] = st
	}
	return st
}

// Summarize computes the headline numbers of r.
func Summarize(r *Result) Summary {
	s := Summary{ByOp: map[string]Latency{}, Throughput: DistOf(r.Throughputs())}
	var all *hdr.Histogram
	for _, name := range r.OpNames() {
		st := r.Ops[name]
		s.Ops += st.Count
		for _, n := range st.Errors {
			s.Errors += n
		}
		s.ByOp[name] = st.Latency
		if h := r.Latency[name]; h != nil {
			if all == nil {
				all = NewHistogram(TotalDigits)
			}
			all.Merge(h)
		}
	}
	if all != nil {
		s.All = LatencyOf(all)
	} else if len(s.ByOp) == 1 {
		for _, l := range s.ByOp {
			s.All = l
		}
	}
	if n := s.Ops + s.Errors; n > 0 {
		s.ErrorRate = float64(s.Errors) / float64(n)
	}
	s.CPUPer10kOps = r.Driver.CPUPer10kOps
	return s
}
