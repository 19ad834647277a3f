package plot

import (
	"bytes"
	"fmt"
	"image/color"
	"math"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/zkbench/zkbench/results"
	gplot "gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"
)

// Default image size.
const (
	Width  = 8 * vg.Inch
	Height = 4.5 * vg.Inch
)

// Formats lists the image formats Save writes.
var formats = []string{"png", "svg"}

// Run is one result with the label its line carries in a legend.
type Run struct {
	Label  string
	Result *results.Result
}

// Options tune the graphs. The zero value is usable.
type Options struct {
	// Title replaces the graph's default title.
	Title string
	// Bucket is the width of one throughput point over time; zero chooses
	// one that gives about 60 points (the original reliability graph
	// plotted 6 s buckets of a 400 s run), a multiple of the result's
	// interval.
	Bucket time.Duration
}

// Encode renders p as "png" or "svg" at the default size.
func Encode(p *gplot.Plot, format string) ([]byte, error) {
	wt, err := p.WriterTo(Width, Height, format)
	if err != nil {
		return nil, fmt.Errorf("plot: render %s: %w", format, err)
	}
	var b bytes.Buffer
	if _, err := wt.WriteTo(&b); err != nil {
		return nil, fmt.Errorf("plot: render %s: %w", format, err)
	}
	return b.Bytes(), nil
}

// Save writes p to base.png and base.svg and returns the paths written.
func Save(p *gplot.Plot, base string) ([]string, error) {
	var paths []string
	for _, f := range formats {
		b, err := Encode(p, f)
		if err != nil {
			return paths, err
		}
		path := base + "." + f
		tmp := path + ".tmp"
		if err := os.WriteFile(tmp, b, 0o644); err != nil {
			return paths, fmt.Errorf("plot: %w", err)
		}
		if err := os.Rename(tmp, path); err != nil {
			return paths, fmt.Errorf("plot: %w", err)
		}
		paths = append(paths, filepath.Clean(path))
	}
	return paths, nil
}

// palette is colour-blind friendly (Okabe-Ito), in legend order.
var palette = []color.Color{
	color.RGBA{0, 114, 178, 255},   // blue
	color.RGBA{213, 94, 0, 255},    // vermillion
	color.RGBA{0, 158, 115, 255},   // green
	color.RGBA{204, 121, 167, 255}, // purple
	color.RGBA{230, 159, 0, 255},   // orange
	color.RGBA{86, 180, 233, 255},  // sky blue
	color.RGBA{0, 0, 0, 255},       // black
	color.RGBA{240, 228, 66, 255},  // yellow
}

func colorOf(i int) color.Color { return palette[i%len(palette)] }

// plainTicks are gonum's default ticks labelled without needless
// decimals ("7500", not "7500.00").
type plainTicks struct{}

func (plainTicks) Ticks(min, max float64) []gplot.Tick {
	ts := gplot.DefaultTicks{}.Ticks(min, max)
	for i := range ts {
		if ts[i].Label != "" {
			ts[i].Label = strconv.FormatFloat(ts[i].Value, 'f', -1, 64)
		}
	}
	return ts
}

func newPlot(title, x, y string) *gplot.Plot {
	p := gplot.New()
	p.X.Tick.Marker = plainTicks{}
	p.Y.Tick.Marker = plainTicks{}
	p.Title.Text = title
	p.X.Label.Text = x
	p.Y.Label.Text = y
	p.Legend.Top = true
	p.Add(plotter.NewGrid())
	return p
}

// line adds a line (with its points marked if points) in colour i and, if
// label is not empty, a legend entry; it returns the line for restyling.
func line(p *gplot.Plot, xys plotter.XYs, i int, label string, points bool) (*plotter.Line, error) {
	l, err := plotter.NewLine(xys)
	if err != nil {
		return nil, fmt.Errorf("plot: line %q: %w", label, err)
	}
	l.Color = colorOf(i)
	l.Width = vg.Points(1.5)
	p.Add(l)
	if points {
		s, err := plotter.NewScatter(xys)
		if err != nil {
			return nil, fmt.Errorf("plot: points %q: %w", label, err)
		}
		s.Color = colorOf(i)
		s.Shape = shapes[i%len(shapes)]
		p.Add(s)
		if label != "" {
			p.Legend.Add(label, l, s)
		}
		return l, nil
	}
	if label != "" {
		p.Legend.Add(label, l)
	}
	return l, nil
}

