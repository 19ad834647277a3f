package main

import (
	"github.com/spf13/cobra"

	"github.com/zkbench/zkbench/server/cli"
)

// internalServer is the hidden subcommand through which zkbench launches the
// Go servers of an ensemble from its own binary, so that `go run
// ./cmd/zkbench run` needs no separate build of zkserver.
const internalServer = "internal-zkserver"

func newInternalServerCmd() *cobra.Command {
	cmd := cli.NewCommand(internalServer)
	cmd.Hidden = true
	return cmd
}
