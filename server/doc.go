// Package server assembles a ZooKeeper server from a parsed zoo.cfg: it
// opens the data directories and recovers state from them (datadir),
// builds the standalone driver or the ensemble member (peer) over that
// state, and the client connections (clientconn) over the driver, binds the
// client port and runs them until the context ends. Snapshots and autopurge
// are datadir's too; this package only wires.
//
// The pieces live in sub-packages, one job each. The vocabulary: proto
// (wire records, the Request a write carries), quorum (the membership),
// tree (znodes and watches), session (expiry). The stages of a write, wire
// -> request -> txn -> log -> apply: clientconn (client connections and
// four-letter words), txnprep (requests to txns), wal (the log) or zab and
// election over transport (replication), replica (the state machine that
// applies). Beside them: config (zoo.cfg and myid), snap and durable
// (durable files), datadir (recovery, snapshot policy, autopurge), reaper
// (containers and TTL nodes). The drivers, standalone and peer, wire the
// stages; no stage imports another's driver, and deps_test.go keeps the
// direction of imports as docs/architecture.md draws it.
package server
