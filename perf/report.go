package perf

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/zkbench/zkbench/harness"
	"github.com/zkbench/zkbench/results"
)

// Point is the comparison at one ensemble size and read percentage.
type Point struct {
	Size        int     `json:"size"`
	ReadPercent float64 `json:"read_percent"`
	// Go, Java and Noop are throughputs (ops/s) over the repetitions.
	Go, Java, Noop results.Dist
	// Ratio is Go/Java throughput, one ratio per repetition.
	Ratio results.Dist `json:"ratio"`
	// GoOfNoop and JavaOfNoop are throughput / no-op bound per repetition.
	GoOfNoop, JavaOfNoop results.Dist
	// GoP99 and JavaP99 are p99 latencies in milliseconds; P99Ratio is
	// Go/Java per repetition.
	GoP99, JavaP99, P99Ratio results.Dist
	// NoopP99 is the no-op responder's p99 (ms) and NoopP99Ratio its p99
	// over Java's per repetition: how low a server that does no work at
	// all gets the driver's p99, the floor for GoP99 and P99Ratio.
	NoopP99, NoopP99Ratio results.Dist
	// GoErrors and JavaErrors count failed operations over every run.
	GoErrors, JavaErrors int64
	// GoServerUs, JavaServerUs and NoopServerUs are the servers' CPU per
	// operation (µs, every server process summed); GoDriverUs,
	// JavaDriverUs and NoopDriverUs the driver's. Runs without the figure
	// are left out.
	GoServerUs   results.Dist `json:"go_server_us_per_op"`
	JavaServerUs results.Dist `json:"java_server_us_per_op"`
	NoopServerUs results.Dist `json:"noop_server_us_per_op"`
	GoDriverUs   results.Dist `json:"go_driver_us_per_op"`
	JavaDriverUs results.Dist `json:"java_driver_us_per_op"`
	NoopDriverUs results.Dist `json:"noop_driver_us_per_op"`
	// GoBusyCores, JavaBusyCores and NoopBusyCores are the cores the runs
	// kept busy, servers and driver together (Sample.BusyCores).
	GoBusyCores   results.Dist `json:"go_busy_cores"`
	JavaBusyCores results.Dist `json:"java_busy_cores"`
	NoopBusyCores results.Dist `json:"noop_busy_cores"`
	// Target is the throughput target of the point's regime and Verdict
	// how the point fares against it.
	Target  ThroughputTarget `json:"target"`
	Verdict Verdict          `json:"verdict"`
}

// Points aggregates the report's samples per size and read percentage,
// pairing runs of the same repetition.
func (r *Report) Points() []Point {
	type key struct {
		size  int
		reads float64
		rep   int
	}
	by := map[string]map[key]Sample{}
	for _, s := range r.Samples {
		if s.Rate > 0 {
			continue // a fixed-rate run: RatePoints
		}
		if by[s.Impl] == nil {
			by[s.Impl] = map[key]Sample{}
		}
		by[s.Impl][key{s.Size, s.ReadPercent, s.Rep}] = s
	}
	var out []Point
	for _, size := range r.Config.Sizes {
		for _, reads := range r.Config.ReadPercents {
			p := Point{Size: size, ReadPercent: reads, Target: TargetFor(r.Config.Outstanding, size, reads)}
			var g, j, n, ratio, gn, jn, gp, jp, pr, np, npr []float64
			var cpu [6][]float64  // server go, java, noop; driver go, java, noop
			var busy [3][]float64 // go, java, noop
			for rep := 1; rep <= r.Config.Reps; rep++ {
				k := key{size, reads, rep}
				gs, gok := by[harness.ImplGo][k]
				js, jok := by[harness.ImplJava][k]
				ns, nok := by[ImplNoop][k]
				addCPU := func(i int, s Sample, ok bool) {
					if ok && s.ServerUsPerOp > 0 {
						cpu[i] = append(cpu[i], s.ServerUsPerOp)
					}
					if ok && s.DriverUsPerOp > 0 {
						cpu[3+i] = append(cpu[3+i], s.DriverUsPerOp)
					}
					if c := s.BusyCores(); ok && c > 0 {
						busy[i] = append(busy[i], c)
					}
				}
				addCPU(0, gs, gok)
				addCPU(1, js, jok)
				addCPU(2, ns, nok)
				if gok {
					g = append(g, gs.Throughput)
					gp = append(gp, ms(gs.P99))
					p.GoErrors += gs.Errors
				}
				if jok {
					j = append(j, js.Throughput)
					jp = append(jp, ms(js.P99))
					p.JavaErrors += js.Errors
				}
				if nok {
					n = append(n, ns.Throughput)
					np = append(np, ms(ns.P99))
					if jok && js.P99 > 0 {
						npr = append(npr, float64(ns.P99)/float64(js.P99))
					}
				}
				if gok && jok && js.Throughput > 0 {
					ratio = append(ratio, gs.Throughput/js.Throughput)
					if js.P99 > 0 {
						pr = append(pr, float64(gs.P99)/float64(js.P99))
					}
				}
				if nok && ns.Throughput > 0 {
					if gok {
						gn = append(gn, gs.Throughput/ns.Throughput)
					}
					if jok {
						jn = append(jn, js.Throughput/ns.Throughput)
					}
				}
			}
			p.Go, p.Java, p.Noop, p.Ratio = results.DistOf(g), results.DistOf(j), results.DistOf(n), results.DistOf(ratio)
			p.GoOfNoop, p.JavaOfNoop = results.DistOf(gn), results.DistOf(jn)
			p.GoP99, p.JavaP99, p.P99Ratio = results.DistOf(gp), results.DistOf(jp), results.DistOf(pr)
			p.NoopP99, p.NoopP99Ratio = results.DistOf(np), results.DistOf(npr)
			p.GoServerUs, p.JavaServerUs, p.NoopServerUs = results.DistOf(cpu[0]), results.DistOf(cpu[1]), results.DistOf(cpu[2])
			p.GoDriverUs, p.JavaDriverUs, p.NoopDriverUs = results.DistOf(cpu[3]), results.DistOf(cpu[4]), results.DistOf(cpu[5])
			p.GoBusyCores, p.JavaBusyCores, p.NoopBusyCores = results.DistOf(busy[0]), results.DistOf(busy[1]), results.DistOf(busy[2])
			p.Verdict = p.Target.Judge(p)
			out = append(out, p)
		}
	}
	return out
}

