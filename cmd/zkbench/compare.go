package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/spf13/cobra"
	gplot "gonum.org/v1/plot"

	"github.com/zkbench/zkbench/experiment"
	"github.com/zkbench/zkbench/results"
	"github.com/zkbench/zkbench/results/plot"
	"github.com/zkbench/zkbench/results/report"
)

type compareOptions struct {
	ens    ensembleOptions
	load   loadOptions
	reads  string // --reads: one percentage, or a list for the repeated comparison
	faults string
	rep    repeatOptions
	agents agentFlags
	asJSON bool
	common
}

func newCompareCmd() *cobra.Command {
	var o compareOptions
	cmd := &cobra.Command{
		Use:   "compare [RESULT_DIR...]",
		Short: "Results side by side: a table and overlaid graphs",
		Long: `compare puts results side by side: a Markdown table (throughput, latency
percentiles, errors, driver cost, each with its change against the first)
and overlaid graphs of throughput over time, latency over time (p99) and
the latency spectrum (for up to 8 results; results of several read
percentages, such as two sweeps, also get the read-ratio graph with a
line per implementation and size). Given result directories, it reads them; given
--impl with several implementations (go,java), it first runs the same
workload on each, back to back, with the run flags below. It writes
compare.md and the graphs into a new directory under --out.

Given --sizes, --reps, --bound, --go-variant or --profile, it runs the repeated
comparison instead: for every repetition, ensemble size and read percentage
(--reads takes a list here, default 0,70,100; --sizes defaults to 1,3,7,
--reps to 3), each implementation (--impl, default go,java) back to back on
the same workload, Go and Java in swapped order every other repetition;
with --bound also the no-op responder (server/noop, one per member that
takes clients), the throughput no server can beat on this machine and
driver. Every ratio pairs runs of the same repetition; figures are medians
with their range (min-max) over the repetitions. It writes report.md (the
ratio table with spread, p99, CPU per operation of the servers and the
driver, memory, start-up, every run) and report.json into a new directory
under --out, and prints the ratio table. --go-variant NAME=COMMAND adds
another build of the Go server (COMMAND is run with the zoo.cfg path
appended), measured like go and reported as go's ratios against it;
--profile SIZE:READS,... profiles the Go server afterwards. --rates
50%,90% adds the latency at fixed offered rates: after the closed-loop
runs, every implementation runs open loop at those shares of Java's
measured saturation throughput at each point (or at absolute rates,
--rates 5000), and report.md gives p50/p99/p99.9 with their spread and
the Go/Java ratios. --regimes sync,pipelined runs the whole comparison
twice, with one request in flight per client and with --outstanding,
into a directory per regime and an index. The repeated comparison warms every run up until its
throughput is steady (--warmup auto, at most --warmup-max; report.md
says how long each implementation needed); --warmup 2s fixes it. Each
run takes the warm-up + --duration: the default matrix of 3 repetitions
x 3 sizes x 3 read percentages with Java and the bound is 81 runs, about
25 minutes.`,
		Example: `  zkbench compare runs/2026-11-22T0630-go-3srv-30w runs/2026-11-22T0640-java-3srv-30w
  zkbench compare runs/2026-11-22T0700-sweep-go runs/2026-11-22T0720-sweep-java
  zkbench compare --impl go,java --servers 3 --writes 30% --duration 10s
  zkbench compare --sizes 1,3,7 --reads 0,70,100 --reps 3 --bound --warmup 1s --duration 5s
  zkbench compare --sizes 1,3,7 --reads 0,70,100 --regimes sync,pipelined --rates 50%,90% --reps 3 --bound
  zkbench compare --impl go --go-variant 'before=/tmp/zkserver-v1 start-foreground' --sizes 1 --reps 3
  zkbench compare --impl go,java --agents coord-host:2191 --server-agents 3 --client-agents 2   # on agents`,
		RunE: func(cmd *cobra.Command, args []string) error {
			return runCompare(cmd.Context(), o, args, cmd.Flags().Changed, cmd.OutOrStdout(), cmd.ErrOrStderr())
		},
	}
	o.ens.addFlags(cmd.Flags(), defaultServers)
	cmd.Flags().Lookup("impl").Usage = "implementations to run and compare, comma separated (go,java; the repeated comparison defaults to go,java); not with result directories"
	o.load.addFlags(cmd.Flags(), loadDefaults{clients: 60, duration: 10 * time.Second, warmup: 2 * time.Second}, false)
	o.load.writes.v = 30
	cmd.Flags().Var(&o.load.writes, "writes", "share of writes (setData), e.g. 30% or 30 (default 30%); the rest are reads")
	cmd.Flags().StringVar(&o.reads, "reads", "", "share of reads (getData), e.g. 70%; the repeated comparison takes a list (default 0,70,100)")
	o.rep.addFlags(cmd.Flags())
	cmd.Flags().StringVar(&o.faults, "faults", "none", "fault schedule for the runs: none, paper or a schedule file")
	o.agents.addFlags(cmd.Flags())
	cmd.Flags().Lookup("server-agents").Usage = "with --agents: run each implementation's ensemble in turn on this many server agents, one server each, or on these (s1,s2,...); default on this machine"
	o.common.addFlags(cmd.Flags())
	cmd.Flags().BoolVar(&o.asJSON, "json", false, "print each result's summary as JSON instead of the table (the repeated comparison writes report.json)")
	return cmd
}

