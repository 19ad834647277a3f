package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/zkbench/zkbench/bench"
	"github.com/zkbench/zkbench/experiment"
	"github.com/zkbench/zkbench/harness"
	"github.com/zkbench/zkbench/results"
	"github.com/zkbench/zkbench/results/plot"
)

// rollingPlot is the rolling graph's file name (without extension).
const rollingPlot = "rolling"

// replaceAllowance is what the default --duration allows each replacement
// (stop, start, sync) besides its --pause: a JVM on a loaded machine
// needs several seconds.
const replaceAllowance = 10 * time.Second

type rollingOptions struct {
	ens      ensembleOptions
	load     loadOptions
	from, to string
	back     bool
	crash    bool
	pause    time.Duration
	bucket   time.Duration
	common
}

func newRollingCmd() *cobra.Command {
	var o rollingOptions
	cmd := &cobra.Command{
		Use:   "rolling",
		Short: "Replace an ensemble's servers by the other implementation one at a time, under load",
		Long: `rolling starts an ensemble of --from servers (Java by default), drives a
load (30% writes), and replaces its servers one at a time by --to servers
as an operator's rolling upgrade does: each server is stopped cleanly
(SIGTERM) and the other implementation started on the same data
directories (dataDir and dataLogDir), id, ports and zoo.cfg; the next step
waits until it serves, caught up, and then --pause. Followers go first,
the last server (normally the leader) last. With --back the servers then
return to --from the same way. With --crash each old process is killed
with SIGKILL instead (a crash in the middle of an upgrade): the new
implementation starts on what the crash left on disk. Every operation on
--check-keys keys is recorded and checked (no acknowledged write lost,
linearizable writes: the verdict is printed, a violation exits 4). It writes the usual result
directory, a throughput graph with every step marked (rolling.png/.svg),
and prints each phase's throughput, each step's stall and the placement
after it. --duration defaults to one --pause per step plus one, and 10 s
per step for the replacement itself; a run that ends before its last step
fails, asking for a longer one.`,
		Example: `  zkbench rolling --from java --to go --servers 3 --writes 30% --back --check
  zkbench rolling --from go --to java --servers 5 --pause 20s
  zkbench rolling --pause 5s --clients 20 --bucket 500ms
  zkbench rolling --from go --to java --crash --pause 5s`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			return runRolling(cmd.Context(), o, cmd.Flags().Changed, cmd.OutOrStdout(), cmd.ErrOrStderr())
		},
	}
	o.ens.addFlags(cmd.Flags(), 3)
	for _, f := range []string{"impl", "placement", "connect"} {
		_ = cmd.Flags().MarkHidden(f) // rolling sets them; --from and --to say what runs
	}
	o.load.addFlags(cmd.Flags(), loadDefaults{writes: 30, clients: 60, warmup: 2 * time.Second}, true)
	cmd.Flags().StringVar(&o.from, "from", harness.ImplJava, "implementation the ensemble starts with: java or go")
	cmd.Flags().StringVar(&o.to, "to", harness.ImplGo, "implementation that replaces it: go or java")
	cmd.Flags().BoolVar(&o.back, "back", false, "then replace every server by --from again, the same way")
	cmd.Flags().BoolVar(&o.crash, "crash", false, "kill each old process with SIGKILL (kill -9) instead of stopping it cleanly")
	cmd.Flags().DurationVar(&o.pause, "pause", 10*time.Second, "time between steps (the first comes one --pause into the measured part); a step waits for the previous replacement to serve")
	cmd.Flags().DurationVar(&o.bucket, "bucket", 0, "throughput bucket of the graph (default: about 60 points)")
	o.common.addFlags(cmd.Flags())
	return cmd
}

func runRolling(ctx context.Context, o rollingOptions, changed func(string) bool, stdout, stderr io.Writer) error {
	for _, f := range []string{"impl", "placement", "connect"} {
		if changed(f) {
			return usageError(fmt.Errorf("--%s: rolling runs its own placement; say what runs with --from and --to", f))
		}
	}
	sched, err := harness.RollingSchedule(o.from, o.to, o.ens.servers, o.pause, o.back, o.crash)
	if err != nil {
		return usageError(fmt.Errorf("--from %s --to %s --servers %d --pause %v: %w", o.from, o.to, o.ens.servers, o.pause, err))
	}
	if !changed("duration") {
		o.load.duration = sched.Duration() + o.pause + time.Duration(len(sched.Steps))*replaceAllowance
	}
	if o.checkKeys <= 0 {
		return usageError(fmt.Errorf("--check-keys %d: a rolling replacement always checks its history; want at least one key", o.checkKeys))
	}
	o.ens.impl = harness.ImplMixed
	o.ens.placement = fmt.Sprintf("%s=%d", o.from, o.ens.servers)
	if err := o.ens.validate(); err != nil {
		return err
	}
	spec, err := o.load.spec("rolling", changed)
	if err != nil {
		return err
	}
	cfg, err := config(o.ens, spec, "none", o.common, stderr)
	if err != nil {
		return err
	}
	cfg.Schedule = sched
	cfg.Check.Keys = o.checkKeys
	// The leader moves as servers are replaced: clients may use every
	// member (one that takes no clients sends them on), not only the
	// followers of the start.
	cfg.Placement = bench.RoundRobin
	if err := cfg.Validate(); err != nil {
		return err
	}
	dir, err := runAndSave(ctx, cfg, o.out, stdout, stderr)
	if dir == "" {
		return err
	}
	// A run whose history failed its check still gets its graph and its
	// steps; its error (exit 4) follows.
	if gerr := rollingSummary(dir, o.bucket, len(sched.Steps), stdout); gerr != nil {
		return errors.Join(err, gerr)
	}
	return err
}

