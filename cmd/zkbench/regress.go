package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strconv"
	"time"

	"github.com/spf13/cobra"

	"github.com/zkbench/zkbench/experiment"
	"github.com/zkbench/zkbench/harness"
	"github.com/zkbench/zkbench/results"
	"github.com/zkbench/zkbench/results/report"
)

// errRegressed is returned when regress finds a regression; the table
// already said so, so main prints nothing more and exits 1.
var errRegressed = errors.New("performance regression")

type regressOptions struct {
	baseline  string
	count     int
	threshold percent
	alpha     float64
	bucket    time.Duration
	// For a new run of the baseline's workload.
	connect     string
	peerDelay   time.Duration
	clientDelay time.Duration
	javaHeap    string
	asJSON      bool
	common
}

func newRegressCmd() *cobra.Command {
	var o regressOptions
	o.threshold.v = 10
	cmd := &cobra.Command{
		Use:   "regress --baseline BASELINE_DIR [RESULT_DIR...]",
		Short: "Compare a result with a baseline; exit 1 on a significant slowdown",
		Long: `regress compares a result with a baseline of the same workload. It splits
both runs' throughput into samples (--bucket wide), compares them with a
two-sided Mann-Whitney U test (benchstat's: exact up to 50 samples a side)
and prints a benchstat-like table with the medians' 95% confidence
intervals (p50 and p99 latency per second are shown beside it, for
information). It exits 1 only when
throughput dropped by more than --threshold AND the drop is significant
(p < --alpha); a difference within the threshold, or not significant,
passes. Without RESULT_DIR it first runs the baseline's workload again
(--count times) on the same implementation and ensemble size and writes
those runs under --out.

BASELINE_DIR and RESULT_DIR may each hold several runs of the workload (a
directory of run directories): their samples are pooled. On a busy machine
one run differs from the next by more than its seconds differ among
themselves, so a baseline of several runs, compared with several new runs,
gives far fewer false alarms than one run against one.

A baseline of a different workload (read share, clients, value size,
ensemble size, implementation, faults) is refused: use compare.` + exitCodesHelp,
		Example: `  zkbench regress --baseline runs/base runs/2026-11-22T0630-go-3srv-30w
  zkbench regress --baseline ci/baseline-go-3srv-30w --count 3 --threshold 15%
  zkbench regress --baseline ci/baseline-java-3srv --peer-delay 1ms     # injected slowdown of writes
  zkbench regress --baseline ci/baseline-go-1srv --client-delay 200us  # injected slowdown of every op`,
		Args: cobra.ArbitraryArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			return runRegress(cmd.Context(), o, args, cmd.OutOrStdout(), cmd.ErrOrStderr())
		},
	}
	cmd.Flags().StringVar(&o.baseline, "baseline", "", "the baseline's result directory (required)")
	cmd.Flags().IntVar(&o.count, "count", 1, "without RESULT_DIR: how many new runs to make and pool")
	cmd.Flags().Var(&o.threshold, "threshold", "smallest throughput change that counts (default 10%)")
	cmd.Flags().Float64Var(&o.alpha, "alpha", 0.05, "significance level of the test")
	cmd.Flags().DurationVar(&o.bucket, "bucket", time.Second, "width of one throughput sample")
	cmd.Flags().StringVar(&o.connect, "connect", "", "for a new run on an external baseline: its connection string")
	cmd.Flags().DurationVar(&o.peerDelay, "peer-delay", 0, "for a new run: add this latency to the leader's peer traffic (an injected slowdown of writes)")
	cmd.Flags().DurationVar(&o.clientDelay, "client-delay", 0, "for a new run: hold every request this long in the client proxy (an injected slowdown; the baseline must have used --client-proxy)")
	cmd.Flags().StringVar(&o.javaHeap, "java-heap", "256m", "for a new run on Java: each server's maximum heap")
	cmd.Flags().BoolVar(&o.asJSON, "json", false, "print the comparison as JSON (new runs' lines go to stderr)")
	o.common.addFlags(cmd.Flags())
	_ = cmd.MarkFlagRequired("baseline")
	return cmd
}

