package proto

import (
	"bytes"
	"testing"
)

// An aliasing decoder's buffers are slices of its input, capped so that an
// append to one cannot overwrite what follows it; a plain decoder copies.
func TestAliasingDecoderBuffer(t *testing.T) {
	var e Encoder
	e.Buffer([]byte("hello"))
	e.Buffer([]byte("world"))
	in := e.Bytes()

	d := NewAliasingDecoder(in)
	a, b := d.Buffer(), d.Buffer()
	if d.Err() != nil || string(a) != "hello" || string(b) != "world" {
		t.Fatalf("decoded %q %q, %v", a, b, d.Err())
	}
	if &a[0] != &in[4] {
		t.Fatal("an aliasing decoder copied the buffer")
	}
	if cap(a) != len(a) {
		t.Fatalf("aliased buffer has capacity %d past its length %d", cap(a), len(a))
	}
	_ = append(a, '!')
	if !bytes.Equal(in[9:], append([]byte{0, 0, 0, 5}, "world"...)) {
		t.Fatal("an append to an aliased buffer overwrote the input")
	}

	c := NewDecoder(in).Buffer()
	if &c[0] == &in[4] {
		t.Fatal("a plain decoder aliased the buffer")
	}
}
