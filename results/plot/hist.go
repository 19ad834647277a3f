package plot

import (
	hdr "github.com/HdrHistogram/hdrhistogram-go"
	"github.com/zkbench/zkbench/results"
)

// merged returns one histogram of every operation type of r, or nil if r
// carries none.
func merged(r *results.Result) *hdr.Histogram {
	if len(r.Latency) == 0 {
		return nil
	}
	h := results.NewHistogram(results.TotalDigits)
	for _, name := range r.OpNames() {
		if x := r.Latency[name]; x != nil {
			h.Merge(x)
		}
	}
	if h.TotalCount() == 0 {
		return nil
	}
	return h
}

// Merged returns one latency histogram of every operation type of r, or nil
// if r carries no histograms.
func Merged(r *results.Result) *hdr.Histogram { return merged(r) }
