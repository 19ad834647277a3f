package main

import (
	"fmt"
	"net"
	"net/http"
	_ "net/http/pprof" // the profiling server's handlers
	"os"
	"runtime"

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

// internalProfServer is internalServer with net/http/pprof on a loopback
// port, for compare --profile: the server writes the port's address to
// pprof.addr in its working directory (the harness starts each server in
// its own directory), which perf.Profile reads.
const internalProfServer = "internal-zkserver-pprof"

func newInternalProfServerCmd() *cobra.Command {
	cmd := cli.NewCommand(internalProfServer)
	cmd.Hidden = true
	cmd.PersistentPreRunE = func(*cobra.Command, []string) error {
		runtime.SetMutexProfileFraction(5)
		runtime.SetBlockProfileRate(100000)
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return fmt.Errorf("pprof listener: %w", err)
		}
		if err := os.WriteFile("pprof.addr", []byte(ln.Addr().String()), 0o644); err != nil {
			ln.Close()
			return fmt.Errorf("pprof address: %w", err)
		}
		go http.Serve(ln, nil)
		return nil
	}
	return cmd
}
