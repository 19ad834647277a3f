package clientconn

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/zkbench/zkbench/server/proto"
	"github.com/zkbench/zkbench/server/tree"
)

// fakeBackend applies writes to a real tree, but only when the test
// releases them, so tests can hold a write in flight.
type fakeBackend struct {
	t        *tree.Tree
	mu       sync.Mutex
	zxid     int64
	sessions int64
	release  chan struct{}
	// closer is told about closed sessions before their closeSession is
	// answered, as the node does.
	closer SessionCloser
}

func newFake() *fakeBackend { return &fakeBackend{t: tree.New(), release: make(chan struct{}, 16)} }

func (f *fakeBackend) Tree() *tree.Tree { return f.t }
func (f *fakeBackend) LastZxid() int64  { return f.t.LastZxid() }
func (f *fakeBackend) CreateSession(to int32, ro bool, done func(int64, []byte, error)) {
	f.mu.Lock()
	f.sessions++
	id := 0x1000 + f.sessions
	f.mu.Unlock()
	done(id, make([]byte, 16), nil)
}
func (f *fakeBackend) ReattachSession(id int64, pw []byte, to int32, done func(bool, int32)) {
	done(false, 0)
}
func (f *fakeBackend) Touch(int64) bool                       { return true }
func (f *fakeBackend) Sync(_ int64, done func(proto.ErrCode)) { done(proto.ErrOK) }
func (f *fakeBackend) ServerStats() Stats                     { return Stats{Mode: "standalone"} }

// Submit applies a create once the test sends on release.
func (f *fakeBackend) Submit(req *proto.Request, done func(WriteResult)) {
	if req.Op == proto.OpCloseSession {
		go func() {
			// As the node: the session's connection is told to close
			// when the txn is applied, before the request completes.
			f.closer.CloseSession(req.SessionID)
			time.Sleep(20 * time.Millisecond)
			done(WriteResult{Zxid: f.t.LastZxid()})
		}()
		return
	}
	cr, ok := req.Body.(*proto.CreateRequest)
	if !ok {
		done(WriteResult{Err: proto.ErrUnimplemented})
		return
	}
	go func() {
		<-f.release
		f.mu.Lock()
		f.zxid++
		hdr := proto.TxnHeader{ClientID: req.SessionID, Cxid: req.Cxid, Zxid: f.zxid, Type: proto.OpCreate}
		res := f.t.Apply(&hdr, &proto.CreateTxn{Path: cr.Path, Data: cr.Data, ACL: cr.ACL, ParentCVersion: 1})
		f.mu.Unlock()
		done(WriteResult{Zxid: hdr.Zxid, Result: res})
	}()
}

// startServe serves b with opts on a loopback port until the test ends
// and returns the port's address.
func startServe(t *testing.T, b Backend, opts Options) string {
	t.Helper()
	_, addr := startServer(t, b, opts)
	return addr
}

// startServer is startServe that also returns the Server.
func startServer(t *testing.T, b Backend, opts Options) (*Server, string) {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	opts.Backend = b
	s := New(opts)
	if f, ok := b.(*fakeBackend); ok {
		f.closer = s
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { s.Serve(ctx, l); close(done) }()
	t.Cleanup(func() { cancel(); <-done })
	return s, l.Addr().String()
}

type rawConn struct {
	t  *testing.T
	nc net.Conn
	br *bufio.Reader
}

func dial(t *testing.T, addr string) *rawConn {
	t.Helper()
	nc, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { nc.Close() })
	c := &rawConn{t: t, nc: nc, br: bufio.NewReader(nc)}
	nc.SetDeadline(time.Now().Add(10 * time.Second))
	nc.Write(proto.AppendFrame(nil, &proto.ConnectRequest{TimeOut: 10000, Passwd: make([]byte, 16)}))
	if _, err := proto.ReadFrame(c.br, nil, proto.DefaultMaxBuffer); err != nil {
		t.Fatalf("connect: %v", err)
	}
	return c
}

func (c *rawConn) send(xid int32, op proto.OpCode, body proto.Record) {
	c.nc.Write(proto.AppendRequest(nil, proto.RequestHeader{Xid: xid, Type: op}, body))
}

func (c *rawConn) reply() (proto.ReplyHeader, *proto.Decoder) {
	c.t.Helper()
	frame, err := proto.ReadFrame(c.br, nil, proto.DefaultMaxBuffer)
	if err != nil {
		c.t.Fatalf("reply: %v", err)
	}
	d := proto.NewDecoder(frame)
	var h proto.ReplyHeader
	h.Decode(d)
	return h, d
}