// rollingStep is one replacement as the result records it.
type rollingStep struct {
	n          string
	at, served time.Duration // served: 0 if the new process never served
	what       string        // "replace server 2 java->go (follower)"
	placement  string        // after it
	recovered  string        // the recovered and elected events' text
}

// rollingSteps reads the replace steps of r's events, in order.
func rollingSteps(r *results.Result) []*rollingStep {
	var steps []*rollingStep
	byN := map[string]*rollingStep{}
	for _, ev := range r.Events {
		n := plot.EventNumber(ev)
		if n == "" {
			continue
		}
		_, text, _ := strings.Cut(ev.Detail, ": ")
		switch s := byN[n]; {
		case isReplace(ev.Name):
			s = &rollingStep{n: n, at: ev.At, what: text}
			byN[n] = s
			steps = append(steps, s)
		case s == nil:
		case ev.Name == "serving":
			s.served = ev.At
			if _, p, ok := strings.Cut(text, "; placement "); ok {
				s.placement = p
			}
		case ev.Name == "recovered" || ev.Name == "elected":
			s.recovered = strings.TrimSpace(s.recovered + "; " + text)
			s.recovered = strings.TrimPrefix(s.recovered, "; ")
		}
	}
	return steps
}

// isReplace reports whether an event names a replace step.
func isReplace(name string) bool {
	_, ok := harness.Action(name).Replaces()
	return ok
}

// throughputOver is the mean throughput of r's intervals that start in
// [from, to), and the longest run of intervals in it that completed no
// operation (a stall).
func throughputOver(r *results.Result, from, to time.Duration) (opsPerSec float64, stall time.Duration) {
	var ops int64
	var span, run time.Duration
	for _, iv := range r.Series {
		if iv.Start < from || iv.Start >= to {
			continue
		}
		ops += iv.Ops
		span += iv.Len
		if iv.Ops == 0 {
			run += iv.Len
			stall = max(stall, run)
		} else {
			run = 0
		}
	}
	if span > 0 {
		opsPerSec = float64(ops) / span.Seconds()
	}
	return opsPerSec, stall
}

// rollingSummary draws run directory dir's throughput with its steps
// (rolling.png/.svg) and prints each phase's throughput, each step's stall
// and placement, and the history verdict.
func rollingSummary(dir string, bucket time.Duration, want int, stdout io.Writer) error {
	res, err := results.Read(dir)
	if err != nil {
		return err
	}
	p, err := plot.Throughput([]plot.Run{{Label: res.Ensemble.Implementation, Result: res}}, plot.Options{
		Title:  fmt.Sprintf("Rolling replacement (%s) — %s", res.Ensemble.Config["faults"], plot.Describe(res)),
		Bucket: bucket,
	})
	if err != nil {
		return err
	}
	g, err := experiment.SaveGraph(dir, rollingPlot, "Rolling replacement", p)
	if err != nil {
		return err
	}
	steps := rollingSteps(res)
	end := res.Measured
	first := end
	if len(steps) > 0 {
		first = steps[0].at
	}
	tp, stall := throughputOver(res, 0, first)
	fmt.Fprintf(stdout, "  before:  %6.1fs-%6.1fs  %8.0f ops/s  longest stall %v\n", 0.0, first.Seconds(), tp, stall)
	for i, s := range steps {
		next := end
		if i+1 < len(steps) {
			next = steps[i+1].at
		}
		if s.served == 0 {
			fmt.Fprintf(stdout, "  step %s at %6.1fs: %s: never served\n", s.n, s.at.Seconds(), s.what)
			continue
		}
		_, stepStall := throughputOver(res, s.at, s.served+time.Second)
		fmt.Fprintf(stdout, "  step %s at %6.1fs: %s: serving after %v, longest stall %v; %s\n",
			s.n, s.at.Seconds(), s.what, (s.served - s.at).Round(time.Millisecond), stepStall, s.recovered)
		tp, stall := throughputOver(res, s.served, next)
		fmt.Fprintf(stdout, "    then:  %6.1fs-%6.1fs  %8.0f ops/s  longest stall %v  placement %s\n", s.served.Seconds(), next.Seconds(), tp, stall, s.placement)
	}
	if res.Safety != nil {
		fmt.Fprintf(stdout, "  history check: %s over %d operations on %d keys\n", res.Safety.Verdict, res.Safety.Ops, len(res.Safety.Keys))
	}
	fmt.Fprintf(stdout, "%s: %s\n", dir, g.File)
	for _, s := range steps {
		if s.served == 0 {
			return fmt.Errorf("%s: step %s (%s) never served", dir, s.n, s.what)
		}
	}
	if len(steps) < want {
		return fmt.Errorf("%s: the load ended after %d of the %d steps: lengthen --duration or shorten --pause", dir, len(steps), want)
	}
	return nil
}
