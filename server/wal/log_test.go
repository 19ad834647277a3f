package wal

import (
	"bytes"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"
)

// payloadFor is the deterministic test payload of zxid.
func payloadFor(zxid int64) []byte {
	return txn(zxid, fmt.Sprintf("/n%x", zxid), bytes.Repeat([]byte{byte(zxid)}, int(zxid%7)+1))
}

// writeLog writes one file per element of files, each holding the given
// zxids, rolling between them, and returns the directory.
func writeLog(t testing.TB, dir string, opts Options, files ...[]int64) {
	t.Helper()
	l, err := Open(dir, opts)
	if err != nil {
		t.Fatal(err)
	}
	for i, zs := range files {
		if i > 0 {
			if err := l.Roll(); err != nil {
				t.Fatal(err)
			}
		}
		for _, z := range zs {
			if err := l.Append(z, payloadFor(z)); err != nil {
				t.Fatal(err)
			}
		}
		if err := l.Sync(); err != nil {
			t.Fatal(err)
		}
	}
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
}

func span(from, to int64) []int64 {
	var out []int64
	for z := from; z <= to; z++ {
		out = append(out, z)
	}
	return out
}

// readAll reads the log from fromZxid, checking every payload.
func readAll(t testing.TB, dir string, from int64) ([]int64, error) {
	t.Helper()
	var got []int64
	err := ReadFrom(dir, from, func(z int64, rec []byte) error {
		if !bytes.Equal(rec, payloadFor(z)) {
			t.Errorf("zxid %#x: payload differs from what was written", z)
		}
		got = append(got, z)
		return nil
	})
	return got, err
}

func smallOpts() Options { return Options{PreAllocSize: 64 << 10, ForceSync: true} }

func fileNames(t testing.TB, dir string) []string {
	t.Helper()
	ents, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, e := range ents {
		names = append(names, e.Name())
	}
	return names
}

func TestWriteReadRoundTrip(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "version-2")
	writeLog(t, dir, smallOpts(), span(1, 50))
	if got, want := fileNames(t, dir), []string{"log.1"}; !slices.Equal(got, want) {
		t.Fatalf("files %v, want %v", got, want)
	}
	got, err := readAll(t, dir, 0)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(got, span(1, 50)) {
		t.Fatalf("read %v, want 1..50", got)
	}
	got, err = readAll(t, dir, 42)
	if err != nil || !slices.Equal(got, span(43, 50)) {
		t.Fatalf("ReadFrom(42) = %v, %v; want 43..50", got, err)
	}
	got, err = readAll(t, dir, 50)
	if err != nil || len(got) != 0 {
		t.Fatalf("ReadFrom(50) = %v, %v; want nothing", got, err)
	}
}

