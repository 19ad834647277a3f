package faultfs

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sync"
	"syscall"
	"time"

	gofs "github.com/hanwen/go-fuse/v2/fs"
	"github.com/hanwen/go-fuse/v2/fuse"
)

// pageSize is the granularity at which overwritten synced bytes are saved.
const pageSize = 4096

// ErrUnavailable is returned by Mount when this process cannot mount FUSE
// file systems (not root, or no /dev/fuse).
var ErrUnavailable = errors.New("faultfs: FUSE mounts need root and /dev/fuse")

// Available returns nil if Mount can work here, or an error wrapping
// ErrUnavailable saying why not.
func Available() error {
	if os.Geteuid() != 0 {
		return fmt.Errorf("%w: running as uid %d", ErrUnavailable, os.Geteuid())
	}
	if _, err := os.Stat("/dev/fuse"); err != nil {
		return fmt.Errorf("%w: %v", ErrUnavailable, err)
	}
	return nil
}

// FS is one mounted fault-injecting file system. Its methods are safe for
// concurrent use.
type FS struct {
	backing, mountpoint string
	server              *fuse.Server

	mu         sync.Mutex // guards the fields below and files
	full       bool
	fsyncDelay time.Duration
	fsyncFail  bool
	files      map[uint64]*fileState // by backing inode number
}

// fileState is the undo record of one backing file since its last fsync.
type fileState struct {
	mu         sync.Mutex // held across a write and its bookkeeping
	created    bool       // created through the mount and never fsynced
	syncedSize int64
	saved      map[int64][]byte // page index -> bytes at the last fsync
}

// Loss says what a PowerLoss dropped.
type Loss struct {
	// Removed is the number of files created and never fsynced, removed.
	Removed int
	// Reverted is the number of files put back to their last fsync.
	Reverted int
	// Bytes is how many bytes of un-synced file content were dropped
	// (truncated away or overwritten by saved pages), about.
	Bytes int64
}

// Mount mounts a fault-injecting view of backing at mountpoint (both must
// exist). Unmount it with Unmount.
func Mount(backing, mountpoint string) (*FS, error) {
	if err := Available(); err != nil {
		return nil, err
	}
	backing, err := filepath.Abs(backing)
	if err != nil {
		return nil, fmt.Errorf("faultfs: %w", err)
	}
	var st syscall.Stat_t
	if err := syscall.Stat(backing, &st); err != nil {
		return nil, fmt.Errorf("faultfs: backing %s: %w", backing, err)
	}
	f := &FS{backing: backing, mountpoint: mountpoint, files: map[uint64]*fileState{}}
	root := &gofs.LoopbackRoot{Path: backing, Dev: uint64(st.Dev)}
	rootNode := &node{LoopbackNode: &gofs.LoopbackNode{RootData: root}, fs: f}
	root.RootNode = rootNode
	zero := time.Duration(0)
	srv, err := gofs.Mount(mountpoint, rootNode, &gofs.Options{
		// No caching of names or attributes: after a power loss the
		// kernel must see the backing files as they now are.
		EntryTimeout:    &zero,
		AttrTimeout:     &zero,
		NegativeTimeout: &zero,
		MountOptions: fuse.MountOptions{
			FsName: fmt.Sprintf("%s.%d", fsNamePrefix, os.Getpid()),
			Name:   "zkbench-faultfs",
			// Only this user (the servers run as the harness's user)
			// sees the mount: without default_permissions nothing else
			// would check the files' modes.
			DirectMountStrict: true,
		},
	})
	if err != nil {
		return nil, fmt.Errorf("faultfs: mount %s on %s: %w", backing, mountpoint, err)
	}
	f.server = srv
	return f, nil
}

// Mountpoint is where the file system is mounted.
func (f *FS) Mountpoint() string { return f.mountpoint }

// Backing is the directory that holds the files.
func (f *FS) Backing() string { return f.backing }

