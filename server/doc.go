// Package server assembles a ZooKeeper server from a parsed zoo.cfg: it
// recovers state from the data directories, builds the node (write path and
// apply loop) and the client-facing serve layer, binds the client port and
// runs them until the context ends.
//
// The pieces live in sub-packages, one job each: config (zoo.cfg and myid),
// proto (wire records), tree (znodes and watches), session (expiry), prep
// (requests to txns), wal and snap (durability), election and zab
// (replication), transport (peer connections), node (the driver) and serve
// (client connections and four-letter words).
package server
