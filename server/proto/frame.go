package proto

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"sync"
)

// ErrFrameTooLarge reports a frame whose length prefix is negative or larger
// than the reader's limit (upstream: jute.maxbuffer, "Len error"). The
// connection that sent it cannot be resynchronised and should be closed.
var ErrFrameTooLarge = errors.New("proto: frame too large")

// ReadFrame reads one length-prefixed packet from r: a 4-byte big-endian
// length, then that many bytes. It returns the body (without the prefix),
// stored in buf when cap(buf) is large enough and in a new slice otherwise;
// pass the returned slice back as buf to reuse it. maxBuffer <= 0 means
// DefaultMaxBuffer.
//
// A clean end of stream before the first byte returns io.EOF; a stream that
// ends inside a frame returns io.ErrUnexpectedEOF (wrapped). A negative
// length or one above maxBuffer returns an error wrapping ErrFrameTooLarge
// without reading the body.
func ReadFrame(r io.Reader, buf []byte, maxBuffer int) ([]byte, error) {
	if maxBuffer <= 0 {
		maxBuffer = DefaultMaxBuffer
	}
	if cap(buf) < 4 {
		buf = make([]byte, 0, 512)
	}
	hdr := buf[:4]
	if n, err := io.ReadFull(r, hdr); err != nil {
		if err == io.EOF && n == 0 {
			return buf[:0], io.EOF
		}
		return buf[:0], fmt.Errorf("proto: reading frame length: %w", err)
	}
	length := int32(binary.BigEndian.Uint32(hdr))
	if length < 0 || int64(length) > int64(maxBuffer) {
		return buf[:0], fmt.Errorf("%w: length %d, limit %d", ErrFrameTooLarge, length, maxBuffer)
	}
	n := int(length)
	if cap(buf) < n {
		buf = make([]byte, n)
	}
	body := buf[:n]
	if _, err := io.ReadFull(r, body); err != nil {
		if err == io.EOF {
			err = io.ErrUnexpectedEOF
		}
		return buf[:0], fmt.Errorf("proto: reading %d-byte frame: %w", n, err)
	}
	return body, nil
}

var encoderPool = sync.Pool{New: func() any { return new(Encoder) }}

func getEncoder(dst []byte) *Encoder {
	e := encoderPool.Get().(*Encoder)
	e.buf = dst
	return e
}

func putEncoder(e *Encoder) []byte {
	out := e.buf
	e.buf = nil
	encoderPool.Put(e)
	return out
}

// appendFrame encodes a frame holding body (if non-nil) onto dst using a
// pooled Encoder, so that it does not allocate when dst has room.
func appendFrame(dst []byte, body Record) []byte {
	e := getEncoder(dst)
	start := e.StartFrame()
	if body != nil {
		body.Encode(e)
	}
	return endFrame(e, start)
}

// beginReply starts a reply frame on dst: a pooled encoder, the reserved
// length, and the header.
func beginReply(dst []byte, h ReplyHeader) (*Encoder, int) {
	e := getEncoder(dst)
	start := e.StartFrame()
	h.Encode(e)
	return e, start
}

// endFrame patches the frame's length and returns the extended slice.
func endFrame(e *Encoder, start int) []byte {
	e.FinishFrame(start)
	return putEncoder(e)
}

// AppendReply appends a complete reply frame — length, h, then body — to dst
// and returns the extended slice. body may be nil for an empty reply. It
// encodes in place (reserving the length and patching it afterwards) and
// does not allocate when dst has capacity.
func AppendReply(dst []byte, h ReplyHeader, body Record) []byte {
	e, start := beginReply(dst, h)
	if body != nil {
		body.Encode(e)
	}
	return endFrame(e, start)
}

// AppendGetDataReply is AppendReply for a getData reply (r nil when h
// carries an error). Taking the concrete type keeps r off the heap: the
// commonest reply of a read load encodes without allocating.
func AppendGetDataReply(dst []byte, h ReplyHeader, r *GetDataResponse) []byte {
	e, start := beginReply(dst, h)
	if r != nil {
		r.Encode(e)
	}
	return endFrame(e, start)
}

// AppendExistsReply is AppendReply for an exists reply (r nil when h
// carries an error), without allocating.
func AppendExistsReply(dst []byte, h ReplyHeader, r *ExistsResponse) []byte {
	e, start := beginReply(dst, h)
	if r != nil {
		r.Encode(e)
	}
	return endFrame(e, start)
}

// AppendRequest appends a complete request frame — length, h, then body —
// to dst. body may be nil.
func AppendRequest(dst []byte, h RequestHeader, body Record) []byte {
	e := getEncoder(dst)
	start := e.StartFrame()
	e.Int(h.Xid)
	e.Int(int32(h.Type))
	if body != nil {
		body.Encode(e)
	}
	return endFrame(e, start)
}

// AppendFrame appends a frame holding just r (no header), the form of the
// connect handshake's ConnectRequest and ConnectResponse.
func AppendFrame(dst []byte, r Record) []byte {
	return appendFrame(dst, r)
}

// AppendConnectResponse appends the connect handshake's reply frame. With
// withReadOnly false the readOnly byte is left out, as upstream does for a
// client whose ConnectRequest lacked it (see DecodeConnectRequest).
func AppendConnectResponse(dst []byte, r *ConnectResponse, withReadOnly bool) []byte {
	if withReadOnly {
		return appendFrame(dst, r)
	}
	return appendFrame(dst, legacyConnectResponse{r})
}

type legacyConnectResponse struct{ r *ConnectResponse }

func (l legacyConnectResponse) Encode(e *Encoder) { l.r.EncodeLegacy(e) }
func (l legacyConnectResponse) Decode(d *Decoder) { l.r.Decode(d) }