func runCompare(ctx context.Context, o compareOptions, args []string, changed func(string) bool, stdout, stderr io.Writer) error {
	var rs []*results.Result
	var dirs []string
	ts := time.Now().UTC().Format("2006-01-02T1504")
	var outDir string
	repeated := o.rep.given(changed)
	agents := changed("agents") || changed("client-agents") || changed("server-agents")
	switch {
	case len(args) > 0 && (changed("impl") || repeated || agents):
		return fmt.Errorf("give result directories or a comparison to run (--impl, --sizes, --reps, --bound, --agents), not both")
	case repeated && agents:
		return fmt.Errorf("--agents: the repeated comparison (--sizes, --reps, --bound, --go-variant, --go-command, --profile) runs on this machine only: it measures the servers' CPU per operation from their processes here, and the no-op bound is not built for agents; compare implementations through agents with --impl go,java and --agents")
	case repeated:
		return runRepeated(ctx, o, changed, stdout, stderr)
	case len(args) > 0:
		var err error
		if rs, dirs, err = experiment.ReadAll(args); err != nil {
			return err
		}
	default:
		impls := strings.Split(o.ens.impl, ",")
		if len(impls) < 2 {
			return fmt.Errorf("nothing to compare: give two or more result directories, or --impl go,java to run both")
		}
		if changed("reads") {
			if strings.Contains(o.reads, ",") {
				return fmt.Errorf("--reads %s: a list of read percentages is for the repeated comparison (--sizes, --reps, --bound)", o.reads)
			}
			if err := o.load.reads.Set(o.reads); err != nil {
				return err
			}
		}
		spec, err := o.load.spec("compare", changed)
		if err != nil {
			return err
		}
		// Check every implementation's flags before running any.
		var cfgs []experiment.Config
		for _, impl := range impls {
			e := o.ens
			e.impl = strings.TrimSpace(impl)
			for {
				// go+tls, go+sasl, go+tls+sasl: the same implementation
				// over TLS, with SASL, or both.
				if name, ok := strings.CutSuffix(e.impl, "+tls"); ok {
					e.impl, e.tls = name, true
				} else if name, ok := strings.CutSuffix(e.impl, "+sasl"); ok {
					e.impl, e.sasl = name, true
				} else {
					break
				}
			}
			cfg, err := config(e, spec, o.faults, o.common, stderr)
			if err != nil {
				return fmt.Errorf("--impl %s: %w", e.impl, err)
			}
			cfgs = append(cfgs, cfg)
		}
		co, err := o.agents.coordinator(changed, o.common.logger(stderr))
		if err != nil {
			return err
		}
		if co != nil && o.agents.servers != "" {
			for _, cfg := range cfgs {
				if err := checkServerAgents(ctx, cfg, o.agents); err != nil {
					return fmt.Errorf("--impl %s: %w", cfg.Harness.Impl, err)
				}
			}
		}
		if outDir, err = experiment.NewDir(o.out, ts+"-compare-"+strings.Join(impls, "-vs-")); err != nil {
			return err
		}
		for _, cfg := range cfgs {
			var dir string
			if co != nil {
				// Each implementation's ensemble in turn on the server
				// agents (or here), the load from the client agents.
				dir, err = agentRun(ctx, cfg, o.agents, changed, co, outDir, stdout, stderr)
			} else {
				dir, err = runAndSave(ctx, cfg, outDir, stdout, stderr)
			}
			if err != nil {
				return err
			}
			r, err := results.Read(dir)
			if err != nil {
				return err
			}
			rs, dirs = append(rs, r), append(dirs, dir)
		}
	}
	if len(rs) < 2 {
		return fmt.Errorf("nothing to compare: %s holds one result; give two or more", strings.Join(args, " "))
	}
	if outDir == "" {
		var err error
		if outDir, err = experiment.NewDir(o.out, ts+"-compare"); err != nil {
			return err
		}
	}
	labels := labelsFor(rs, dirs)
	cols := make([]report.Column, len(rs))
	runs := make([]plot.Run, len(rs))
	for i := range rs {
		cols[i] = report.Column{Label: labels[i], Result: rs[i]}
		runs[i] = plot.Run{Label: labels[i], Result: rs[i]}
	}
	graphs, err := compareGraphs(outDir, runs)
	if err != nil {
		return err
	}
	var md strings.Builder
	if err := report.Compare(&md, cols, graphs); err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(outDir, "compare.md"), []byte(md.String()), 0o644); err != nil {
		return err
	}
	var table strings.Builder
	if err := report.Compare(&table, cols, nil); err != nil {
		return err
	}
	if o.asJSON {
		return writeCompareJSON(stdout, outDir, labels, dirs, rs)
	}
	fmt.Fprint(stdout, table.String())
	fmt.Fprintf(stdout, "\n%s: compare.md", outDir)
	for _, g := range graphs {
		fmt.Fprintf(stdout, ", %s", g.File)
	}
	fmt.Fprintln(stdout)
	return nil
}

