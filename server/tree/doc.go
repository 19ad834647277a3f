// Package tree is the znode tree of a ZooKeeper server: nodes with their
// data, stat and ACL, the per-session ephemeral index, container and TTL
// bookkeeping, the ACL cache that snapshots serialize, and the watch
// registry. It mirrors upstream's DataTree, DataNode, WatchManager and
// ReferenceCountedACLCache, and upstream is the judge of every stat field and
// every event it produces.
//
// The package is pure: no I/O, no clock (times come from TxnHeader.Time or
// are passed in), no goroutines.
//
// # Concurrency
//
// A Tree has one writer and many readers. Apply, AddWatch, SetWatches,
// RemoveWatches and RemoveWatcher may be called concurrently with the read
// methods (GetData, Exists, GetChildren, ...). Apply calls must be made from
// one goroutine at a time, in zxid order; each Apply is atomic with respect
// to reads (a multi is seen whole or not at all). A read that registers a
// watch does so atomically with the read, so no change can slip between the
// value returned and the watch being set.
//
// # Contract with the request pipeline
//
//   - Paths given to reads and Apply are already validated (ValidatePath).
//   - The prep stage computes sequence suffixes and CreateTxn.ParentCVersion
//     from the parent's stored cversion: NodeInfo.Stat.Cversion (+1), which
//     is the stored value, not the client-visible one (NodeInfo.ClientStat):
//     upstream stores the number of child creations and reports
//     creations*2-numChildren to clients.
//   - Apply never fails for a txn the prep stage produced; it tolerates
//     replays (NodeExists on create, NoNode on delete) the way upstream's
//     DataTree.processTxn does, and the error is reported in Result.Err.
//   - Byte slices passed in (txn data) are kept, and byte slices returned
//     (GetData) are shared with the tree: neither side may modify them.
//   - Watcher.Event is called with the tree's lock held: it must only
//     enqueue. Each watcher gets at most one event per trigger even if it
//     holds several matching watches.
//
// Children are returned and walked in sorted order; upstream uses a HashSet
// whose order is unspecified.
//
// # Fidelity
//
// Stats, replay behaviour, quota stats and the tree digest (Digest, the
// value upstream logs with every txn and writes into snapshots) are checked
// against Java ZooKeeper 3.8.0 itself: tests restore a snapshot and replay
// a transaction log that Debian's 3.8.0 wrote, and must reproduce its
// digest after every txn. Watches follow upstream's current WatchManager,
// which lets one watcher hold a one-shot and a persistent watch on the same
// path (3.8.0 let the later registration overwrite the earlier) and keeps
// recursive watches only in the data registry; RemoveWatches/CheckWatches
// with WatcherData or WatcherChildren therefore see only one-shot watches,
// while 3.8.0 matched any mode. WatchCount reports 3.8.0's number. As in
// upstream's fix for CVE-2024-23944, a change's event goes only to watchers
// that may READ the znode it names (Watcher.MayRead; the parent's ACL for
// NodeChildrenChanged).
package tree
