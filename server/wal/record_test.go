package wal

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/adler32"
	"testing"

	"github.com/zkbench/zkbench/server/proto"
)

// txn returns the log payload of a create txn, TxnHeader + CreateTxn, as
// server/proto encodes them (byte for byte what upstream writes).
func txn(zxid int64, path string, data []byte) []byte {
	var e proto.Encoder
	hdr := proto.TxnHeader{ClientID: 0x1000000abcd, Cxid: int32(zxid & 0xffff), Zxid: zxid, Time: 1_700_000_000_000, Type: proto.OpCreate}
	hdr.Encode(&e)
	body := proto.CreateTxn{Path: path, Data: data, ACL: proto.OpenACLUnsafe, ParentCVersion: 1}
	body.Encode(&e)
	return e.Bytes()
}

func TestRecordRoundTrip(t *testing.T) {
	p := txn(0x100000001, "/a", []byte("x"))
	b := appendRecord(nil, p)
	if len(b) != recordOverhead+len(p) {
		t.Fatalf("record is %d bytes, want %d", len(b), recordOverhead+len(p))
	}
	if got := binary.BigEndian.Uint64(b); got != uint64(adler32.Checksum(p)) {
		t.Fatalf("checksum field %#x, want Adler-32 %#x", got, adler32.Checksum(p))
	}
	if b[len(b)-1] != 'B' {
		t.Fatalf("record ends with %#x, want 'B'", b[len(b)-1])
	}
	// Followed by more data (the next record, or zeros): decode takes one.
	in := append(append([]byte(nil), b...), make([]byte, 100)...)
	payload, zxid, n, err := decodeRecord(in)
	if err != nil || n != len(b) || zxid != 0x100000001 || !bytes.Equal(payload, p) {
		t.Fatalf("decodeRecord = (%x, %#x, %d, %v), want payload back, zxid 0x100000001, n %d", payload, zxid, n, err, len(b))
	}
}

func TestDecodeRecordErrors(t *testing.T) {
	p := txn(0x100000002, "/node", []byte("data"))
	good := appendRecord(nil, p)
	plen := len(p)
	if plen != 81 { // TxnHeader 32 + path 9 + data 8 + one ACL 27 + ephemeral 1 + parentCVersion 4
		t.Fatalf("payload is %d bytes, want 81", plen)
	}
	mod := func(f func(b []byte) []byte) []byte { return f(append([]byte(nil), good...)) }
	sum := adler32.Checksum(p)
	short := []byte("0123456789") // payload shorter than a TxnHeader
	shortRec := appendRecord(nil, short)

	tests := []struct {
		name string
		in   []byte
		want error  // errEndOfRecord or the reason
		msg  string // exact message, when want is a reason
	}{
		{"empty", nil, errEndOfRecord, ""},
		{"partial zero header", make([]byte, 5), errEndOfRecord, ""},
		{"zero area", make([]byte, 100), errEndOfRecord, ""},
		{"partial header", good[:5], errTruncated, "record truncated: record header needs 12 bytes, have 5"},
		{"header only", good[:12], errTruncated, "record truncated: length 81 needs 94 bytes, have 12"},
		{"payload cut", good[:40], errTruncated, "record truncated: length 81 needs 94 bytes, have 40"},
		{"eor missing at end of file", good[:len(good)-1], errTruncated, "record truncated: length 81 needs 94 bytes, have 93"},
		{"zero length, checksum set", mod(func(b []byte) []byte { clear(b[8:12]); return b }), errZeroLength, "zero length with non-zero checksum " + hex(uint64(sum))},
		{"negative length", mod(func(b []byte) []byte { binary.BigEndian.PutUint32(b[8:], 0xffffffff); return b }), errBadLength, "bad record length -1"},
		{"huge length", mod(func(b []byte) []byte { binary.BigEndian.PutUint32(b[8:], MaxRecordSize+1); return b }), errBadLength, "bad record length 67108865"},
		{"length too long", mod(func(b []byte) []byte { binary.BigEndian.PutUint32(b[8:], uint32(plen+1)); return append(b, 0) }), errNoEOR, "missing end-of-record marker: found 0x0"},
		{"wrong eor", mod(func(b []byte) []byte { b[len(b)-1] = 'C'; return b }), errNoEOR, "missing end-of-record marker: found 0x43"},
		{"payload flipped", mod(func(b []byte) []byte { b[30] ^= 0x01; return b }), errChecksum, "checksum mismatch: stored " + hex(uint64(sum)) + ", computed " + hex(uint64(adler32.Checksum(flip(p, 18))))},
		{"checksum high bits", mod(func(b []byte) []byte { b[0] = 1; return b }), errChecksum, "checksum mismatch: stored " + hex(uint64(sum)|1<<56) + ", computed " + hex(uint64(sum))},
		{"checksum zeroed", mod(func(b []byte) []byte { clear(b[:8]); return b }), errChecksum, "checksum mismatch: stored 0x0, computed " + hex(uint64(sum))},
		{"shorter than TxnHeader", shortRec, errShortTxn, "record shorter than a TxnHeader: 10 bytes"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, _, n, err := decodeRecord(tt.in)
			if !errors.Is(err, tt.want) {
				t.Fatalf("decodeRecord: err %v, want %v", err, tt.want)
			}
			if n != 0 {
				t.Errorf("n = %d on error, want 0", n)
			}
			if tt.msg != "" && err.Error() != tt.msg {
				t.Errorf("message %q, want %q", err.Error(), tt.msg)
			}
			if tt.want != errEndOfRecord && validRecordAt(tt.in) {
				t.Errorf("validRecordAt accepts a record decodeRecord rejects")
			}
		})
	}
}

