package perf

import (
	"fmt"
	"slices"
	"strconv"
	"strings"

	"github.com/zkbench/zkbench/harness"
	"github.com/zkbench/zkbench/results"
)

// Rate is an offered rate of the fixed-rate latency points: open-loop runs
// below saturation, where latency is the servers' and not the queue in the
// clients that a saturating closed loop builds (issue 19).
type Rate struct {
	// Fraction, when positive, is a share of Java's saturation throughput
	// at each point: the median of Java's closed-loop runs there.
	Fraction float64 `json:"fraction,omitempty"`
	// PerSecond, when Fraction is zero, is the rate in operations per
	// second over all clients.
	PerSecond float64 `json:"per_second,omitempty"`
}

// String labels the rate as ParseRates reads it: "50%" or "5000 ops/s".
func (r Rate) String() string {
	if r.Fraction > 0 {
		return strconv.FormatFloat(100*r.Fraction, 'g', -1, 64) + "%"
	}
	return strconv.FormatFloat(r.PerSecond, 'g', -1, 64) + " ops/s"
}

// ParseRates reads a comma-separated list of rates: percentages of Java's
// saturation throughput ("50%", up to 100 %) or operations per second
// ("5000").
func ParseRates(s string) ([]Rate, error) {
	var out []Rate
	for _, f := range strings.Split(s, ",") {
		f = strings.TrimSpace(f)
		if f == "" {
			continue
		}
		if p, ok := strings.CutSuffix(f, "%"); ok {
			v, err := strconv.ParseFloat(strings.TrimSpace(p), 64)
			if err != nil || !(v > 0 && v <= 100) {
				return nil, fmt.Errorf("rate %q: want a percentage of Java's saturation throughput above 0 and at most 100", f)
			}
			out = append(out, Rate{Fraction: v / 100})
			continue
		}
		v, err := strconv.ParseFloat(f, 64)
		if err != nil || !(v > 0) {
			return nil, fmt.Errorf("rate %q: want a percentage (50%%) or a positive rate in operations per second", f)
		}
		out = append(out, Rate{PerSecond: v})
	}
	return out, nil
}

// offered is the rate in operations per second that rate means at the
// point (size, reads), from the closed-loop samples of r.
func (r *Report) offered(rate Rate, size int, reads float64) (float64, error) {
	if rate.Fraction <= 0 {
		return rate.PerSecond, nil
	}
	var java []float64
	for _, s := range r.javaSaturation(size, reads) {
		java = append(java, s.Throughput)
	}
	if len(java) == 0 {
		return 0, fmt.Errorf("perf: rate %s at %d servers, %g%% reads: no Java saturation throughput measured there", rate, size, reads)
	}
	return rate.Fraction * results.DistOf(java).Median, nil
}

// javaSaturation returns Java's closed-loop runs at (size, reads) that
// completed operations: the median of their throughputs is what a share of
// Java's saturation means there, over every repetition.
func (r *Report) javaSaturation(size int, reads float64) []Sample {
	var out []Sample
	for _, s := range r.Samples {
		if s.Impl == harness.ImplJava && s.Rate == 0 && s.Size == size && s.ReadPercent == reads && s.Throughput > 0 {
			out = append(out, s)
		}
	}
	return out
}

// RatePoint is the latency of every implementation at one offered rate at
// one point, over the repetitions.
type RatePoint struct {
	Size        int     `json:"size"`
	ReadPercent float64 `json:"read_percent"`
	// Rate is the rate as given ("50%"); Offered the operations per
	// second it meant here.
	Rate    string  `json:"rate"`
	Offered float64 `json:"offered"`
	// GoTput, JavaTput and NoopTput are the achieved throughputs (ops/s):
	// below Offered when an implementation could not keep up.
	GoTput, JavaTput, NoopTput results.Dist
	// Latencies (ms), measured from each operation's intended start.
	GoP50, GoP99, GoP999       results.Dist
	JavaP50, JavaP99, JavaP999 results.Dist
	NoopP99, NoopP999          results.Dist
	// P99Ratio and P999Ratio are Go/Java per repetition.
	P99Ratio  results.Dist `json:"p99_ratio"`
	P999Ratio results.Dist `json:"p999_ratio"`
	// GoErrors and JavaErrors count failed operations over every run.
	GoErrors, JavaErrors int64
	// GoUnfinished and JavaUnfinished count, over every run, the
	// operations scheduled in the measured part not completed by its end.
	GoUnfinished, JavaUnfinished int64
	// Target states the latency target at this rate (none but at 50 %
	// and 90 % of Java's saturation).
	Target string `json:"target"`
	given  Rate
}

