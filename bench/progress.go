package bench

import (
	"fmt"
	"io"
	"time"

	hdr "github.com/HdrHistogram/hdrhistogram-go"

	"github.com/zkbench/zkbench/results"
)

// progress writes a live status line to a terminal; it writes nothing when
// the writer is not a terminal.
type progress struct {
	w     io.Writer
	tty   bool
	errs  int64
	wrote bool
}

// update is called by the collector with each finished log histogram and
// the intervals it covers.
func (p *progress) update(from, to int64, h *hdr.Histogram, ivs []results.Interval) {
	if !p.tty || p.w == nil || len(ivs) == 0 {
		return
	}
	var ops int64
	var span time.Duration
	for _, iv := range ivs {
		ops += iv.Ops
		p.errs += iv.Errors
		span += iv.Len
	}
	elapsed := ivs[len(ivs)-1].Start + ivs[len(ivs)-1].Len
	rate := 0.0
	if span > 0 {
		rate = float64(ops) / span.Seconds()
	}
	p99 := time.Duration(h.ValueAtQuantile(99))
	fmt.Fprintf(p.w, "\r%7.1fs  %10.0f ops/s  p99 %-10v  errors %d   ", elapsed.Seconds(), rate, p99.Round(10*time.Microsecond), p.errs)
	p.wrote = true
}

// finish ends the line.
func (p *progress) finish() {
	if p.wrote {
		fmt.Fprintln(p.w)
	}
}
