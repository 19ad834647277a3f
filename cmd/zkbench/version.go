package main

import (
	"fmt"
	"io"

	"github.com/spf13/cobra"

	"github.com/zkbench/zkbench/internal/version"
)

func newVersionCmd() *cobra.Command {
	var asJSON bool
	cmd := &cobra.Command{
		Use:   "version",
		Short: "Print zkbench's version: module version, commit and how it is known",
		Long: `version prints the version of this zkbench binary: its module version or
the commit it was built from ("+dirty" when the tree had local changes),
the commit in full and where it was learnt (the Go toolchain's VCS stamp,
the Makefile's -ldflags, or, under go run, git asked about the source
tree), and the Go toolchain. Every result records the same in its build
section.`,
		Example: `  zkbench version
  zkbench version --json`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			return writeVersion(cmd.OutOrStdout(), version.Get(), asJSON)
		},
	}
	cmd.Flags().BoolVar(&asJSON, "json", false, "print the version as JSON")
	return cmd
}

// writeVersion prints v as a line of text or as JSON.
func writeVersion(w io.Writer, v version.Info, asJSON bool) error {
	if asJSON {
		return writeJSON(w, v)
	}
	rev := v.Revision
	if rev == "" {
		rev = "unknown (build with make, go build -buildvcs=true, or go run from a checkout)"
	} else {
		if v.Modified {
			rev += " (modified)"
		}
		rev += ", from " + v.Source
	}
	_, err := fmt.Fprintf(w, "zkbench %s\nmodule %s\ncommit %s\n%s\n", v, v.Module, rev, v.GoVersion)
	return err
}
