package transport

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"io"
	"net"
	"reflect"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/zkbench/zkbench/server/proto"
)

func quorumPair(t *testing.T) (leader, learner *QuorumConn) {
	t.Helper()
	ln, err := ListenQuorum("127.0.0.1:0", nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	done := make(chan *QuorumConn, 1)
	go func() {
		c, err := ln.Accept(ctx)
		if err != nil {
			t.Error(err)
		}
		done <- c
	}()
	learner, err = DialQuorum(ctx, ln.Addr().String(), time.Second)
	if err != nil {
		t.Fatal(err)
	}
	leader = <-done
	if leader == nil {
		t.FailNow()
	}
	t.Cleanup(func() { leader.Close(); learner.Close() })
	return leader, learner
}

func TestQuorumRoundTrip(t *testing.T) {
	leader, learner := quorumPair(t)
	pkts := []*proto.QuorumPacket{
		{Type: 11, Zxid: 0x100000000, Data: []byte("learner info"), AuthInfo: nil},
		{Type: 2, Zxid: 0x100000001, Data: bytes.Repeat([]byte{7}, 100000), AuthInfo: []proto.ID{{Scheme: "digest", ID: "u:p"}}},
		{Type: 5, Zxid: -1, Data: nil, AuthInfo: []proto.ID{}},
	}
	for _, p := range pkts {
		if err := learner.Send(p); err != nil {
			t.Fatal(err)
		}
	}
	if err := learner.Flush(); err != nil {
		t.Fatal(err)
	}
	for i, want := range pkts {
		got, err := leader.Recv()
		if err != nil {
			t.Fatalf("packet %d: %v", i, err)
		}
		if !reflect.DeepEqual(got, want) {
			t.Fatalf("packet %d: got type %d zxid %x %d bytes %v, want %+v", i, got.Type, got.Zxid, len(got.Data), got.AuthInfo, want.AuthInfo)
		}
	}
	learner.Close()
	if _, err := leader.Recv(); !errors.Is(err, io.EOF) {
		t.Fatalf("after close at a packet boundary: %v, want io.EOF", err)
	}
}

// TestQuorumWireIsUpstreams: packets go back to back as jute records,
// with no extra framing, as upstream's BinaryOutputArchive writes them.
func TestQuorumWireIsUpstreams(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	q, err := DialQuorum(context.Background(), ln.Addr().String(), time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer q.Close()
	raw, err := ln.Accept()
	if err != nil {
		t.Fatal(err)
	}
	defer raw.Close()
	a := &proto.QuorumPacket{Type: 4, Zxid: 9, Data: []byte("ab")}
	b := &proto.QuorumPacket{Type: 5, Zxid: 10}
	q.Send(a)
	q.Send(b)
	q.Flush()
	want := append(proto.Marshal(a), proto.Marshal(b)...)
	got := make([]byte, len(want))
	raw.SetReadDeadline(time.Now().Add(5 * time.Second))
	if _, err := io.ReadFull(raw, got); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, want) {
		t.Fatalf("wire:\n got %x\nwant %x", got, want)
	}
}

func TestQuorumRejectsBadStreams(t *testing.T) {
	hdr := func() []byte { return binary.BigEndian.AppendUint64(binary.BigEndian.AppendUint32(nil, 2), 1) }
	for _, tc := range []struct {
		name  string
		bytes []byte
		want  error
	}{
		{"huge data", binary.BigEndian.AppendUint32(hdr(), DefaultMaxPacket+1), ErrTooLarge},
		{"negative data", binary.BigEndian.AppendUint32(hdr(), 0xfffffff0), proto.ErrBadLength},
		{"huge auth vector", binary.BigEndian.AppendUint32(binary.BigEndian.AppendUint32(hdr(), 0), 1000), ErrTooLarge},
		{"truncated", append(binary.BigEndian.AppendUint32(hdr(), 10), "abc"...), io.ErrUnexpectedEOF},
		{"truncated header", hdr()[:5], io.ErrUnexpectedEOF},
	} {
		t.Run(tc.name, func(t *testing.T) {
			client, server := net.Pipe()
			q := newQuorumConn(server)
			defer q.Close()
			go func() {
				client.Write(tc.bytes)
				client.Close()
			}()
			_, err := q.Recv()
			if !errors.Is(err, tc.want) {
				t.Fatalf("err = %v, want %v", err, tc.want)
			}
		})
	}
}

// TestQuorumLargePacket: tens of MiB must pass, read in chunks.
func TestQuorumLargePacket(t *testing.T) {
	leader, learner := quorumPair(t)
	data := make([]byte, 24<<20+123)
	for i := range data {
		data[i] = byte(i * 7)
	}
	go func() {
		leader.Send(&proto.QuorumPacket{Type: 2, Zxid: 77, Data: data})
		leader.Flush()
	}()
	p, err := learner.Recv()
	if err != nil {
		t.Fatal(err)
	}
	if p.Zxid != 77 || !bytes.Equal(p.Data, data) {
		t.Fatalf("large packet corrupted: zxid %d, %d bytes", p.Zxid, len(p.Data))
	}
}

// snapBody is a snapshot stream as upstream's serializeSnapshot writes it:
// one session, one ACL cache entry, the root and /a (with big data), the
// "/" end marker.
func snapBody(data []byte) []byte {
	var e proto.Encoder
	e.Int(1)
	e.Long(0x100000000000001)
	e.Int(30000)
	e.Int(1)
	e.Long(1)
	e.Int(1)
	(&proto.ACL{Perms: 31, ID: proto.ID{Scheme: "world", ID: "anyone"}}).Encode(&e)
	for _, n := range []struct {
		path string
		data []byte
	}{{"", nil}, {"/a", data}} {
		e.String(n.path)
		e.Buffer(n.data)
		e.Long(1)
		(&proto.StatPersisted{Czxid: 2, Mzxid: 3}).Encode(&e)
	}
	e.String("/")
	return e.Bytes()
}

// TestQuorumSnapStream: SNAP goes as upstream's LearnerHandler sends it,
// the packet without data and then the snapshot and the signature on the
// stream; Recv gives the snapshot back as the packet's data.
func TestQuorumSnapStream(t *testing.T) {
	body := snapBody(bytes.Repeat([]byte("z"), 3<<20))
	client, server := net.Pipe()
	defer client.Close()
	go func() {
		q := newQuorumConn(server)
		q.Send(&proto.QuorumPacket{Type: 15, Zxid: 0x100000005, Data: body})
		q.Flush()
	}()
	var want proto.Encoder
	(&proto.QuorumPacket{Type: 15, Zxid: 0x100000005}).Encode(&want)
	want.ResetTo(append(want.Bytes(), body...))
	want.String("BenWasHere")
	got := make([]byte, len(want.Bytes()))
	if _, err := io.ReadFull(client, got); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, want.Bytes()) {
		t.Fatalf("SNAP on the wire: %d bytes starting %x, want %d starting %x", len(got), got[:40], len(want.Bytes()), want.Bytes()[:40])
	}

	leader, learner := quorumPair(t)
	go func() {
		leader.Send(&proto.QuorumPacket{Type: 15, Zxid: 9, Data: body})
		leader.Send(&proto.QuorumPacket{Type: 10, Zxid: 1 << 32})
		leader.Flush()
	}()
	p, err := learner.Recv()
	if err != nil || p.Zxid != 9 || !bytes.Equal(p.Data, body) {
		t.Fatalf("SNAP received as zxid %d, %d bytes, %v; want 9, %d bytes", p.Zxid, len(p.Data), err, len(body))
	}
	if p, err := learner.Recv(); err != nil || p.Type != 10 {
		t.Fatalf("packet after the snapshot: %+v %v", p, err)
	}
}

