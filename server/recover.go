package server

import (
	"fmt"
	"log/slog"
	"path/filepath"

	"github.com/zkbench/zkbench/server/config"
	"github.com/zkbench/zkbench/server/proto"
	"github.com/zkbench/zkbench/server/replica"
	"github.com/zkbench/zkbench/server/tree"
	"github.com/zkbench/zkbench/server/wal"
)

// state is what recovery rebuilt from the data directories.
type state struct {
	tree     *tree.Tree
	sessions map[int64]int32 // id -> timeout ms
	// snapZxid is the zxid of the snapshot recovery started from (0: none).
	snapZxid int64
	// replayed counts the log txns applied on top of the snapshot.
	replayed int
}

// snapDir and logDir are where upstream keeps snapshots and logs.
func snapDir(cfg *config.Config) string { return filepath.Join(cfg.DataDir, "version-2") }
func logDir(cfg *config.Config) string  { return filepath.Join(cfg.DataLogDir, "version-2") }

// recoverState loads the newest valid snapshot and replays the log after
// it. A torn log tail is cut back with a warning (wal.Repair); corruption
// before the tail or a gap in history is an error: never a partial tree.
func recoverState(cfg *config.Config, log *slog.Logger) (*state, error) {
	return recoverStateKeeping(cfg, log, nil)
}

// recoverStateKeeping is recoverState that also hands every replayed log
// record to keep (an ensemble member serves DIFF syncs from them).
func recoverStateKeeping(cfg *config.Config, log *slog.Logger, keep func(zxid int64, rec []byte)) (*state, error) {
	st, err := loadSnapshot(cfg, log)
	if err != nil {
		return nil, err
	}
	// The log replays through the replica's Apply, as live txns do; no
	// connection is closed (the replica has no SessionCloser).
	r := replica.New(replica.Options{TickMs: int64(cfg.TickTime), Tree: st.tree, Sessions: st.sessions, Logger: log})
	rep, err := wal.Recover(logDir(cfg), st.snapZxid, log, func(zxid int64, rec []byte) error {
		lt, err := proto.DecodeLoggedTxn(rec)
		if err != nil {
			return fmt.Errorf("replaying zxid 0x%x: %w", zxid, err)
		}
		r.Apply(&lt.Header, lt.Body)
		st.replayed++
		if keep != nil {
			keep(zxid, rec)
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("server: recovering the transaction log in %s: %w", logDir(cfg), err)
	}
	st.sessions = r.Sessions()
	if rep.Cut() {
		log.Warn("transaction log had a torn tail; cut it back to the last valid record",
			"file", rep.File, "offset", rep.Offset, "cut_bytes", rep.Bytes, "reason", rep.Reason, "removed_files", rep.Removed)
	}
	if st.snapZxid != 0 || st.replayed > 0 {
		log.Info("recovered state", "snapshot_zxid", hex(st.snapZxid), "replayed_txns", st.replayed,
			"last_zxid", hex(st.tree.LastZxid()), "sessions", len(st.sessions), "znodes", st.tree.NodeCount())
	}
	return st, nil
}

func hex(v int64) string { return fmt.Sprintf("0x%x", v) }