// labelsFor names each result by implementation when that tells them
// apart, else by implementation and directory name.
func labelsFor(rs []*results.Result, dirs []string) []string {
	labels := make([]string, len(rs))
	count := map[string]int{}
	for i, r := range rs {
		labels[i] = fmt.Sprintf("%s %d srv", r.Ensemble.Implementation, r.Ensemble.Size)
		if r.Ensemble.Config["tls"] != "" {
			labels[i] += " tls"
		}
		if r.Ensemble.Config["sasl"] != "" {
			labels[i] += " sasl"
		}
		count[labels[i]]++
	}
	for i := range labels {
		if count[labels[i]] > 1 {
			labels[i] = filepath.Base(dirs[i])
		}
	}
	return labels
}

// maxOverlay is the most runs drawn as lines of one time-series graph.
const maxOverlay = 8

func compareGraphs(dir string, runs []plot.Run) ([]report.Graph, error) {
	var graphs []report.Graph
	reads := map[float64]bool{}
	var rs []*results.Result
	for _, r := range runs {
		reads[r.Result.Spec.ReadPercent] = true
		rs = append(rs, r.Result)
	}
	if len(reads) > 1 {
		// Sweeps: one line per implementation and size.
		p, err := plot.ReadRatio(rs, plot.Options{})
		if err != nil {
			return nil, err
		}
		g, err := experiment.SaveGraph(dir, experiment.ReadRatioPlot, "Throughput as the read/write ratio varies", p)
		if err != nil {
			return nil, err
		}
		graphs = append(graphs, g)
	}
	if len(runs) > maxOverlay {
		return graphs, nil
	}
	add := func(base, title string, p *gplot.Plot, err error) error {
		if err != nil {
			return err
		}
		g, err := experiment.SaveGraph(dir, base, title, p)
		if err == nil {
			graphs = append(graphs, g)
		}
		return err
	}
	p, err := plot.Throughput(runs, plot.Options{})
	if err := add(experiment.ThroughputPlot, "Throughput over time", p, err); err != nil {
		return nil, err
	}
	p, err = plot.LatencyOverTime(runs, plot.Options{})
	if err := add(experiment.LatencyPlot, "p99 latency over time", p, err); err != nil {
		return nil, err
	}
	withHist := true
	for _, r := range runs {
		withHist = withHist && plot.Merged(r.Result) != nil
	}
	if withHist {
		p, err = plot.LatencySpectrum(runs, plot.Options{})
		if err := add(experiment.SpectrumPlot, "Latency by percentile", p, err); err != nil {
			return nil, err
		}
	}
	return graphs, nil
}
