// Command zknoop runs the no-op ZooKeeper server (package server/noop): it
// speaks the client protocol and answers every request from memory, to
// measure the throughput ceiling of a load generator and machine.
//
//	zknoop -addr 127.0.0.1:2181 -value-size 1024
//
// It serves until SIGINT or SIGTERM.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"syscall"

	"github.com/zkbench/zkbench/server/noop"
	"github.com/zkbench/zkbench/server/proto"
)

// options are the command's flags.
type options struct {
	addr      string
	valueSize int
	maxBuffer int
	verbose   bool
}

func parseFlags(args []string, stderr io.Writer) (options, error) {
	var o options
	fs := flag.NewFlagSet("zknoop", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.StringVar(&o.addr, "addr", "127.0.0.1:2181", "address to listen on")
	fs.IntVar(&o.valueSize, "value-size", noop.DefaultValueSize, "bytes returned by getData")
	fs.IntVar(&o.maxBuffer, "max-buffer", proto.DefaultMaxBuffer, "largest request frame accepted (jute.maxbuffer)")
	fs.BoolVar(&o.verbose, "v", false, "log every connection")
	if err := fs.Parse(args); err != nil {
		return o, err
	}
	if fs.NArg() != 0 {
		return o, fmt.Errorf("unexpected arguments: %q", fs.Args())
	}
	if o.valueSize < 1 || o.valueSize > o.maxBuffer {
		return o, fmt.Errorf("-value-size %d must be between 1 and -max-buffer %d", o.valueSize, o.maxBuffer)
	}
	return o, nil
}

func run(ctx context.Context, o options, stderr io.Writer) error {
	level := slog.LevelInfo
	if o.verbose {
		level = slog.LevelDebug
	}
	s := &noop.Server{
		Addr:      o.addr,
		ValueSize: o.valueSize,
		MaxBuffer: o.maxBuffer,
		Logger:    slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: level})),
	}
	return s.ListenAndServe(ctx)
}

func main() {
	o, err := parseFlags(os.Args[1:], os.Stderr)
	if errors.Is(err, flag.ErrHelp) {
		return
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "zknoop:", err)
		os.Exit(2)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, o, os.Stderr); err != nil {
		fmt.Fprintln(os.Stderr, "zknoop:", err)
		os.Exit(1)
	}
}
