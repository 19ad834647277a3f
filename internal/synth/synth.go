package synth

import (
	"math"
	"math/rand/v2"
	"time"

	hdr "github.com/HdrHistogram/hdrhistogram-go"
	"github.com/zkbench/zkbench/results"
	"github.com/zkbench/zkbench/workloads"
)

// Options shape a synthetic result.
type Options struct {
	Impl        string        // default "go"
	Servers     int           // default 3
	ReadPercent float64       // share of reads
	Duration    time.Duration // default 10 s
	Throughput  float64       // mean ops/s (default 10,000)
	Noise       float64       // relative standard deviation per interval (default 0.05)
	Latency     time.Duration // median latency (default 2 ms)
	Events      []results.Event
	// Dips lowers throughput to the given fraction over [At, At+Len).
	Dips []Dip
	Seed uint64
	// Start is the result's start time (default 2026-01-01 UTC).
	Start time.Time
}

// Dip is a stretch of reduced throughput.
type Dip struct {
	At, Len  time.Duration
	Fraction float64
}

// Result returns a complete synthetic result, with histograms.
func Result(o Options) *results.Result {
	if o.Impl == "" {
		o.Impl = "go"
	}
	if o.Servers == 0 {
		o.Servers = 3
	}
	if o.Duration == 0 {
		o.Duration = 10 * time.Second
	}
	if o.Throughput == 0 {
		o.Throughput = 10000
	}
	if o.Noise == 0 {
		o.Noise = 0.05
	}
	if o.Latency == 0 {
		o.Latency = 2 * time.Millisecond
	}
	if o.Start.IsZero() {
		o.Start = time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	}
	rng := rand.New(rand.NewPCG(o.Seed, 7))
	spec := workloads.Default()
	spec.Name = "synthetic"
	spec.ReadPercent = o.ReadPercent
	spec.Duration = o.Duration
	spec.Seed = int64(o.Seed)
	const iv = 100 * time.Millisecond
	r := &results.Result{
		Schema:   results.SchemaVersion,
		Spec:     spec,
		Ensemble: results.Ensemble{Implementation: o.Impl, Size: o.Servers},
		Start:    o.Start,
		Measured: o.Duration,
		Stop:     results.StopDeadline,
		Interval: iv,
		Events:   o.Events,
		Ops:      map[string]*results.OpStats{},
		Latency:  map[string]*hdr.Histogram{},
	}
	for i := range r.Spec.Clients {
		id := int64(i%o.Servers + 1)
		if i < o.Servers {
			r.Ensemble.Members = append(r.Ensemble.Members, results.Member{ID: id, Addr: "127.0.0.1:2181", Role: "follower"})
		}
	}
	names := []string{"getData", "setData"}
	for _, n := range names {
		r.Latency[n] = results.NewHistogram(results.TotalDigits)
	}
	var logH *hdr.Histogram
	for t := time.Duration(0); t < o.Duration; t += iv {
		if t%time.Second == 0 {
			logH = results.NewHistogram(results.IntervalDigits)
			logH.SetStartTimeMs(o.Start.Add(t).UnixMilli())
			logH.SetEndTimeMs(o.Start.Add(t + time.Second).UnixMilli())
			r.IntervalLatency = append(r.IntervalLatency, logH)
		}
		mean := o.Throughput
		lat := float64(o.Latency)
		for _, d := range o.Dips {
			if t >= d.At && t < d.At+d.Len {
				mean *= d.Fraction
				lat /= math.Max(d.Fraction, 0.05)
			}
		}
		tp := math.Max(0, mean*(1+o.Noise*rng.NormFloat64()))
		ops := int64(tp * iv.Seconds())
		reads := int64(float64(ops) * o.ReadPercent / 100)
		in := results.Interval{Start: t, Len: iv, Ops: ops, ByOp: map[string]int64{"getData": reads, "setData": ops - reads}}
		// Sample latencies: log-normal around lat, 200 samples per interval.
		ih := results.NewHistogram(results.IntervalDigits)
		for k := range 200 {
			v := int64(lat * math.Exp(0.5*rng.NormFloat64()))
			name := names[1]
			if float64(k%100) < o.ReadPercent {
				name = names[0]
			}
			_ = r.Latency[name].RecordValue(v)
			_ = ih.RecordValue(v)
			_ = logH.RecordValue(v)
		}
		in.P50 = time.Duration(ih.ValueAtQuantile(50))
		in.P99 = time.Duration(ih.ValueAtQuantile(99))
		in.P999 = time.Duration(ih.ValueAtQuantile(99.9))
		in.Max = time.Duration(ih.Max())
		r.Series = append(r.Series, in)
	}
	for _, n := range names {
		var count int64
		for _, in := range r.Series {
			count += in.ByOp[n]
		}
		r.Ops[n] = &results.OpStats{Count: count}
	}
	r.UpdateStats()
	return r
}
