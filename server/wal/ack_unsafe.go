//go:build zkbench_unsafe_ack

package wal

import "os"

// logSync, in a build with the zkbench_unsafe_ack tag, does nothing: Sync
// returns, and the server acknowledges writes, before they are on stable
// storage. It is a deliberately broken build for the power-loss tests
// (issue 22), which must show that it loses acknowledged writes. Never ship
// it.
func logSync(*os.File) error { return nil }

// syncWritesDirect is false here: the broken build's writes go to the page
// cache, so that an acknowledged write is really at risk.
const syncWritesDirect = false
