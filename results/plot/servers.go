package plot

import (
	"bytes"
	"fmt"
	"image/color"
	"math"
	"os"
	"path/filepath"
	"sort"

	gplot "gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"
	"gonum.org/v1/plot/vg/vgimg"
	"gonum.org/v1/plot/vg/vgsvg"

	"github.com/zkbench/zkbench/results"
)

// nonNegativeTicks hides the tick labels below zero of an axis whose
// negative part holds a lane.
type nonNegativeTicks struct{}

func (nonNegativeTicks) Ticks(min, max float64) []gplot.Tick {
	var out []gplot.Tick
	for _, t := range (plainTicks{}).Ticks(min, max) {
		if t.Value >= 0 {
			out = append(out, t)
		}
	}
	return out
}

var problemColor = color.RGBA{128, 0, 128, 255}

// markLeaders draws, under the zero of a graph whose top is top, a lane
// showing which server led when (from r's server samples), each leader in
// its own colour and named where its span starts. It does nothing when r
// has no server series.
func markLeaders(p *gplot.Plot, r *results.Result, top float64) error {
	spans := results.Leaders(r)
	if r.Servers == nil || len(r.Servers.Samples) == 0 {
		return nil
	}
	y := -0.07 * top
	p.Y.Min = -0.14 * top
	p.Y.Tick.Marker = nonNegativeTicks{}
	var lxy plotter.XYs
	var ltext []string
	for _, s := range spans {
		from, to := math.Max(s.From.Seconds(), 0), math.Min(s.To.Seconds(), r.Measured.Seconds())
		if to <= from {
			continue
		}
		l, err := plotter.NewLine(plotter.XYs{{X: from, Y: y}, {X: to, Y: y}})
		if err != nil {
			return fmt.Errorf("plot: leader lane: %w", err)
		}
		l.Color = colorOf(int(s.ID))
		l.Width = vg.Points(7)
		p.Add(l)
		lxy = append(lxy, plotter.XY{X: from, Y: y})
		ltext = append(ltext, fmt.Sprintf("leader %d", s.ID))
	}
	if len(spans) == 0 {
		lxy = append(lxy, plotter.XY{X: 0, Y: y})
		ltext = append(ltext, "no leader seen")
	}
	labels, err := plotter.NewLabels(plotter.XYLabels{XYs: lxy, Labels: ltext})
	if err != nil {
		return fmt.Errorf("plot: leader lane: %w", err)
	}
	for i := range labels.TextStyle {
		labels.TextStyle[i].Font.Size = vg.Points(8)
		labels.TextStyle[i].YAlign = -1.1
	}
	p.Add(labels)
	return nil
}

// markProblems draws each server problem of r (error, exit, full disk) as a
// purple mark labelled with what and which server.
func markProblems(p *gplot.Plot, r *results.Result, top float64) error {
	if r.Servers == nil || len(r.Servers.Problems) == 0 {
		return nil
	}
	var lxy plotter.XYs
	var ltext []string
	for _, pr := range r.Servers.Problems {
		x := math.Max(pr.At.Seconds(), 0)
		l, err := plotter.NewLine(plotter.XYs{{X: x, Y: 0}, {X: x, Y: top * 0.85}})
		if err != nil {
			return fmt.Errorf("plot: problem mark: %w", err)
		}
		l.Color = problemColor
		l.Width = vg.Points(1)
		l.Dashes = []vg.Length{vg.Points(2), vg.Points(2)}
		p.Add(l)
		lxy = append(lxy, plotter.XY{X: x, Y: top * 0.86})
		what := pr.Kind
		switch pr.Kind {
		case results.ProblemDiskFull:
			what = "disk full"
		case results.ProblemExit:
			what = "exited"
		}
		ltext = append(ltext, fmt.Sprintf("%s: server %d", what, pr.ID))
	}
	labels, err := plotter.NewLabels(plotter.XYLabels{XYs: lxy, Labels: ltext})
	if err != nil {
		return fmt.Errorf("plot: problem labels: %w", err)
	}
	for i := range labels.TextStyle {
		labels.TextStyle[i].Color = problemColor
		labels.TextStyle[i].Font.Size = vg.Points(8)
	}
	p.Add(labels)
	return nil
}

// serverIDs lists the ids of r's sampled servers.
func serverIDs(r *results.Result) []int64 {
	seen := map[int64]bool{}
	var ids []int64
	for _, s := range r.Servers.Samples {
		if !seen[s.ID] {
			seen[s.ID] = true
			ids = append(ids, s.ID)
		}
	}
	sort.Slice(ids, func(i, j int) bool { return ids[i] < ids[j] })
	return ids
}

// perServer draws one line per server of value(sample or stretch) over
// time; points with a NaN value are gaps.
func perServer(p *gplot.Plot, r *results.Result, pts func(id int64) plotter.XYs) (bool, error) {
	drawn := false
	for _, id := range serverIDs(r) {
		xys := pts(id)
		// Split at NaN: plotter lines cannot hold them.
		var part plotter.XYs
		first := true
		flush := func() error {
			if len(part) == 0 {
				return nil
			}
			label := ""
			if first {
				label = fmt.Sprintf("server %d", id)
				first = false
			}
			_, err := line(p, part, int(id), label, len(part) == 1)
			part = nil
			drawn = true
			return err
		}
		for _, xy := range xys {
			if math.IsNaN(xy.Y) {
				if err := flush(); err != nil {
					return false, err
				}
				continue
			}
			part = append(part, xy)
		}
		if err := flush(); err != nil {
			return false, err
		}
	}
	return drawn, nil
}

