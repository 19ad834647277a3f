// Package datadir owns a server's data directories: where snapshots and the
// transaction log live, recovery from them at startup, the snapshot policy
// while the server runs, and autopurge. The standalone and the ensemble
// wiring in package server both use it; neither touches the directories
// for these jobs on its own.
//
// The layout is upstream's: snapshots in <dataDir>/version-2 (package snap),
// the log in <dataLogDir>/version-2 (package wal). Use:
//
//	d, err := datadir.Open(cfg, log)     // creates both directories
//	st, err := d.Recover()               // newest valid snapshot + the log after it
//	txnLog, err := d.OpenLog()           // the log, for appends
//	...build the node or peer over st.Tree and st.Sessions...
//	snaps := d.NewSnapshotter(roll, tree, sessions)
//	// call snaps.Applied(zxid) after every applied txn
//	go d.Autopurge(ctx)
//
// Recovery loads the newest valid snapshot (falling back to older ones when
// the newest is corrupt), cuts a torn log tail back with a warning
// (wal.Recover) and replays the log after the snapshot through
// replica.Apply, as live txns are applied. Corruption before the tail or a
// gap in history is an error: never a partial tree.
//
// The snapshot policy is upstream's: a snapshot every snapCount/2 +
// rand(snapCount/2) txns (randomised per server so an ensemble's members
// do not all snapshot at once), rolling the log first, written in the
// background, one at a time. Autopurge (autopurge.purgeInterval hours,
// keeping autopurge.snapRetainCount snapshots) is Purge (snap.Purge) on a
// timer; At names the directories without creating them, for zkserver
// purge.
package datadir