func TestRollAndMultiFileRead(t *testing.T) {
	dir := t.TempDir()
	e1 := int64(1) << 32
	e2 := int64(2) << 32
	writeLog(t, dir, smallOpts(), span(e1+1, e1+10), span(e1+11, e1+20), append(span(e1+21, e1+25), span(e2+1, e2+5)...))
	if got, want := fileNames(t, dir), []string{"log.100000001", "log.10000000b", "log.100000015"}; !slices.Equal(got, want) {
		t.Fatalf("files %v, want %v", got, want)
	}
	all := append(span(e1+1, e1+25), span(e2+1, e2+5)...)
	for _, from := range []int64{0, e1, e1 + 5, e1 + 10, e1 + 11, e1 + 24, e1 + 25, e2 + 3, e2 + 5} {
		var want []int64
		for _, z := range all {
			if z > from {
				want = append(want, z)
			}
		}
		got, err := readAll(t, dir, from)
		if err != nil || !slices.Equal(got, want) {
			t.Errorf("ReadFrom(%#x) = %x, %v; want %x", from, got, err, want)
		}
	}
	// Files ignored: not log files, or not exactly log.<hex>.
	for _, name := range []string{"log.100000001.fixed", "snapshot.100000000", "log.", "log.xyz"} {
		if err := os.WriteFile(filepath.Join(dir, name), []byte("junk"), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	if got, err := readAll(t, dir, 0); err != nil || !slices.Equal(got, all) {
		t.Errorf("with other files present: %x, %v", got, err)
	}
}

func TestPreallocation(t *testing.T) {
	dir := t.TempDir()
	const step = 16 << 10
	l, err := Open(dir, Options{PreAllocSize: step, ForceSync: true})
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	path := filepath.Join(dir, LogName(1))
	size := func() int64 {
		st, err := os.Stat(path)
		if err != nil {
			t.Fatal(err)
		}
		return st.Size()
	}
	written := int64(headerSize)
	var sizes []int64
	for z := int64(1); z <= 400; z++ {
		p := payloadFor(z)
		if err := l.Append(z, p); err != nil {
			t.Fatal(err)
		}
		if err := l.Sync(); err != nil {
			t.Fatal(err)
		}
		written += int64(recordOverhead + len(p))
		s := size()
		if s%step != 0 {
			t.Fatalf("after %d bytes the file is %d bytes, not a multiple of %d", written, s, step)
		}
		if s < written+preallocMargin || s > written+preallocMargin+step {
			t.Fatalf("after %d bytes the file is %d bytes; want the next step beyond %d", written, s, written+preallocMargin)
		}
		if len(sizes) == 0 || sizes[len(sizes)-1] != s {
			sizes = append(sizes, s)
		}
	}
	if len(sizes) < 3 {
		t.Fatalf("file sizes %v: want it to grow step by step", sizes)
	}
	for i, s := range sizes {
		if s != int64(i+1)*step {
			t.Fatalf("file sizes %v: want %d, %d, ...", sizes, step, 2*step)
		}
	}
	// The reader stops at the zero area.
	got, err := readAll(t, dir, 0)
	if err != nil || !slices.Equal(got, span(1, 400)) {
		t.Fatalf("read back %d txns, err %v", len(got), err)
	}

	// Negative PreAllocSize: no preallocation.
	dir2 := t.TempDir()
	writeLog(t, dir2, Options{PreAllocSize: -1, ForceSync: true}, span(1, 3))
	st, err := os.Stat(filepath.Join(dir2, LogName(1)))
	if err != nil {
		t.Fatal(err)
	}
	want := int64(headerSize)
	for z := int64(1); z <= 3; z++ {
		want += int64(recordOverhead + len(payloadFor(z)))
	}
	if st.Size() != want {
		t.Fatalf("unpreallocated file is %d bytes, want %d", st.Size(), want)
	}
}

// TestPreallocationStepCapped: the default 64 MiB step is written as 1 MiB
// of zeros at a time, and a buffer larger than a step is covered whole.
func TestPreallocationStepCapped(t *testing.T) {
	dir := t.TempDir()
	l, err := Open(dir, Options{ForceSync: true})
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	path := filepath.Join(dir, LogName(1))
	if err := l.Append(1, payloadFor(1)); err != nil {
		t.Fatal(err)
	}
	if err := l.Sync(); err != nil {
		t.Fatal(err)
	}
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if len(data) != maxPreAllocStep {
		t.Fatalf("after one small record the file is %d bytes, want %d", len(data), maxPreAllocStep)
	}
	used := headerSize + recordOverhead + len(payloadFor(1))
	if i := slices.IndexFunc(data[used:], func(b byte) bool { return b != 0 }); i >= 0 {
		t.Fatalf("byte %d after the record is %#x, want zeros", used+i, data[used+i])
	}

	// 3 MiB of records before the next sync: the file grows past them in
	// 1 MiB steps.
	z := int64(2)
	for n := 0; n < 3<<20; z++ {
		p := payloadFor(z)
		if err := l.Append(z, p); err != nil {
			t.Fatal(err)
		}
		n += recordOverhead + len(p)
	}
	if err := l.Sync(); err != nil {
		t.Fatal(err)
	}
	st, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if st.Size()%maxPreAllocStep != 0 || st.Size() < 4<<20 || st.Size() > 5<<20 {
		t.Fatalf("after 3 MiB more the file is %d bytes, want 4 or 5 MiB", st.Size())
	}
	got, err := readAll(t, dir, 0)
	if err != nil || !slices.Equal(got, span(1, z-1)) {
		t.Fatalf("read back %v, err %v; want 1..%d", got, err, z-1)
	}
}

func TestAppendValidates(t *testing.T) {
	dir := t.TempDir()
	l, err := Open(dir, smallOpts())
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	if l.LastZxid() != -1 {
		t.Fatalf("LastZxid before any append = %d, want -1", l.LastZxid())
	}
	if err := l.Append(5, payloadFor(5)); err != nil {
		t.Fatal(err)
	}
	if l.LastZxid() != 5 {
		t.Fatalf("LastZxid = %d, want 5", l.LastZxid())
	}
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	if err := l.Append(6, payloadFor(6)); !errors.Is(err, ErrClosed) {
		t.Fatalf("append after close: %v", err)
	}
	// A new Log never appends to an existing file: the next file is new.
	l2, err := Open(dir, smallOpts())
	if err != nil {
		t.Fatal(err)
	}
	if err := l2.Append(6, payloadFor(6)); err != nil {
		t.Fatal(err)
	}
	if err := l2.Close(); err != nil {
		t.Fatal(err)
	}
	if got, want := fileNames(t, dir), []string{"log.5", "log.6"}; !slices.Equal(got, want) {
		t.Fatalf("files %v, want %v", got, want)
	}
}

// TestAppendFailurePoisons: an Append that fails, for whatever reason,
// leaves its txn out of the log, so every later call must fail too:
// logging the next txn would leave a hole in the history (the data dir
// would then refuse to restart) and acknowledge a write after a lost one.
func TestAppendFailurePoisons(t *testing.T) {
	cases := []struct {
		name string
		bad  func(t *testing.T, dir string, l *Log) error // the failing Append
		want string
	}{
		{"mismatched zxid", func(_ *testing.T, _ string, l *Log) error { return l.Append(5, payloadFor(6)) }, "TxnHeader has zxid 0x6"},
		{"short record", func(_ *testing.T, _ string, l *Log) error { return l.Append(5, []byte("short")) }, "record of 5 bytes"},
		{"repeated zxid", func(t *testing.T, _ string, l *Log) error {
			if err := l.Append(4, payloadFor(4)); err != nil {
				t.Fatal(err)
			}
			return l.Append(4, payloadFor(4))
		}, "zxids must increase"},
		{"file exists", func(t *testing.T, dir string, l *Log) error {
			if err := os.WriteFile(filepath.Join(dir, LogName(5)), nil, 0o644); err != nil {
				t.Fatal(err)
			}
			return l.Append(5, payloadFor(5))
		}, "create log file"},
		{"directory gone", func(t *testing.T, dir string, l *Log) error {
			if err := os.RemoveAll(dir); err != nil {
				t.Fatal(err)
			}
			defer os.MkdirAll(dir, 0o755) // the next file could be created
			return l.Append(5, payloadFor(5))
		}, "create log file"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			dir := filepath.Join(t.TempDir(), "version-2")
			l, err := Open(dir, smallOpts())
			if err != nil {
				t.Fatal(err)
			}
			defer l.Close()
			bad := tc.bad(t, dir, l)
			if bad == nil || !strings.Contains(bad.Error(), tc.want) {
				t.Fatalf("failing Append = %v, want an error containing %q", bad, tc.want)
			}
			if err := l.Append(6, payloadFor(6)); !errors.Is(err, bad) {
				t.Fatalf("Append after a failed Append = %v, want the same error", err)
			}
			if err := l.Sync(); !errors.Is(err, bad) {
				t.Fatalf("Sync after a failed Append = %v, want the same error", err)
			}
			if err := l.Roll(); !errors.Is(err, bad) {
				t.Fatalf("Roll after a failed Append = %v, want the same error", err)
			}
			if err := l.Close(); !errors.Is(err, bad) {
				t.Fatalf("Close = %v, want the Append's error", err)
			}
			if slices.Contains(fileNames(t, dir), LogName(6)) {
				t.Fatalf("the txn after the failed one was written to %s", LogName(6))
			}
		})
	}
}

func TestSyncFailurePoisons(t *testing.T) {
	dir := t.TempDir()
	l, err := Open(dir, smallOpts())
	if err != nil {
		t.Fatal(err)
	}
	boom := errors.New("EIO")
	l.fsync = func(*os.File) error { return boom }
	if err := l.Append(1, payloadFor(1)); err != nil {
		t.Fatal(err)
	}
	if err := l.Sync(); !errors.Is(err, boom) {
		t.Fatalf("Sync = %v, want the fsync error", err)
	}
	l.fsync = fdatasync
	if err := l.Append(2, payloadFor(2)); !errors.Is(err, boom) {
		t.Fatalf("Append after failed sync = %v, want the same error", err)
	}
	if err := l.Sync(); !errors.Is(err, boom) {
		t.Fatalf("Sync after failed sync = %v, want the same error", err)
	}
	if err := l.Close(); !errors.Is(err, boom) {
		t.Fatalf("Close = %v, want the sync error", err)
	}
}

// logBuffer is a concurrency-safe log sink for tests.
type logBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (w *logBuffer) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.b.Write(p)
}

