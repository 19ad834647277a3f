package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/zkbench/zkbench/experiment"
	"github.com/zkbench/zkbench/fleet"
	"github.com/zkbench/zkbench/harness"
	"github.com/zkbench/zkbench/results"
	"github.com/zkbench/zkbench/results/plot"
	"github.com/zkbench/zkbench/results/report"
	"github.com/zkbench/zkbench/workloads"
)

type sweepOptions struct {
	ens    ensembleOptions
	load   loadOptions
	sizes  string
	reads  string
	rates  string
	agents agentFlags
	common
}

func newSweepCmd() *cobra.Command {
	var o sweepOptions
	cmd := &cobra.Command{
		Use:   "sweep",
		Short: "Throughput as the read/write ratio varies, one line per ensemble size",
		Long: `sweep runs the same saturation load at every read percentage (--reads) on
ensembles of every size (--sizes), one ensemble per size, and draws
throughput (ops/s) against the percentage of reads with one line per size:
the "throughput as the read/write ratio varies" graph of ZooKeeper's
overview (zkperfRW). It writes a directory under --out holding one run
directory per point, readratio.png/.svg and sweep.md.

Each point takes --warmup + --duration: the defaults (5 sizes x 11 read
percentages x 12 s) take about 12 minutes.`,
		Example: `  zkbench sweep
  zkbench sweep --sizes 3,5,7 --reads 0,25,50,75,100 --duration 5s
  zkbench sweep --sizes 3,5 --reads 50,90 --rates 5000,10000,20000,40000 --duration 5s
  zkbench sweep --impl java --sizes 1,3 --reads 0,50,100 --duration 3s
  zkbench sweep --agents coord-host:2191 --server-agents 7 --client-agents 2 --sizes 3,5,7   # on agents`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			return runSweep(cmd.Context(), o, cmd.Flags().Changed, cmd.OutOrStdout(), cmd.ErrOrStderr())
		},
	}
	o.ens.addFlags(cmd.Flags(), 3)
	o.load.addFlags(cmd.Flags(), loadDefaults{clients: 60, duration: 10 * time.Second, warmup: 2 * time.Second}, false)
	_ = cmd.Flags().MarkHidden("servers") // --sizes says it
	cmd.Flags().StringVar(&o.sizes, "sizes", "3,5,7,9,13", "ensemble sizes, comma separated")
	cmd.Flags().StringVar(&o.reads, "reads", "0,10,20,30,40,50,60,70,80,90,100", "read percentages, comma separated")
	cmd.Flags().StringVar(&o.rates, "rates", "", "open-loop rates in ops/s, comma separated: run every point at each (for zkbench report's latency knee); default closed loop at saturation")
	o.agents.addFlags(cmd.Flags())
	cmd.Flags().Lookup("server-agents").Usage = "with --agents: run each size's ensemble on that many server agents (one server each): a count at least the largest size, or names (s1,s2,...; size n uses the first n)"
	o.common.addFlags(cmd.Flags())
	return cmd
}

func parseSizes(s string) ([]int, error) {
	var out []int
	for _, f := range strings.Split(s, ",") {
		f = strings.TrimSpace(f)
		if f == "" {
			continue
		}
		n, err := strconv.Atoi(f)
		if err != nil || n < 1 {
			return nil, fmt.Errorf("--sizes: %q is not an ensemble size: want whole numbers of servers >= 1, e.g. 3,5,7", f)
		}
		out = append(out, n)
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("--sizes: empty: want ensemble sizes such as 3,5,7")
	}
	return out, nil
}

func runSweep(ctx context.Context, o sweepOptions, changed func(string) bool, stdout, stderr io.Writer) error {
	sizes, err := parseSizes(o.sizes)
	if err != nil {
		return err
	}
	reads, err := parsePercents(o.reads)
	if err != nil {
		return fmt.Errorf("--reads: %w", err)
	}
	rates, err := parseRates(o.rates)
	if err != nil {
		return err
	}
	if o.ens.impl == harness.ImplExternal {
		return fmt.Errorf("sweep starts ensembles of each size: use --impl go or java (for an external ensemble, use run)")
	}
	o.ens.servers = sizes[0]
	if err := o.ens.validate(); err != nil {
		return err
	}
	spec, err := o.load.spec("readratio", changed)
	if err != nil {
		return err
	}
	ag, err := newAgentSweep(o.agents, changed, sizes, o.common.logger(stderr), stdout, stderr)
	if err != nil {
		return err
	}
	dir, err := experiment.NewDir(o.out, time.Now().UTC().Format("2006-01-02T1504")+"-sweep-"+o.ens.impl)
	if err != nil {
		return err
	}
	fmt.Fprintf(stderr, "zkbench: sweep of %s ensembles %v over reads %v, %v per point after a %s, into %s\n", o.ens.impl, sizes, reads, spec.Duration, warmupText(spec), dir)
	var all []*results.Result
	for _, n := range sizes {
		e := o.ens
		e.servers = n
		cfg, err := config(e, spec, "none", o.common, stderr)
		if err != nil {
			return err
		}
		rs, err := sweepSize(ctx, cfg, reads, rates, dir, stdout, ag)
		all = append(all, rs...)
		if err != nil {
			return err
		}
	}
	return writeSweep(dir, all, stdout)
}

