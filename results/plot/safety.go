package plot

import (
	"fmt"
	"image/color"

	gplot "gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"

	"github.com/zkbench/zkbench/results"
)

// violationColor fills the band where a safety violation happened.
var violationColor = color.RGBA{220, 0, 0, 70}

// markViolations shades, in red from the bottom of p to top, the span of
// the operations of every safety violation in s (at least minWidth
// seconds wide, so that a violation of one instant shows), and adds one
// legend entry for them. It returns the bands.
func markViolations(p *gplot.Plot, s *results.Safety, top, minWidth float64) ([]*plotter.Polygon, error) {
	if !s.Violated() {
		return nil, nil
	}
	var bands []*plotter.Polygon
	for _, c := range s.Checks {
		for _, f := range c.Findings {
			if c.Verdict != results.SafetyFail || (f.From == 0 && f.To == 0) {
				continue
			}
			from, to := f.From.Seconds(), f.To.Seconds()
			if to-from < minWidth {
				mid := (from + to) / 2
				from, to = mid-minWidth/2, mid+minWidth/2
			}
			from = max(from, 0)
			band, err := plotter.NewPolygon(plotter.XYs{{X: from, Y: 0}, {X: to, Y: 0}, {X: to, Y: top}, {X: from, Y: top}})
			if err != nil {
				return nil, fmt.Errorf("plot: violation band: %w", err)
			}
			band.Color = violationColor
			band.LineStyle.Width = 0
			p.Add(band)
			bands = append(bands, band)
		}
	}
	if len(bands) > 0 {
		p.Legend.Add("safety violation", bands[0])
	}
	return bands, nil
}