// RatioPoint compares two implementations at one point: throughput and
// p99 of a over b, one ratio per repetition.
type RatioPoint struct {
	Size        int          `json:"size"`
	ReadPercent float64      `json:"read_percent"`
	A, B        results.Dist // throughputs (ops/s)
	Throughput  results.Dist `json:"throughput_ratio"`
	P99         results.Dist `json:"p99_ratio"`
}

// Ratios compares implementation a with b at every point, pairing runs of
// the same repetition (e.g. "go" after an optimisation against
// "go-before").
func (r *Report) Ratios(a, b string) []RatioPoint {
	type key struct {
		size  int
		reads float64
		rep   int
	}
	get := func(impl string) map[key]Sample {
		m := map[key]Sample{}
		for _, s := range r.Samples {
			if s.Impl == impl && s.Rate == 0 {
				m[key{s.Size, s.ReadPercent, s.Rep}] = s
			}
		}
		return m
	}
	as, bs := get(a), get(b)
	var out []RatioPoint
	for _, size := range r.Config.Sizes {
		for _, reads := range r.Config.ReadPercents {
			var at, bt, tr, pr []float64
			for rep := 1; rep <= r.Config.Reps; rep++ {
				k := key{size, reads, rep}
				x, xok := as[k]
				y, yok := bs[k]
				if xok {
					at = append(at, x.Throughput)
				}
				if yok {
					bt = append(bt, y.Throughput)
				}
				if xok && yok && y.Throughput > 0 {
					tr = append(tr, x.Throughput/y.Throughput)
					if y.P99 > 0 {
						pr = append(pr, float64(x.P99)/float64(y.P99))
					}
				}
			}
			if len(tr) > 0 {
				out = append(out, RatioPoint{Size: size, ReadPercent: reads, A: results.DistOf(at), B: results.DistOf(bt), Throughput: results.DistOf(tr), P99: results.DistOf(pr)})
			}
		}
	}
	return out
}

func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }

// MemoryFigure is the memory of one implementation and size over the
// repetitions: the largest server's idle and peak RSS in MiB.
type MemoryFigure struct {
	Impl    string       `json:"impl"`
	Size    int          `json:"size"`
	IdleMiB results.Dist `json:"idle_mib"`
	PeakMiB results.Dist `json:"peak_mib"`
}

