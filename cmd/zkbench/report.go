package main

import (
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/zkbench/zkbench/experiment"
	"github.com/zkbench/zkbench/results/plot"
	"github.com/zkbench/zkbench/results/report"
)

type reportOptions struct {
	p99    time.Duration
	load   float64
	reads  percent
	out    string
	asJSON bool
}

func newReportCmd() *cobra.Command {
	var o reportOptions
	o.reads.v = 70
	cmd := &cobra.Command{
		Use:   "report RESULT_DIR...",
		Short: "A capacity-planning report from results (Markdown and self-contained HTML)",
		Long: `report reads results (run directories, or directories such as a sweep's
that hold them) and answers, for each implementation, ensemble size and
read percentage, "what is the highest throughput that keeps p99 latency
under --p99?", and, with --load, "what is the smallest ensemble that serves
--load ops/s at --reads?" (interpolating between measured read
percentages). It writes report.md and report.html (graphs embedded as data
URIs) into a new directory under --out, and prints the Markdown.`,
		Example: `  zkbench report runs/2026-11-22T0630-sweep-go
  zkbench report --p99 5ms --load 50000 --reads 90% runs/*-sweep-go runs/*-sweep-java`,
		Args: cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return runReport(o, args, cmd.OutOrStdout())
		},
	}
	cmd.Flags().DurationVar(&o.p99, "p99", 10*time.Millisecond, "latency target: the p99 a load must stay under")
	cmd.Flags().Float64Var(&o.load, "load", 0, "throughput to plan for, ops/s (0: skip the smallest-ensemble question)")
	cmd.Flags().Var(&o.reads, "reads", "read percentage of --load (default 70%)")
	cmd.Flags().StringVar(&o.out, "out", "runs", "directory under which the report's directory is written")
	cmd.Flags().BoolVar(&o.asJSON, "json", false, "print the plan as JSON instead of the Markdown")
	return cmd
}

func runReport(o reportOptions, args []string, stdout io.Writer) error {
	if o.p99 <= 0 {
		return usageError(fmt.Errorf("--p99 %v: want a positive latency such as 10ms", o.p99))
	}
	if o.load < 0 {
		return usageError(fmt.Errorf("--load %g: want a throughput in ops/s >= 0", o.load))
	}
	rs, dirs, err := experiment.ReadAll(args)
	if err != nil {
		return usageError(err)
	}
	plan, err := report.Capacity(rs, dirs, report.CapacityOptions{P99: o.p99, Load: o.load, ReadPercent: o.reads.v})
	if err != nil {
		return usageError(err)
	}
	dir, err := experiment.NewDir(o.out, time.Now().UTC().Format("2006-01-02T1504")+"-report")
	if err != nil {
		return err
	}
	var graphs []report.Graph
	p, err := plot.ReadRatio(rs, plot.Options{})
	if err != nil {
		return err
	}
	g, err := experiment.SaveGraph(dir, experiment.ReadRatioPlot, "Throughput as the read/write ratio varies", p)
	if err != nil {
		return err
	}
	graphs = append(graphs, g)
	files := []string{"report.md", "report.html", g.File}
	lg, ok, err := latencyGraph(dir, rs)
	if err != nil {
		return err
	}
	if ok {
		graphs, files = append(graphs, lg), append(files, lg.File)
	}
	var md, html strings.Builder
	if err := plan.Markdown(&md, graphs); err != nil {
		return err
	}
	if err := plan.HTML(&html, graphs); err != nil {
		return err
	}
	for name, text := range map[string]string{"report.md": md.String(), "report.html": html.String()} {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(text), 0o644); err != nil {
			return err
		}
	}
	if o.asJSON {
		return writeJSON(stdout, struct {
			Dir   string      `json:"dir"`
			Files []string    `json:"files"`
			Plan  report.Plan `json:"plan"`
		}{dir, files, plan})
	}
	fmt.Fprint(stdout, md.String())
	fmt.Fprintf(stdout, "\n%s: %s\n", dir, strings.Join(files, ", "))
	return nil
}
