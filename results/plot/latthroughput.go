package plot

import (
	"errors"
	"fmt"
	"sort"
	"strconv"
	"time"

	"github.com/zkbench/zkbench/results"
	"github.com/zkbench/zkbench/workloads"
	gplot "gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/vg"
)

// ErrNoOpenLoop is returned by LatencyThroughput when no result ran open
// loop: a saturating closed loop gives one point per run whose latency is
// mostly the queue in the clients, not a curve.
var ErrNoOpenLoop = errors.New("plot: latency against throughput: no open-loop results (sweep --rates)")

// LatencyPoint is one open-loop run on a latency-throughput curve.
type LatencyPoint struct {
	Offered, Achieved float64 // ops/s
	P50, P99, P999    time.Duration
	// Unfinished counts the operations scheduled in the measured part not
	// completed when the run ended (results.Driver.Unfinished).
	Unfinished int64
}

// LatencyCurve is the open-loop runs of one implementation (and, when the
// results mix them, ensemble size and read share), in order of offered rate.
type LatencyCurve struct {
	Label  string
	Points []LatencyPoint
}

// LatencyCurves groups the open-loop results of rs into curves, one per
// implementation, ensemble size and read share (labelled by what varies),
// in order of implementation, size and reads. A run that measured no
// latency is left off (Unmeasured lists them).
func LatencyCurves(rs []*results.Result) []LatencyCurve {
	type key struct {
		impl  string
		size  int
		reads float64
	}
	groups := map[key][]LatencyPoint{}
	impls, sizes, reads := map[string]bool{}, map[int]bool{}, map[float64]bool{}
	for _, r := range rs {
		if !openLoop(r) {
			continue
		}
		s := results.Summarize(r)
		if s.All.Count == 0 {
			continue // no latency to draw: Unmeasured
		}
		k := key{r.Ensemble.Implementation, r.Ensemble.Size, r.Spec.ReadPercent}
		impls[k.impl], sizes[k.size], reads[k.reads] = true, true, true
		groups[k] = append(groups[k], LatencyPoint{Offered: r.Spec.Rate, Achieved: s.Throughput.Mean, P50: s.All.P50, P99: s.All.P99, P999: s.All.P999, Unfinished: r.Driver.Unfinished})
	}
	keys := make([]key, 0, len(groups))
	for k := range groups {
		keys = append(keys, k)
	}
	sort.Slice(keys, func(i, j int) bool {
		a, b := keys[i], keys[j]
		if a.impl != b.impl {
			return a.impl < b.impl
		}
		if a.size != b.size {
			return a.size < b.size
		}
		return a.reads < b.reads
	})
	var out []LatencyCurve
	for _, k := range keys {
		pts := groups[k]
		sort.SliceStable(pts, func(i, j int) bool { return pts[i].Offered < pts[j].Offered })
		label := k.impl
		if len(sizes) > 1 {
			label += ", " + servers(k.size)
		}
		if len(reads) > 1 {
			label += ", " + strconv.FormatFloat(k.reads, 'f', -1, 64) + "% reads"
		}
		out = append(out, LatencyCurve{Label: label, Points: pts})
	}
	return out
}

func openLoop(r *results.Result) bool { return r.Spec.Mode == workloads.Open && r.Spec.Rate > 0 }

// Unmeasured returns the open-loop results of rs that LatencyCurves leaves
// off: so far behind that none of the operations scheduled in their
// measured part completed, every reply going to one scheduled before it.
// They have an achieved throughput (what completed) but no latency.
func Unmeasured(rs []*results.Result) []*results.Result {
	var out []*results.Result
	for _, r := range rs {
		if openLoop(r) && results.Summarize(r).All.Count == 0 {
			out = append(out, r)
		}
	}
	return out
}

func servers(n int) string {
	if n == 1 {
		return "1 server"
	}
	return strconv.Itoa(n) + " servers"
}

// quantileDashes tell the quantiles apart on a curve's colour: p50 solid,
// p99 dashed, p99.9 dotted.
var quantileDashes = [][]vg.Length{nil, {vg.Points(6), vg.Points(3)}, {vg.Points(1.5), vg.Points(2.5)}}

// LatencyThroughput draws p50, p99 and p99.9 latency (log scale) against
// achieved throughput for the open-loop runs of rs, one colour per curve
// (LatencyCurves) and one dash per quantile: the curve to pick an
// operating point from, its knee where the servers stop keeping up. It
// returns ErrNoOpenLoop when no run was open loop.
func LatencyThroughput(rs []*results.Result, o Options) (*gplot.Plot, error) {
	curves := LatencyCurves(rs)
	if len(curves) == 0 {
		return nil, ErrNoOpenLoop
	}
	title := o.Title
	if title == "" {
		title = "Latency against throughput (open loop, latency from the intended start)"
	}
	p := newPlot(title, "achieved throughput (ops/s)", "latency (ms, log scale)")
	p.Y.Scale = gplot.LogScale{}
	p.Y.Tick.Marker = gplot.LogTicks{Prec: -1}
	p.X.Min = 0
	p.Legend.Left = true
	for i, c := range curves {
		for q, name := range []string{"p50", "p99", "p99.9"} {
			var xys plotter.XYs
			for _, pt := range c.Points {
				v := [...]time.Duration{pt.P50, pt.P99, pt.P999}[q]
				xys = append(xys, plotter.XY{X: pt.Achieved, Y: max(float64(v)/float64(time.Millisecond), 1e-3)})
			}
			l, err := line(p, xys, i, fmt.Sprintf("%s %s", c.Label, name), true)
			if err != nil {
				return nil, err
			}
			l.Dashes = quantileDashes[q]
		}
	}
	return p, nil
}