func (w *logBuffer) String() string {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.b.String()
}

func TestForceSyncOff(t *testing.T) {
	var out logBuffer
	logger := slog.New(slog.NewTextHandler(&out, nil))
	dir := t.TempDir()
	l, err := Open(dir, Options{Logger: logger})
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(out.String(), "level=WARN") || !strings.Contains(out.String(), "NOT fsynced") {
		t.Fatalf("forceSync=no not announced; log: %q", out.String())
	}
	syncs := 0
	l.fsync = func(*os.File) error { syncs++; return nil }
	if err := l.Append(1, payloadFor(1)); err != nil {
		t.Fatal(err)
	}
	if err := l.Sync(); err != nil {
		t.Fatal(err)
	}
	if syncs != 0 {
		t.Fatalf("%d fsyncs with ForceSync off", syncs)
	}
	// Still flushed: readable by another reader.
	if got, err := readAll(t, dir, 0); err != nil || !slices.Equal(got, []int64{1}) {
		t.Fatalf("read %v, %v", got, err)
	}
	l.Close()

	out2 := &logBuffer{}
	if _, err := Open(t.TempDir(), Options{ForceSync: true, Logger: slog.New(slog.NewTextHandler(out2, nil))}); err != nil {
		t.Fatal(err)
	}
	if out2.String() != "" {
		t.Fatalf("ForceSync on logged %q", out2.String())
	}
}