// TestQuorumSnapStreamBadSignature: a snapshot stream without upstream's
// signature is refused.
func TestQuorumSnapStreamBadSignature(t *testing.T) {
	client, server := net.Pipe()
	q := newQuorumConn(server)
	defer q.Close()
	go func() {
		var e proto.Encoder
		(&proto.QuorumPacket{Type: 15, Zxid: 9}).Encode(&e)
		e.ResetTo(append(e.Bytes(), snapBody(nil)...))
		e.String("BenWasNotHere")
		client.Write(e.Bytes())
	}()
	if _, err := q.Recv(); err == nil || !strings.Contains(err.Error(), "signature") {
		t.Fatalf("err = %v, want a signature error", err)
	}
}

// TestQuorumLyingLengthAllocatesLittle: a length of nearly the maximum
// followed by a few bytes must fail without allocating the claimed size.
func TestQuorumLyingLengthAllocatesLittle(t *testing.T) {
	client, server := net.Pipe()
	q := newQuorumConn(server)
	defer q.Close()
	go func() {
		b := binary.BigEndian.AppendUint64(binary.BigEndian.AppendUint32(nil, 15), 1)
		client.Write(append(binary.BigEndian.AppendUint32(b, DefaultMaxPacket), "tiny"...))
		client.Close()
	}()
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	_, err := q.Recv()
	runtime.ReadMemStats(&after)
	if !errors.Is(err, io.ErrUnexpectedEOF) {
		t.Fatalf("err = %v, want unexpected EOF", err)
	}
	if grew := after.TotalAlloc - before.TotalAlloc; grew > 16<<20 {
		t.Fatalf("allocated %d bytes for a 4-byte body", grew)
	}
}

