// Package cli is the zkserver command line: start-foreground, status and
// version, shaped like upstream's zkServer.sh. It is a package (not just a
// main) so that the zkbench binary can embed the same command and launch Go
// servers from itself, with no separate build.
package cli