// Judge says whether the point meets issue 19's latency target where it
// sets one (50 % and 90 % of Java's saturation): Go's p99 and p99.9 at
// most half of Java's, medians of the per-repetition ratios.
func (p RatePoint) Judge() Verdict {
	switch {
	case !latencyTargeted(p.given):
		return NoTarget
	case p.P99Ratio.N == 0 || p.P999Ratio.N == 0:
		return Unknown
	case p.P99Ratio.Median <= LatencyRatio && p.P999Ratio.Median <= LatencyRatio:
		return Met
	}
	return Missed
}

// RatePoints aggregates the open-loop samples per size, read percentage
// and rate, pairing runs of the same repetition.
func (r *Report) RatePoints() []RatePoint {
	type key struct {
		size  int
		reads float64
		rate  string
		rep   int
	}
	by := map[string]map[key]Sample{}
	for _, s := range r.Samples {
		if s.Rate == 0 {
			continue
		}
		if by[s.Impl] == nil {
			by[s.Impl] = map[key]Sample{}
		}
		by[s.Impl][key{s.Size, s.ReadPercent, s.RateLabel, s.Rep}] = s
	}
	var out []RatePoint
	for _, size := range r.Config.Sizes {
		for _, reads := range r.Config.ReadPercents {
			for _, rate := range r.Config.Rates {
				p := RatePoint{Size: size, ReadPercent: reads, Rate: rate.String(), Target: latencyTargetText(rate), given: rate}
				var d [11][]float64 // tput go, java, noop; go p50 p99 p999; java p50 p99 p999; noop p99 p999
				var p99r, p999r []float64
				found := false
				for rep := 1; rep <= r.Config.Reps; rep++ {
					k := key{size, reads, p.Rate, rep}
					gs, gok := by[harness.ImplGo][k]
					js, jok := by[harness.ImplJava][k]
					ns, nok := by[ImplNoop][k]
					for _, s := range []struct {
						s  Sample
						ok bool
					}{{gs, gok}, {js, jok}, {ns, nok}} {
						if s.ok && !found {
							p.Offered, found = s.s.Rate, true
						}
					}
					if gok {
						d[0] = append(d[0], gs.Throughput)
						d[3], d[4], d[5] = append(d[3], ms(gs.P50)), append(d[4], ms(gs.P99)), append(d[5], ms(gs.P999))
						p.GoErrors += gs.Errors
						p.GoUnfinished += gs.Unfinished
					}
					if jok {
						d[1] = append(d[1], js.Throughput)
						d[6], d[7], d[8] = append(d[6], ms(js.P50)), append(d[7], ms(js.P99)), append(d[8], ms(js.P999))
						p.JavaErrors += js.Errors
						p.JavaUnfinished += js.Unfinished
					}
					if nok {
						d[2] = append(d[2], ns.Throughput)
						d[9], d[10] = append(d[9], ms(ns.P99)), append(d[10], ms(ns.P999))
					}
					if gok && jok && js.P99 > 0 && js.P999 > 0 {
						p99r = append(p99r, float64(gs.P99)/float64(js.P99))
						p999r = append(p999r, float64(gs.P999)/float64(js.P999))
					}
				}
				if !found {
					continue
				}
				p.GoTput, p.JavaTput, p.NoopTput = results.DistOf(d[0]), results.DistOf(d[1]), results.DistOf(d[2])
				p.GoP50, p.GoP99, p.GoP999 = results.DistOf(d[3]), results.DistOf(d[4]), results.DistOf(d[5])
				p.JavaP50, p.JavaP99, p.JavaP999 = results.DistOf(d[6]), results.DistOf(d[7]), results.DistOf(d[8])
				p.NoopP99, p.NoopP999 = results.DistOf(d[9]), results.DistOf(d[10])
				p.P99Ratio, p.P999Ratio = results.DistOf(p99r), results.DistOf(p999r)
				out = append(out, p)
			}
		}
	}
	return out
}

