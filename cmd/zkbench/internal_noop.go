package main

import (
	"fmt"
	"log/slog"

	"github.com/spf13/cobra"

	"github.com/zkbench/zkbench/server/noop"
)

// internalNoop is the hidden subcommand through which zkbench launches the
// no-op responders of compare --bound from its own binary, as
// internalServer does the Go servers. Its flags are cmd/zknoop's, so that
// perf can start either with the same arguments.
const internalNoop = "internal-zknoop"

func newInternalNoopCmd() *cobra.Command {
	s := &noop.Server{}
	var verbose bool
	cmd := &cobra.Command{
		Use:    internalNoop,
		Short:  "Run the no-op responder (server/noop), as cmd/zknoop",
		Hidden: true,
		Args:   cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if s.ValueSize < 1 {
				return fmt.Errorf("--value-size %d: want at least 1 byte", s.ValueSize)
			}
			level := slog.LevelInfo
			if verbose {
				level = slog.LevelDebug
			}
			s.Logger = slog.New(slog.NewTextHandler(cmd.ErrOrStderr(), &slog.HandlerOptions{Level: level}))
			return s.ListenAndServe(cmd.Context())
		},
	}
	cmd.Flags().StringVar(&s.Addr, "addr", "127.0.0.1:2181", "address to listen on")
	cmd.Flags().IntVar(&s.ValueSize, "value-size", noop.DefaultValueSize, "bytes returned by getData")
	cmd.Flags().BoolVarP(&verbose, "verbose", "v", false, "log every connection")
	return cmd
}