var shapes = []draw.GlyphDrawer{draw.CircleGlyph{}, draw.SquareGlyph{}, draw.TriangleGlyph{}, draw.CrossGlyph{}, draw.PlusGlyph{}, draw.RingGlyph{}, draw.BoxGlyph{}, draw.PyramidGlyph{}}

// AutoBucket returns the bucket Options.Bucket = 0 chooses for r.
func AutoBucket(r *results.Result) time.Duration {
	iv := r.Interval
	if iv <= 0 {
		iv = 100 * time.Millisecond
	}
	total := r.Measured
	if total <= 0 {
		total = time.Duration(len(r.Series)) * iv
	}
	n := max(1, int64(total/60/iv))
	return time.Duration(n) * iv
}

// Buckets sums r's series into buckets of width b (b rounded to a multiple
// of the result's interval) and returns each bucket's start in seconds and
// its throughput in operations per second.
func Buckets(r *results.Result, b time.Duration) plotter.XYs {
	if b <= 0 {
		b = AutoBucket(r)
	}
	var xys plotter.XYs
	var ops int64
	var length time.Duration
	start := time.Duration(-1)
	flush := func() {
		if length > 0 {
			xys = append(xys, plotter.XY{X: start.Seconds(), Y: float64(ops) / length.Seconds()})
		}
		ops, length, start = 0, 0, -1
	}
	for _, iv := range r.Series {
		if start >= 0 && iv.Start >= start+b {
			flush()
		}
		if start < 0 {
			start = iv.Start - iv.Start%b
		}
		ops += iv.Ops
		length += iv.Len
	}
	// A short last bucket (a cancelled run) would dip for no reason.
	if length >= b/2 || len(xys) == 0 {
		flush()
	}
	return xys
}

// Throughput draws throughput over time (operations per second, bucketed)
// for each run. When there is one run, its fault events are marked: a
// failure (kill, freeze, partition, delay) as a dashed red line labelled with
// its event number, a repair (restart, thaw, heal, disk-heal) as a dotted grey line;
// a red band spans the operations of each safety violation; and, from the
// servers' series, a lane under the axis shows which server led when, and
// purple marks the servers' errors, exits and full disks.
func Throughput(runs []Run, o Options) (*gplot.Plot, error) {
	if len(runs) == 0 {
		return nil, fmt.Errorf("plot: throughput: no results")
	}
	title := o.Title
	if title == "" {
		title = "Throughput over time"
		if len(runs) == 1 {
			title += " — " + Describe(runs[0].Result)
		}
	}
	p := newPlot(title, "time (s)", "throughput (ops/s)")
	p.X.Min, p.Y.Min = 0, 0
	var ymax float64
	for i, run := range runs {
		if len(run.Result.Series) == 0 {
			return nil, fmt.Errorf("plot: throughput: result %q has no time series", run.Label)
		}
		b := o.Bucket
		if b <= 0 {
			b = AutoBucket(run.Result)
		}
		xys := Buckets(run.Result, b)
		for _, xy := range xys {
			ymax = math.Max(ymax, xy.Y)
		}
		label := run.Label
		if len(runs) == 1 {
			label = ""
			p.Title.Text += fmt.Sprintf(" (%v buckets)", b)
		}
		if _, err := line(p, xys, i, label, false); err != nil {
			return nil, err
		}
	}
	p.Y.Max = ymax * 1.15
	if len(runs) == 1 {
		if err := markEvents(p, runs[0].Result.Events, p.Y.Max); err != nil {
			return nil, err
		}
		p.X.Min = 0
		p.X.Max = math.Max(p.X.Max, runs[0].Result.Measured.Seconds())
		if _, err := markViolations(p, runs[0].Result.Safety, p.Y.Max, p.X.Max/200); err != nil {
			return nil, err
		}
		if err := markProblems(p, runs[0].Result, p.Y.Max); err != nil {
			return nil, err
		}
		if err := markLeaders(p, runs[0].Result, p.Y.Max); err != nil {
			return nil, err
		}
	}
	return p, nil
}