func TestSlowSyncWarning(t *testing.T) {
	var out logBuffer
	l, err := Open(t.TempDir(), Options{ForceSync: true, SlowSyncWarn: time.Millisecond, Logger: slog.New(slog.NewTextHandler(&out, nil))})
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	l.fsync = func(f *os.File) error { time.Sleep(5 * time.Millisecond); return fdatasync(f) }
	if err := l.Append(1, payloadFor(1)); err != nil {
		t.Fatal(err)
	}
	if err := l.Sync(); err != nil {
		t.Fatal(err)
	}
	if s := out.String(); !strings.Contains(s, "level=WARN") || !strings.Contains(s, "fsync of the transaction log was slow") || !strings.Contains(s, "file=log.1") {
		t.Fatalf("no slow-fsync warning; log: %q", s)
	}
}

func TestLogDir(t *testing.T) {
	if got := LogDir("/data", ""); got != "/data/version-2" {
		t.Errorf("LogDir without dataLogDir = %q", got)
	}
	if got := LogDir("/data", "/fastdisk/zk"); got != "/fastdisk/zk/version-2" {
		t.Errorf("LogDir with dataLogDir = %q", got)
	}
}

func TestPurge(t *testing.T) {
	layout := [][]int64{span(1, 5), span(6, 10), span(11, 15)}
	tests := []struct {
		zxid    int64
		removed []string
	}{
		{0, nil},
		{4, nil},
		{5, []string{"log.1"}}, // log.6 starts at 5+1
		{7, []string{"log.1"}},
		{10, []string{"log.1", "log.6"}},
		{15, []string{"log.1", "log.6"}}, // the newest file always stays
		{99, []string{"log.1", "log.6"}},
	}
	for _, tt := range tests {
		dir := t.TempDir()
		writeLog(t, dir, smallOpts(), layout...)
		removed, err := Purge(dir, tt.zxid)
		if err != nil || !slices.Equal(removed, tt.removed) {
			t.Errorf("Purge(%d) = %v, %v; want %v", tt.zxid, removed, err, tt.removed)
		}
		want := span(tt.zxid+1, 15)
		if got, err := readAll(t, dir, tt.zxid); err != nil || !slices.Equal(got, want) {
			t.Errorf("after Purge(%d): ReadFrom = %v, %v; want %v", tt.zxid, got, err, want)
		}
	}
}

