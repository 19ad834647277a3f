package plot

import (
	"fmt"
	"image/color"
	"math"

	gplot "gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"

	"github.com/zkbench/zkbench/results/trend"
)

// Trend draws one metric of a history over its commits (oldest first),
// one point per commit, with each change point marked by a dashed line
// between the last commit before it and the first after it, labelled
// with the step (red for a regression, grey otherwise).
func Trend(s trend.Series, metric string) (*gplot.Plot, error) {
	m := s.Metric(metric)
	if m == nil || len(s.Points) == 0 {
		return nil, fmt.Errorf("plot: trend: series %q has no %s", s.Title, metric)
	}
	p := newPlot(s.Title+": "+metric, "commit (oldest first)", fmt.Sprintf("%s (%s)", metric, m.Unit))
	xys := make(plotter.XYs, len(s.Points))
	var ymax float64
	for i, v := range s.Values(metric) {
		xys[i] = plotter.XY{X: float64(i), Y: v}
		ymax = math.Max(ymax, v)
	}
	if _, err := line(p, xys, 0, "", true); err != nil {
		return nil, err
	}
	p.X.Min, p.X.Max = -0.5, float64(len(s.Points))-0.5
	p.Y.Min, p.Y.Max = 0, ymax*1.2
	var lxy plotter.XYs
	var ltext []string
	var lcolor []color.Color
	for _, c := range m.Changes {
		col := color.Color(color.Gray{120})
		if c.Worse {
			col = color.RGBA{200, 0, 0, 255}
		}
		x := float64(c.Index) - 0.5
		l, err := plotter.NewLine(plotter.XYs{{X: x, Y: 0}, {X: x, Y: p.Y.Max * 0.9}})
		if err != nil {
			return nil, fmt.Errorf("plot: trend: change mark: %w", err)
		}
		l.LineStyle = draw.LineStyle{Color: col, Width: vg.Points(1.2), Dashes: []vg.Length{vg.Points(4), vg.Points(3)}}
		p.Add(l)
		short := c.Revision
		if len(short) > 8 {
			short = short[:8]
		}
		lxy = append(lxy, plotter.XY{X: x, Y: p.Y.Max * 0.93})
		ltext = append(ltext, fmt.Sprintf("%+.1f%% %s", 100*c.Change, short))
		lcolor = append(lcolor, col)
	}
	if len(lxy) > 0 {
		labels, err := plotter.NewLabels(plotter.XYLabels{XYs: lxy, Labels: ltext})
		if err != nil {
			return nil, fmt.Errorf("plot: trend: labels: %w", err)
		}
		for i := range labels.TextStyle {
			labels.TextStyle[i].Color = lcolor[i]
			labels.TextStyle[i].XAlign = draw.XCenter
		}
		p.Add(labels)
	}
	return p, nil
}
