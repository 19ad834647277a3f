// Package faultfs is a fault-injecting FUSE file system for the harness: a
// passthrough (loopback) over a backing directory, mounted under a server's
// data directories, that can make the disk full, slow or fail fsync, and
// lose power.
//
// # Faults
//
//   - Full (SetFull): every write, fallocate, truncate that grows a file,
//     create and mkdir fails with ENOSPC until healed. This is stricter
//     than a real full disk, where writes into already allocated blocks
//     may still succeed.
//   - Slow fsync (SetFsyncDelay): fsync and fdatasync wait the delay
//     before doing anything.
//   - Failing fsync (SetFsyncFail): fsync and fdatasync return EIO and
//     sync nothing; what was written stays un-synced (and is dropped by a
//     later power loss), as when the kernel gave up writing it back.
//   - Heal clears all three.
//   - Power loss (PowerLoss), in the manner of Jepsen's LazyFS: every
//     file's content goes back to what it was at its last fsync.
//
// # What power loss models
//
// Writes go straight through to the backing file (so reads need no
// merging), and the file system keeps, per file (by backing inode), an
// undo record of what an fsync would have made durable:
//
//   - the file's size at its last fsync (or when first touched through
//     the mount), and the original bytes of every 4 KiB page below that
//     size that a write, truncate or fallocate changed since;
//   - whether the file was created through the mount and never fsynced.
//
// fsync or fdatasync of a file (they are not told apart) forgets its undo
// record: everything written to it is durable. PowerLoss, to be called
// while nothing uses the mount (the server killed), removes every file
// created and never fsynced, writes the saved pages back and truncates
// every other touched file to its synced size, then forgets every record.
// Files never written through the mount (myid, written before mounting)
// are left alone.
//
// Not modelled: directory entries. Renames, unlinks, mkdirs and the
// entry of a file that was fsynced are durable at once, whether or not
// the directory was fsynced (as ext4 in practice does for an fsynced
// file, stricter than POSIX requires). Metadata (modes, times) is not
// rolled back. Torn writes inside a page are not modelled: a page is
// either as synced or as written.
//
// # Mounts
//
// Mount needs root and /dev/fuse (it calls mount(2) itself; no fusermount
// is needed). Each mount's source names the process that serves it
// ("zkbench-faultfs.<pid>"), so Sweep can unmount what a killed test left
// behind without touching the live mounts of another process.
package faultfs
