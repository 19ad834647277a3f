package proto

import (
	"bytes"
	"testing"
)

var data1K = bytes.Repeat([]byte("v"), 1024)

func benchEncode(b *testing.B, r Record) {
	b.ReportAllocs()
	e := NewEncoder(make([]byte, 0, 4096))
	for b.Loop() {
		e.Reset()
		r.Encode(e)
	}
	b.SetBytes(int64(e.Len()))
}

func benchDecode(b *testing.B, r Record) {
	b.ReportAllocs()
	buf := Marshal(r)
	into := newLike(r)
	d := NewDecoder(nil)
	b.SetBytes(int64(len(buf)))
	for b.Loop() {
		d.Reset(buf)
		into.Decode(d)
		if d.Err() != nil {
			b.Fatal(d.Err())
		}
	}
}

func BenchmarkEncodeGetDataRequest(b *testing.B) {
	benchEncode(b, &GetDataRequest{Path: "/bench/node-000042", Watch: false})
}

func BenchmarkDecodeGetDataRequest(b *testing.B) {
	benchDecode(b, &GetDataRequest{Path: "/bench/node-000042", Watch: false})
}

func BenchmarkEncodeGetDataResponse1K(b *testing.B) {
	benchEncode(b, &GetDataResponse{Data: data1K, Stat: testStat})
}

func BenchmarkDecodeGetDataResponse1K(b *testing.B) {
	benchDecode(b, &GetDataResponse{Data: data1K, Stat: testStat})
}

func BenchmarkEncodeSetDataRequest1K(b *testing.B) {
	benchEncode(b, &SetDataRequest{Path: "/bench/node-000042", Data: data1K, Version: -1})
}

func BenchmarkDecodeSetDataRequest1K(b *testing.B) {
	benchDecode(b, &SetDataRequest{Path: "/bench/node-000042", Data: data1K, Version: -1})
}

func BenchmarkAppendReplyStat(b *testing.B) {
	b.ReportAllocs()
	buf := make([]byte, 0, 4096)
	body := &SetDataResponse{Stat: testStat}
	for b.Loop() {
		buf = AppendReply(buf[:0], ReplyHeader{Xid: 1, Zxid: 2}, body)
	}
	b.SetBytes(int64(len(buf)))
}

func BenchmarkDecodeReplyHeaderStat(b *testing.B) {
	b.ReportAllocs()
	frame := AppendReply(nil, ReplyHeader{Xid: 1, Zxid: 2}, &SetDataResponse{Stat: testStat})[4:]
	d := NewDecoder(nil)
	var h ReplyHeader
	var r SetDataResponse
	for b.Loop() {
		d.Reset(frame)
		h.Decode(d)
		r.Decode(d)
		if d.Err() != nil {
			b.Fatal(d.Err())
		}
	}
}

func BenchmarkAppendReplyGetData1K(b *testing.B) {
	b.ReportAllocs()
	buf := make([]byte, 0, 4096)
	body := &GetDataResponse{Data: data1K, Stat: testStat}
	for b.Loop() {
		buf = AppendReply(buf[:0], ReplyHeader{Xid: 1, Zxid: 2}, body)
	}
	b.SetBytes(int64(len(buf)))
}

// loopReader replays the same bytes forever without allocating.
type loopReader struct {
	b   []byte
	off int
}

func (l *loopReader) Read(p []byte) (int, error) {
	n := copy(p, l.b[l.off:])
	l.off = (l.off + n) % len(l.b)
	return n, nil
}

func BenchmarkReadFrameGetDataRequest(b *testing.B) {
	b.ReportAllocs()
	stream := AppendRequest(nil, RequestHeader{Xid: 1, Type: OpGetData}, &GetDataRequest{Path: "/bench/node-000042"})
	r := &loopReader{b: stream}
	buf := make([]byte, 0, 4096)
	b.SetBytes(int64(len(stream)))
	for b.Loop() {
		var err error
		buf, err = ReadFrame(r, buf, 0)
		if err != nil {
			b.Fatal(err)
		}
	}
}
