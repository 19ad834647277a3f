package main

import (
	"context"
	"fmt"
	"io"
	"time"

	"github.com/spf13/cobra"

	"github.com/zkbench/zkbench/experiment"
	"github.com/zkbench/zkbench/results"
	"github.com/zkbench/zkbench/results/report"
)

type runOptions struct {
	ens    ensembleOptions
	load   loadOptions
	faults string
	agents agentFlags
	common
}

func newRunCmd() *cobra.Command {
	var o runOptions
	cmd := &cobra.Command{
		Use:   "run",
		Short: "Run one workload on one ensemble and write its result directory",
		Long: `run starts an ensemble (` + fmt.Sprint(defaultServers) + ` Go servers by default), applies one workload
(30% writes of 1 KiB values from 60 clients by default, 10 s after a 2 s
warm-up), optionally injects faults, and writes a directory under --out named
after what it measured (e.g. runs/2026-11-22T0630-go-7srv-30w) with
result.json, intervals.csv, the HDR latency logs, graphs (PNG and SVG) and
report.md.`,
		Example: `  zkbench run
  zkbench run --servers 7 --writes 30%
  zkbench run --impl java --servers 3 --reads 90 --duration 20s
  zkbench run --impl external --connect zk1:2181,zk2:2181,zk3:2181 --writes 10%
  zkbench run --servers 5 --faults paper --duration 60s
  zkbench run --log-dir /mnt/fastdisk --clients 100 --outstanding 10
  zkbench run --agents coord-host:2191 --client-agents 2   # load from zkbench agents
  zkbench run --agents coord-host:2191 --server-agents 3 --client-agents 2   # servers on agents too`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			return runRun(cmd.Context(), o, cmd.Flags().Changed, cmd.OutOrStdout(), cmd.ErrOrStderr())
		},
	}
	o.ens.addFlags(cmd.Flags(), defaultServers)
	o.load.addFlags(cmd.Flags(), loadDefaults{writes: 30, clients: 60, duration: 10 * time.Second, warmup: 2 * time.Second}, true)
	cmd.Flags().StringVar(&o.faults, "faults", "none", "fault schedule: none, paper (the paper's five events, scaled to --duration), random (--fault-seed, --fault-rate, --fault-mix) or a schedule file; with faults the history is checked (--check-keys)")
	o.agents.addFlags(cmd.Flags())
	o.common.addFlags(cmd.Flags())
	return cmd
}

func runRun(ctx context.Context, o runOptions, changed func(string) bool, stdout, stderr io.Writer) error {
	if err := o.ens.validate(); err != nil {
		return err
	}
	spec, err := o.load.spec("run", changed)
	if err != nil {
		return err
	}
	cfg, err := config(o.ens, spec, o.faults, o.common, stderr)
	if err != nil {
		return err
	}
	co, err := o.agents.coordinator(changed, cfg.Logger)
	if err != nil {
		return err
	}
	if co != nil {
		return runWithAgents(ctx, cfg, o.agents, changed, co, o.out, stdout, stderr)
	}
	_, err = runAndSave(ctx, cfg, o.out, stdout, stderr)
	return err
}

// runAndSave performs one run, writes its directory under out and prints a
// one-line summary.
func runAndSave(ctx context.Context, cfg experiment.Config, out string, stdout, stderr io.Writer) (string, error) {
	fmt.Fprintf(stderr, "zkbench: %s ensemble of %d, %g%% writes, %d clients x %d outstanding, %v (+%s)\n",
		cfg.Harness.Impl, cfg.Harness.Servers, cfg.Spec.WritePercent(), cfg.Spec.Clients, cfg.Spec.Outstanding, cfg.Spec.Duration, warmupText(cfg.Spec))
	res, err := experiment.Run(ctx, cfg)
	if err != nil {
		return "", err
	}
	dir, err := experiment.Save(out, res)
	if err != nil {
		return dir, err
	}
	printLine(stdout, dir, res)
	warnWarmup(stderr, dir, res)
	if line := report.SafetyLine(res); line != "" {
		fmt.Fprintf(stdout, "  %s\n", line)
	}
	if res.Safety.Violated() {
		return dir, &exitError{code: exitUnsafe, err: fmt.Errorf("%s: safety violation: %s (report.md lists the operations)", dir, report.SafetyLine(res))}
	}
	return dir, nil
}

func printLine(w io.Writer, dir string, r *results.Result) {
	s := results.Summarize(r)
	stop := ""
	if r.Stop == results.StopCancelled {
		stop = fmt.Sprintf(" (cancelled after %v: partial result)", r.Measured.Round(time.Millisecond))
	}
	fmt.Fprintf(w, "%s: %.0f ops/s (±%.0f), p50 %.2f ms, p99 %.2f ms, p99.9 %.2f ms, %d errors%s\n",
		dir, s.Throughput.Mean, s.Throughput.Stddev, ms(s.All.P50), ms(s.All.P99), ms(s.All.P999), s.Errors, stop)
	for _, w2 := range r.Warnings {
		fmt.Fprintf(w, "  warning: %s\n", w2)
	}
}

func ms(d time.Duration) float64 { return d.Seconds() * 1000 }