// Unmount unmounts the file system. If it stays busy for a second (a
// process still has a file open), it is detached lazily (MNT_DETACH) and
// served until the last file closes.
func (f *FS) Unmount() error {
	var err error
	for deadline := time.Now().Add(time.Second); ; time.Sleep(20 * time.Millisecond) {
		// Files of a just-killed process are released asynchronously.
		if err = f.server.Unmount(); err == nil {
			f.server.Wait()
			return nil
		}
		if time.Now().After(deadline) {
			break
		}
	}
	if err2 := syscall.Unmount(f.mountpoint, syscall.MNT_DETACH); err2 != nil && !errors.Is(err2, syscall.EINVAL) {
		return fmt.Errorf("faultfs: unmount %s: %w (lazy: %v)", f.mountpoint, err, err2)
	}
	return nil
}

// SetFull makes the disk full (ENOSPC on writes) or not.
func (f *FS) SetFull(full bool) {
	f.mu.Lock()
	f.full = full
	f.mu.Unlock()
}

// SetFsyncDelay makes every fsync wait d first (zero: none).
func (f *FS) SetFsyncDelay(d time.Duration) {
	f.mu.Lock()
	f.fsyncDelay = d
	f.mu.Unlock()
}

// SetFsyncFail makes every fsync fail with EIO, or not.
func (f *FS) SetFsyncFail(fail bool) {
	f.mu.Lock()
	f.fsyncFail = fail
	f.mu.Unlock()
}

// Heal clears every fault: the disk has room and fsync works at full speed.
func (f *FS) Heal() {
	f.mu.Lock()
	f.full, f.fsyncDelay, f.fsyncFail = false, 0, false
	f.mu.Unlock()
}

func (f *FS) isFull() bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.full
}

// state returns the undo record of the backing file with inode ino and
// current size size, making one if the file has none.
func (f *FS) state(ino uint64, size int64) *fileState {
	f.mu.Lock()
	defer f.mu.Unlock()
	s, ok := f.files[ino]
	if !ok {
		s = &fileState{syncedSize: size}
		f.files[ino] = s
	}
	return s
}

// created records a file just created through the mount.
func (f *FS) created(ino uint64) {
	f.mu.Lock()
	f.files[ino] = &fileState{created: true}
	f.mu.Unlock()
}

// forget drops the undo record of inode ino (it was unlinked).
func (f *FS) forget(ino uint64) {
	f.mu.Lock()
	delete(f.files, ino)
	f.mu.Unlock()
}

// save keeps the synced bytes of fd in [off, end) that are not yet kept;
// s.mu must be held.
func (s *fileState) save(fd int, off, end int64) syscall.Errno {
	end = min(end, s.syncedSize)
	for p := off / pageSize; p*pageSize < end; p++ {
		if _, ok := s.saved[p]; ok {
			continue
		}
		n := min(pageSize, s.syncedSize-p*pageSize)
		buf := make([]byte, n)
		got, err := syscall.Pread(fd, buf, p*pageSize)
		if err != nil {
			return gofs.ToErrno(err)
		}
		if s.saved == nil {
			s.saved = map[int64][]byte{}
		}
		s.saved[p] = buf[:got]
	}
	return 0
}

// synced forgets the undo record: fd's content is durable now.
func (s *fileState) synced(size int64) {
	s.created, s.syncedSize, s.saved = false, size, nil
}

