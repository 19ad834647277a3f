// Package standalone is the standalone server's driver: it orders and logs the
// writes of a replica (package replica: tree, sessions, prep stage, apply)
// through its own pipeline
//
//	Submit -> prep goroutine (zxid, validation) -> log (group commit, fsync)
//	       -> apply goroutine (replica.Apply) -> reply callback
//
// and serves reads from the replica's tree (clientconn answers them in session
// order). The prep goroutine overlaps fsyncs with the next writes' prep;
// txns reach apply in zxid order, and apply is the only writer of the
// tree. It also expires sessions every tick and runs the container reaper,
// each through the same write path. An ensemble member is driven by
// package peer instead, over the same replica.
//
// A failed log write stops the node: no later write is logged, applied
// or acknowledged, and Run returns the failure, so a standalone server
// exits and recovers from its files when restarted.
//
// Node implements clientconn.Backend.
package standalone