// MemoryFigures aggregates the report's memory samples.
func (r *Report) MemoryFigures() []MemoryFigure {
	var out []MemoryFigure
	for _, impl := range []string{harness.ImplGo, harness.ImplJava} {
		for _, size := range r.Config.Sizes {
			var idle, peak []float64
			for _, m := range r.Memory {
				if m.Impl == impl && m.Size == size {
					idle = append(idle, float64(slices.Max(append([]int64{0}, m.IdleKiB...)))/1024)
					peak = append(peak, float64(slices.Max(append([]int64{0}, m.PeakKiB...)))/1024)
				}
			}
			if len(idle) > 0 {
				out = append(out, MemoryFigure{Impl: impl, Size: size, IdleMiB: results.DistOf(idle), PeakMiB: results.DistOf(peak)})
			}
		}
	}
	return out
}

// StartupFigure is how long an ensemble took to serve, in seconds.
type StartupFigure struct {
	Impl    string       `json:"impl"`
	Size    int          `json:"size"`
	Seconds results.Dist `json:"seconds"`
}

// StartupFigures aggregates the report's start-up times.
func (r *Report) StartupFigures() []StartupFigure {
	var out []StartupFigure
	for _, impl := range []string{harness.ImplGo, harness.ImplJava} {
		for _, size := range r.Config.Sizes {
			var xs []float64
			for _, s := range r.Startups {
				if s.Impl == impl && s.Size == size {
					xs = append(xs, s.Elapsed.Seconds())
				}
			}
			if len(xs) > 0 {
				out = append(out, StartupFigure{Impl: impl, Size: size, Seconds: results.DistOf(xs)})
			}
		}
	}
	return out
}

func fmtDist(s results.Dist, format string) string {
	if s.N == 0 {
		return "–"
	}
	if s.N == 1 {
		return fmt.Sprintf(format, s.Median)
	}
	return fmt.Sprintf(format+" ("+format+"–"+format+")", s.Median, s.Min, s.Max)
}

func yes(b bool) string {
	if b {
		return Met.String()
	}
	return Missed.String()
}

// Summary renders the report's headline as Markdown: the throughput table
// (Go, Java, the no-op bound and their ratios), for every Go variant
// measured go's ratios against it, and CPU per operation.
func (r *Report) Summary() string {
	var b strings.Builder
	pts := r.Points()
	r.writeRatios(&b, pts)
	r.writeRates(&b)
	writeCPU(&b, pts, r.Machine.Cores)
	return b.String()
}

// writeRatios writes the throughput table of pts and the variant tables.
func (r *Report) writeRatios(b *strings.Builder, pts []Point) {
	b.WriteString("## Throughput (ops/s)\n\n")
	b.WriteString("| servers | reads | Go | Java | Go/Java | no-op bound | Go/bound | Java/bound | target | target met |\n")
	b.WriteString("| ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | --- | :---: |\n")
	for _, p := range pts {
		fmt.Fprintf(b, "| %d | %g %% | %s | %s | %s | %s | %s | %s | %s | %s |\n", p.Size, p.ReadPercent,
			fmtDist(p.Go, "%.0f"), fmtDist(p.Java, "%.0f"), fmtDist(p.Ratio, "%.2f"),
			fmtDist(p.Noop, "%.0f"), fmtDist(p.GoOfNoop, "%.2f"), fmtDist(p.JavaOfNoop, "%.2f"), p.Target, p.Verdict)
	}
	b.WriteString("\nTargets by regime: synchronous sessions (1 outstanding) issue 19's, pipelined ones issue 9's and, at 7 servers, issue 19's shares of the bound; ")
	b.WriteString("medians are compared; \"? (not measured)\" when the target needs the no-op bound (--bound) or Java's throughput.\n\n")

	for _, v := range r.Config.Impls {
		if _, ok := r.Config.GoVariants[v]; !ok {
			continue
		}
		fmt.Fprintf(b, "## go against %s (same run)\n\n", v)
		b.WriteString("| servers | reads | go ops/s | " + v + " ops/s | throughput go/" + v + " | p99 go/" + v + " |\n")
		b.WriteString("| ---: | ---: | ---: | ---: | ---: | ---: |\n")
		for _, p := range r.Ratios(harness.ImplGo, v) {
			fmt.Fprintf(b, "| %d | %g %% | %s | %s | %s | %s |\n", p.Size, p.ReadPercent,
				fmtDist(p.A, "%.0f"), fmtDist(p.B, "%.0f"), fmtDist(p.Throughput, "%.2f"), fmtDist(p.P99, "%.2f"))
		}
		b.WriteString("\n")
	}
}