// PowerLoss drops every un-synced change (see the package doc). Call it
// while no process uses the mount.
func (f *FS) PowerLoss() (Loss, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	var loss Loss
	var errs []error
	err := filepath.WalkDir(f.backing, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			errs = append(errs, err)
			return nil
		}
		if !d.Type().IsRegular() {
			return nil
		}
		var st syscall.Stat_t
		if err := syscall.Lstat(path, &st); err != nil {
			errs = append(errs, err)
			return nil
		}
		s, ok := f.files[st.Ino]
		if !ok {
			return nil
		}
		s.mu.Lock()
		defer s.mu.Unlock()
		if s.created {
			loss.Removed++
			loss.Bytes += st.Size
			if err := os.Remove(path); err != nil {
				errs = append(errs, err)
			}
			return nil
		}
		if s.saved == nil && st.Size == s.syncedSize {
			return nil
		}
		loss.Reverted++
		file, err := os.OpenFile(path, os.O_WRONLY, 0)
		if err != nil {
			errs = append(errs, err)
			return nil
		}
		defer file.Close()
		for p, b := range s.saved {
			loss.Bytes += int64(len(b))
			if _, err := file.WriteAt(b, p*pageSize); err != nil {
				errs = append(errs, err)
			}
		}
		if st.Size > s.syncedSize {
			loss.Bytes += st.Size - s.syncedSize
		}
		if err := file.Truncate(s.syncedSize); err != nil {
			errs = append(errs, err)
		}
		return nil
	})
	if err != nil {
		errs = append(errs, err)
	}
	clear(f.files)
	if err := errors.Join(errs...); err != nil {
		return loss, fmt.Errorf("faultfs: power loss on %s: %w", f.mountpoint, err)
	}
	return loss, nil
}

// node is a loopback node that keeps undo records and injects faults.
type node struct {
	*gofs.LoopbackNode
	fs *FS
}

var (
	_ gofs.NodeWrapChilder = (*node)(nil)
	_ gofs.NodeCreater     = (*node)(nil)
	_ gofs.NodeOpener      = (*node)(nil)
	_ gofs.NodeSetattrer   = (*node)(nil)
	_ gofs.NodeMkdirer     = (*node)(nil)
	_ gofs.NodeUnlinker    = (*node)(nil)
)

// WrapChild makes every node of the tree a fault node.
func (n *node) WrapChild(ctx context.Context, ops gofs.InodeEmbedder) gofs.InodeEmbedder {
	if lb, ok := ops.(*gofs.LoopbackNode); ok {
		return &node{LoopbackNode: lb, fs: n.fs}
	}
	return ops
}

// backingPath is the node's path in the backing directory.
func (n *node) backingPath() string {
	return filepath.Join(n.fs.backing, n.EmbeddedInode().Path(nil))
}

// Create creates a file, remembered as created and not yet fsynced.
func (n *node) Create(ctx context.Context, name string, flags, mode uint32, out *fuse.EntryOut) (*gofs.Inode, gofs.FileHandle, uint32, syscall.Errno) {
	if n.fs.isFull() {
		return nil, nil, 0, syscall.ENOSPC
	}
	if flags&syscall.O_TRUNC != 0 {
		// An existing file truncated by an O_CREAT|O_TRUNC open.
		if errno := n.fs.beforeTruncatePath(filepath.Join(n.backingPath(), name), 0); errno != 0 {
			return nil, nil, 0, errno
		}
	}
	var before syscall.Stat_t
	existed := syscall.Lstat(filepath.Join(n.backingPath(), name), &before) == nil
	ch, fh, fl, errno := n.LoopbackNode.Create(ctx, name, flags, mode, out)
	if errno != 0 {
		return ch, fh, fl, errno
	}
	ff, err := newFile(n.fs, fh)
	if err != nil {
		return nil, nil, 0, gofs.ToErrno(err)
	}
	if !existed {
		n.fs.created(ff.ino)
	}
	return ch, ff, fl, 0
}

// Open opens a file; an O_TRUNC open saves what it truncates.
func (n *node) Open(ctx context.Context, flags uint32) (gofs.FileHandle, uint32, syscall.Errno) {
	if flags&syscall.O_TRUNC != 0 {
		if errno := n.fs.beforeTruncatePath(n.backingPath(), 0); errno != 0 {
			return nil, 0, errno
		}
	}
	fh, fl, errno := n.LoopbackNode.Open(ctx, flags)
	if errno != 0 {
		return fh, fl, errno
	}
	ff, err := newFile(n.fs, fh)
	if err != nil {
		return nil, 0, gofs.ToErrno(err)
	}
	return ff, fl, 0
}

