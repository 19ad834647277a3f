package main

import (
	"io"

	"github.com/spf13/cobra"
)

// defaultServers is the ensemble size of run and compare when --servers is
// not given.
const defaultServers = 3

// newRoot builds the zkbench command tree writing to stdout and stderr.
func newRoot(stdout, stderr io.Writer) *cobra.Command {
	root := &cobra.Command{
		Use:   "zkbench",
		Short: "Benchmark ZooKeeper ensembles (Go, upstream Java, or external)",
		Long: `zkbench launches a ZooKeeper ensemble (the Go server it embeds by default,
upstream Java ZooKeeper, or an external one), drives it with reproducible
read/write workloads, injects failures, and writes results, graphs and
reports into a directory per run.`,
		SilenceUsage:  true,
		SilenceErrors: true,
	}
	root.SetOut(stdout)
	root.SetErr(stderr)
	root.AddCommand(
		newRunCmd(),
		newSweepCmd(),
		newReliabilityCmd(),
		newRollingCmd(),
		newMatrixCmd(),
		newCompareCmd(),
		newReportCmd(),
		newRegressCmd(),
		newHistoryCmd(),
		newVersionCmd(),
		newAgentCmd(),
		newCoordinatorCmd(),
		newLabCmd(),
		newInternalServerCmd(),
		newInternalNoopCmd(),
		newInternalProfServerCmd(),
		newInternalAgentFaultCmd(),
	)
	return withExitCodes(root)
}
