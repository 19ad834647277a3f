package proto

import (
	"bytes"
	"testing"
)

// An aliasing decoder's buffers are slices of its input, capped so that an
// append to one cannot overwrite what follows it, when they are at least
// half of the input; smaller ones are copied, so that keeping one never
// keeps more than twice its size alive. A plain decoder copies.
func TestAliasingDecoderBuffer(t *testing.T) {
	var e Encoder
	big := bytes.Repeat([]byte("hello"), 10)
	e.Buffer(big)
	e.Buffer([]byte("world"))
	in := e.Bytes()

	var d Decoder
	d.ResetAliasing(in)
	a, b := d.Buffer(), d.Buffer()
	if d.Err() != nil || !bytes.Equal(a, big) || string(b) != "world" {
		t.Fatalf("decoded %q %q, %v", a, b, d.Err())
	}
	if &a[0] != &in[4] {
		t.Fatal("an aliasing decoder copied a buffer that is most of its input")
	}
	if &b[0] == &in[len(in)-5] {
		t.Fatal("an aliasing decoder aliased a buffer that is a tenth of its input")
	}
	if cap(a) != len(a) {
		t.Fatalf("aliased buffer has capacity %d past its length %d", cap(a), len(a))
	}
	_ = append(a, '!')
	if !bytes.Equal(in[4+len(big):], append([]byte{0, 0, 0, 5}, "world"...)) {
		t.Fatal("an append to an aliased buffer overwrote the input")
	}

	c := NewDecoder(in).Buffer()
	if &c[0] == &in[4] {
		t.Fatal("a plain decoder aliased the buffer")
	}

	// Reset keeps the mode; ResetAliasing sets it.
	var plain Decoder
	plain.Reset(in)
	if x := plain.Buffer(); &x[0] == &in[4] {
		t.Fatal("a reset plain decoder aliased the buffer")
	}
	plain.ResetAliasing(in)
	if x := plain.Buffer(); &x[0] != &in[4] {
		t.Fatal("ResetAliasing did not make the decoder alias")
	}
}

// A committed setData decoded from the loop's reused aliasing decoder keeps
// the proposal's value in place, and costs no decoder.
func TestReadLoggedTxnAliases(t *testing.T) {
	var e Encoder
	hdr := TxnHeader{ClientID: 1, Cxid: 2, Zxid: 3, Time: 4, Type: OpSetData}
	hdr.Encode(&e)
	value := bytes.Repeat([]byte{'v'}, 1024)
	(&SetDataTxn{Path: "/k", Data: value, Version: 1}).Encode(&e)
	in := e.Bytes()

	var d Decoder
	d.ResetAliasing(in)
	lt, err := ReadLoggedTxn(&d)
	if err != nil {
		t.Fatal(err)
	}
	data := lt.Body.(*SetDataTxn).Data
	if !bytes.Equal(data, value) || &data[0] != &in[len(in)-4-len(value)] {
		t.Fatal("the txn's value is not the proposal's bytes")
	}
	// The body and its path remain.
	if n := testing.AllocsPerRun(100, func() { d.ResetAliasing(in); ReadLoggedTxn(&d) }); n > 2 {
		t.Fatalf("%.0f allocations per committed setData, want 2", n)
	}
}