// Setattr saves what a truncate by path changes.
func (n *node) Setattr(ctx context.Context, f gofs.FileHandle, in *fuse.SetAttrIn, out *fuse.AttrOut) syscall.Errno {
	if sz, ok := in.GetSize(); ok && f == nil {
		if errno := n.fs.beforeTruncatePath(n.backingPath(), int64(sz)); errno != 0 {
			return errno
		}
	}
	return n.LoopbackNode.Setattr(ctx, f, in, out)
}

// Mkdir fails on a full disk.
func (n *node) Mkdir(ctx context.Context, name string, mode uint32, out *fuse.EntryOut) (*gofs.Inode, syscall.Errno) {
	if n.fs.isFull() {
		return nil, syscall.ENOSPC
	}
	return n.LoopbackNode.Mkdir(ctx, name, mode, out)
}

// Unlink forgets the undo record of a file whose last name goes.
func (n *node) Unlink(ctx context.Context, name string) syscall.Errno {
	var st syscall.Stat_t
	known := syscall.Lstat(filepath.Join(n.backingPath(), name), &st) == nil
	errno := n.LoopbackNode.Unlink(ctx, name)
	if errno == 0 && known && st.Nlink <= 1 {
		n.fs.forget(st.Ino)
	}
	return errno
}

// beforeTruncatePath saves what truncating the file at path to size
// changes (nothing if it does not exist).
func (f *FS) beforeTruncatePath(path string, size int64) syscall.Errno {
	file, err := os.Open(path)
	if err != nil {
		return 0
	}
	defer file.Close()
	st, err := file.Stat()
	if err != nil {
		return gofs.ToErrno(err)
	}
	sys := st.Sys().(*syscall.Stat_t)
	if f.isFull() && size > st.Size() {
		return syscall.ENOSPC
	}
	s := f.state(sys.Ino, st.Size())
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.save(int(file.Fd()), size, st.Size())
}

// file is an open file of the mount.
type file struct {
	*gofs.LoopbackFile
	fs  *FS
	fd  int
	ino uint64

	rmu sync.Mutex
	r   *os.File // the backing file opened for reading: fd may be write-only
}

var (
	_ gofs.FileWriter    = (*file)(nil)
	_ gofs.FileWritever  = (*file)(nil)
	_ gofs.FileFsyncer   = (*file)(nil)
	_ gofs.FileSetattrer = (*file)(nil)
	_ gofs.FileAllocater = (*file)(nil)
)

func newFile(f *FS, fh gofs.FileHandle) (*file, error) {
	lf, ok := fh.(*gofs.LoopbackFile)
	if !ok {
		return nil, fmt.Errorf("faultfs: unexpected file handle %T", fh)
	}
	fd, ok := lf.PassthroughFd()
	if !ok {
		return nil, errors.New("faultfs: file handle has no descriptor")
	}
	var st syscall.Stat_t
	if err := syscall.Fstat(fd, &st); err != nil {
		return nil, err
	}
	return &file{LoopbackFile: lf, fs: f, fd: fd, ino: st.Ino}, nil
}

// reader returns a descriptor that reads the backing file, whatever mode
// the file was opened in.
func (f *file) reader() (int, syscall.Errno) {
	f.rmu.Lock()
	defer f.rmu.Unlock()
	if f.r == nil {
		r, err := os.Open(fmt.Sprintf("/proc/self/fd/%d", f.fd))
		if err != nil {
			return -1, gofs.ToErrno(err)
		}
		f.r = r
	}
	return int(f.r.Fd()), 0
}

// Release closes the file and its reader.
func (f *file) Release(ctx context.Context) syscall.Errno {
	f.rmu.Lock()
	if f.r != nil {
		f.r.Close()
		f.r = nil
	}
	f.rmu.Unlock()
	return f.LoopbackFile.Release(ctx)
}

