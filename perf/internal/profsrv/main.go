// Command profsrv is zkserver with net/http/pprof on a loopback port, for
// profiling the Go server under load. It writes the pprof address to the
// file pprof.addr in its working directory (the harness starts each server
// in its own directory) and otherwise behaves exactly as zkserver.
package main

import (
	"fmt"
	"net"
	"net/http"
	_ "net/http/pprof"
	"os"
	"runtime"

	"github.com/zkbench/zkbench/server/cli"
)

func main() {
	runtime.SetMutexProfileFraction(5)
	runtime.SetBlockProfileRate(100000)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		fmt.Fprintln(os.Stderr, "profsrv: pprof listener:", err)
		os.Exit(1)
	}
	if err := os.WriteFile("pprof.addr", []byte(ln.Addr().String()), 0o644); err != nil {
		fmt.Fprintln(os.Stderr, "profsrv: pprof.addr:", err)
		os.Exit(1)
	}
	go http.Serve(ln, nil)
	if err := cli.NewCommand("profsrv").Execute(); err != nil {
		fmt.Fprintln(os.Stderr, "profsrv:", err)
		os.Exit(1)
	}
}
