//go:build zkbench_unsafe_ack

package wal

import "os"

// logSync, in a build with the zkbench_unsafe_ack tag, does nothing: Sync
// returns, and the server acknowledges writes, before they are on stable
// storage. It is a deliberately broken build for the power-loss tests
// (issue 22), which must show that it loses acknowledged writes. Never ship
// it.
func logSync(*os.File) error { return nil }