func TestQuorumMaxPacketConfigurable(t *testing.T) {
	leader, learner := quorumPair(t)
	leader.SetMaxPacket(10)
	learner.Send(&proto.QuorumPacket{Type: 1, Data: make([]byte, 11)})
	learner.Flush()
	if _, err := leader.Recv(); !errors.Is(err, ErrTooLarge) {
		t.Fatalf("err = %v, want ErrTooLarge", err)
	}
}

func TestQuorumAcceptHonoursContext(t *testing.T) {
	ln, err := ListenQuorum("127.0.0.1:0", nil)
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Millisecond)
	defer cancel()
	if _, err := ln.Accept(ctx); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("err = %v, want deadline exceeded", err)
	}
	// The listener still works afterwards.
	go DialQuorum(context.Background(), ln.Addr().String(), time.Second)
	ctx2, cancel2 := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel2()
	c, err := ln.Accept(ctx2)
	if err != nil {
		t.Fatalf("accept after a cancelled accept: %v", err)
	}
	c.Close()
}

func FuzzQuorumRecv(f *testing.F) {
	f.Add(proto.Marshal(&proto.QuorumPacket{Type: 1, Zxid: 2, Data: []byte("x"), AuthInfo: []proto.ID{{Scheme: "s", ID: "i"}}}))
	f.Add([]byte{0, 0, 0, 1})
	f.Fuzz(func(t *testing.T, b []byte) {
		client, server := net.Pipe()
		q := newQuorumConn(server)
		q.SetMaxPacket(1 << 12)
		go func() {
			client.Write(b)
			client.Close()
		}()
		rest := b
		for range 100 {
			p, err := q.Recv()
			if err != nil {
				break
			}
			if len(p.Data) > 1<<12 {
				t.Fatalf("accepted %d bytes of data", len(p.Data))
			}
			// Each packet re-encodes to exactly the bytes it was read from.
			enc := proto.Marshal(p)
			if !bytes.HasPrefix(rest, enc) {
				t.Fatalf("packet %+v does not re-encode to its input", p)
			}
			rest = rest[len(enc):]
		}
		q.Close()
	})
}

// BenchmarkQuorumConn streams 1 KiB proposals over loopback TCP, flushing
// every 64 packets as a batching leader would.
func BenchmarkQuorumConn(b *testing.B) {
	ln, err := ListenQuorum("127.0.0.1:0", nil)
	if err != nil {
		b.Fatal(err)
	}
	defer ln.Close()
	done := make(chan error, 1)
	go func() {
		c, err := ln.Accept(context.Background())
		if err != nil {
			done <- err
			return
		}
		defer c.Close()
		for range b.N {
			if _, err := c.Recv(); err != nil {
				done <- err
				return
			}
		}
		done <- nil
	}()
	q, err := DialQuorum(context.Background(), ln.Addr().String(), time.Second)
	if err != nil {
		b.Fatal(err)
	}
	defer q.Close()
	p := &proto.QuorumPacket{Type: 2, Data: make([]byte, 1024)}
	b.SetBytes(int64(len(proto.Marshal(p))))
	b.ResetTimer()
	for i := range b.N {
		p.Zxid = int64(i)
		if err := q.Send(p); err != nil {
			b.Fatal(err)
		}
		if i%64 == 63 {
			q.Flush()
		}
	}
	q.Flush()
	if err := <-done; err != nil {
		b.Fatal(err)
	}
}
