package proto

import (
	"encoding/binary"
	"errors"
	"fmt"
)

// Record is a jute record that can be written to and read from the wire.
type Record interface {
	// Encode appends the record to e.
	Encode(e *Encoder)
	// Decode reads the record from d; errors are sticky in d.
	Decode(d *Decoder)
}

// ErrShortBuffer reports a record that ended before all its fields were read.
var ErrShortBuffer = errors.New("proto: record truncated")

// ErrBadLength reports a negative length prefix (other than -1, which means
// null) inside a record. A length larger than the bytes left is reported as
// ErrShortBuffer, since that is what a truncated record looks like.
var ErrBadLength = errors.New("proto: bad length")

// Encoder appends jute-encoded values to a byte slice. The zero value is
// ready to use; Reset reuses the buffer.
type Encoder struct {
	buf []byte
}

// NewEncoder returns an encoder that appends to buf[:0].
func NewEncoder(buf []byte) *Encoder { return &Encoder{buf: buf[:0]} }

// Bytes returns the encoded bytes.
func (e *Encoder) Bytes() []byte { return e.buf }

// Len returns the number of bytes encoded so far.
func (e *Encoder) Len() int { return len(e.buf) }

// ResetTo makes the encoder append to buf, keeping buf's contents: callers
// that frame several records into one output buffer encode in place.
func (e *Encoder) ResetTo(buf []byte) { e.buf = buf }

// Reset discards the encoded bytes, keeping the buffer.
func (e *Encoder) Reset() { e.buf = e.buf[:0] }

// Int appends a 4-byte big-endian integer.
func (e *Encoder) Int(v int32) { e.buf = binary.BigEndian.AppendUint32(e.buf, uint32(v)) }

// Long appends an 8-byte big-endian integer.
func (e *Encoder) Long(v int64) { e.buf = binary.BigEndian.AppendUint64(e.buf, uint64(v)) }

// Bool appends a 1-byte boolean.
func (e *Encoder) Bool(v bool) {
	if v {
		e.buf = append(e.buf, 1)
	} else {
		e.buf = append(e.buf, 0)
	}
}

// Byte appends one byte.
func (e *Encoder) Byte(v byte) { e.buf = append(e.buf, v) }

// String appends a length-prefixed UTF-8 string.
func (e *Encoder) String(s string) {
	e.Int(int32(len(s)))
	e.buf = append(e.buf, s...)
}

// NullableString appends a ustring that may be null (nil), written with
// length -1 as upstream writes a null String.
func (e *Encoder) NullableString(s *string) {
	if s == nil {
		e.Int(-1)
		return
	}
	e.String(*s)
}

// Buffer appends a length-prefixed byte buffer; a nil buffer is written with
// length -1 as upstream does.
func (e *Encoder) Buffer(b []byte) {
	if b == nil {
		e.Int(-1)
		return
	}
	e.Int(int32(len(b)))
	e.buf = append(e.buf, b...)
}

// Strings appends a vector<ustring>; nil is written as -1.
func (e *Encoder) Strings(v []string) {
	if v == nil {
		e.Int(-1)
		return
	}
	e.Int(int32(len(v)))
	for _, s := range v {
		e.String(s)
	}
}

// Record appends a nested record.
func (e *Encoder) Record(r Record) { r.Encode(e) }

// Decoder reads jute-encoded values from a byte slice. The first error
// sticks: later reads return zero values, and Err reports it.
type Decoder struct {
	buf   []byte
	off   int
	err   error
	alias bool // Buffer may return slices of buf, not copies (ResetAliasing)
}

// NewDecoder returns a decoder over b.
func NewDecoder(b []byte) *Decoder { return &Decoder{buf: b} }

// Reset points the decoder at b and clears its error. An aliasing decoder
// stays one.
func (d *Decoder) Reset(b []byte) { d.buf, d.off, d.err = b, 0, nil }

// ResetAliasing points the decoder at b and makes it an aliasing decoder:
// its Buffer results may be slices of b (capped at their length) instead
// of copies, for a caller that owns b and never changes it while the
// decoded record lives. A buffer is a slice of b only when it is at least
// half of b, so that keeping it never keeps more than twice its size
// alive; smaller ones are copied.
func (d *Decoder) ResetAliasing(b []byte) { *d = Decoder{buf: b, alias: true} }

// Unmarshal decodes r from all of b, as the function Unmarshal does, with
// d: a caller that decodes one message after another keeps one Decoder
// rather than allocating one each time.
func (d *Decoder) Unmarshal(b []byte, r Record) error {
	d.Reset(b)
	r.Decode(d)
	if d.err != nil {
		return d.err
	}
	if d.Remaining() != 0 {
		return fmt.Errorf("proto: %d trailing bytes after %T", d.Remaining(), r)
	}
	return nil
}

// Err returns the first error met, if any.
func (d *Decoder) Err() error { return d.err }

// Offset returns the number of bytes consumed.
func (d *Decoder) Offset() int { return d.off }

// Remaining returns the number of unread bytes.
func (d *Decoder) Remaining() int { return len(d.buf) - d.off }

// Rest returns the unread bytes without consuming them.
func (d *Decoder) Rest() []byte { return d.buf[d.off:] }

