package datadir

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"time"

	"github.com/zkbench/zkbench/server/config"
	"github.com/zkbench/zkbench/server/metrics"
	"github.com/zkbench/zkbench/server/snap"
	"github.com/zkbench/zkbench/server/wal"
)

// Dir is one server's data directories and the settings zoo.cfg gives for
// them.
type Dir struct {
	// SnapDir is <dataDir>/version-2, where snapshots live.
	SnapDir string
	// LogDir is <dataLogDir>/version-2, where the transaction log lives.
	LogDir string

	tickMs          int
	preAllocSize    int64
	forceSync       bool
	snapCount       int
	snapRetainCount int
	purgeInterval   int // hours; 0: autopurge off
	log             *slog.Logger
	metrics         *metrics.Server
}

// At returns the data directories cfg names, touching nothing on disk
// (for tools such as purge that must not create them).
func At(cfg *config.Config, log *slog.Logger) *Dir {
	if log == nil {
		log = slog.Default()
	}
	return &Dir{
		SnapDir:         filepath.Join(cfg.DataDir, "version-2"),
		LogDir:          filepath.Join(cfg.DataLogDir, "version-2"),
		tickMs:          cfg.TickTime,
		preAllocSize:    cfg.PreAllocSize,
		forceSync:       cfg.ForceSync,
		snapCount:       cfg.SnapCount,
		snapRetainCount: cfg.SnapRetainCount,
		purgeInterval:   cfg.PurgeInterval,
		log:             log,
		metrics:         &metrics.Server{},
	}
}

// SetMetrics has the log record its fsyncs and the snapshotter its
// snapshots in m (nil: nothing is recorded).
func (d *Dir) SetMetrics(m *metrics.Server) { d.metrics = m.Or() }

// Open returns the data directories cfg names, creating them if needed:
// what a server calls before Recover.
func Open(cfg *config.Config, log *slog.Logger) (*Dir, error) {
	d := At(cfg, log)
	for _, dir := range []string{d.SnapDir, d.LogDir} {
		if err := os.MkdirAll(dir, 0o755); err != nil {
			return nil, fmt.Errorf("server: %w", err)
		}
	}
	return d, nil
}

// LogOptions are the transaction log's options from zoo.cfg
// (zookeeper.preAllocSize, forceSync).
func (d *Dir) LogOptions() wal.Options {
	return wal.Options{PreAllocSize: d.preAllocSize, ForceSync: d.forceSync, Logger: d.log, FsyncTime: d.metrics.FsyncTime}
}

// OpenLog opens the transaction log in LogDir for appends, with
// LogOptions; call it after Recover, which repairs a torn tail. With
// forceSync=no it warns that acknowledged writes can be lost.
func (d *Dir) OpenLog() (*wal.Log, error) {
	if !d.forceSync {
		d.log.Warn("forceSync=no: the transaction log is NOT fsynced; acknowledged writes can be lost on a crash. For experiments only.")
	}
	l, err := wal.Open(d.LogDir, d.LogOptions())
	if err != nil {
		return nil, fmt.Errorf("server: %w", err)
	}
	return l, nil
}

// Purge removes all but the retain newest snapshots and the log files they
// no longer need (upstream PurgeTxnLog; snap.Purge), returning the names
// removed. Callers enforce upstream's minimum of 3.
func (d *Dir) Purge(retain int) ([]string, error) {
	return snap.Purge(d.SnapDir, d.LogDir, retain)
}

// Autopurge removes old snapshots and logs every autopurge.purgeInterval
// hours, keeping autopurge.snapRetainCount snapshots (at least 3), until
// ctx is done (upstream DatadirCleanupManager). A purgeInterval of 0
// disables it: Autopurge returns at once.
func (d *Dir) Autopurge(ctx context.Context) {
	if d.purgeInterval <= 0 {
		return
	}
	retain := max(d.snapRetainCount, 3)
	t := time.NewTicker(time.Duration(d.purgeInterval) * time.Hour)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			removed, err := d.Purge(retain)
			if err != nil {
				d.log.Error("autopurge failed", "err", err)
				continue
			}
			d.log.Info("autopurge", "removed", len(removed), "retained_snapshots", retain)
		}
	}
}

func hex(v int64) string { return fmt.Sprintf("0x%x", v) }
