package transport

import (
	"bufio"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"slices"
	"sync"
	"time"

	"github.com/zkbench/zkbench/internal/netutil"
	"github.com/zkbench/zkbench/server/proto"
)

// DefaultMaxPacket bounds the data of one quorum packet read from a
// stream, and the snapshot stream that follows a SNAP. It is far above
// upstream's jute.maxbuffer (1 MiB) because a snapshot is a whole tree.
// Memory grows only as bytes actually arrive, so a corrupt length cannot
// make Recv allocate more than the peer sent.
const DefaultMaxPacket = 1 << 30

// readChunk is how much of a large buffer Recv reads (and allocates) at a time.
const readChunk = 1 << 20

// maxAuthIDs bounds the auth info vector of a quorum packet.
const maxAuthIDs = 64

// QuorumConn is a stream of proto.QuorumPacket records between a leader
// and a learner. One goroutine may Send (and Flush) while another Recvs.
type QuorumConn struct {
	c         net.Conn
	br        *bufio.Reader
	maxPacket int

	wmu sync.Mutex // guards bw and enc
	bw  *bufio.Writer
	enc *proto.Encoder

	rbuf []byte
	dec  proto.Decoder // Recv's, reused
}

func newQuorumConn(c net.Conn) *QuorumConn {
	return &QuorumConn{
		c: c, br: bufio.NewReaderSize(c, 64<<10), bw: bufio.NewWriterSize(c, 64<<10),
		enc: proto.NewEncoder(nil), maxPacket: DefaultMaxPacket,
	}
}

// SetMaxPacket sets the largest packet data Recv accepts (default
// DefaultMaxPacket).
func (q *QuorumConn) SetMaxPacket(n int) { q.maxPacket = n }

// typeSnap is Zab's SNAP packet type (zab.TypeSnap): upstream sends the
// snapshot after the packet, on the raw stream, rather than in its data.
const typeSnap = 15

// snapSignature ends upstream's snapshot stream (LearnerHandler writes it
// after the snapshot; Learner checks it).
const snapSignature = "BenWasHere"

// Send buffers p for writing; call Flush to push it out. A SNAP packet's
// data is sent as upstream sends a snapshot: the packet without data, then
// the data (the snapshot's sessions, ACL cache and nodes up to the "/"
// marker) on the stream, then the signature.
func (q *QuorumConn) Send(p *proto.QuorumPacket) error {
	q.wmu.Lock()
	defer q.wmu.Unlock()
	q.enc.Reset()
	if p.Type == typeSnap {
		head := *p
		head.Data = nil
		head.Encode(q.enc)
		q.enc.ResetTo(append(q.enc.Bytes(), p.Data...))
		q.enc.String(snapSignature)
	} else {
		p.Encode(q.enc)
	}
	if _, err := q.bw.Write(q.enc.Bytes()); err != nil {
		return fmt.Errorf("transport: quorum send to %s: %w", q.c.RemoteAddr(), err)
	}
	return nil
}

// Flush writes buffered packets.
func (q *QuorumConn) Flush() error {
	q.wmu.Lock()
	defer q.wmu.Unlock()
	if err := q.bw.Flush(); err != nil {
		return fmt.Errorf("transport: quorum flush to %s: %w", q.c.RemoteAddr(), err)
	}
	return nil
}

// Recv reads the next packet. Data longer than the maximum packet size,
// negative lengths and oversized auth vectors fail with ErrTooLarge or
// proto.ErrBadLength; the connection should then be closed.
func (q *QuorumConn) Recv() (*proto.QuorumPacket, error) {
	b, err := q.readRecord()
	if err != nil {
		if errors.Is(err, io.EOF) || errors.Is(err, net.ErrClosed) {
			return nil, err
		}
		return nil, fmt.Errorf("transport: quorum recv from %s: %w", q.c.RemoteAddr(), err)
	}
	var p proto.QuorumPacket
	if err := q.dec.Unmarshal(b, &p); err != nil {
		return nil, fmt.Errorf("transport: quorum recv from %s: %w", q.c.RemoteAddr(), err)
	}
	if p.Type == typeSnap {
		if p.Data, err = q.readSnapStream(); err != nil {
			return nil, fmt.Errorf("transport: quorum recv from %s: SNAP stream: %w", q.c.RemoteAddr(), err)
		}
	}
	return &p, nil
}

