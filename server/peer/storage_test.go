package peer

import (
	"bytes"
	"errors"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"testing"

	"github.com/zkbench/zkbench/server/proto"
	"github.com/zkbench/zkbench/server/wal"
	"github.com/zkbench/zkbench/server/zab"
)

// entry makes a log entry whose data is a real txn header (wal checks it).
func entry(zxid int64) zab.Entry {
	var e proto.Encoder
	(&proto.TxnHeader{Zxid: zxid, Type: proto.OpCreateSession}).Encode(&e)
	(&proto.CreateSessionTxn{TimeOut: 1000}).Encode(&e)
	return zab.Entry{Zxid: zxid, Data: e.Bytes()}
}

func newTestStorage(t *testing.T) *storage {
	t.Helper()
	dir := t.TempDir()
	opts := wal.Options{PreAllocSize: -1}
	l, err := wal.Open(dir, opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	return newStorage(dir, dir, l, opts, 0)
}

func TestStorageWindow(t *testing.T) {
	s := newTestStorage(t)
	s.maxEntries = 3
	var es []zab.Entry
	for z := int64(1); z <= 5; z++ {
		es = append(es, entry(z))
	}
	s.remember(es)
	// Nothing applied yet: nothing may go, however far past the bounds.
	s.trim(0)
	if s.BaseZxid() != 0 || s.LastZxid() != 5 {
		t.Fatalf("window (base %d, last %d) with nothing applied, want (0, 5)", s.BaseZxid(), s.LastZxid())
	}
	s.trim(1)
	if s.BaseZxid() != 1 {
		t.Fatalf("window base %d with 1 applied, want 1: entries past applied stay", s.BaseZxid())
	}
	s.trim(5)
	if s.BaseZxid() != 2 || s.LastZxid() != 5 {
		t.Fatalf("window (base %d, last %d), want (2, 5)", s.BaseZxid(), s.LastZxid())
	}
	got, err := s.Entries(3, -1)
	if err != nil || len(got) != 2 || got[0].Zxid != 4 {
		t.Fatalf("entries after 3: %v %v", got, err)
	}
	if _, err := s.Entries(1, -1); !errors.Is(err, zab.ErrCompacted) {
		t.Fatalf("entries before the window: %v, want ErrCompacted", err)
	}
	if f, err := s.Floor(4); err != nil || f != 4 {
		t.Fatalf("floor(4) = %d %v", f, err)
	}
	if f, err := s.Floor(100); err != nil || f != 5 {
		t.Fatalf("floor(100) = %d %v", f, err)
	}
}

func TestStorageTruncateAndReset(t *testing.T) {
	s := newTestStorage(t)
	es := []zab.Entry{entry(1), entry(2), entry(3)}
	if err := s.append(es); err != nil {
		t.Fatal(err)
	}
	if err := s.log.Sync(); err != nil {
		t.Fatal(err)
	}
	s.remember(es)
	if err := s.truncate(1); err != nil {
		t.Fatal(err)
	}
	if s.LastZxid() != 1 {
		t.Fatalf("last after truncate to 1: %d", s.LastZxid())
	}
	// After a truncation the log takes zxids below the old last one.
	if err := s.append([]zab.Entry{entry(2)}); err != nil {
		t.Fatalf("append after truncate: %v", err)
	}
	if err := s.log.Sync(); err != nil {
		t.Fatal(err)
	}
	var read []int64
	if err := wal.ReadFrom(s.logDir, 0, func(z int64, _ []byte) error { read = append(read, z); return nil }); err != nil {
		t.Fatal(err)
	}
	if len(read) != 2 || read[0] != 1 || read[1] != 2 {
		t.Fatalf("log after truncate and append: %v, want [1 2]", read)
	}
	if err := s.reset(10); err != nil {
		t.Fatal(err)
	}
	if files, _ := filepath.Glob(filepath.Join(s.logDir, "log.*")); len(files) != 0 {
		t.Fatalf("log files left after a snapshot reset: %v", files)
	}
	if s.BaseZxid() != 10 || s.LastZxid() != 10 {
		t.Fatalf("after reset: base %d last %d", s.BaseZxid(), s.LastZxid())
	}
}

// TestStorageRecoverLog: after the log failed, the member recovers it to
// the entries it announced (the window's), dropping what was written but
// never acknowledged and a torn tail, and appends on from there.
func TestStorageRecoverLog(t *testing.T) {
	s := newTestStorage(t)
	durable := []zab.Entry{entry(1), entry(2), entry(3)}
	if err := s.append(durable); err != nil {
		t.Fatal(err)
	}
	if err := s.log.Sync(); err != nil {
		t.Fatal(err)
	}
	s.remember(durable)
	// A Ready whose entries were written, but whose fsync failed: they
	// never enter the window and are never acknowledged.
	if err := s.append([]zab.Entry{entry(4), entry(5)}); err != nil {
		t.Fatal(err)
	}
	if err := s.log.Sync(); err != nil {
		t.Fatal(err)
	}
	if err := s.log.Append(5, entry(5).Data); err == nil {
		t.Fatal("a repeated zxid was appended")
	}
	if s.log.Err() == nil {
		t.Fatal("the log is not poisoned after a failed append")
	}
	// And a torn record after them, as a failed write leaves.
	f, err := os.OpenFile(filepath.Join(s.logDir, wal.LogName(1)), os.O_WRONLY|os.O_APPEND, 0)
	if err != nil {
		t.Fatal(err)
	}
	// checksum, length 50, then 3 of its 50 payload bytes
	f.Write([]byte{0, 0, 0, 0, 0x12, 0x34, 0x56, 0x78, 0, 0, 0, 50, 1, 2, 3})
	f.Close()

	if err := s.recoverLog(slog.New(slog.NewTextHandler(io.Discard, nil))); err != nil {
		t.Fatal(err)
	}
	if err := s.log.Err(); err != nil {
		t.Fatalf("the recovered log: %v", err)
	}
	if got := readZxids(t, s.logDir); !slices.Equal(got, []int64{1, 2, 3}) {
		t.Fatalf("log after recovery: %v, want [1 2 3]", got)
	}
	next := entry(4)
	next.Data = append([]byte(nil), next.Data...)
	next.Data[len(next.Data)-1] ^= 1 // the new leader's txn 4 differs
	if err := s.append([]zab.Entry{next}); err != nil {
		t.Fatalf("append after recovery: %v", err)
	}
	if err := s.log.Sync(); err != nil {
		t.Fatal(err)
	}
	var last []byte
	got := readZxids(t, s.logDir, func(z int64, rec []byte) {
		if z == 4 {
			last = append([]byte(nil), rec...)
		}
	})
	if !slices.Equal(got, []int64{1, 2, 3, 4}) || !bytes.Equal(last, next.Data) {
		t.Fatalf("log after recovery and an append: %v (txn 4 the new one: %v), want [1 2 3 4]", got, bytes.Equal(last, next.Data))
	}
}

// readZxids reads the whole log in dir, handing each record to fns.
func readZxids(t *testing.T, dir string, fns ...func(int64, []byte)) []int64 {
	t.Helper()
	var out []int64
	err := wal.ReadFrom(dir, 0, func(z int64, rec []byte) error {
		out = append(out, z)
		for _, fn := range fns {
			fn(z, rec)
		}
		return nil
	})
	if err != nil {
		t.Fatalf("reading the log: %v", err)
	}
	return out
}

func TestStorageEpochs(t *testing.T) {
	s := newTestStorage(t)
	if err := s.loadEpochs(zab.Zxid(3, 7)); err != nil {
		t.Fatal(err)
	}
	if s.AcceptedEpoch() != 3 || s.CurrentEpoch() != 3 {
		t.Fatalf("epochs default to the last zxid's epoch: %d %d", s.AcceptedEpoch(), s.CurrentEpoch())
	}
	if err := s.saveEpochs(zab.Epochs{Accepted: 5, Current: 4}); err != nil {
		t.Fatal(err)
	}
	s2 := newStorage(s.logDir, s.epochDir, s.log, s.logOpts, 0)
	if err := s2.loadEpochs(0); err != nil {
		t.Fatal(err)
	}
	if s2.AcceptedEpoch() != 5 || s2.CurrentEpoch() != 4 {
		t.Fatalf("epochs read back: %d %d, want 5 4", s2.AcceptedEpoch(), s2.CurrentEpoch())
	}
	os.WriteFile(filepath.Join(s.epochDir, currentEpochFile), []byte("six\n"), 0o644)
	if err := s2.loadEpochs(0); err == nil {
		t.Fatal("a corrupt currentEpoch file was accepted")
	}
	os.WriteFile(filepath.Join(s.epochDir, currentEpochFile), []byte("9\n"), 0o644)
	if err := s2.loadEpochs(0); err == nil {
		t.Fatal("currentEpoch newer than acceptedEpoch was accepted")
	}
}

func TestForwardedRequestRoundTrip(t *testing.T) {
	for _, r := range []*struct {
		sid  int64
		op   proto.OpCode
		body proto.Record
	}{
		{1, proto.OpSetData, &proto.SetDataRequest{Path: "/a", Data: []byte("x"), Version: 3}},
		{2, proto.OpCreateSession, nil},
		{3, proto.OpMulti, &proto.MultiRequest{Ops: []proto.MultiOp{proto.NewMultiOp(proto.OpDelete, &proto.DeleteRequest{Path: "/b", Version: -1})}}},
	} {
		in := encodeRequest(new(proto.Encoder), &proto.Request{SessionID: r.sid, Cxid: 9, Op: r.op, Body: r.body, TimeOut: 4000, Auth: []proto.ID{{Scheme: "ip", ID: "127.0.0.1"}}})
		out, err := decodeRequest(new(proto.Decoder), in, []proto.ID{{Scheme: "ip", ID: "127.0.0.1"}})
		if err != nil {
			t.Fatalf("%v: %v", r.op, err)
		}
		wantTimeout := int32(0)
		if r.op == proto.OpCreateSession {
			wantTimeout = 4000
		}
		if out.SessionID != r.sid || out.Cxid != 9 || out.Op != r.op || out.TimeOut != wantTimeout || len(out.Auth) != 1 {
			t.Fatalf("%v: round trip gave %+v", r.op, out)
		}
		if (out.Body == nil) != (r.body == nil) {
			t.Fatalf("%v: body %v", r.op, out.Body)
		}
	}
	for i := 0; i < len(encodeRequest(new(proto.Encoder), &proto.Request{Op: proto.OpSetData, Body: &proto.SetDataRequest{Path: "/a"}})); i++ {
		if _, err := decodeRequest(new(proto.Decoder), encodeRequest(new(proto.Encoder), &proto.Request{Op: proto.OpSetData, Body: &proto.SetDataRequest{Path: "/a"}})[:i], nil); err == nil {
			t.Fatalf("a forwarded request truncated to %d bytes decoded", i)
		}
	}
}

// A forwarded request is laid out as upstream's Learner.request writes it:
// long sessionId, int cxid, int type, then the record's bytes unframed
// (createSession: the int timeout; closeSession: nothing).
func TestForwardedRequestUpstreamLayout(t *testing.T) {
	got := encodeRequest(new(proto.Encoder), &proto.Request{SessionID: 0x0100000000000002, Cxid: 7, Op: proto.OpSetData,
		Body: &proto.SetDataRequest{Path: "/a", Data: []byte("x"), Version: 3}})
	want := []byte{1, 0, 0, 0, 0, 0, 0, 2, 0, 0, 0, 7, 0, 0, 0, 5,
		0, 0, 0, 2, '/', 'a', 0, 0, 0, 1, 'x', 0, 0, 0, 3}
	if !bytes.Equal(got, want) {
		t.Fatalf("setData forwarded as %x, want %x", got, want)
	}
	got = encodeRequest(new(proto.Encoder), &proto.Request{SessionID: 5, Op: proto.OpCreateSession, TimeOut: 30000})
	want = []byte{0, 0, 0, 0, 0, 0, 0, 5, 0, 0, 0, 0, 0xff, 0xff, 0xff, 0xf6, 0, 0, 0x75, 0x30}
	if !bytes.Equal(got, want) {
		t.Fatalf("createSession forwarded as %x, want %x", got, want)
	}
	got = encodeRequest(new(proto.Encoder), &proto.Request{SessionID: 5, Cxid: 1, Op: proto.OpCloseSession})
	if len(got) != 16 {
		t.Fatalf("closeSession forwarded as %x, want only the 16-byte head", got)
	}
}
