package proto

import (
	"bytes"
	"testing"
)

// TestTypedRepliesMatchAppendReply checks that the allocation-free reply
// encoders write exactly what AppendReply writes, with and without a body.
func TestTypedRepliesMatchAppendReply(t *testing.T) {
	stat := Stat{Czxid: 1, Mzxid: 2, Ctime: 3, Mtime: 4, Version: 5, Cversion: 6, Aversion: 7, EphemeralOwner: 8, DataLength: 3, NumChildren: 9, Pzxid: 10}
	h := ReplyHeader{Xid: 42, Zxid: 0x100000007}
	gd := &GetDataResponse{Data: []byte("abc"), Stat: stat}
	if got, want := AppendGetDataReply([]byte("x"), h, gd), AppendReply([]byte("x"), h, gd); !bytes.Equal(got, want) {
		t.Errorf("getData reply:\n got %x\nwant %x", got, want)
	}
	ex := &ExistsResponse{Stat: stat}
	if got, want := AppendExistsReply(nil, h, ex), AppendReply(nil, h, ex); !bytes.Equal(got, want) {
		t.Errorf("exists reply:\n got %x\nwant %x", got, want)
	}
	he := ReplyHeader{Xid: 7, Zxid: 9, Err: ErrNoNode}
	if got, want := AppendGetDataReply(nil, he, nil), AppendReply(nil, he, nil); !bytes.Equal(got, want) {
		t.Errorf("getData error reply:\n got %x\nwant %x", got, want)
	}
	if got, want := AppendExistsReply(nil, he, nil), AppendReply(nil, he, nil); !bytes.Equal(got, want) {
		t.Errorf("exists error reply:\n got %x\nwant %x", got, want)
	}
}

func BenchmarkReplyGetData(b *testing.B) {
	data := make([]byte, 1024)
	buf := make([]byte, 0, 4096)
	h := ReplyHeader{Xid: 1, Zxid: 2}
	b.Run("AppendReply", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			buf = AppendReply(buf[:0], h, &GetDataResponse{Data: data, Stat: Stat{Version: int32(len(buf))}})
		}
	})
	b.Run("AppendGetDataReply", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			resp := GetDataResponse{Data: data, Stat: Stat{Version: int32(len(buf))}}
			buf = AppendGetDataReply(buf[:0], h, &resp)
		}
	})
}