// Appends go on while a Sync waits in fdatasync: the ensemble's loop keeps
// appending while its syncer fsyncs the batch before, as upstream's
// SyncRequestProcessor. The Sync covers what was appended before it was
// called; a later Sync covers the rest.
func TestAppendDuringSync(t *testing.T) {
	dir := t.TempDir()
	l, err := Open(dir, smallOpts())
	if err != nil {
		t.Fatal(err)
	}
	entered, release := make(chan struct{}), make(chan struct{})
	var once sync.Once
	l.fsync = func(f *os.File) error {
		once.Do(func() {
			close(entered)
			<-release
		})
		return fdatasync(f)
	}
	if err := l.Append(1, payloadFor(1)); err != nil {
		t.Fatal(err)
	}
	synced := make(chan error, 1)
	go func() { synced <- l.Sync() }()
	<-entered
	appended := make(chan error, 1)
	go func() { appended <- l.Append(2, payloadFor(2)) }()
	select {
	case err := <-appended:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(10 * time.Second):
		close(release)
		t.Fatal("Append waited for another goroutine's fdatasync")
	}
	close(release)
	if err := <-synced; err != nil {
		t.Fatal(err)
	}
	if err := l.Sync(); err != nil {
		t.Fatal(err)
	}
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	got, err := readAll(t, dir, 0)
	if err != nil || !slices.Equal(got, []int64{1, 2}) {
		t.Fatalf("read back %v, %v; want [1 2]", got, err)
	}
}

// A Sync that fails while another goroutine appends poisons the log: the
// append that raced it may have succeeded, but nothing after the failure
// is ever synced or appended again.
func TestSyncFailureDuringAppend(t *testing.T) {
	dir := t.TempDir()
	l, err := Open(dir, smallOpts())
	if err != nil {
		t.Fatal(err)
	}
	boom := errors.New("EIO")
	entered, release := make(chan struct{}), make(chan struct{})
	l.fsync = func(*os.File) error {
		close(entered)
		<-release
		return boom
	}
	if err := l.Append(1, payloadFor(1)); err != nil {
		t.Fatal(err)
	}
	synced := make(chan error, 1)
	go func() { synced <- l.Sync() }()
	<-entered
	if err := l.Append(2, payloadFor(2)); err != nil {
		t.Fatal(err)
	}
	close(release)
	if err := <-synced; !errors.Is(err, boom) {
		t.Fatalf("Sync = %v, want the fsync error", err)
	}
	if err := l.Append(3, payloadFor(3)); !errors.Is(err, boom) {
		t.Fatalf("Append after the failed sync = %v, want the same error", err)
	}
	if err := l.Sync(); !errors.Is(err, boom) {
		t.Fatalf("Sync after the failed sync = %v, want the same error", err)
	}
	_ = l.Close()
}