// EventNumber returns the event number an event's Detail starts with ("3: ..."
// gives "3"), or "".
func EventNumber(ev results.Event) string {
	n, _, ok := strings.Cut(ev.Detail, ":")
	if !ok {
		return ""
	}
	if _, err := strconv.Atoi(strings.TrimSpace(n)); err != nil {
		return ""
	}
	return strings.TrimSpace(n)
}

func markEvents(p *gplot.Plot, evs []results.Event, top float64) error {
	labelled := map[string]bool{}
	var lxy plotter.XYs
	var ltext []string
	for _, ev := range evs {
		if ev.At < 0 {
			continue
		}
		x := ev.At.Seconds()
		var style draw.LineStyle
		switch {
		case ev.IsFailure():
			style = draw.LineStyle{Color: color.RGBA{200, 0, 0, 255}, Width: vg.Points(1), Dashes: []vg.Length{vg.Points(4), vg.Points(3)}}
			key := EventNumber(ev)
			if key == "" {
				key = ev.Name + strconv.FormatFloat(x, 'f', 1, 64)
			}
			if !labelled[key] {
				labelled[key] = true
				text := EventNumber(ev)
				if text == "" {
					text = ev.Name
				}
				lxy = append(lxy, plotter.XY{X: x, Y: top * 0.96})
				ltext = append(ltext, text)
			}
		case ev.IsRepair():
			style = draw.LineStyle{Color: color.Gray{150}, Width: vg.Points(0.8), Dashes: []vg.Length{vg.Points(1), vg.Points(2)}}
		default:
			continue
		}
		l, err := plotter.NewLine(plotter.XYs{{X: x, Y: 0}, {X: x, Y: top * 0.92}})
		if err != nil {
			return fmt.Errorf("plot: event mark: %w", err)
		}
		l.LineStyle = style
		p.Add(l)
	}
	if len(lxy) > 0 {
		labels, err := plotter.NewLabels(plotter.XYLabels{XYs: lxy, Labels: ltext})
		if err != nil {
			return fmt.Errorf("plot: event labels: %w", err)
		}
		for i := range labels.TextStyle {
			labels.TextStyle[i].Color = color.RGBA{200, 0, 0, 255}
			labels.TextStyle[i].Font.Size = vg.Points(12)
			labels.TextStyle[i].XAlign = -0.5
		}
		p.Add(labels)
	}
	return nil
}

// Describe is a short description of a run for titles:
// "go, 7 servers, 30% writes, 60 clients".
func Describe(r *results.Result) string {
	srv := fmt.Sprintf("%d servers", r.Ensemble.Size)
	if r.Ensemble.Size == 1 {
		srv = "1 server"
	}
	return fmt.Sprintf("%s, %s, %s writes, %d clients", r.Ensemble.Label(), srv, Percent(r.Spec.WritePercent()), r.Spec.Clients)
}

// Percent formats a percentage without needless decimals.
func Percent(p float64) string {
	return strconv.FormatFloat(p, 'f', -1, 64) + "%"
}

