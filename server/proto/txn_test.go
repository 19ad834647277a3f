package proto

import (
	"errors"
	"testing"
)

func TestDecodeLoggedTxn(t *testing.T) {
	hdr := TxnHeader{ClientID: 7, Cxid: 3, Zxid: 0x100000005, Time: 1700000000000, Type: OpCreate}
	body := &CreateTxn{Path: "/a", Data: []byte("x"), ACL: OpenACLUnsafe, ParentCVersion: 1}
	var e Encoder
	hdr.Encode(&e)
	body.Encode(&e)
	plain := append([]byte(nil), e.Bytes()...)
	(&TxnDigest{Version: 2, TreeDigest: 42}).Encode(&e)
	withDigest := e.Bytes()

	for name, b := range map[string][]byte{"plain": plain, "with digest": withDigest} {
		got, err := DecodeLoggedTxn(b)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if got.Header != hdr {
			t.Errorf("%s: header %+v, want %+v", name, got.Header, hdr)
		}
		c, ok := got.Body.(*CreateTxn)
		if !ok || c.Path != "/a" || string(c.Data) != "x" || c.ParentCVersion != 1 {
			t.Errorf("%s: body %+v", name, got.Body)
		}
		if (got.Digest != nil) != (name == "with digest") {
			t.Errorf("%s: digest %+v", name, got.Digest)
		}
	}

	// An old-style closeSession has no body.
	var e2 Encoder
	(&TxnHeader{Zxid: 9, Type: OpCloseSession}).Encode(&e2)
	got, err := DecodeLoggedTxn(e2.Bytes())
	if err != nil || got.Body != nil {
		t.Fatalf("closeSession without body: %+v %v", got, err)
	}

	// Truncations fail with ErrShortBuffer, never panic.
	for i := 1; i < len(plain); i++ {
		if _, err := DecodeLoggedTxn(plain[:i]); err == nil {
			t.Fatalf("prefix of %d bytes decoded without error", i)
		} else if !errors.Is(err, ErrShortBuffer) && !errors.Is(err, ErrBadLength) {
			t.Fatalf("prefix of %d bytes: unexpected error %v", i, err)
		}
	}
	var e3 Encoder
	(&TxnHeader{Type: OpCode(77)}).Encode(&e3)
	if _, err := DecodeLoggedTxn(e3.Bytes()); err == nil {
		t.Fatal("unknown txn type decoded without error")
	}
}