// readSnapStream reads the snapshot that follows a SNAP packet, in
// upstream's serialization (SerializeUtils.serializeSnapshot): int count
// and (long id, int timeout) sessions; the ACL cache, int count and (long
// ref, vector<ACL>) entries; nodes as (ustring path, buffer data, long acl,
// StatPersisted) until the path "/"; then the signature. It returns the
// bytes before the signature, at most the maximum packet size.
func (q *QuorumConn) readSnapStream() ([]byte, error) {
	r := streamReader{br: q.br, limit: q.maxPacket}
	for n := r.count("sessions"); n > 0 && r.err == nil; n-- {
		r.read(12)
	}
	for n := r.count("ACL cache"); n > 0 && r.err == nil; n-- {
		r.read(8)
		for k := r.count("ACL list"); k > 0 && r.err == nil; k-- {
			r.read(4)
			r.str("ACL scheme")
			r.str("ACL id")
		}
	}
	const statPersisted = 4*8 + 3*4 + 2*8
	for r.err == nil {
		if path := r.str("path"); path == "/" || r.err != nil {
			break
		}
		r.field("data")
		r.read(8 + statPersisted)
	}
	body := len(r.b)
	if sig := r.str("signature"); r.err == nil && sig != snapSignature {
		return nil, fmt.Errorf("snapshot signature %q, want %q", sig, snapSignature)
	}
	if r.err != nil {
		return nil, r.err
	}
	return r.b[:body:body], nil
}

// streamReader collects jute fields from a stream, checking each length
// before reading and the total against limit; errors are sticky.
type streamReader struct {
	br    *bufio.Reader
	limit int
	b     []byte
	err   error
}

func (r *streamReader) read(n int) []byte {
	if r.err != nil {
		return nil
	}
	if len(r.b)+n > r.limit {
		r.err = fmt.Errorf("%w: snapshot stream exceeds %d bytes", ErrTooLarge, r.limit)
		return nil
	}
	start := len(r.b)
	for len(r.b) < start+n {
		k := min(start+n-len(r.b), readChunk)
		at := len(r.b)
		r.b = slices.Grow(r.b, k)[:at+k]
		if _, err := io.ReadFull(r.br, r.b[at:]); err != nil {
			if errors.Is(err, io.EOF) {
				err = fmt.Errorf("%w: stream ended inside a snapshot", io.ErrUnexpectedEOF)
			}
			r.err = err
			return nil
		}
	}
	return r.b[start:]
}

// count reads a non-negative int count.
func (r *streamReader) count(what string) int {
	x := r.read(4)
	if x == nil {
		return 0
	}
	n := int32(binary.BigEndian.Uint32(x))
	if n < 0 {
		r.err = fmt.Errorf("%w: %s count %d", proto.ErrBadLength, what, n)
		return 0
	}
	return int(n)
}

// field reads a length-prefixed string or buffer (-1: null) and returns
// its bytes, valid until the next read.
func (r *streamReader) field(what string) []byte {
	x := r.read(4)
	if x == nil {
		return nil
	}
	n := int32(binary.BigEndian.Uint32(x))
	switch {
	case n == -1:
		return nil
	case n < 0:
		r.err = fmt.Errorf("%w: %s length %d", proto.ErrBadLength, what, n)
		return nil
	}
	return r.read(int(n))
}

// str reads a length-prefixed string.
func (r *streamReader) str(what string) string { return string(r.field(what)) }

// readRecord collects the bytes of one jute QuorumPacket (int type, long
// zxid, buffer data, vector<Id> authinfo) from the stream, checking every
// length before reading it.
func (q *QuorumConn) readRecord() ([]byte, error) {
	b := q.rbuf[:0]
	var err error
	read := func(n int) []byte {
		if err != nil {
			return nil
		}
		start := len(b)
		for len(b) < start+n {
			k := min(start+n-len(b), readChunk)
			at := len(b)
			b = slices.Grow(b, k)[:at+k]
			if _, e := io.ReadFull(q.br, b[at:]); e != nil {
				if e == io.ErrUnexpectedEOF || (e == io.EOF && at > 0) {
					e = fmt.Errorf("%w: stream ended inside a packet", io.ErrUnexpectedEOF)
				}
				err = e
				return nil
			}
		}
		return b[start:]
	}
	length := func(what string, limit int) int {
		x := read(4)
		if x == nil {
			return 0
		}
		n := int32(binary.BigEndian.Uint32(x))
		switch {
		case n == -1:
			return 0
		case n < 0:
			err = fmt.Errorf("%w: %s length %d", proto.ErrBadLength, what, n)
		case int(n) > limit:
			err = fmt.Errorf("%w: %s length %d exceeds %d", ErrTooLarge, what, n, limit)
		}
		return int(n)
	}
	read(12) // type, zxid
	read(length("data", q.maxPacket))
	ids := length("auth vector", maxAuthIDs)
	for i := 0; i < ids && err == nil; i++ {
		read(length("auth scheme", maxAddrBytes))
		read(length("auth id", q.maxPacket))
	}
	if err != nil {
		return nil, err
	}
	if cap(b) <= 1<<16 {
		q.rbuf = b
	}
	return b, nil
}