// ReadRatio draws mean throughput against the percentage of reads, one line
// per ensemble size (per implementation and size when the runs mix
// implementations), as ZooKeeper's zkperfRW graph. Lines are named by
// ensemble size. Runs of the same point are averaged; when a point was run
// at several open-loop rates, it shows the highest throughput reached.
func ReadRatio(rs []*results.Result, o Options) (*gplot.Plot, error) {
	if len(rs) == 0 {
		return nil, fmt.Errorf("plot: read ratio: no results")
	}
	impls := map[string]bool{}
	for _, r := range rs {
		impls[r.Ensemble.Implementation] = true
	}
	type key struct {
		impl string
		size int
	}
	// Runs of one point at the same open-loop rate (or closed loop) are
	// averaged; of several rates, the point shows the highest throughput.
	type point struct{ reads, rate float64 }
	sums := map[key]map[point][]float64{}
	for _, r := range rs {
		k := key{r.Ensemble.Implementation, r.Ensemble.Size}
		if sums[k] == nil {
			sums[k] = map[point][]float64{}
		}
		pt := point{r.Spec.ReadPercent, r.Spec.Rate}
		sums[k][pt] = append(sums[k][pt], results.Summarize(r).Throughput.Mean)
	}
	groups := map[key]map[float64]float64{}
	for k, pts := range sums {
		groups[k] = map[float64]float64{}
		for pt, tps := range pts {
			var sum float64
			for _, t := range tps {
				sum += t
			}
			groups[k][pt.reads] = math.Max(groups[k][pt.reads], sum/float64(len(tps)))
		}
	}
	keys := make([]key, 0, len(groups))
	for k := range groups {
		keys = append(keys, k)
	}
	sort.Slice(keys, func(i, j int) bool {
		if keys[i].impl != keys[j].impl {
			return keys[i].impl < keys[j].impl
		}
		return keys[i].size < keys[j].size
	})
	title := o.Title
	if title == "" {
		title = "Throughput as the read/write ratio varies"
		if len(impls) == 1 {
			title += " (" + rs[0].Ensemble.Implementation + ")"
		}
	}
	p := newPlot(title, "reads (% of operations)", "throughput (ops/s)")
	p.X.Min, p.X.Max, p.Y.Min = 0, 100, 0
	var ticks []gplot.Tick
	for x := 0; x <= 100; x += 10 {
		ticks = append(ticks, gplot.Tick{Value: float64(x), Label: strconv.Itoa(x)})
	}
	p.X.Tick.Marker = gplot.ConstantTicks(ticks)
	p.Legend.Left = true
	// With several implementations, a size keeps its colour and each
	// implementation after the first is dashed.
	sizeIdx, implIdx := map[int]int{}, map[string]int{}
	for _, k := range keys {
		if _, ok := sizeIdx[k.size]; !ok {
			sizeIdx[k.size] = len(sizeIdx)
		}
		if _, ok := implIdx[k.impl]; !ok {
			implIdx[k.impl] = len(implIdx)
		}
	}
	sort.Slice(keys, func(i, j int) bool {
		if keys[i].size != keys[j].size {
			return keys[i].size < keys[j].size
		}
		return keys[i].impl < keys[j].impl
	})
	for _, k := range keys {
		var xys plotter.XYs
		for pct, tp := range groups[k] {
			xys = append(xys, plotter.XY{X: pct, Y: tp})
		}
		sort.Slice(xys, func(a, b int) bool { return xys[a].X < xys[b].X })
		label := fmt.Sprintf("%d servers", k.size)
		if k.size == 1 {
			label = "1 server"
		}
		if len(impls) > 1 {
			label = k.impl + ", " + label
		}
		l, err := line(p, xys, sizeIdx[k.size], label, true)
		if err != nil {
			return nil, err
		}
		if n := implIdx[k.impl]; n > 0 {
			l.Dashes = []vg.Length{vg.Points(6 / float64(n)), vg.Points(3)}
		}
	}
	return p, nil
}

// spectrumTicks label the percentile axis, which is plotted as
// 1/(1-p) on a log scale (as HdrHistogram's plotter does).
type spectrumTicks struct{}

func (spectrumTicks) Ticks(min, max float64) []gplot.Tick {
	var ts []gplot.Tick
	for _, p := range []float64{0, 90, 99, 99.9, 99.99, 99.999, 99.9999} {
		x := 1 / (1 - p/100)
		if x >= min*0.999 && x <= max*1.001 {
			ts = append(ts, gplot.Tick{Value: x, Label: strconv.FormatFloat(p, 'f', -1, 64) + "%"})
		}
	}
	return ts
}

