package datadir

import (
	"errors"
	"fmt"

	"github.com/zkbench/zkbench/server/proto"
	"github.com/zkbench/zkbench/server/replica"
	"github.com/zkbench/zkbench/server/snap"
	"github.com/zkbench/zkbench/server/tree"
	"github.com/zkbench/zkbench/server/wal"
)

// State is what recovery rebuilt from the data directories.
type State struct {
	Tree     *tree.Tree
	Sessions map[int64]int32 // id -> timeout ms
	// SnapZxid is the zxid of the snapshot recovery started from (0: none).
	SnapZxid int64
	// Replayed counts the log txns applied on top of the snapshot.
	Replayed int
}

// Recover loads the newest valid snapshot and replays the log after it. A
// torn log tail is cut back with a warning (wal.Recover); corruption
// before the tail or a gap in history is an error: never a partial tree.
// With no snapshot and no log it returns an empty tree.
func (d *Dir) Recover() (*State, error) {
	return d.RecoverKeeping(nil)
}

// RecoverKeeping is Recover that also hands every replayed log record to
// keep, in zxid order (an ensemble member serves DIFF syncs from them).
func (d *Dir) RecoverKeeping(keep func(zxid int64, rec []byte)) (*State, error) {
	st, err := d.loadSnapshot()
	if err != nil {
		return nil, err
	}
	log := d.log
	// The log replays through the replica's Apply, as live txns do; no
	// connection is closed (the replica has no SessionCloser).
	r := replica.New(replica.Options{TickMs: int64(d.tickMs), Tree: st.Tree, Sessions: st.Sessions, Logger: log})
	rep, err := wal.Recover(d.LogDir, st.SnapZxid, log, func(zxid int64, rec []byte) error {
		lt, err := proto.DecodeLoggedTxn(rec)
		if err != nil {
			return fmt.Errorf("replaying zxid 0x%x: %w", zxid, err)
		}
		r.Apply(&lt.Header, lt.Body)
		st.Replayed++
		if keep != nil {
			keep(zxid, rec)
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("server: recovering the transaction log in %s: %w", d.LogDir, err)
	}
	st.Sessions = r.Sessions()
	if rep.Cut() {
		log.Warn("transaction log had a torn tail; cut it back to the last valid record",
			"file", rep.File, "offset", rep.Offset, "cut_bytes", rep.Bytes, "reason", rep.Reason, "removed_files", rep.Removed)
	}
	if st.SnapZxid != 0 || st.Replayed > 0 {
		log.Info("recovered state", "snapshot_zxid", hex(st.SnapZxid), "replayed_txns", st.Replayed,
			"last_zxid", hex(st.Tree.LastZxid()), "sessions", len(st.Sessions), "znodes", st.Tree.NodeCount())
	}
	return st, nil
}

// loadSnapshot returns the state of the newest valid snapshot, falling back
// to older ones when the newest is corrupt, or an empty tree when there is
// no snapshot at all.
func (d *Dir) loadSnapshot() (*State, error) {
	st := &State{Tree: tree.New(), Sessions: map[int64]int32{}}
	f, err := snap.LoadNewestValid(d.SnapDir, func(r *snap.Reader) error {
		t, err := replica.RestoreTree(r)
		if err != nil {
			return err
		}
		st.Tree = t
		st.Sessions = r.Header().Sessions
		if st.Sessions == nil {
			st.Sessions = map[int64]int32{}
		}
		st.SnapZxid = r.Header().Zxid
		return nil
	})
	switch {
	case errors.Is(err, snap.ErrNoSnapshot):
		return st, nil
	case err != nil:
		return nil, fmt.Errorf("server: loading snapshots from %s: %w", d.SnapDir, err)
	}
	d.log.Info("loaded snapshot", "file", f.Path, "zxid", hex(st.SnapZxid))
	return st, nil
}
