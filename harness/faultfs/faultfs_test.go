package faultfs

import (
	"bytes"
	"errors"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// mount mounts a faultfs for the test, unmounted in cleanup. Without root
// or /dev/fuse the test fails under CI and is skipped elsewhere.
func mount(t *testing.T) *FS {
	t.Helper()
	if err := Available(); err != nil {
		if os.Getenv("CI") != "" {
			t.Fatal(err)
		}
		t.Skip(err)
	}
	dir := t.TempDir()
	backing, mp := filepath.Join(dir, "backing"), filepath.Join(dir, "mnt")
	for _, d := range []string{backing, mp} {
		if err := os.Mkdir(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	f, err := Mount(backing, mp)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := f.Unmount(); err != nil {
			t.Error(err)
		}
	})
	return f
}

func writeFile(t *testing.T, path string, data []byte, sync bool) *os.File {
	t.Helper()
	f, err := os.OpenFile(path, os.O_CREATE|os.O_WRONLY, 0o644)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.Write(data); err != nil {
		t.Fatal(err)
	}
	if sync {
		if err := f.Sync(); err != nil {
			t.Fatal(err)
		}
	}
	return f
}

func readFile(t *testing.T, path string) []byte {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func powerLoss(t *testing.T, f *FS) Loss {
	t.Helper()
	l, err := f.PowerLoss()
	if err != nil {
		t.Fatal(err)
	}
	return l
}

func TestUnsyncedCreateIsGoneAfterPowerLoss(t *testing.T) {
	f := mount(t)
	p := filepath.Join(f.Mountpoint(), "new")
	writeFile(t, p, []byte("never synced"), false).Close()
	if got := readFile(t, p); string(got) != "never synced" {
		t.Fatalf("before power loss read %q", got)
	}
	if l := powerLoss(t, f); l.Removed != 1 {
		t.Errorf("loss %+v, want one file removed", l)
	}
	if _, err := os.Stat(p); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("un-synced new file after power loss: stat err %v, want not exist", err)
	}
}

func TestSyncedDataSurvivesAndTheUnsyncedTailIsDropped(t *testing.T) {
	f := mount(t)
	p := filepath.Join(f.Mountpoint(), "log")
	synced := bytes.Repeat([]byte("s"), 10000)
	w := writeFile(t, p, synced, true)
	// Overwrite the middle of synced data and append, without fsync.
	if _, err := w.WriteAt(bytes.Repeat([]byte("x"), 5000), 3000); err != nil {
		t.Fatal(err)
	}
	if _, err := w.WriteAt([]byte("tail"), 10000); err != nil {
		t.Fatal(err)
	}
	w.Close()
	if l := powerLoss(t, f); l.Reverted != 1 || l.Removed != 0 {
		t.Errorf("loss %+v, want one file reverted", l)
	}
	if got := readFile(t, p); !bytes.Equal(got, synced) {
		t.Fatalf("after power loss the file has %d bytes (%q...), want the %d synced bytes", len(got), got[:min(len(got), 20)], len(synced))
	}

	// After an fsync the same changes are kept.
	w = writeFile(t, p, nil, false)
	if _, err := w.WriteAt([]byte("kept"), 10000); err != nil {
		t.Fatal(err)
	}
	if err := w.Sync(); err != nil {
		t.Fatal(err)
	}
	w.Close()
	powerLoss(t, f)
	if got := readFile(t, p); len(got) != 10004 || string(got[10000:]) != "kept" {
		t.Fatalf("fsynced append lost: %d bytes", len(got))
	}
}

func TestFdatasyncMakesDurable(t *testing.T) {
	f := mount(t)
	p := filepath.Join(f.Mountpoint(), "d")
	w := writeFile(t, p, []byte("data"), false)
	if err := syscall.Fdatasync(int(w.Fd())); err != nil {
		t.Fatal(err)
	}
	w.Close()
	powerLoss(t, f)
	if got := readFile(t, p); string(got) != "data" {
		t.Fatalf("after fdatasync and power loss read %q", got)
	}
}

func TestUnsyncedTruncateIsUndone(t *testing.T) {
	f := mount(t)
	p := filepath.Join(f.Mountpoint(), "t")
	writeFile(t, p, []byte("0123456789"), true).Close()
	if err := os.Truncate(p, 3); err != nil {
		t.Fatal(err)
	}
	w, err := os.OpenFile(p, os.O_WRONLY|os.O_TRUNC, 0)
	if err != nil {
		t.Fatal(err)
	}
	w.Close()
	powerLoss(t, f)
	if got := readFile(t, p); string(got) != "0123456789" {
		t.Fatalf("after power loss read %q, want the synced content", got)
	}
}

func TestUnsyncedRenameOfSyncedFileKeepsData(t *testing.T) {
	// Renames are durable at once (not modelled): the synced content moves.
	f := mount(t)
	a, b := filepath.Join(f.Mountpoint(), "a"), filepath.Join(f.Mountpoint(), "b")
	writeFile(t, a, []byte("content"), true).Close()
	if err := os.Rename(a, b); err != nil {
		t.Fatal(err)
	}
	powerLoss(t, f)
	if got := readFile(t, b); string(got) != "content" {
		t.Fatalf("read %q", got)
	}
}

func TestDiskFull(t *testing.T) {
	f := mount(t)
	p := filepath.Join(f.Mountpoint(), "x")
	w := writeFile(t, p, []byte("before"), true)
	defer w.Close()
	f.SetFull(true)
	if _, err := w.Write([]byte("more")); !errors.Is(err, syscall.ENOSPC) {
		t.Fatalf("write on a full disk: %v, want ENOSPC", err)
	}
	if _, err := os.Create(filepath.Join(f.Mountpoint(), "y")); !errors.Is(err, syscall.ENOSPC) {
		t.Fatalf("create on a full disk: %v, want ENOSPC", err)
	}
	f.Heal()
	if _, err := w.Write([]byte("more")); err != nil {
		t.Fatalf("write after heal: %v", err)
	}
	if got := readFile(t, p); string(got) != "beforemore" {
		t.Fatalf("read %q", got)
	}
}

func TestFsyncFailAndSlow(t *testing.T) {
	f := mount(t)
	p := filepath.Join(f.Mountpoint(), "x")
	w := writeFile(t, p, []byte("unsynced"), false)
	defer w.Close()
	f.SetFsyncFail(true)
	if err := w.Sync(); !errors.Is(err, syscall.EIO) {
		t.Fatalf("fsync while failing: %v, want EIO", err)
	}
	f.Heal()
	f.SetFsyncDelay(200 * time.Millisecond)
	start := time.Now()
	if err := w.Sync(); err != nil {
		t.Fatal(err)
	}
	if d := time.Since(start); d < 200*time.Millisecond {
		t.Fatalf("slow fsync took %v, want at least 200ms", d)
	}
	f.Heal()
	start = time.Now()
	if err := w.Sync(); err != nil {
		t.Fatal(err)
	}
	if d := time.Since(start); d > 150*time.Millisecond {
		t.Fatalf("healed fsync took %v", d)
	}
}

func TestFailedFsyncLeavesDataUnsynced(t *testing.T) {
	f := mount(t)
	p := filepath.Join(f.Mountpoint(), "x")
	w := writeFile(t, p, []byte("a"), true)
	if _, err := w.Write([]byte("b")); err != nil {
		t.Fatal(err)
	}
	f.SetFsyncFail(true)
	if err := w.Sync(); err == nil {
		t.Fatal("fsync succeeded while failing")
	}
	w.Close()
	powerLoss(t, f)
	if got := readFile(t, p); string(got) != "a" {
		t.Fatalf("read %q, want only the synced %q", got, "a")
	}
}

// TestSweepUnmountsOrphans mounts from a child process that is then
// killed with SIGKILL: Sweep must unmount its mount, and only that one.
func TestSweepUnmountsOrphans(t *testing.T) {
	live := mount(t)
	dir := t.TempDir()
	backing, mp := filepath.Join(dir, "backing"), filepath.Join(dir, "mnt")
	for _, d := range []string{backing, mp} {
		if err := os.Mkdir(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	cmd := exec.Command(os.Args[0], "-test.run=^TestHelperMount$")
	cmd.Env = append(os.Environ(), "FAULTFS_CHILD_MOUNT="+backing+":"+mp)
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
		_ = syscall.Unmount(mp, syscall.MNT_DETACH)
	})
	buf := make([]byte, 64)
	n, _ := out.Read(buf)
	if !strings.Contains(string(buf[:n]), "mounted") {
		t.Fatalf("child said %q", buf[:n])
	}
	if err := cmd.Process.Kill(); err != nil {
		t.Fatal(err)
	}
	_ = cmd.Wait()
	swept, err := Sweep()
	if err != nil {
		t.Fatal(err)
	}
	if len(swept) != 1 || swept[0] != mp {
		t.Fatalf("swept %q, want [%q]", swept, mp)
	}
	if mounted(t, live.Mountpoint()) == false {
		t.Fatal("Sweep unmounted this process's live mount")
	}
	if mounted(t, mp) {
		t.Fatal("orphan still mounted")
	}
}

func mounted(t *testing.T, mp string) bool {
	b, err := os.ReadFile("/proc/self/mounts")
	if err != nil {
		t.Fatal(err)
	}
	for _, line := range strings.Split(string(b), "\n") {
		if f := strings.Fields(line); len(f) > 1 && unescapeMount(f[1]) == mp {
			return true
		}
	}
	return false
}

// TestHelperMount is the child of TestSweepUnmountsOrphans.
func TestHelperMount(t *testing.T) {
	spec := os.Getenv("FAULTFS_CHILD_MOUNT")
	if spec == "" {
		t.Skip("helper process for TestSweepUnmountsOrphans")
	}
	backing, mp, _ := strings.Cut(spec, ":")
	if _, err := Mount(backing, mp); err != nil {
		t.Fatal(err)
	}
	os.Stdout.WriteString("mounted " + strconv.Itoa(os.Getpid()) + "\n")
	select {}
}

// A copy into a synced file by copy_file_range is un-synced data like any
// write.
func TestCopiedDataIsDroppedByPowerLoss(t *testing.T) {
	f := mount(t)
	src, dst := filepath.Join(f.Mountpoint(), "src"), filepath.Join(f.Mountpoint(), "dst")
	writeFile(t, src, bytes.Repeat([]byte("n"), 8192), true).Close()
	writeFile(t, dst, bytes.Repeat([]byte("o"), 8192), true).Close()
	in, err := os.Open(src)
	if err != nil {
		t.Fatal(err)
	}
	defer in.Close()
	out, err := os.OpenFile(dst, os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	// copy_file_range itself, which the FUSE kernel module hands to the
	// file system as one request; if refused, a copy by read and write.
	if n, err := unix.CopyFileRange(int(in.Fd()), nil, int(out.Fd()), nil, 8192, 0); err != nil || n != 8192 {
		t.Logf("copy_file_range: %d, %v; copying with read and write", n, err)
		if _, err := io.Copy(out, in); err != nil {
			t.Fatal(err)
		}
	}
	out.Close()
	if got := readFile(t, dst); got[0] != 'n' {
		t.Fatalf("copy did not land: %q...", got[:8])
	}
	powerLoss(t, f)
	if got := readFile(t, dst); !bytes.Equal(got, bytes.Repeat([]byte("o"), 8192)) {
		t.Fatalf("after power loss dst starts %q, want the synced content", got[:8])
	}
}
