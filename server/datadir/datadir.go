package datadir

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"time"

	"github.com/zkbench/zkbench/server/config"
	"github.com/zkbench/zkbench/server/snap"
)

// Dir is one server's data directories and the settings zoo.cfg gives for
// them.
type Dir struct {
	// SnapDir is <dataDir>/version-2, where snapshots live.
	SnapDir string
	// LogDir is <dataLogDir>/version-2, where the transaction log lives.
	LogDir string

	tickMs          int
	snapCount       int
	snapRetainCount int
	purgeInterval   int // hours; 0: autopurge off
	log             *slog.Logger
}

// Open returns the data directories cfg names, creating them if needed.
func Open(cfg *config.Config, log *slog.Logger) (*Dir, error) {
	d := &Dir{
		SnapDir:         filepath.Join(cfg.DataDir, "version-2"),
		LogDir:          filepath.Join(cfg.DataLogDir, "version-2"),
		tickMs:          cfg.TickTime,
		snapCount:       cfg.SnapCount,
		snapRetainCount: cfg.SnapRetainCount,
		purgeInterval:   cfg.PurgeInterval,
		log:             log,
	}
	for _, dir := range []string{d.SnapDir, d.LogDir} {
		if err := os.MkdirAll(dir, 0o755); err != nil {
			return nil, fmt.Errorf("server: %w", err)
		}
	}
	return d, nil
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
			removed, err := snap.Purge(d.SnapDir, d.LogDir, retain)
			if err != nil {
				d.log.Error("autopurge failed", "err", err)
				continue
			}
			d.log.Info("autopurge", "removed", len(removed), "retained_snapshots", retain)
		}
	}
}

func hex(v int64) string { return fmt.Sprintf("0x%x", v) }