// writeRates writes the fixed-rate latency table.
func (r *Report) writeRates(b *strings.Builder) {
	pts := r.RatePoints()
	if len(pts) == 0 {
		return
	}
	b.WriteString("## Latency at a fixed offered rate (ms)\n\n")
	b.WriteString("Open loop: every client issues its operations on a fixed schedule whatever the replies (latency from the intended start, ")
	b.WriteString("so a stall counts in full); a percentage is of Java's median saturation throughput at the point. Achieved is what completed ")
	b.WriteString("inside the measured part; below offered, or with operations unfinished (summed over the repetitions), the implementation could not keep up. Each fixed-rate ensemble first runs the closed loop until steady ")
	b.WriteString("(Java's JIT warm: a fixed rate offered to a cold Java builds a backlog the measured part would carry); then each rate warms up ")
	b.WriteString("until its throughput is steady and its sessions keep their schedule.\n\n")
	b.WriteString("| servers | reads | rate | offered ops/s | achieved Go / Java | unfinished Go / Java | Go p50 | Go p99 | Go p99.9 | Java p50 | Java p99 | Java p99.9 | p99 Go/Java | p99.9 Go/Java | no-op p99 / p99.9 | target | target met |\n")
	b.WriteString("| ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | --- | :---: |\n")
	for _, p := range pts {
		fmt.Fprintf(b, "| %d | %g %% | %s | %.0f | %s / %s | %d / %d | %s | %s | %s | %s | %s | %s | %s | %s | %s / %s | %s | %s |\n",
			p.Size, p.ReadPercent, p.Rate, p.Offered, fmtDist(p.GoTput, "%.0f"), fmtDist(p.JavaTput, "%.0f"), p.GoUnfinished, p.JavaUnfinished,
			fmtDist(p.GoP50, "%.2f"), fmtDist(p.GoP99, "%.2f"), fmtDist(p.GoP999, "%.2f"),
			fmtDist(p.JavaP50, "%.2f"), fmtDist(p.JavaP99, "%.2f"), fmtDist(p.JavaP999, "%.2f"),
			fmtDist(p.P99Ratio, "%.2f"), fmtDist(p.P999Ratio, "%.2f"),
			fmtDist(p.NoopP99, "%.2f"), fmtDist(p.NoopP999, "%.2f"), p.Target, p.Judge())
	}
	shares := slices.ContainsFunc(r.Config.Rates, func(rt Rate) bool { return rt.Fraction > 0 })
	for _, size := range r.Config.Sizes {
		for _, reads := range r.Config.ReadPercents {
			runs := r.javaSaturation(size, reads)
			var unsteady int
			for _, s := range runs {
				if s.Warmup != nil && !s.Warmup.Settled {
					unsteady++
				}
			}
			if shares && unsteady > 0 {
				fmt.Fprintf(b, "\n**%d servers, %g %% reads**: %d of the %d Java closed-loop runs whose median the shares are of never steadied: "+
					"a climb in their measured part understates Java's saturation, and the rates with it.\n", size, reads, unsteady, len(runs))
			}
		}
	}
	b.WriteString("\nTarget (issue 19): at 50 % and 90 % of Java's saturation, Go's p99 and p99.9 at most half of Java's at the same offered rate; other rates are measured, not judged.\n\n")
}

// validRates checks the rates against the implementations measured.
func validRates(rates []Rate, impls []string) error {
	for _, r := range rates {
		if r.Fraction > 0 && !slices.Contains(impls, harness.ImplJava) {
			return fmt.Errorf("%w: rate %s is a share of Java's saturation throughput, but Java is not measured", ErrInvalid, r)
		}
		if !(r.Fraction > 0 && r.Fraction <= 1) && !(r.Fraction == 0 && r.PerSecond > 0) {
			return fmt.Errorf("%w: rate %+v: want a fraction in (0, 1] or a positive rate", ErrInvalid, r)
		}
	}
	return nil
}