func runRegress(ctx context.Context, o regressOptions, args []string, stdout, stderr io.Writer) error {
	if o.alpha <= 0 || o.alpha >= 1 {
		return usageError(fmt.Errorf("--alpha %g: want a significance level between 0 and 1, e.g. 0.05", o.alpha))
	}
	if o.threshold.v <= 0 {
		return usageError(fmt.Errorf("--threshold %s: want a positive percentage, e.g. 10%%", o.threshold.String()))
	}
	if o.count < 1 {
		return usageError(fmt.Errorf("--count %d: want at least 1 run", o.count))
	}
	base, _, err := experiment.ReadAll([]string{o.baseline})
	if err != nil {
		return usageError(fmt.Errorf("--baseline: %w", err))
	}
	var cur []*results.Result
	runOut := stdout
	if o.asJSON {
		runOut = stderr
	}
	if len(args) > 0 {
		if cur, _, err = experiment.ReadAll(args); err != nil {
			return usageError(err)
		}
	} else {
		cfg, err := o.rerun(base[0], stderr)
		if err != nil {
			return usageError(err)
		}
		for range o.count {
			dir, err := runAndSave(ctx, cfg, o.out, runOut, stderr)
			if err != nil {
				return err
			}
			r, err := results.Read(dir)
			if err != nil {
				return err
			}
			cur = append(cur, r)
		}
	}
	g, err := report.RegressRuns(base, cur, report.RegressOptions{Threshold: o.threshold.v / 100, Alpha: o.alpha, Bucket: o.bucket})
	if err != nil {
		return usageError(err)
	}
	if o.asJSON {
		if err := writeJSON(stdout, g); err != nil {
			return err
		}
		if g.Regressed() {
			return errRegressed
		}
		return nil
	}
	if err := g.WriteTable(stdout); err != nil {
		return err
	}
	busy := func(side string, rs []*results.Result) {
		for _, r := range rs {
			if r.Driver.MachineBusy >= 0.9 {
				fmt.Fprintf(stdout, "warning: a %s run had the machine %.0f%% busy: a difference may be the machine's, not the build's\n", side, 100*r.Driver.MachineBusy)
				return
			}
		}
	}
	busy("baseline", base)
	busy("new", cur)
	if g.Regressed() {
		fmt.Fprintln(stdout, "REGRESSION: throughput dropped significantly, by more than the threshold")
		return errRegressed
	}
	fmt.Fprintln(stdout, "ok: no significant regression beyond the threshold")
	return nil
}

// rerun builds a run of the baseline's workload on the same kind of
// ensemble.
func (o regressOptions) rerun(base *results.Result, stderr io.Writer) (experiment.Config, error) {
	e := ensembleOptions{
		impl:         base.Ensemble.Implementation,
		servers:      base.Ensemble.Size,
		connect:      o.connect,
		leaderServes: base.Ensemble.Config["leaderServes"] == "yes" && base.Ensemble.Size > 1,
		javaHeap:     o.javaHeap,
		serverCPUs:   serverCPUs(base),
		tickTime:     2000,
		peerDelay:    o.peerDelay,
		peerProxy:    base.Ensemble.Config["peer_proxy"] == "yes",
		clientDelay:  o.clientDelay,
		clientProxy:  base.Ensemble.Config["client_proxy"] == "yes",
	}
	if e.impl == harness.ImplExternal && e.connect == "" {
		return experiment.Config{}, fmt.Errorf("the baseline ran on an external ensemble: give --connect to run it again, or a RESULT_DIR")
	}
	faults := base.Ensemble.Config["faults"]
	if faults != "" && faults != "paper" {
		return experiment.Config{}, fmt.Errorf("the baseline ran fault schedule %q, which regress cannot find again: run it with zkbench run --faults and give the RESULT_DIR", faults)
	}
	return config(e, base.Spec, faults, o.common, stderr)
}

// serverCPUs is the --server-cpus that runs again a baseline's setting:
// what it recorded, or -1 (every CPU) for a baseline from before the
// setting existed, which gave its servers every CPU.
func serverCPUs(base *results.Result) int {
	if n, err := strconv.Atoi(base.Ensemble.Config["server_cpus"]); err == nil && n > 0 {
		return n
	}
	return -1
}
