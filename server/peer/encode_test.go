package peer

import (
	"bytes"
	"testing"

	"github.com/zkbench/zkbench/server/proto"
	"github.com/zkbench/zkbench/server/txnprep"
)

// A proposal's txn is serialized once into the reign's scratch buffer and
// copied out at its exact size: one allocation per write on the leader,
// where a fresh encoder grew by doubling (6 allocations, 1296 bytes, for a
// 1 KiB create; 1 and 1152 now).
func TestEncodeTxnAllocatesOnce(t *testing.T) {
	txn := &txnprep.Txn{
		Header: proto.TxnHeader{ClientID: 7, Cxid: 1, Zxid: 0x100000001, Time: 1, Type: proto.OpCreate},
		Body:   &proto.CreateTxn{Path: "/bench/key-000001", Data: bytes.Repeat([]byte{'x'}, 1024), ACL: proto.OpenACLUnsafe},
	}
	var want proto.Encoder
	txn.Encode(&want)
	var scratch proto.Encoder
	got := encodeTxn(&scratch, txn)
	if !bytes.Equal(got, want.Bytes()) {
		t.Fatalf("encodeTxn differs from Txn.Encode")
	}
	other := encodeTxn(&scratch, txn)
	if &other[0] == &got[0] {
		t.Fatalf("two proposals share a buffer")
	}
	if n := testing.AllocsPerRun(100, func() { encodeTxn(&scratch, txn) }); n > 1 {
		t.Fatalf("%.0f allocations per proposal, want 1", n)
	}
}

// A forwarded request's data is decoded in place: the REQUEST packet's
// data is the leader's own copy (the transport decoded it), and the txn
// made from it is serialized anew (encodeTxn), so a second copy of every
// forwarded write's value was garbage at once.
func TestDecodeRequestAliasesThePacket(t *testing.T) {
	in := encodeRequest(new(proto.Encoder), &proto.Request{SessionID: 9, Cxid: 3, Op: proto.OpSetData,
		Body: &proto.SetDataRequest{Path: "/a", Data: bytes.Repeat([]byte{'v'}, 1024), Version: -1}})
	var d proto.Decoder
	req, err := decodeRequest(&d, in, nil)
	if err != nil {
		t.Fatal(err)
	}
	data := req.Body.(*proto.SetDataRequest).Data
	if len(data) != 1024 || &data[0] != &in[len(in)-4-1024] {
		t.Fatalf("the request's data (%d bytes) is not the packet's", len(data))
	}
	// With the loop's decoder, what is left is the request, its record
	// and the record's path (it used to take two decoders more).
	if n := testing.AllocsPerRun(100, func() { decodeRequest(&d, in, nil) }); n > 3 {
		t.Fatalf("%.0f allocations per forwarded request, want 3", n)
	}
}

// A follower forwards every client write to the leader: its REQUEST data
// is serialized into the reign's scratch buffer and copied out at its
// exact size, as a proposal's txn is (6 allocations for a 1 KiB create
// with a fresh encoder; 1 now).
func TestEncodeRequestAllocatesOnce(t *testing.T) {
	req := &proto.Request{SessionID: 9, Cxid: 3, Op: proto.OpCreate,
		Body: &proto.CreateRequest{Path: "/bench/key-000001", Data: bytes.Repeat([]byte{'x'}, 1024), ACL: proto.OpenACLUnsafe}}
	var want proto.Encoder
	want.Long(req.SessionID)
	want.Int(req.Cxid)
	want.Int(int32(req.Op))
	req.Body.Encode(&want)
	var scratch proto.Encoder
	got := encodeRequest(&scratch, req)
	if !bytes.Equal(got, want.Bytes()) {
		t.Fatalf("encodeRequest differs from upstream's serialization")
	}
	other := encodeRequest(&scratch, req)
	if &other[0] == &got[0] {
		t.Fatalf("two forwarded requests share a buffer")
	}
	if n := testing.AllocsPerRun(100, func() { encodeRequest(&scratch, req) }); n > 1 {
		t.Fatalf("%.0f allocations per forwarded request, want 1", n)
	}
}
