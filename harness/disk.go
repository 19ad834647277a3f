package harness

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/zkbench/zkbench/harness/faultfs"
)

// diskBackingSuffix names the directory that holds what a server's
// fault-injecting mount shows: data is served from data.disk.
const diskBackingSuffix = ".disk"

// mountDisks mounts a faultfs over each of s's data directories (dataDir
// and, if Options.LogDir is set, its dataLogDir), backed by a sibling
// directory. Files written before (myid) are written to the backing
// directory and are never dropped by a power loss. On error it unmounts
// what it mounted.
func (e *Ensemble) mountDisks(s *server, dirs []string) error {
	for _, d := range dirs {
		backing := d + diskBackingSuffix
		if err := os.MkdirAll(backing, 0o755); err != nil {
			return fmt.Errorf("harness: server %d: disk: %w", s.id, err)
		}
		fs, err := faultfs.Mount(backing, d)
		if err != nil {
			return fmt.Errorf("harness: server %d: disk faults: %w", s.id, err)
		}
		s.disks = append(s.disks, fs)
		e.log.Info("harness: fault-injecting disk mounted", "id", s.id, "dir", d, "backing", backing)
	}
	return nil
}

// unmountDisks unmounts every server's fault-injecting disks (the servers
// must be stopped).
func (e *Ensemble) unmountDisks() error {
	e.mu.Lock()
	var disks []*faultfs.FS
	for _, s := range e.servers {
		disks = append(disks, s.disks...)
		s.disks = nil
	}
	e.mu.Unlock()
	var errs []error
	for _, d := range disks {
		if err := d.Unmount(); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

// diskAvailable says whether disk faults can be injected.
func (e *Ensemble) diskAvailable() error {
	if e.external {
		return fmt.Errorf("%w: disk faults need a local ensemble", ErrUnavailable)
	}
	if !e.opts.DiskFaults {
		return fmt.Errorf("%w: disk faults need the servers' data directories on a fault-injecting mount: Options.DiskFaults (zkbench --disk-faults; root and /dev/fuse)", ErrUnavailable)
	}
	return nil
}

// onDisks applies change to every fault-injecting disk of server id.
func (e *Ensemble) onDisks(a Action, id int, change func(*faultfs.FS)) error {
	if err := e.diskAvailable(); err != nil {
		return err
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.closed {
		return fmt.Errorf("harness: %s server %d: %w", a, id, ErrClosed)
	}
	s, err := e.server(id)
	if err != nil {
		return err
	}
	for _, d := range s.disks {
		change(d)
	}
	e.log.Info("harness: disk fault", "action", a, "id", id)
	return nil
}

// DiskFull makes server id's disks full: every write, create and
// fallocate fails with ENOSPC until DiskHeal.
func (e *Ensemble) DiskFull(id int) error {
	return e.onDisks(DiskFull, id, func(d *faultfs.FS) { d.SetFull(true) })
}

// FsyncSlow makes every fsync of server id wait d first (zero: none).
func (e *Ensemble) FsyncSlow(id int, d time.Duration) error {
	if d < 0 {
		return fmt.Errorf("harness: fsync-slow server %d: negative delay %v", id, d)
	}
	return e.onDisks(FsyncSlow, id, func(fs *faultfs.FS) { fs.SetFsyncDelay(d) })
}

// FsyncFail makes every fsync of server id fail with EIO until DiskHeal.
func (e *Ensemble) FsyncFail(id int) error {
	return e.onDisks(FsyncFail, id, func(d *faultfs.FS) { d.SetFsyncFail(true) })
}

// DiskHeal undoes DiskFull, FsyncSlow and FsyncFail on server id.
func (e *Ensemble) DiskHeal(id int) error {
	return e.onDisks(DiskHeal, id, (*faultfs.FS).Heal)
}

// PowerLoss cuts server id's power: it is killed with SIGKILL (if
// running) and everything it wrote and did not fsync is dropped from its
// disks (see package faultfs for what is modelled). Restart brings it back.
func (e *Ensemble) PowerLoss(id int) error {
	if err := e.diskAvailable(); err != nil {
		return err
	}
	e.mu.Lock()
	s, err := e.server(id)
	running := err == nil && s.running
	e.mu.Unlock()
	if err != nil {
		return err
	}
	if running {
		if err := e.Kill(id); err != nil {
			return fmt.Errorf("harness: power-loss: %w", err)
		}
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.closed {
		return fmt.Errorf("harness: power-loss server %d: %w", id, ErrClosed)
	}
	if s.running {
		// Restarted by someone else in between: dropping its data now
		// would pull files from under a live server.
		return fmt.Errorf("harness: power-loss server %d: restarted before its disks were cut: %w", id, ErrRunning)
	}
	var errs []error
	for _, d := range s.disks {
		loss, err := d.PowerLoss()
		if err != nil {
			errs = append(errs, err)
		}
		e.log.Info("harness: power loss", "id", id, "dir", d.Mountpoint(), "files_removed", loss.Removed, "files_reverted", loss.Reverted, "bytes", loss.Bytes)
	}
	return errors.Join(errs...)
}

// diskDirs lists server s's data directories that a fault-injecting disk
// goes under.
func diskDirs(o *Options, s *server) []string {
	dirs := []string{filepath.Join(s.dir, "data")}
	if d := dataLogDirFor(o.LogDir, s.id); d != "" {
		dirs = append(dirs, d)
	}
	return dirs
}