// writeCPU writes the table of CPU per operation of pts, measured on a
// machine of cores CPUs (0 if unknown).
func writeCPU(b *strings.Builder, pts []Point, cores int) {
	b.WriteString("## CPU per operation (µs, server processes summed, and the driver)\n\n")
	b.WriteString("User+system CPU over each run's measured part divided by its completed operations: the servers' from /proc/<pid>/stat ")
	b.WriteString("sampled every 100 ms and interpolated at the start and end of the measured part, the driver's (the whole zkbench ")
	b.WriteString("process, harness included) from getrusage at those two moments. ")
	b.WriteString("Busy cores is throughput times both figures: what the servers and the driver together kept busy")
	if cores > 0 {
		fmt.Fprintf(b, " of the machine's %d", cores)
	}
	b.WriteString("; near the machine's cores, the machine bounds the point, and a server goes faster only by costing less per operation.\n\n")
	b.WriteString("| servers | reads | Go server | Java server | no-op server | Go driver | Java driver | no-op driver | Go busy cores | Java busy cores | no-op busy cores |\n")
	b.WriteString("| ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |\n")
	for _, p := range pts {
		fmt.Fprintf(b, "| %d | %g %% | %s | %s | %s | %s | %s | %s | %s | %s | %s |\n", p.Size, p.ReadPercent,
			fmtDist(p.GoServerUs, "%.1f"), fmtDist(p.JavaServerUs, "%.1f"), fmtDist(p.NoopServerUs, "%.1f"),
			fmtDist(p.GoDriverUs, "%.1f"), fmtDist(p.JavaDriverUs, "%.1f"), fmtDist(p.NoopDriverUs, "%.1f"),
			fmtDist(p.GoBusyCores, "%.2f"), fmtDist(p.JavaBusyCores, "%.2f"), fmtDist(p.NoopBusyCores, "%.2f"))
	}
}

