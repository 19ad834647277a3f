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

// smallTmpfs mounts a tmpfs with the given mount options (size=2m) on a
// new directory under the test's temporary directory and unmounts it in
// t.Cleanup (registered before the caller starts processes that use it, so
// it runs after they are killed). It skips, via testenv.Missing, where
// mounting is not permitted.
func smallTmpfs(t *testing.T, options string) string {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "tmpfs")
	if err := os.Mkdir(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := syscall.Mount("tmpfs", dir, "tmpfs", 0, options); err != nil {
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
	mnt := smallTmpfs(t, "size=2m")
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
	requireFailedExit(t, p, "its log filled up")
	logText := p.LogText(1)
	for _, want := range []string{"transaction log failed", "no space left on device"} {
		if !strings.Contains(logText, want) {
			t.Errorf("the server's output does not say %q:\n%s", want, tail(logText, 3000))
		}
	}

	restartAfterFreeing(t, p, filler, acked, 10)
}

// TestIntegrationLogFileCreateFailureStandalone: when the log file a
// snapshot's roll calls for cannot be created (here the dataLogDir's tmpfs
// has no inode left), the standalone server exits non-zero saying why
// instead of skipping that txn and logging the next ones to a later file
// (which left a data dir that refused to restart: "txns missing"); once an
// inode is freed it restarts with every acknowledged write.
func TestIntegrationLogFileCreateFailureStandalone(t *testing.T) {
	// Inodes: the root, filler, log, log/version-2 and the first log file.
	mnt := smallTmpfs(t, "size=8m,nr_inodes=5")
	filler := filepath.Join(mnt, "filler")
	fillFile(t, filler, 1)
	p := zktest.StartProcess(t, "dataLogDir="+filepath.Join(mnt, "log"), "snapCount=20")

	acked, err := createUntilFailure(t, []string{p.Addr}, 0, 1000)
	if err == nil {
		t.Fatalf("%d creates without a snapshot's log roll failing", acked)
	}
	t.Logf("%d creates acknowledged before a log file could not be created; then: %v", acked, err)
	requireFailedExit(t, p, "a log file could not be created")
	if line := lineWith(p.LogText(1), "zkserver: "); !strings.Contains(line, "create log file") {
		t.Errorf("the server's last word does not say a log file could not be created: %q", line)
	}

	restartAfterFreeing(t, p, filler, acked, 5)
}

// requireFailedExit fails t unless the standalone server p exits with a
// non-zero code within 10 s of what happened to its log.
func requireFailedExit(t *testing.T, p *zktest.Process, what string) {
	t.Helper()
	code, exited := p.WaitExit(10 * time.Second)
	if !exited {
		out, _ := zktest.FourLetterWord(p.Addr, "ruok", time.Second)
		t.Fatalf("the server still runs 10s after %s (ruok: %q)", what, out)
	}
	if code == 0 {
		t.Fatalf("the server exited with code 0 after %s", what)
	}
}

// restartAfterFreeing removes filler, restarts p on the same directories
// and requires every one of the acked creates back and more new ones to
// succeed.
func restartAfterFreeing(t *testing.T, p *zktest.Process, filler string, acked, more int) {
	t.Helper()
	if err := os.Remove(filler); err != nil {
		t.Fatal(err)
	}
	p.Start()
	checkAcknowledged(t, p.Addr, acked)
	if n, err := createUntilFailure(t, []string{p.Addr}, acked+1, acked+1+more); err != nil {
		t.Fatalf("after the restart, create %s failed: %v", diskFullPath(n), err)
	}
}

// resizeTmpfs remounts the tmpfs at dir with a new size.
func resizeTmpfs(t *testing.T, dir string, size int) {
	t.Helper()
	if err := syscall.Mount("tmpfs", dir, "tmpfs", syscall.MS_REMOUNT, fmt.Sprintf("size=%d", size)); err != nil {
		t.Fatalf("remount %s with size %d: %v", dir, size, err)
	}
}

// startEnsembleOnTmpfs starts three zkservers, each with its dataLogDir on
// a tmpfs of its own (returned in the same order as the servers).
func startEnsembleOnTmpfs(t *testing.T, size string) (*zktest.Ensemble, []string) {
	t.Helper()
	root := t.TempDir()
	var servers, mnts, cfgs, addrs []string
	clientPorts := make([]int, 3)
	for i := range 3 {
		clientPorts[i] = zktest.FreePort(t)
		servers = append(servers, fmt.Sprintf("server.%d=127.0.0.1:%d:%d", i+1, zktest.FreePort(t), zktest.FreePort(t)))
		mnts = append(mnts, smallTmpfs(t, "size="+size))
	}
	for i := range 3 {
		dir := filepath.Join(root, fmt.Sprintf("s%d", i+1))
		data := filepath.Join(dir, "data")
		if err := os.MkdirAll(data, 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(data, "myid"), []byte(fmt.Sprintf("%d\n", i+1)), 0o644); err != nil {
			t.Fatal(err)
		}
		text := fmt.Sprintf("tickTime=200\ninitLimit=10\nsyncLimit=5\ndataDir=%s\ndataLogDir=%s\nclientPort=%d\n"+
			"clientPortAddress=127.0.0.1\n4lw.commands.whitelist=*\nmaxClientCnxns=0\npreAllocSize=64\n%s\n",
			data, filepath.Join(mnts[i], "log"), clientPorts[i], strings.Join(servers, "\n"))
		cfg := filepath.Join(dir, "zoo.cfg")
		if err := os.WriteFile(cfg, []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
		cfgs = append(cfgs, cfg)
		addrs = append(addrs, fmt.Sprintf("127.0.0.1:%d", clientPorts[i]))
	}
	return zktest.StartConfigs(t, false, cfgs, addrs), mnts
}

// TestIntegrationDiskFullLeader: the leader of three servers has its
// dataLogDir on a tmpfs that writes fill up. It leaves its role without
// acknowledging what it could not persist, the other two elect and go on
// taking writes, no acknowledged write is lost, and once space is freed
// the failed server rejoins, and restarts, with every acknowledged write.
func TestIntegrationDiskFullLeader(t *testing.T) {
	e, mnts := startEnsembleOnTmpfs(t, "64m")
	leader := e.Leader(10 * time.Second)
	if leader < 0 {
		t.Fatal("no leader")
	}
	lp := e.Servers[leader]
	resizeTmpfs(t, mnts[leader], 1<<20) // room for about 200 writes of 4 KiB

	// Write through every server until the leader's log has failed and
	// the other two have taken 50 more writes.
	c, _, err := zk.Connect(e.Addrs(), 4*time.Second, zk.WithLogInfo(false), zk.WithLogger(quietLogger{}))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	open := zk.WorldACL(zk.PermAll)
	if _, err := c.Create("/full", nil, 0, open); err != nil {
		t.Fatal(err)
	}
	var acked []int
	failedAt, failures := -1, 0
	deadline := time.Now().Add(90 * time.Second)
	for i := 0; failedAt < 0 || len(acked) < failedAt+50; i++ {
		if time.Now().After(deadline) {
			t.Fatalf("after %d creates (%d acknowledged, the leader's log failed after %d): out of time", i, len(acked), failedAt)
		}
		if _, err := c.Create(diskFullPath(i), diskFullValue(i), 0, open); err != nil {
			failures++
			time.Sleep(20 * time.Millisecond)
		} else {
			acked = append(acked, i)
		}
		if failedAt < 0 && (err != nil || i%20 == 0) && e.Mode(leader) != "leader" {
			failedAt = len(acked)
			t.Logf("the leader left its role after %d acknowledged creates", failedAt)
		}
	}
	t.Logf("%d creates acknowledged, %d failed (outcome unknown)", len(acked), failures)
	if failedAt < 50 {
		t.Fatalf("the leader's log failed after only %d creates; it should hold about 200", failedAt)
	}
	if m := e.Mode(leader); m == "leader" || m == "follower" {
		t.Fatalf("the failed leader serves as %s while its log is full", m)
	}
	if line := lineWith(lp.LogText(1), "transaction log failed"); line == "" {
		t.Errorf("the failed leader does not say its log failed:\n%s", tail(lp.LogText(1), 3000))
	} else {
		t.Logf("the failed leader says: %s", line)
	}
	newLeader := -1
	for i := range e.Servers {
		if i != leader && e.Mode(i) == "leader" {
			newLeader = i
		}
	}
	if newLeader < 0 {
		t.Fatalf("none of the other two leads after the leader's log failed")
	}
	checkAckedSet(t, e.Servers[newLeader].Addr, acked)

	// With the disk still full, the failed server tries to rejoin after
	// its pause, fails again and sits out longer; meanwhile the ensemble
	// takes every write. (Through the two healthy servers: a client of
	// the failed one is disconnected each time it fails again.)
	var healthy []string
	for i, s := range e.Servers {
		if i != leader {
			healthy = append(healthy, s.Addr)
		}
	}
	hc, _, err := zk.Connect(healthy, 4*time.Second, zk.WithLogInfo(false), zk.WithLogger(quietLogger{}))
	if err != nil {
		t.Fatal(err)
	}
	defer hc.Close()
	next := acked[len(acked)-1] + 1
	for end := time.Now().Add(5 * time.Second); time.Now().Before(end); next++ {
		if _, err := hc.Create(diskFullPath(next), diskFullValue(next), 0, open); err != nil {
			t.Fatalf("create %s while the failed server retries: %v", diskFullPath(next), err)
		}
		acked = append(acked, next)
		// Paced: unpaced, a fast ensemble fills the healthy servers'
		// 64 MiB logs too within the 5 s.
		time.Sleep(5 * time.Millisecond)
	}
	if n := strings.Count(lp.LogText(1), "transaction log failed"); n < 2 {
		t.Errorf("the failed server failed %d time(s) with its disk full for 5 s; it should have retried after its 2 s pause", n)
	}
	if m := e.Mode(leader); m == "leader" || m == "follower" {
		t.Fatalf("the failed leader serves as %s while its log is full", m)
	}

	// Free the space: the failed server rejoins by itself.
	resizeTmpfs(t, mnts[leader], 64<<20)
	waitMode(t, e, leader, 40*time.Second, "follower")
	checkAckedSet(t, lp.Addr, acked)
	// And its data dir restarts.
	lp.Kill()
	lp.Start()
	waitMode(t, e, leader, 30*time.Second, "follower", "leader")
	checkAckedSet(t, lp.Addr, acked)
}

// checkAckedSet reads every acknowledged znode through addr, after a sync.
func checkAckedSet(t *testing.T, addr string, acked []int) {
	t.Helper()
	c := connect(t, addr)
	defer c.Close()
	if _, err := c.Sync("/full"); err != nil {
		t.Fatalf("sync through %s: %v", addr, err)
	}
	for _, i := range acked {
		data, _, err := c.Get(diskFullPath(i))
		if err != nil {
			t.Fatalf("acknowledged write %s lost on %s: %v", diskFullPath(i), addr, err)
		}
		if !bytes.Equal(data, diskFullValue(i)) {
			t.Fatalf("acknowledged write %s has other data on %s", diskFullPath(i), addr)
		}
	}
}

// lineWith returns the first line of text that contains s, or "".
func lineWith(text, s string) string {
	for _, line := range strings.Split(text, "\n") {
		if strings.Contains(line, s) {
			return line
		}
	}
	return ""
}