// PassthroughFd refuses kernel passthrough: every write must come here.
func (f *file) PassthroughFd() (int, bool) { return -1, false }

// size is the backing file's current size.
func (f *file) size() (int64, syscall.Errno) {
	var st syscall.Stat_t
	if err := syscall.Fstat(f.fd, &st); err != nil {
		return 0, gofs.ToErrno(err)
	}
	return st.Size, 0
}

// change runs do after saving the synced bytes in [off, end) (end < 0:
// to the end of the file), with the file's record locked.
func (f *file) change(off, end int64, do func() syscall.Errno) syscall.Errno {
	size, errno := f.size()
	if errno != 0 {
		return errno
	}
	s := f.fs.state(f.ino, size)
	s.mu.Lock()
	defer s.mu.Unlock()
	if end < 0 {
		end = size
	}
	if off < min(end, s.syncedSize) {
		r, errno := f.reader()
		if errno != 0 {
			return errno
		}
		if errno := s.save(r, off, end); errno != 0 {
			return errno
		}
	}
	return do()
}

// Write writes through, after saving the synced bytes it overwrites.
func (f *file) Write(ctx context.Context, data []byte, off int64) (uint32, syscall.Errno) {
	if f.fs.isFull() {
		return 0, syscall.ENOSPC
	}
	var n uint32
	errno := f.change(off, off+int64(len(data)), func() syscall.Errno {
		var errno syscall.Errno
		n, errno = f.LoopbackFile.Write(ctx, data, off)
		return errno
	})
	return n, errno
}

// Writev is Write for several buffers.
func (f *file) Writev(ctx context.Context, data [][]byte, off int64) (uint32, syscall.Errno) {
	if f.fs.isFull() {
		return 0, syscall.ENOSPC
	}
	var total int64
	for _, b := range data {
		total += int64(len(b))
	}
	var n uint32
	errno := f.change(off, off+total, func() syscall.Errno {
		var errno syscall.Errno
		n, errno = f.LoopbackFile.Writev(ctx, data, off)
		return errno
	})
	return n, errno
}

// Allocate is fallocate, after saving the range it may change.
func (f *file) Allocate(ctx context.Context, off, sz uint64, mode uint32) syscall.Errno {
	if f.fs.isFull() {
		return syscall.ENOSPC
	}
	return f.change(int64(off), int64(off+sz), func() syscall.Errno {
		return f.LoopbackFile.Allocate(ctx, off, sz, mode)
	})
}

// Setattr saves what a truncate changes.
func (f *file) Setattr(ctx context.Context, in *fuse.SetAttrIn, out *fuse.AttrOut) syscall.Errno {
	sz, ok := in.GetSize()
	if !ok {
		return f.LoopbackFile.Setattr(ctx, in, out)
	}
	size, errno := f.size()
	if errno != 0 {
		return errno
	}
	if f.fs.isFull() && int64(sz) > size {
		return syscall.ENOSPC
	}
	return f.change(int64(sz), -1, func() syscall.Errno {
		return f.LoopbackFile.Setattr(ctx, in, out)
	})
}

// Fsync waits the configured delay, fails if told to, and otherwise makes
// the file's content durable: its undo record is forgotten.
func (f *file) Fsync(ctx context.Context, flags uint32) syscall.Errno {
	f.fs.mu.Lock()
	delay, fail := f.fs.fsyncDelay, f.fs.fsyncFail
	f.fs.mu.Unlock()
	if delay > 0 {
		t := time.NewTimer(delay)
		select {
		case <-t.C:
		case <-ctx.Done():
			t.Stop()
			return syscall.EINTR
		}
	}
	if fail {
		return syscall.EIO
	}
	size, errno := f.size()
	if errno != 0 {
		return errno
	}
	s := f.fs.state(f.ino, size)
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := syscall.Fdatasync(f.fd); err != nil {
		return gofs.ToErrno(err)
	}
	size, errno = f.size()
	if errno != 0 {
		return errno
	}
	s.synced(size)
	return 0
}