// SetDeadline, SetReadDeadline and SetWriteDeadline set I/O deadlines on
// the underlying connection (Zab's initLimit and syncLimit).
func (q *QuorumConn) SetDeadline(t time.Time) error { return q.c.SetDeadline(t) }

// SetReadDeadline sets the deadline for Recv.
func (q *QuorumConn) SetReadDeadline(t time.Time) error { return q.c.SetReadDeadline(t) }

// SetWriteDeadline sets the deadline for Flush (and Sends that fill the buffer).
func (q *QuorumConn) SetWriteDeadline(t time.Time) error { return q.c.SetWriteDeadline(t) }

// RemoteAddr returns the peer's address.
func (q *QuorumConn) RemoteAddr() net.Addr { return q.c.RemoteAddr() }

// Close closes the connection; buffered packets not flushed are lost.
func (q *QuorumConn) Close() error { return q.c.Close() }

// QuorumListener accepts learner connections on the leader's quorum port.
type QuorumListener struct {
	ln  net.Listener
	log *slog.Logger
	sec *Secure // TLS (sslQuorum, portUnification); nil: plaintext
}

// ListenQuorum listens for learners on addr ("host:port"); log (nil
// discards) receives accept errors.
func ListenQuorum(addr string, log *slog.Logger) (*QuorumListener, error) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("transport: listen on quorum address %s: %w", addr, err)
	}
	return NewQuorumListener(ln, log), nil
}

// NewQuorumListener accepts learners from ln, which it owns and closes.
// To honour Accept's ctx, ln must be a *net.TCPListener or otherwise have
// a SetDeadline method.
func NewQuorumListener(ln net.Listener, log *slog.Logger) *QuorumListener {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &QuorumListener{ln: ln, log: log}
}

// Accept waits for the next learner connection or for ctx to end.
// Transient accept errors (out of file descriptors, an aborted
// connection) are logged and retried, never returned: an error means ctx
// ended or the listener was closed (ErrClosed).
func (l *QuorumListener) Accept(ctx context.Context) (*QuorumConn, error) {
	dl, _ := l.ln.(interface{ SetDeadline(time.Time) error })
	stop := context.AfterFunc(ctx, func() {
		if dl != nil {
			dl.SetDeadline(time.Unix(1, 0)) // wake Accept
		}
	})
	defer stop()
	c, err := netutil.AcceptRetrying(ctx, l.ln, l.log)
	if err != nil {
		if ctx.Err() != nil {
			if dl != nil {
				dl.SetDeadline(time.Time{})
			}
			return nil, fmt.Errorf("transport: quorum accept: %w", ctx.Err())
		}
		return nil, fmt.Errorf("transport: quorum accept: %w", ErrClosed)
	}
	setNoDelay(c)
	return newQuorumConn(l.sec.acceptLearner(c)), nil
}

// Addr returns the listening address.
func (l *QuorumListener) Addr() net.Addr { return l.ln.Addr() }

// Close stops listening; established connections stay open.
func (l *QuorumListener) Close() error { return l.ln.Close() }

// DialQuorum connects a learner to the leader's quorum address, giving up
// after timeout or when ctx ends.
func DialQuorum(ctx context.Context, addr string, timeout time.Duration) (*QuorumConn, error) {
	return DialQuorumSecure(ctx, addr, timeout, nil)
}

func setNoDelay(c net.Conn) {
	if tc, ok := c.(*net.TCPConn); ok {
		tc.SetNoDelay(true)
	}
}