// parseRates reads --rates: positive ops/s, comma separated; empty means
// one closed-loop run per point (a nil slice with one zero rate).
func parseRates(s string) ([]float64, error) {
	if strings.TrimSpace(s) == "" {
		return []float64{0}, nil
	}
	var out []float64
	for _, f := range strings.Split(s, ",") {
		v, err := strconv.ParseFloat(strings.TrimSpace(f), 64)
		if err != nil || v <= 0 {
			return nil, fmt.Errorf("--rates: %q is not a rate: want positive operations per second, e.g. 5000,10000", strings.TrimSpace(f))
		}
		out = append(out, v)
	}
	return out, nil
}

// agentSweep is a sweep whose load agents drive and, with
// --server-agents, whose ensembles server agents host.
type agentSweep struct {
	flags   agentFlags
	co      *fleet.Coordinator
	names   []string // the server agents by name (nil: chosen by count)
	changed func(string) bool
	stdout  io.Writer
	stderr  io.Writer
}

// newAgentSweep returns the sweep's agents, or nil when the load runs in
// this process.
func newAgentSweep(a agentFlags, changed func(string) bool, sizes []int, log *slog.Logger, stdout, stderr io.Writer) (*agentSweep, error) {
	co, err := a.coordinator(changed, log)
	if err != nil || co == nil {
		return nil, err
	}
	ag := &agentSweep{flags: a, co: co, changed: changed, stdout: stdout, stderr: stderr}
	if a.servers != "" {
		n, names, err := a.serverAgents()
		if err != nil {
			return nil, err
		}
		if largest := slices.Max(sizes); n < largest {
			return nil, fmt.Errorf("--server-agents gives %d agents but --sizes goes up to %d: each server runs on its own agent", n, largest)
		}
		ag.names = names
	}
	return ag, nil
}

// sweepSize runs every read percentage (at every rate) on one ensemble:
// started here, or placed on server agents when ag says so.
func sweepSize(ctx context.Context, cfg experiment.Config, reads, rates []float64, dir string, stdout io.Writer, ag *agentSweep) ([]*results.Result, error) {
	var hosted *fleet.Hosted
	if ag != nil {
		cfg.Driver = ag.co.Drive
		if ag.flags.servers != "" {
			n := cfg.Harness.Servers
			var names []string
			if ag.names != nil {
				names = ag.names[:n]
			}
			h, err := hostServers(ctx, &cfg, ag.flags, n, names, ag.co, ag.stderr)
			if err != nil {
				return nil, err
			}
			defer h.Close()
			hosted = h
		}
	}
	ens, closeEns, err := experiment.StartEnsemble(ctx, cfg.Harness)
	if err != nil {
		return nil, err
	}
	closed := false
	defer func() {
		if !closed {
			closeEns()
		}
	}()
	var rs []*results.Result
	var dirs []string
	for _, pct := range reads {
		for _, rate := range rates {
			c := cfg
			c.Spec.ReadPercent = pct
			if rate > 0 {
				c.Spec.Mode, c.Spec.Rate = workloads.Open, rate
			}
			if err := c.Spec.Validate(); err != nil {
				return rs, err
			}
			r, err := experiment.Load(ctx, ens, c)
			if err != nil {
				return rs, err
			}
			if hosted != nil {
				recordHosted(c, hosted, &r.Ensemble)
			}
			rd, err := experiment.Save(dir, r)
			if err != nil {
				return rs, err
			}
			printLine(stdout, rd, r)
			rs, dirs = append(rs, r), append(dirs, rd)
			if ag != nil {
				if err := writeAgents(rd, ag.co.Agents()); err != nil {
					return rs, err
				}
				printAgents(stdout, ag.co.Agents())
				if err := ag.co.Aborted(); err != nil {
					return rs, fmt.Errorf("%w (partial result in %s)", err, rd)
				}
			}
			if ctx.Err() != nil {
				return rs, ctx.Err()
			}
		}
	}
	if hosted == nil {
		return rs, nil
	}
	// The servers' figures cover the ensemble's whole life, every point of
	// this size: each point's servers.json holds them.
	closeEns()
	closed = true
	if err := hosted.Close(); err != nil {
		fmt.Fprintf(ag.stderr, "zkbench: agent-hosted servers of size %d: %v\n", cfg.Harness.Servers, err)
	}
	for _, rd := range dirs {
		if err := writeServers(rd, hosted.Servers()); err != nil {
			return rs, err
		}
	}
	printServers(stdout, hosted.Servers())
	return rs, nil
}

// latencyThroughputPlot is the base name of the latency-against-throughput
// graph of a sweep --rates (.png and .svg).
const latencyThroughputPlot = "latency-throughput"

