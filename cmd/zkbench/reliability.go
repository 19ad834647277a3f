package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/spf13/cobra"

	"github.com/zkbench/zkbench/experiment"
	"github.com/zkbench/zkbench/results"
	"github.com/zkbench/zkbench/results/plot"
	"github.com/zkbench/zkbench/results/report"
)

// reliabilityPlot is the reliability graph's file name (without extension).
const reliabilityPlot = "reliability"

type reliabilityOptions struct {
	ens    ensembleOptions
	load   loadOptions
	faults string
	bucket time.Duration
	agents agentFlags
	common
}

func newReliabilityCmd() *cobra.Command {
	var o reliabilityOptions
	cmd := &cobra.Command{
		Use:   "reliability",
		Short: "Throughput over time while followers and leaders fail (the paper's five events)",
		Long: `reliability runs a saturation load (30% writes) on 7 servers and plays
the fault schedule of the "reliability in the presence of errors" graph of
ZooKeeper's overview (zkperfreliability), scaled to --duration:
(1) a follower fails and recovers, (2) a different follower fails and
recovers, (3) the leader fails, (4) two followers fail and recover,
(5) another leader fails. It draws throughput over time with the events
marked (reliability.png/.svg) and lists every fault, election and recovery
time.`,
		Example: `  zkbench reliability
  zkbench reliability --duration 30s --bucket 500ms
  zkbench reliability --impl java --servers 5
  zkbench reliability --faults my-schedule.txt
  zkbench reliability --agents coord-host:2191 --server-agents 5 --client-agents 2   # on agents`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			return runReliability(cmd.Context(), o, cmd.Flags().Changed, cmd.OutOrStdout(), cmd.ErrOrStderr())
		},
	}
	o.ens.addFlags(cmd.Flags(), 7)
	o.load.addFlags(cmd.Flags(), loadDefaults{writes: 30, clients: 60, duration: 60 * time.Second, warmup: 2 * time.Second}, true)
	cmd.Flags().StringVar(&o.faults, "faults", "paper", "fault schedule: paper (scaled to --duration), random (--fault-seed, --fault-rate, --fault-mix) or a schedule file; the history is checked (--check-keys)")
	cmd.Flags().DurationVar(&o.bucket, "bucket", 0, "throughput bucket of the graph (default: about 60 points; the original used 6s of 400s)")
	o.agents.addFlags(cmd.Flags())
	o.common.addFlags(cmd.Flags())
	return cmd
}

func runReliability(ctx context.Context, o reliabilityOptions, changed func(string) bool, stdout, stderr io.Writer) error {
	if err := o.ens.validate(); err != nil {
		return err
	}
	spec, err := o.load.spec("reliability", changed)
	if err != nil {
		return err
	}
	if o.faults == "none" {
		return fmt.Errorf("--faults none: reliability needs a fault schedule (paper or a file); for a run without faults use zkbench run")
	}
	cfg, err := config(o.ens, spec, o.faults, o.common, stderr)
	if err != nil {
		return err
	}
	co, err := o.agents.coordinator(changed, cfg.Logger)
	if err != nil {
		return err
	}
	var dir string
	if co != nil {
		dir, err = agentRun(ctx, cfg, o.agents, changed, co, o.out, stdout, stderr)
	} else {
		dir, err = runAndSave(ctx, cfg, o.out, stdout, stderr)
	}
	if dir == "" {
		return err
	}
	// A run aborted after it started (a lost agent) still gets its graph
	// of what was measured; its error follows.
	if gerr := reliabilityGraph(dir, o.bucket, stdout); gerr != nil {
		return errors.Join(err, gerr)
	}
	return err
}

// reliabilityGraph draws run directory dir's throughput with its events
// (reliability.png/.svg) and prints the events and the fault summary.
func reliabilityGraph(dir string, bucket time.Duration, stdout io.Writer) error {
	res, err := results.Read(dir)
	if err != nil {
		return err
	}
	p, err := plot.Throughput([]plot.Run{{Label: res.Ensemble.Label(), Result: res}}, plot.Options{
		Title:  fmt.Sprintf("Reliability in the presence of errors — %s", plot.Describe(res)),
		Bucket: bucket,
	})
	if err != nil {
		return err
	}
	g, err := experiment.SaveGraph(dir, reliabilityPlot, "Reliability in the presence of errors", p)
	if err != nil {
		return err
	}
	for _, ev := range res.Events {
		if ev.At >= 0 {
			fmt.Fprintf(stdout, "  %7.2fs  %-9s %s\n", ev.At.Seconds(), ev.Name, ev.Detail)
		}
	}
	for _, line := range report.FaultSummary(res) {
		fmt.Fprintf(stdout, "%s\n", line)
	}
	fmt.Fprintf(stdout, "%s: %s\n", dir, g.File)
	return nil
}
