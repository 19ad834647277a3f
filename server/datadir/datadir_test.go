package datadir

import (
	"context"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/zkbench/zkbench/server/config"
	"github.com/zkbench/zkbench/server/proto"
	"github.com/zkbench/zkbench/server/replica"
	"github.com/zkbench/zkbench/server/tree"
	"github.com/zkbench/zkbench/server/wal"
)

func quiet() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }

func openTest(t *testing.T, snapCount int) *Dir {
	t.Helper()
	dir := t.TempDir()
	d, err := Open(&config.Config{DataDir: dir, DataLogDir: filepath.Join(dir, "log"), TickTime: 100, SnapCount: snapCount}, quiet())
	if err != nil {
		t.Fatal(err)
	}
	return d
}

func createRecord(zxid int64, path string) []byte {
	var e proto.Encoder
	(&proto.TxnHeader{ClientID: 1, Zxid: zxid, Time: 1, Type: proto.OpCreate}).Encode(&e)
	(&proto.CreateTxn{Path: path, Data: []byte("x"), ACL: proto.OpenACLUnsafe, ParentCVersion: int32(zxid)}).Encode(&e)
	return append([]byte(nil), e.Bytes()...)
}

// TestOpenCreatesUpstreamLayout: snapshots in dataDir/version-2, the log
// in dataLogDir/version-2, both created.
func TestOpenCreatesUpstreamLayout(t *testing.T) {
	d := openTest(t, 100)
	for _, dir := range []string{d.SnapDir, d.LogDir} {
		if filepath.Base(dir) != "version-2" {
			t.Errorf("%s is not a version-2 directory", dir)
		}
		if fi, err := os.Stat(dir); err != nil || !fi.IsDir() {
			t.Errorf("%s not created: %v", dir, err)
		}
	}
	if d.SnapDir == d.LogDir {
		t.Errorf("dataLogDir ignored: both in %s", d.SnapDir)
	}
}

// TestRecoverEmpty: no snapshot and no log is an empty tree.
func TestRecoverEmpty(t *testing.T) {
	st, err := openTest(t, 100).Recover()
	if err != nil {
		t.Fatal(err)
	}
	if st.SnapZxid != 0 || st.Replayed != 0 || st.Tree.LastZxid() != 0 || len(st.Sessions) != 0 {
		t.Fatalf("empty data dir recovered %+v", st)
	}
}

// TestRecoverSnapshotThenLog: recovery starts from the newest snapshot and
// replays (and hands to keep) only the log records after it.
func TestRecoverSnapshotThenLog(t *testing.T) {
	d := openTest(t, 100)
	l, err := wal.Open(d.LogDir, wal.Options{ForceSync: true, Logger: quiet()})
	if err != nil {
		t.Fatal(err)
	}
	for z := int64(1); z <= 4; z++ {
		if err := l.Append(z, createRecord(z, "/n"+string(rune('0'+z)))); err != nil {
			t.Fatal(err)
		}
	}
	if err := l.Sync(); err != nil {
		t.Fatal(err)
	}
	l.Close()
	// A snapshot as of zxid 2: the tree after the first two creates.
	st, err := d.Recover()
	if err != nil || st.Replayed != 4 {
		t.Fatalf("log only: replayed %v, %v", st, err)
	}
	r := replica.New(replica.Options{TickMs: 100, Logger: quiet()})
	for z := int64(1); z <= 2; z++ {
		lt, _ := proto.DecodeLoggedTxn(createRecord(z, "/n"+string(rune('0'+z))))
		r.Apply(&lt.Header, lt.Body)
	}
	if _, err := replica.WriteSnapshot(d.SnapDir, r.Tree(), r.Sessions(), 2); err != nil {
		t.Fatal(err)
	}

	var kept []int64
	st, err = d.RecoverKeeping(func(zxid int64, _ []byte) { kept = append(kept, zxid) })
	if err != nil {
		t.Fatal(err)
	}
	if st.SnapZxid != 2 || st.Replayed != 2 || len(kept) != 2 || kept[0] != 3 || kept[1] != 4 {
		t.Fatalf("snapshot 2 + log: snap zxid %d, replayed %d, kept %v", st.SnapZxid, st.Replayed, kept)
	}
	for _, p := range []string{"/n1", "/n2", "/n3", "/n4"} {
		if _, ok := st.Tree.Lookup(p); !ok {
			t.Errorf("%s missing after recovery", p)
		}
	}
}

// TestSnapshotterInterval: the interval is upstream's randomised roll,
// snapCount/2 + rand(snapCount/2); Applied rolls the log and writes a
// snapshot once it is due.
func TestSnapshotterInterval(t *testing.T) {
	d := openTest(t, 10)
	var rolls int
	s := d.NewSnapshotter(func() error { rolls++; return nil }, tree.New, func() map[int64]int32 { return map[int64]int32{} })
	if s.every < 5 || s.every >= 10 {
		t.Fatalf("snapCount 10: every %d, want in [5, 10)", s.every)
	}
	for z := int64(1); z <= s.every; z++ {
		s.Applied(z)
	}
	if rolls != 1 {
		t.Fatalf("after %d txns: %d rolls, want 1", s.every, rolls)
	}
	deadline := time.Now().Add(5 * time.Second)
	for s.running.Load() && time.Now().Before(deadline) {
		time.Sleep(time.Millisecond)
	}
	if names, _ := filepath.Glob(filepath.Join(d.SnapDir, "snapshot.*")); len(names) != 1 {
		t.Fatalf("snapshots written: %v", names)
	}
}

// TestAutopurgeOff: a purgeInterval of 0 returns at once.
func TestAutopurgeOff(t *testing.T) {
	done := make(chan struct{})
	go func() { openTest(t, 100).Autopurge(context.Background()); close(done) }()
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		t.Fatal("Autopurge with purgeInterval 0 did not return")
	}
}

// TestAtTouchesNothing: At names the directories without creating them
// (zkserver purge must not make a data directory that is not there).
func TestAtTouchesNothing(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "absent")
	d := At(&config.Config{DataDir: dir, DataLogDir: dir}, nil)
	if d.SnapDir != filepath.Join(dir, "version-2") || d.LogDir != d.SnapDir {
		t.Fatalf("At: snapshots in %s, log in %s", d.SnapDir, d.LogDir)
	}
	if _, err := os.Stat(dir); !os.IsNotExist(err) {
		t.Fatalf("At created %s: %v", dir, err)
	}
}

// TestOpenLogUsesLogDir: the log OpenLog opens appends in LogDir.
func TestOpenLogUsesLogDir(t *testing.T) {
	d := openTest(t, 100)
	l, err := d.OpenLog()
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	if l.Dir() != d.LogDir {
		t.Fatalf("log in %s, want %s", l.Dir(), d.LogDir)
	}
}