func hex(v uint64) string { return fmt.Sprintf("%#x", v) }

func flip(p []byte, i int) []byte {
	q := append([]byte(nil), p...)
	q[i] ^= 0x01
	return q
}

func TestFileHeader(t *testing.T) {
	good := appendFileHeader(nil)
	if want := []byte{'Z', 'K', 'L', 'G', 0, 0, 0, 2, 0, 0, 0, 0, 0, 0, 0, 0}; !bytes.Equal(good, want) {
		t.Fatalf("header % x, want % x", good, want)
	}
	tests := []struct {
		name string
		in   []byte
		msg  string
	}{
		{"good", good, ""},
		{"short", good[:10], "record truncated: file header needs 16 bytes, have 10"},
		{"zeros", make([]byte, 16), "bad file header: magic 0x0, want 0x5a4b4c47"},
		{"snapshot magic", append([]byte("ZKSN"), good[4:]...), "bad file header: magic 0x5a4b534e, want 0x5a4b4c47"},
		{"version 3", append(append([]byte(nil), good[:4]...), 0, 0, 0, 3, 0, 0, 0, 0, 0, 0, 0, 0), "bad file header: unsupported version 3, want 2"},
	}
	for _, tt := range tests {
		err := checkFileHeader(tt.in)
		if tt.msg == "" {
			if err != nil {
				t.Errorf("%s: %v", tt.name, err)
			}
			continue
		}
		if err == nil || err.Error() != tt.msg {
			t.Errorf("%s: err %v, want %q", tt.name, err, tt.msg)
		}
	}
}

func TestFindValidRecord(t *testing.T) {
	r1 := appendRecord(nil, txn(1, "/a", nil))
	r2 := appendRecord(nil, txn(2, "/b", []byte("bb")))
	var b []byte
	b = append(b, make([]byte, 5000)...)
	b = append(b, 0xde, 0xad, 0xbe, 0xef) // garbage
	at1 := len(b)
	b = append(b, r1...)
	b = append(b, make([]byte, 3)...)
	at2 := len(b)
	b = append(b, r2...)
	b = append(b, make([]byte, 5000)...)
	if got := findValidRecord(b, 0); got != at1 {
		t.Errorf("first record at %d, want %d", got, at1)
	}
	if got := findValidRecord(b, at1+1); got != at2 {
		t.Errorf("second record at %d, want %d", got, at2)
	}
	if got := findValidRecord(b, at2+1); got != -1 {
		t.Errorf("after the last record: %d, want -1", got)
	}
	// A record flush against a long zero run is found (the zero skip must
	// not overshoot its start).
	c := append(make([]byte, 100000), r1...)
	if got := findValidRecord(c, 0); got != 100000 {
		t.Errorf("record after zeros at %d, want 100000", got)
	}
	if got := indexNonZero(append(make([]byte, 70000), 7)); got != 70000 {
		t.Errorf("indexNonZero = %d, want 70000", got)
	}
}

func FuzzDecodeRecord(f *testing.F) {
	f.Add(appendRecord(nil, txn(5, "/x", []byte("y"))))
	f.Add(make([]byte, 20))
	f.Add([]byte{0, 0, 0, 0, 1, 2, 3, 4, 0, 0, 0, 40, 'B'})
	f.Fuzz(func(t *testing.T, b []byte) {
		payload, zxid, n, err := decodeRecord(b)
		if err != nil {
			if n != 0 || payload != nil {
				t.Fatalf("error %v with n %d", err, n)
			}
			return
		}
		if !bytes.Equal(appendRecord(nil, payload), b[:n]) {
			t.Fatalf("decoded record does not re-encode to its bytes")
		}
		if zxid != int64(binary.BigEndian.Uint64(payload[zxidOffset:])) {
			t.Fatalf("zxid %#x not the TxnHeader's", zxid)
		}
		if !validRecordAt(b) {
			t.Fatalf("validRecordAt rejects a record decodeRecord accepts")
		}
	})
}
