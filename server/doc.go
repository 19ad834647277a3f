// Package server assembles a ZooKeeper server from a parsed zoo.cfg: it
// opens the data directories and recovers state from them (datadir),
// builds the node (standalone) or the peer (ensemble) over that state and
// the client connections (clientconn), binds the client port and runs them until
// the context ends. Snapshots and autopurge are datadir's too; this package
// only wires.
//
// The pieces live in sub-packages, one job each: config (zoo.cfg and myid),
// proto (wire records), tree (znodes and watches), session (expiry), txnprep
// (requests to txns), replica (the state machine), wal, snap and durable
// (durability), datadir (recovery, snapshot policy, autopurge), election
// and zab (replication), transport (peer connections), node (the
// standalone driver), peer (the ensemble driver) and clientconn (client
// connections and four-letter words).
package server