// Markdown renders the report as a Markdown document.
func (r *Report) Markdown() string {
	var b strings.Builder
	c := r.Config
	fmt.Fprintf(&b, "# Go vs Java ZooKeeper: zkbench compare\n\n")
	warm := c.Warmup.String()
	if c.WarmupMax > 0 {
		warm = fmt.Sprintf("warm-up until steady (at most %v, see below)", c.WarmupMax)
	} else {
		warm += " warm-up"
	}
	fmt.Fprintf(&b, "Started %s, took %v. %d clients x %d outstanding, %d B values, %d keys, %s + %v measured per run, %d repetitions; ",
		r.Started.UTC().Format(time.RFC3339), r.Elapsed.Round(time.Second), c.Clients, c.Outstanding, c.ValueSize, c.Keys, warm, c.Duration, c.Reps)
	fmt.Fprintf(&b, "Go and Java back to back in every repetition (order swapped every other one). Machine: %d cores, %s. Revision %s",
		r.Machine.Cores, r.Machine.CPUModel, r.Build.Revision)
	if r.Build.Modified {
		b.WriteString(" (modified)")
	}
	b.WriteString(".\n\n")
	b.WriteString("Figures are medians over the repetitions, with (min–max); every ratio pairs runs of the same repetition. ")
	b.WriteString("The no-op bound is server/noop (cmd/zknoop) driven the same way, one responder per member that takes clients ")
	b.WriteString("(ensembles run with leaderServes=no, so an ensemble of n > 1 serves clients from n-1 followers).\n\n")

	pts := r.Points()
	r.writeRatios(&b, pts)

	b.WriteString("## p99 latency at saturation (ms)\n\n")
	b.WriteString("No target: under a saturating closed loop p99 mostly measures the queue in the clients, and issue 19 replaced issue 9's ")
	b.WriteString("saturation p99 target by latency at fixed offered rates (--rates). The no-op columns are the floor: the p99 the same driver ")
	b.WriteString("gets from a responder that does no work.\n\n")
	b.WriteString("| servers | reads | Go p99 | Java p99 | Go/Java | no-op p99 | no-op/Java | errors Go / Java |\n")
	b.WriteString("| ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |\n")
	for _, p := range pts {
		fmt.Fprintf(&b, "| %d | %g %% | %s | %s | %s | %s | %s | %d / %d |\n", p.Size, p.ReadPercent,
			fmtDist(p.GoP99, "%.1f"), fmtDist(p.JavaP99, "%.1f"), fmtDist(p.P99Ratio, "%.2f"),
			fmtDist(p.NoopP99, "%.1f"), fmtDist(p.NoopP99Ratio, "%.2f"), p.GoErrors, p.JavaErrors)
	}

	b.WriteString("\n")
	r.writeRates(&b)
	writeCPU(&b, pts, r.Machine.Cores)
	r.writeWarmups(&b)

	b.WriteString("\n## Memory (MiB, the largest server of the ensemble)\n\n")
	b.WriteString("Idle: VmRSS after the ensemble serves, before load. Under load: VmHWM after every read percentage ran on it (1,000 znodes of 1 KiB).\n\n")
	b.WriteString("| impl | servers | idle RSS | peak RSS under load | target met (Go: < 20 idle, < 60 loaded) |\n")
	b.WriteString("| --- | ---: | ---: | ---: | :---: |\n")
	for _, m := range r.MemoryFigures() {
		t := ""
		switch {
		case m.Impl != harness.ImplGo:
		case r.Config.GoShared:
			t = "n/a (shared executable)"
		default:
			t = yes(m.IdleMiB.Max < 20 && m.PeakMiB.Max < 60)
		}
		fmt.Fprintf(&b, "| %s | %d | %s | %s | %s |\n", m.Impl, m.Size, fmtDist(m.IdleMiB, "%.1f"), fmtDist(m.PeakMiB, "%.1f"), t)
	}
	if r.Config.GoShared {
		b.WriteString("\nThe Go server ran embedded, from zkbench's own executable: its RSS counts the pages of that executable it maps, which the driver loaded and shares (about 10 MiB more than the server alone), so the target is not judged here. Run the comparison with `--go-command 'bin/zkserver start-foreground'` to judge it.\n")
	}

	b.WriteString("\n## Start-up (s, launch until every member serves and a test write succeeded)\n\n")
	b.WriteString("| impl | servers | seconds | target met (Go x7 < 1 s) |\n| --- | ---: | ---: | :---: |\n")
	for _, s := range r.StartupFigures() {
		t := ""
		if s.Impl == harness.ImplGo && s.Size == 7 {
			t = yes(s.Seconds.Max < 1)
		}
		fmt.Fprintf(&b, "| %s | %d | %s | %s |\n", s.Impl, s.Size, fmtDist(s.Seconds, "%.2f"), t)
	}

	b.WriteString("\n## How the servers were launched\n\n")
	for _, l := range r.Launch {
		cmdline := strings.Join(append(append([]string(nil), l.Env...), l.Command...), " ")
		fmt.Fprintf(&b, "* %s: %s; same session as the driver: %v; command: `%s`\n", l.Impl, l.Method, l.SameSession, cmdline)
	}
	b.WriteString("* noop: direct children of the driver, driver's session (no setsid), own process group, Pdeathsig=SIGKILL\n")

	if len(r.Profiles) > 0 {
		b.WriteString("\n## Profiles (Go server under load)\n")
		for _, p := range r.Profiles {
			fmt.Fprintf(&b, "\n### %s\n\n```\n%s\n```\n", p.Title, strings.TrimRight(p.Top, "\n"))
		}
	}

	b.WriteString("\n## Runs\n\n| rep | impl | servers | reads | ops/s | p50 ms | p99 ms | errors | driver cores | server µs/op | driver µs/op | busy cores | load1 |\n")
	b.WriteString("| ---: | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |\n")
	for _, s := range r.Samples {
		fmt.Fprintf(&b, "| %d | %s | %d | %g | %.0f | %.2f | %.2f | %d | %.2f | %.1f | %.1f | %.2f | %.1f |\n",
			s.Rep, s.Impl, s.Size, s.ReadPercent, s.Throughput, ms(s.P50), ms(s.P99), s.Errors, s.DriverCores, s.ServerUsPerOp, s.DriverUsPerOp, s.BusyCores(), s.Load1)
	}
	return b.String()
}

// WriteFiles writes report.md and report.json into dir (created if needed).
func (r *Report) WriteFiles(dir string) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("perf: %w", err)
	}
	if err := os.WriteFile(filepath.Join(dir, "report.md"), []byte(r.Markdown()), 0o644); err != nil {
		return fmt.Errorf("perf: %w", err)
	}
	doc := struct {
		*Report
		Points  []Point         `json:"points"`
		Memory  []MemoryFigure  `json:"memory_figures"`
		Startup []StartupFigure `json:"startup_figures"`
		Rates   []RatePoint     `json:"rate_points,omitempty"`
		Warmups []WarmupFigure  `json:"warmup_figures,omitempty"`
	}{r, r.Points(), r.MemoryFigures(), r.StartupFigures(), r.RatePoints(), r.WarmupFigures()}
	js, err := json.MarshalIndent(doc, "", "  ")
	if err != nil {
		return fmt.Errorf("perf: %w", err)
	}
	if err := os.WriteFile(filepath.Join(dir, "report.json"), js, 0o644); err != nil {
		return fmt.Errorf("perf: %w", err)
	}
	return nil
}