// A read pipelined behind its own session's write waits for the write,
// and sees it; replies come back in request order.
func TestReadWaitsForOwnWrite(t *testing.T) {
	f := newFake()
	c := dial(t, startServe(t, f, Options{}))
	c.send(1, proto.OpCreate, &proto.CreateRequest{Path: "/w", Data: []byte("v"), ACL: proto.OpenACLUnsafe})
	c.send(2, proto.OpGetData, &proto.GetDataRequest{Path: "/w"})
	c.send(3, proto.OpExists, &proto.ExistsRequest{Path: "/"})
	time.Sleep(100 * time.Millisecond) // the write is held: nothing may be answered yet
	c.nc.SetReadDeadline(time.Now().Add(50 * time.Millisecond))
	if _, err := c.br.Peek(1); err == nil {
		t.Fatal("a reply arrived while the session's write was still in flight")
	}
	c.nc.SetReadDeadline(time.Now().Add(10 * time.Second))
	f.release <- struct{}{}
	for _, want := range []int32{1, 2, 3} {
		h, d := c.reply()
		if h.Xid != want || h.Err != proto.ErrOK {
			t.Fatalf("reply %+v, want xid %d OK", h, want)
		}
		if want == 2 {
			var gd proto.GetDataResponse
			gd.Decode(d)
			if string(gd.Data) != "v" {
				t.Fatalf("the read after the write saw %q", gd.Data)
			}
		}
	}
}

// Another session's reads are not held behind this session's write.
func TestOtherSessionNotBlocked(t *testing.T) {
	f := newFake()
	addr := startServe(t, f, Options{})
	a, b := dial(t, addr), dial(t, addr)
	a.send(1, proto.OpCreate, &proto.CreateRequest{Path: "/held", ACL: proto.OpenACLUnsafe})
	b.send(1, proto.OpExists, &proto.ExistsRequest{Path: "/"})
	if h, _ := b.reply(); h.Xid != 1 || h.Err != proto.ErrOK {
		t.Fatalf("other session's read: %+v", h)
	}
	f.release <- struct{}{}
	if h, _ := a.reply(); h.Xid != 1 {
		t.Fatalf("held write: %+v", h)
	}
}

// Four-letter words honour the whitelist; Admit can refuse sessions while
// four-letter words are still answered.
func TestFourLetterWordsAndAdmit(t *testing.T) {
	addr := startServe(t, newFake(), Options{
		FourLetterWords: map[string]bool{"ruok": true},
		Admit:           func(bool) bool { return false },
	})
	ask := func(cmd string) string {
		nc, err := net.Dial("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		defer nc.Close()
		nc.SetDeadline(time.Now().Add(5 * time.Second))
		nc.Write([]byte(cmd))
		b := make([]byte, 4096)
		n, _ := bufio.NewReader(nc).Read(b)
		return string(b[:n])
	}
	if got := ask("ruok"); got != "imok" {
		t.Fatalf("ruok: %q", got)
	}
	if got := ask("srvr"); got != "srvr is not executed because it is not in the whitelist.\n" {
		t.Fatalf("srvr off the whitelist: %q", got)
	}
	nc, _ := net.Dial("tcp", addr)
	defer nc.Close()
	nc.SetDeadline(time.Now().Add(5 * time.Second))
	nc.Write(proto.AppendFrame(nil, &proto.ConnectRequest{TimeOut: 10000, Passwd: make([]byte, 16)}))
	if _, err := proto.ReadFrame(nc, nil, proto.DefaultMaxBuffer); err == nil {
		t.Fatal("a session was opened although Admit refused it")
	}
}

// A closeSession is answered before its connection closes, although the
// backend asks for the close before the request completes.
func TestCloseSessionAnsweredBeforeClose(t *testing.T) {
	c := dial(t, startServe(t, newFake(), Options{}))
	c.send(1, proto.OpExists, &proto.ExistsRequest{Path: "/"})
	c.send(2, proto.OpCloseSession, nil)
	for _, want := range []int32{1, 2} {
		if h, _ := c.reply(); h.Xid != want || h.Err != proto.ErrOK {
			t.Fatalf("reply %+v, want xid %d OK", h, want)
		}
	}
	if _, err := c.br.ReadByte(); err == nil {
		t.Fatal("the connection stayed open after closeSession was answered")
	}
}

// Reads queued behind a write are answered in order after it, with
// replies carrying the zxid the write reached, and the server's request
// count and latency figures count every request.
func TestQueuedReadsAnsweredInOrder(t *testing.T) {
	f := newFake()
	addr := startServe(t, f, Options{})
	c := dial(t, addr)
	c.send(1, proto.OpCreate, &proto.CreateRequest{Path: "/q", Data: []byte("x"), ACL: proto.OpenACLUnsafe})
	const reads = 50
	for i := range reads {
		c.send(int32(2+i), proto.OpGetData, &proto.GetDataRequest{Path: "/q"})
	}
	f.release <- struct{}{}
	for i := range reads + 1 {
		h, d := c.reply()
		if h.Xid != int32(1+i) || h.Err != proto.ErrOK || h.Zxid < 1 {
			t.Fatalf("reply %d: %+v, want xid %d OK at zxid >= 1", i, h, 1+i)
		}
		if i > 0 {
			var gd proto.GetDataResponse
			gd.Decode(d)
			if string(gd.Data) != "x" {
				t.Fatalf("read %d saw %q", i, gd.Data)
			}
		}
	}
	nc, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	nc.SetDeadline(time.Now().Add(5 * time.Second))
	nc.Write([]byte("srvr"))
	out, _ := io.ReadAll(nc)
	if !strings.Contains(string(out), fmt.Sprintf("Received: %d\n", reads+1)) {
		t.Fatalf("srvr does not count %d requests:\n%s", reads+1, out)
	}
}
