package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/signal"
	"syscall"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := newRoot(os.Stdout, os.Stderr).ExecuteContext(ctx)
	stop()
	if err != nil {
		if !errors.Is(err, errRegressed) {
			fmt.Fprintln(os.Stderr, "zkbench:", err)
		}
		os.Exit(1)
	}
}