// Fail records err unless an error is already recorded.
func (d *Decoder) Fail(err error) {
	if d.err == nil {
		d.err = err
	}
}

func (d *Decoder) take(n int) []byte {
	if d.err != nil {
		return nil
	}
	if n < 0 || d.off+n > len(d.buf) {
		d.err = fmt.Errorf("%w: need %d bytes at offset %d, have %d", ErrShortBuffer, n, d.off, len(d.buf)-d.off)
		return nil
	}
	b := d.buf[d.off : d.off+n]
	d.off += n
	return b
}

// Int reads a 4-byte integer.
func (d *Decoder) Int() int32 {
	b := d.take(4)
	if b == nil {
		return 0
	}
	return int32(binary.BigEndian.Uint32(b))
}

// Long reads an 8-byte integer.
func (d *Decoder) Long() int64 {
	b := d.take(8)
	if b == nil {
		return 0
	}
	return int64(binary.BigEndian.Uint64(b))
}

// Bool reads a 1-byte boolean (any non-zero byte is true).
func (d *Decoder) Bool() bool {
	b := d.take(1)
	return b != nil && b[0] != 0
}

// Byte reads one byte.
func (d *Decoder) Byte() byte {
	b := d.take(1)
	if b == nil {
		return 0
	}
	return b[0]
}

func (d *Decoder) length() (int, bool) {
	n := d.Int()
	if d.err != nil {
		return 0, false
	}
	if n == -1 {
		return -1, true
	}
	if n < 0 {
		d.err = fmt.Errorf("%w: %d at offset %d", ErrBadLength, n, d.off-4)
		return 0, false
	}
	if int(n) > len(d.buf)-d.off {
		// The length claims more bytes than the record has left: the record
		// was cut short (or the length is corrupt, which reads the same).
		d.err = fmt.Errorf("%w: length %d at offset %d with %d bytes left", ErrShortBuffer, n, d.off-4, len(d.buf)-d.off)
		return 0, false
	}
	return int(n), true
}

// String reads a length-prefixed string; a null string reads as "".
func (d *Decoder) String() string {
	n, ok := d.length()
	if !ok || n < 0 {
		return ""
	}
	return string(d.take(n))
}

// NullableString reads a ustring, keeping null (nil) apart from "".
func (d *Decoder) NullableString() *string {
	n, ok := d.length()
	if !ok || n < 0 {
		return nil
	}
	s := string(d.take(n))
	return &s
}

// Buffer reads a length-prefixed buffer; null reads as nil. The result is a
// copy, safe to keep after the decoder's input is reused, except from an
// aliasing decoder (ResetAliasing), where it may be a slice of it.
func (d *Decoder) Buffer() []byte {
	n, ok := d.length()
	if !ok || n < 0 {
		return nil
	}
	b := d.take(n)
	if b == nil {
		return nil
	}
	if d.alias && 2*n >= len(d.buf) {
		return b[:n:n]
	}
	out := make([]byte, n)
	copy(out, b)
	return out
}

// Strings reads a vector<ustring>; null reads as nil.
func (d *Decoder) Strings() []string {
	n := d.VectorLen(4) // each element takes at least its 4-byte length
	if n < 0 || d.err != nil {
		return nil
	}
	out := make([]string, 0, n)
	for i := 0; i < n && d.err == nil; i++ {
		out = append(out, d.String())
	}
	return out
}

// Record reads a nested record.
func (d *Decoder) Record(r Record) { r.Decode(d) }

// Marshal encodes r into a new byte slice.
func Marshal(r Record) []byte {
	var e Encoder
	r.Encode(&e)
	return e.Bytes()
}

// Unmarshal decodes b into r and requires that all of b is consumed.
func Unmarshal(b []byte, r Record) error {
	var d Decoder
	return d.Unmarshal(b, r)
}

// VectorLen reads the count of a vector<T> whose elements each take at least
// minSize bytes. It returns -1 for a null vector. A count the remaining bytes
// cannot hold fails with ErrShortBuffer, so callers may size allocations by
// the result without trusting the wire.
func (d *Decoder) VectorLen(minSize int) int {
	n := d.Int()
	if d.err != nil {
		return 0
	}
	if n == -1 {
		return -1
	}
	if n < 0 {
		d.err = fmt.Errorf("%w: vector count %d at offset %d", ErrBadLength, n, d.off-4)
		return 0
	}
	if minSize > 0 && int64(n)*int64(minSize) > int64(len(d.buf)-d.off) {
		d.err = fmt.Errorf("%w: vector of %d elements at offset %d with %d bytes left", ErrShortBuffer, n, d.off-4, len(d.buf)-d.off)
		return 0
	}
	return int(n)
}

// StartFrame reserves the 4-byte length prefix of a frame and returns its
// offset, to be passed to FinishFrame once the frame's contents are encoded.
func (e *Encoder) StartFrame() int {
	start := len(e.buf)
	e.buf = append(e.buf, 0, 0, 0, 0)
	return start
}

// FinishFrame writes the length of everything encoded since StartFrame
// returned start into the prefix it reserved.
func (e *Encoder) FinishFrame(start int) {
	binary.BigEndian.PutUint32(e.buf[start:], uint32(len(e.buf)-start-4))
}
