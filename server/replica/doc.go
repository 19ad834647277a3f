// Package replica is one server's copy of the ZooKeeper state machine: the
// znode tree, the session table and the prep stage's view of them, and the
// one place a committed txn is applied. Both drivers use it — the
// standalone node (package standalone) and the ensemble member (package peer) —
// and keep only what differs between them: how a txn is ordered and made
// durable (standalone: a prep goroutine and the group-commit log; peer: Zab).
//
// A Replica owns:
//
//   - the tree (replaced whole when an ensemble member installs a
//     leader's snapshot or rebuilds after a truncation) and the zxid of
//     the last applied txn;
//   - the session table: ids carrying the server id in their top byte,
//     upstream's passwords (session.SuperSecret), expiry in ticks;
//   - the prep stage (package txnprep), whose Store and Quotas read the
//     current tree;
//   - Apply: tree.Apply plus the session effects of createSession and
//     closeSession (the table, and closing the session's connection);
//   - the snapshot adapter between package snap's records and the tree
//     (RestoreTree, WriteSnapshot);
//   - the container reaper's view of the tree and its server-made
//     deleteContainer requests (NewReaper, ReapRequest).
//
// Recovery (package datadir) replays the log after a snapshot through
// Apply as well. The driver calls Apply in zxid order from one goroutine, and tells the
// prep stage what was applied (PrepApplied) as often as suits it; reads
// (Tree, LastApplied, the session methods) are safe from any goroutine.
package replica
