package main

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"os/signal"
	"syscall"

	"github.com/spf13/cobra"

	"github.com/zkbench/zkbench/experiment"
	"github.com/zkbench/zkbench/results"
	"github.com/zkbench/zkbench/results/report"
	"github.com/zkbench/zkbench/workloads"
)

// Exit codes, for scripts and CI (exitCodesHelp says the same to users).
const (
	exitOK        = 0 // done; for regress and history: no regression
	exitRegressed = 1 // a significant regression was found
	exitUsage     = 2 // bad flags, arguments or input files
	exitCannotRun = 3 // could not run: a server did not start, a run failed, a file could not be written
	exitUnsafe    = 4 // a run's history check found a safety violation (the run itself completed and was saved)
)

// exitCodesHelp is appended to the help of the root command and of the
// commands that judge regressions.
const exitCodesHelp = `

Exit codes:
  0  success (regress, history: no significant regression)
  1  a significant regression was found (regress, history --fail-on-regression)
  2  usage or input error: bad flags or arguments, unreadable or mismatched results
  3  could not run: a server did not start, a run or a write failed
  4  safety violation: the history check of a run (one with faults, or --check)
     found a lost, reordered or invented value; the run's directory says which`

// exitError is an error that ends zkbench with a given exit code.
type exitError struct {
	code int
	err  error
}

func (e *exitError) Error() string { return e.err.Error() }
func (e *exitError) Unwrap() error { return e.err }

// usageError marks err as a usage or input error (exit 2); nil stays nil.
func usageError(err error) error {
	if err == nil {
		return nil
	}
	return &exitError{code: exitUsage, err: err}
}

// exitCode is the code zkbench exits with after err: 1 for a regression,
// 2 for the packages' errors that mean bad input (invalidInput), the code
// an exitError carries, and 2 for anything else, which is what cobra
// itself returns (unknown commands and flags, missing arguments). Errors a
// command returns are marked when it returns them (withExitCodes), so an
// unmarked error never comes from a command's run.
func exitCode(err error) int {
	var ee *exitError
	switch {
	case err == nil:
		return exitOK
	case errors.Is(err, errRegressed):
		return exitRegressed
	case invalidInput(err):
		return exitUsage
	case errors.As(err, &ee):
		return ee.code
	}
	return exitUsage
}

// invalidInput reports whether err says that what zkbench was given is
// wrong: an invalid workload or configuration, a result file that is
// missing, of an unknown schema or of another workload.
func invalidInput(err error) bool {
	for _, target := range []error{workloads.ErrInvalidSpec, experiment.ErrInvalid, results.ErrSchema, report.ErrMismatch, fs.ErrNotExist} {
		if errors.Is(err, target) {
			return true
		}
	}
	return false
}

// withExitCodes makes every error a command of root returns from its run
// carry an exit code: those already marked (usageError, errRegressed)
// keep theirs, and any other means the command could not run (exit 3). It
// also lists the exit codes in root's help. It returns root.
func withExitCodes(root *cobra.Command) *cobra.Command {
	root.Long += exitCodesHelp
	var walk func(c *cobra.Command)
	walk = func(c *cobra.Command) {
		if run := c.RunE; run != nil {
			c.RunE = func(cmd *cobra.Command, args []string) error {
				err := run(cmd, args)
				var ee *exitError
				if err == nil || errors.Is(err, errRegressed) || errors.As(err, &ee) {
					return err
				}
				return &exitError{code: exitCannotRun, err: err}
			}
		}
		for _, sub := range c.Commands() {
			walk(sub)
		}
	}
	walk(root)
	return root
}

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := newRoot(os.Stdout, os.Stderr).ExecuteContext(ctx)
	stop()
	code := exitCode(err)
	if err != nil && code != exitRegressed {
		// A regression was reported on stdout already.
		fmt.Fprintln(os.Stderr, "zkbench:", err)
	}
	os.Exit(code)
}
