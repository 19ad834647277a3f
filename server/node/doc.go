// Package node is the server's driver: the one place that owns the znode
// tree, the session table, the prep stage, the transaction log and the
// apply loop, and wires them into the write path
//
//	Submit -> prep (zxid, validation) -> log (group commit, fsync)
//	       -> apply (tree, sessions) -> reply callback
//
// and the read path (serve answers reads from Tree in session order).
//
// A standalone server runs that pipeline directly. In an ensemble, the prep
// stage runs on the leader only and the log stage becomes Zab's propose /
// ack / commit; followers forward writes and apply what the leader commits.
// Either way txns reach apply in zxid order, and apply is the only writer of
// the tree.
//
// A failed log write stops the node: no later write is logged, applied
// or acknowledged, and Run returns the failure, so a standalone server
// exits and recovers from its files when restarted.
//
// Node implements serve.Backend.
package node