// LatencySpectrum draws each run's latency percentile spectrum, from its
// whole-run HDR histograms (all operation types merged): latency in
// milliseconds against the percentile, on a "nines" axis.
func LatencySpectrum(runs []Run, o Options) (*gplot.Plot, error) {
	if len(runs) == 0 {
		return nil, fmt.Errorf("plot: latency spectrum: no results")
	}
	title := o.Title
	if title == "" {
		title = "Latency by percentile"
		if len(runs) == 1 {
			title += " — " + Describe(runs[0].Result)
		}
	}
	p := newPlot(title, "percentile", "latency (ms)")
	p.X.Scale = gplot.LogScale{}
	p.X.Tick.Marker = spectrumTicks{}
	p.Y.Min = 0
	p.Legend.Left = true
	for i, run := range runs {
		h := merged(run.Result)
		if h == nil {
			return nil, fmt.Errorf("plot: latency spectrum: result %q has no latency histograms (latency.hlog)", run.Label)
		}
		var xys plotter.XYs
		for _, q := range spectrumQuantiles(h.TotalCount()) {
			xys = append(xys, plotter.XY{X: 1 / (1 - q/100), Y: float64(h.ValueAtQuantile(q)) / 1e6})
		}
		label := run.Label
		if len(runs) == 1 {
			label = ""
		}
		if _, err := line(p, xys, i, label, false); err != nil {
			return nil, err
		}
	}
	return p, nil
}

// spectrumQuantiles lists percentiles from 0 to the last one the sample
// can resolve, denser in the tail.
func spectrumQuantiles(n int64) []float64 {
	var qs []float64
	limit := 100 * (1 - 1/float64(max(n, 2)))
	for i := 0; ; i++ {
		// Evenly spaced in log(1/(1-p)): ten points per nine.
		q := 100 * (1 - math.Pow(10, -float64(i)/10))
		if q > limit || i > 70 {
			break
		}
		qs = append(qs, q)
	}
	return qs
}

// LatencyOverTime draws latency percentiles over time: p50, p99 and p99.9 of
// one run, or the p99 of each of several runs, from the series (or, for
// series longer than 1,000 intervals, from the coarser per-interval
// histograms).
func LatencyOverTime(runs []Run, o Options) (*gplot.Plot, error) {
	if len(runs) == 0 {
		return nil, fmt.Errorf("plot: latency over time: no results")
	}
	title := o.Title
	if title == "" {
		title = "Latency over time"
		if len(runs) == 1 {
			title += " — " + Describe(runs[0].Result)
		} else {
			title += " (p99)"
		}
	}
	p := newPlot(title, "time (s)", "latency (ms)")
	p.X.Min, p.Y.Min = 0, 0
	qs := []float64{50, 99, 99.9}
	if len(runs) > 1 {
		qs = []float64{99}
	}
	n := 0
	for _, run := range runs {
		series := latencySeries(run.Result, qs)
		if series == nil {
			return nil, fmt.Errorf("plot: latency over time: result %q has no time series", run.Label)
		}
		for j, q := range qs {
			label := "p" + strconv.FormatFloat(q, 'f', -1, 64)
			if len(runs) > 1 {
				label = run.Label
			}
			if _, err := line(p, series[j], n, label, false); err != nil {
				return nil, err
			}
			n++
		}
	}
	if len(runs) == 1 {
		var top float64
		for _, xy := range latencySeries(runs[0].Result, []float64{99.9})[0] {
			top = math.Max(top, xy.Y)
		}
		p.Y.Max = top * 1.15
		if err := markEvents(p, runs[0].Result.Events, p.Y.Max); err != nil {
			return nil, err
		}
	}
	return p, nil
}

func latencySeries(r *results.Result, qs []float64) []plotter.XYs {
	out := make([]plotter.XYs, len(qs))
	if len(r.IntervalLatency) > 0 && (len(r.Series) > 1000 || len(r.Series) == 0) {
		start := r.Start.UnixMilli()
		for _, h := range r.IntervalLatency {
			if h.TotalCount() == 0 {
				continue
			}
			t := float64(h.StartTimeMs()-start) / 1000
			for j, q := range qs {
				out[j] = append(out[j], plotter.XY{X: t, Y: float64(h.ValueAtQuantile(q)) / 1e6})
			}
		}
		return out
	}
	if len(r.Series) == 0 {
		return nil
	}
	for _, iv := range r.Series {
		if iv.Ops == 0 {
			continue
		}
		vals := map[float64]time.Duration{50: iv.P50, 99: iv.P99, 99.9: iv.P999}
		for j, q := range qs {
			out[j] = append(out[j], plotter.XY{X: iv.Start.Seconds(), Y: vals[q].Seconds() * 1000})
		}
	}
	return out
}
