package server_test

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/go-zookeeper/zk"

	"github.com/zkbench/zkbench/internal/testenv"
	"github.com/zkbench/zkbench/internal/zktest"
)

// Disk-full tests with real processes: the transaction log lives on a
// small tmpfs that writes fill up. A server that cannot log must stop
// taking writes at once, acknowledge nothing it did not persist, and start
// again from the same data once space is freed.

// smallTmpfs mounts a tmpfs of size bytes on a new directory under the
// test's temporary directory and unmounts it in t.Cleanup (registered
// before the caller starts processes that use it, so it runs after they
// are killed). It skips, via testenv.Missing, where mounting is not
// permitted.
func smallTmpfs(t *testing.T, size int) string {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "tmpfs")
	if err := os.Mkdir(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := syscall.Mount("tmpfs", dir, "tmpfs", 0, fmt.Sprintf("size=%d", size)); err != nil {
		testenv.Missing(t, "cannot mount a tmpfs (needs CAP_SYS_ADMIN): %v", err)
	}
	t.Cleanup(func() {
		if err := syscall.Unmount(dir, 0); err != nil {
			t.Logf("unmount %s: %v; detaching it", dir, err)
			if err := syscall.Unmount(dir, syscall.MNT_DETACH); err != nil {
				t.Errorf("unmount %s: %v", dir, err)
			}
		}
	})
	return dir
}

// fillFile writes a file of n bytes, taking that much of a tmpfs.
func fillFile(t *testing.T, path string, n int) {
	t.Helper()
	if err := os.WriteFile(path, bytes.Repeat([]byte{0xAA}, n), 0o644); err != nil {
		t.Fatal(err)
	}
}

// diskFullValue is the data of the i-th znode the writers create.
func diskFullValue(i int) []byte { return bytes.Repeat([]byte{byte(i)}, 4096) }

func diskFullPath(i int) string { return fmt.Sprintf("/full/n%05d", i) }

// createUntilFailure creates /full/n00000, /full/n00001, ... of 4 KiB each
// through the servers at addrs, one at a time, until a create fails or
// limit succeed. It returns how many were acknowledged (0..n-1) and the
// error that ended it.
func createUntilFailure(t *testing.T, addrs []string, from, limit int) (int, error) {
	t.Helper()
	c, _, err := zk.Connect(addrs, 4*time.Second, zk.WithLogInfo(false), zk.WithLogger(quietLogger{}))
	if err != nil {
		t.Fatalf("connect: %v", err)
	}
	defer c.Close()
	open := zk.WorldACL(zk.PermAll)
	if _, err := c.Create("/full", nil, 0, open); err != nil && !errors.Is(err, zk.ErrNodeExists) {
		return from, err
	}
	i := from
	for ; i < limit; i++ {
		if _, err := c.Create(diskFullPath(i), diskFullValue(i), 0, open); err != nil {
			return i, err
		}
	}
	return i, nil
}

// checkAcknowledged reads /full/n00000 .. n-1 through addr and fails the
// test for any that is missing or differs.
func checkAcknowledged(t *testing.T, addr string, n int) {
	t.Helper()
	c := connect(t, addr)
	defer c.Close()
	for i := 0; i < n; i++ {
		data, _, err := c.Get(diskFullPath(i))
		if err != nil {
			t.Fatalf("acknowledged write %s lost: %v", diskFullPath(i), err)
		}
		if !bytes.Equal(data, diskFullValue(i)) {
			t.Fatalf("acknowledged write %s has other data (%d bytes)", diskFullPath(i), len(data))
		}
	}
}

// TestIntegrationDiskFullStandalone: a standalone server whose dataLogDir
// fills up exits non-zero saying why, loses no acknowledged write, and
// restarts from the same directories once space is freed.
func TestIntegrationDiskFullStandalone(t *testing.T) {
	mnt := smallTmpfs(t, 2<<20)
	filler := filepath.Join(mnt, "filler")
	fillFile(t, filler, 1<<20)
	p := zktest.StartProcess(t, "dataLogDir="+filepath.Join(mnt, "log"), "preAllocSize=64")

	acked, err := createUntilFailure(t, []string{p.Addr}, 0, 1000)
	if err == nil {
		t.Fatalf("%d creates of 4 KiB fitted in 1 MiB of log space", acked)
	}
	t.Logf("%d creates acknowledged before the disk filled; then: %v", acked, err)
	if acked < 50 {
		t.Fatalf("only %d creates before the failure; the log should hold about 200", acked)
	}
	code, exited := p.WaitExit(10 * time.Second)
	if !exited {
		out, _ := zktest.FourLetterWord(p.Addr, "ruok", time.Second)
		t.Fatalf("the server still runs 10s after its log filled up (ruok: %q)", out)
	}
	if code == 0 {
		t.Fatalf("the server exited with code 0 after its log failed")
	}
	logText := p.LogText(1)
	for _, want := range []string{"transaction log failed", "no space left on device"} {
		if !strings.Contains(logText, want) {
			t.Errorf("the server's output does not say %q:\n%s", want, tail(logText, 3000))
		}
	}

	if err := os.Remove(filler); err != nil {
		t.Fatal(err)
	}
	p.Start()
	checkAcknowledged(t, p.Addr, acked)
	// And it takes writes again.
	if n, err := createUntilFailure(t, []string{p.Addr}, acked+1, acked+11); err != nil {
		t.Fatalf("after the restart, create %s failed: %v", diskFullPath(n), err)
	}
}