// Outstanding draws each server's queue of outstanding requests over time,
// as its samples say. Nil when no server reported one.
func Outstanding(r *results.Result, o Options) (*gplot.Plot, error) {
	if r.Servers == nil {
		return nil, nil
	}
	title := o.Title
	if title == "" {
		title = "Outstanding requests per server (mntr)"
	}
	p := newPlot(title, "time (s)", "outstanding requests")
	p.Y.Min = 0
	drawn, err := perServer(p, r, func(id int64) plotter.XYs {
		var xys plotter.XYs
		for _, s := range r.Servers.Samples {
			if s.ID == id && s.At >= 0 && s.At <= r.Measured+r.Servers.Interval {
				xys = append(xys, plotter.XY{X: s.At.Seconds(), Y: s.Outstanding})
			}
		}
		return xys
	})
	if err != nil || !drawn {
		return nil, err
	}
	p.X.Min = 0
	return p, nil
}

// Fsync draws each server's mean fsync time per sampling interval (ms),
// or, when the servers do not time their fsyncs, their fsyncs per second.
// Nil when no server reported fsyncs.
func Fsync(r *results.Result, o Options) (*gplot.Plot, error) {
	if r.Servers == nil {
		return nil, nil
	}
	deltas := results.ServerDeltas(r)
	timed := false
	for _, ds := range deltas {
		for _, d := range ds {
			timed = timed || !math.IsNaN(d.FsyncMs)
		}
	}
	title, ylabel := "Mean fsync time per server (mntr)", "fsync (ms)"
	if !timed {
		title, ylabel = "Fsyncs per second per server (their time is not reported)", "fsyncs/s"
	}
	if o.Title != "" {
		title = o.Title
	}
	p := newPlot(title, "time (s)", ylabel)
	p.Y.Min = 0
	drawn, err := perServer(p, r, func(id int64) plotter.XYs {
		var xys plotter.XYs
		for _, d := range deltas[id] {
			if d.At < 0 || d.At-d.Len > r.Measured {
				continue
			}
			y := d.FsyncMean()
			if !timed {
				y = d.Fsyncs / d.Len.Seconds()
			}
			xys = append(xys, plotter.XY{X: d.At.Seconds(), Y: y})
		}
		return xys
	})
	if err != nil || !drawn {
		return nil, err
	}
	p.X.Min = 0
	return p, nil
}

// ServerPanels returns the graphs that explain a run from the servers' side,
// to be stacked on one time axis: throughput (with the leader lane and the
// servers' problems), outstanding requests per server and fsync time per
// server, those the result has data for.
func ServerPanels(run Run, o Options) ([]*gplot.Plot, error) {
	tp, err := Throughput([]Run{run}, o)
	if err != nil {
		return nil, err
	}
	ps := []*gplot.Plot{tp}
	for _, f := range []func(*results.Result, Options) (*gplot.Plot, error){Outstanding, Fsync} {
		p, err := f(run.Result, Options{})
		if err != nil {
			return nil, err
		}
		if p != nil {
			p.X.Min, p.X.Max = tp.X.Min, tp.X.Max
			ps = append(ps, p)
		}
	}
	return ps, nil
}

// EncodeStack renders plots one above the other, of equal height, their
// data areas aligned, as "png" or "svg".
func EncodeStack(ps []*gplot.Plot, format string) ([]byte, error) {
	if len(ps) == 0 {
		return nil, fmt.Errorf("plot: stack: no graphs")
	}
	h := max(Height, vg.Length(len(ps))*Height*6/10)
	var c vg.CanvasWriterTo
	switch format {
	case "png":
		c = vgimg.PngCanvas{Canvas: vgimg.New(Width, h)}
	case "svg":
		c = vgsvg.New(Width, h)
	default:
		return nil, fmt.Errorf("plot: stack: format %q", format)
	}
	grid := make([][]*gplot.Plot, len(ps))
	for i, p := range ps {
		grid[i] = []*gplot.Plot{p}
	}
	tiles := draw.Tiles{Rows: len(ps), Cols: 1, PadTop: vg.Points(4), PadBottom: vg.Points(4), PadLeft: vg.Points(4), PadRight: vg.Points(8), PadY: vg.Points(6)}
	cs := gplot.Align(grid, tiles, draw.New(c))
	for i, p := range ps {
		p.Draw(cs[i][0])
	}
	var b bytes.Buffer
	if _, err := c.WriteTo(&b); err != nil {
		return nil, fmt.Errorf("plot: stack: render %s: %w", format, err)
	}
	return b.Bytes(), nil
}

// SaveStack writes EncodeStack's PNG and SVG to base.png and base.svg.
func SaveStack(ps []*gplot.Plot, base string) ([]string, error) {
	var paths []string
	for _, f := range formats {
		b, err := EncodeStack(ps, f)
		if err != nil {
			return paths, err
		}
		path := base + "." + f
		if err := os.WriteFile(path+".tmp", b, 0o644); err != nil {
			return paths, fmt.Errorf("plot: %w", err)
		}
		if err := os.Rename(path+".tmp", path); err != nil {
			return paths, fmt.Errorf("plot: %w", err)
		}
		paths = append(paths, filepath.Clean(path))
	}
	return paths, nil
}