// latencyGraph draws the latency-against-throughput graph of the open-loop
// runs of rs into dir; ok is false when there were none.
func latencyGraph(dir string, rs []*results.Result) (g report.Graph, ok bool, err error) {
	p, err := plot.LatencyThroughput(rs, plot.Options{})
	if errors.Is(err, plot.ErrNoOpenLoop) {
		return report.Graph{}, false, nil
	}
	if err != nil {
		return report.Graph{}, false, err
	}
	g, err = experiment.SaveGraph(dir, latencyThroughputPlot, "Latency against throughput (open loop)", p)
	return g, err == nil, err
}

// writeLatencyTable writes the points of the latency-against-throughput
// curves as a Markdown table.
func writeLatencyTable(b *strings.Builder, rs []*results.Result) {
	curves, left := plot.LatencyCurves(rs), plot.Unmeasured(rs)
	if len(curves) == 0 && len(left) == 0 {
		return
	}
	b.WriteString("\n## Latency against throughput (open loop)\n\n")
	b.WriteString("Latency from each operation's intended start, so a stall counts in full; achieved is what completed inside the measured part. ")
	b.WriteString("Achieved below offered, or operations unfinished: the servers did not keep up.\n\n")
	b.WriteString("| curve | offered ops/s | achieved ops/s | p50 ms | p99 ms | p99.9 ms | unfinished |\n| --- | ---: | ---: | ---: | ---: | ---: | ---: |\n")
	for _, c := range curves {
		for _, pt := range c.Points {
			fmt.Fprintf(b, "| %s | %.0f | %.0f | %.2f | %.2f | %.2f | %d |\n", c.Label, pt.Offered, pt.Achieved, ms(pt.P50), ms(pt.P99), ms(pt.P999), pt.Unfinished)
		}
	}
	if len(left) > 0 {
		b.WriteString("\nLeft off the graph, no latency measured (none of the operations scheduled in the measured part completed):\n\n")
		for _, r := range left {
			fmt.Fprintf(b, "- %s, %d servers, offered %.0f ops/s: achieved %.0f ops/s, %d unfinished\n", r.Ensemble.Implementation, r.Ensemble.Size,
				r.Spec.Rate, results.Summarize(r).Throughput.Mean, r.Driver.Unfinished)
		}
	}
}

// writeSweep draws the read-ratio graph (and, for open-loop rates, latency
// against throughput) and writes sweep.md.
func writeSweep(dir string, rs []*results.Result, stdout io.Writer) error {
	p, err := plot.ReadRatio(rs, plot.Options{})
	if err != nil {
		return err
	}
	g, err := experiment.SaveGraph(dir, experiment.ReadRatioPlot, "Throughput as the read/write ratio varies", p)
	if err != nil {
		return err
	}
	var b strings.Builder
	b.WriteString("# zkbench sweep: throughput (ops/s) as the read/write ratio varies\n\n")
	tp := map[int]map[float64]float64{}
	var sizes []int
	var reads []float64
	seenR := map[float64]bool{}
	for _, r := range rs {
		n := r.Ensemble.Size
		if tp[n] == nil {
			tp[n] = map[float64]float64{}
			sizes = append(sizes, n)
		}
		tp[n][r.Spec.ReadPercent] = results.Summarize(r).Throughput.Mean
		if !seenR[r.Spec.ReadPercent] {
			seenR[r.Spec.ReadPercent] = true
			reads = append(reads, r.Spec.ReadPercent)
		}
	}
	sort.Ints(sizes)
	sort.Float64s(reads)
	if len(rs) > 0 {
		fmt.Fprintf(&b, "%s, %d clients x %d outstanding, %d B values, %v per point.\n\n", rs[0].Ensemble.Implementation, rs[0].Spec.Clients, rs[0].Spec.Outstanding, rs[0].Spec.ValueSize, rs[0].Spec.Duration)
	}
	b.WriteString("| servers |")
	for _, r := range reads {
		fmt.Fprintf(&b, " %g%% reads |", r)
	}
	b.WriteString("\n| ---: |" + strings.Repeat(" ---: |", len(reads)) + "\n")
	for _, n := range sizes {
		fmt.Fprintf(&b, "| %d |", n)
		for _, r := range reads {
			if v, ok := tp[n][r]; ok {
				fmt.Fprintf(&b, " %.0f |", v)
			} else {
				b.WriteString(" |")
			}
		}
		b.WriteString("\n")
	}
	fmt.Fprintf(&b, "\n![%s](%s)\n", g.Title, g.File)
	files := g.File
	lg, ok, err := latencyGraph(dir, rs)
	if err != nil {
		return err
	}
	if ok {
		writeLatencyTable(&b, rs)
		fmt.Fprintf(&b, "\n![%s](%s)\n", lg.Title, lg.File)
		files += ", " + lg.File
	}
	if err := os.WriteFile(filepath.Join(dir, "sweep.md"), []byte(b.String()), 0o644); err != nil {
		return err
	}
	fmt.Fprintf(stdout, "%s: %s, sweep.md\n", dir, files)
	return nil
}
