package noop

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/go-zookeeper/zk"

	"github.com/zkbench/zkbench/internal/netutil/netutiltest"
	"github.com/zkbench/zkbench/server/proto"
)

// startServer runs a Server on a loopback port until the test ends.
func startServer(tb testing.TB, s *Server) string {
	tb.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		tb.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- s.Serve(ctx, ln) }()
	tb.Cleanup(func() {
		cancel()
		select {
		case err := <-done:
			if err != nil {
				tb.Errorf("Serve: %v", err)
			}
		case <-time.After(10 * time.Second):
			tb.Errorf("Serve did not return within 10s of cancel")
		}
	})
	return ln.Addr().String()
}

type quietLogger struct{}

func (quietLogger) Printf(string, ...any) {}

// connect opens a go-zookeeper session and waits until it is established.
func connect(tb testing.TB, addr string) *zk.Conn {
	tb.Helper()
	c, events, err := zk.Connect([]string{addr}, 10*time.Second, zk.WithLogger(quietLogger{}), zk.WithLogInfo(false))
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(c.Close)
	timeout := time.After(10 * time.Second)
	for {
		select {
		case ev := <-events:
			if ev.State == zk.StateHasSession {
				return c
			}
		case <-timeout:
			tb.Fatalf("no session within 10s (state %v)", c.State())
		}
	}
}

func TestClientOps(t *testing.T) {
	addr := startServer(t, &Server{})
	c := connect(t, addr)
	if c.SessionID() == 0 {
		t.Fatal("session id 0")
	}

	data, st, err := c.Get("/any/path")
	if err != nil || len(data) != 1024 || st.DataLength != 1024 {
		t.Fatalf("Get = %d bytes, %+v, %v", len(data), st, err)
	}
	if data[0] != 'a' || data[25] != 'z' || data[26] != 'a' {
		t.Fatalf("value starts %q", data[:27])
	}
	st2, err := c.Set("/x", []byte("new"), -1)
	if err != nil || st2.Mzxid <= st.Mzxid {
		t.Fatalf("Set = %+v, %v (zxid should grow past %d)", st2, err, st.Mzxid)
	}
	p, err := c.Create("/made", []byte("v"), 0, zk.WorldACL(zk.PermAll))
	if err != nil || p != "/made" {
		t.Fatalf("Create = %q, %v", p, err)
	}
	p, err = c.Create("/seq-", nil, zk.FlagSequence, zk.WorldACL(zk.PermAll))
	if err != nil || len(p) != len("/seq-")+10 || !strings.HasPrefix(p, "/seq-") {
		t.Fatalf("sequential Create = %q, %v", p, err)
	}
	p, err = c.CreateContainer("/cont", nil, zk.FlagContainer, zk.WorldACL(zk.PermAll))
	if err != nil || p != "/cont" {
		t.Fatalf("CreateContainer = %q, %v", p, err)
	}
	ok, st, err := c.Exists("/e")
	if err != nil || !ok || st == nil {
		t.Fatalf("Exists = %v, %+v, %v", ok, st, err)
	}
	kids, _, err := c.Children("/")
	if err != nil || len(kids) != 0 {
		t.Fatalf("Children = %q, %v", kids, err)
	}
	if err := c.Delete("/made", -1); err != nil {
		t.Fatalf("Delete: %v", err)
	}
	if p, err := c.Sync("/synced"); err != nil || p != "/synced" {
		t.Fatalf("Sync = %q, %v", p, err)
	}
	res, err := c.Multi(
		&zk.CreateRequest{Path: "/m", Data: []byte("x"), Acl: zk.WorldACL(zk.PermAll)},
		&zk.SetDataRequest{Path: "/m", Data: []byte("y"), Version: -1},
		&zk.CheckVersionRequest{Path: "/m", Version: 1},
		&zk.DeleteRequest{Path: "/m", Version: -1},
	)
	if err != nil || len(res) != 4 {
		t.Fatalf("Multi = %+v, %v", res, err)
	}
	if res[0].String != "/m" || res[1].Stat == nil || res[1].Stat.DataLength != 1024 {
		t.Fatalf("Multi results: %+v %+v", res[0], res[1])
	}
	for i, r := range res {
		if r.Error != nil {
			t.Errorf("Multi op %d: %v", i, r.Error)
		}
	}
	if err := c.AddAuth("digest", []byte("u:p")); err != nil {
		t.Fatalf("AddAuth: %v", err)
	}
	if _, _, err := c.GetACL("/a"); err != nil {
		t.Fatalf("GetACL: %v", err)
	}
}

func TestValueSize(t *testing.T) {
	c := connect(t, startServer(t, &Server{ValueSize: 10}))
	data, st, err := c.Get("/x")
	if err != nil || len(data) != 10 || st.DataLength != 10 {
		t.Fatalf("Get = %q, %+v, %v", data, st, err)
	}
}

func TestConcurrentClients(t *testing.T) {
	clients, perClient := 50, 200
	if testing.Short() {
		clients, perClient = 10, 50
	}
	addr := startServer(t, &Server{})
	conns := make([]*zk.Conn, clients)
	for i := range conns {
		conns[i] = connect(t, addr)
	}
	var wg sync.WaitGroup
	errs := make(chan error, clients)
	deadline := time.Now().Add(30 * time.Second)
	for i, c := range conns {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for j := 0; j < perClient; j++ {
				if time.Now().After(deadline) {
					errs <- fmt.Errorf("client %d: out of time after %d requests", i, j)
					return
				}
				var err error
				if j%3 == 0 {
					_, err = c.Set("/n", []byte("v"), -1)
				} else {
					var data []byte
					data, _, err = c.Get("/n")
					if err == nil && len(data) != 1024 {
						err = fmt.Errorf("got %d bytes", len(data))
					}
				}
				if err != nil {
					errs <- fmt.Errorf("client %d request %d: %w", i, j, err)
					return
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
}

// rawConn is a hand-driven client connection.
type rawConn struct {
	t  *testing.T
	nc net.Conn
	br *bufio.Reader
}

func dialRaw(t *testing.T, addr string) *rawConn {
	t.Helper()
	nc, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { nc.Close() })
	nc.SetDeadline(time.Now().Add(10 * time.Second))
	return &rawConn{t: t, nc: nc, br: bufio.NewReader(nc)}
}

func (r *rawConn) write(b []byte) {
	r.t.Helper()
	if _, err := r.nc.Write(b); err != nil {
		r.t.Fatal(err)
	}
}

// handshake connects with or without the readOnly byte and returns the
// connect response frame.
func (r *rawConn) handshake(readOnly bool) []byte {
	r.t.Helper()
	return r.handshakeTimeout(readOnly, 12345)
}

func (r *rawConn) handshakeTimeout(readOnly bool, timeoutMs int32) []byte {
	r.t.Helper()
	req := proto.Marshal(&proto.ConnectRequest{TimeOut: timeoutMs, Passwd: make([]byte, 16)})
	if !readOnly {
		req = req[:len(req)-1]
	}
	r.write(append(binaryLen(len(req)), req...))
	return r.frame()
}

func binaryLen(n int) []byte { return []byte{byte(n >> 24), byte(n >> 16), byte(n >> 8), byte(n)} }

func (r *rawConn) frame() []byte {
	r.t.Helper()
	f, err := proto.ReadFrame(r.br, nil, 0)
	if err != nil {
		r.t.Fatalf("reading reply: %v", err)
	}
	return f
}

func (r *rawConn) reply() (proto.ReplyHeader, []byte) {
	r.t.Helper()
	f := r.frame()
	d := proto.NewDecoder(f)
	var h proto.ReplyHeader
	h.Decode(d)
	if d.Err() != nil {
		r.t.Fatalf("reply header: %v", d.Err())
	}
	return h, d.Rest()
}

// expectClosed asserts the server closes the connection.
func (r *rawConn) expectClosed() {
	r.t.Helper()
	_, err := r.br.ReadByte()
	if !errors.Is(err, io.EOF) && !errors.Is(err, net.ErrClosed) && !isReset(err) {
		r.t.Fatalf("connection not closed: read err = %v", err)
	}
}

func isReset(err error) bool {
	return err != nil && strings.Contains(err.Error(), "connection reset")
}

func TestHandshakeReadOnlyByte(t *testing.T) {
	addr := startServer(t, &Server{})
	for _, ro := range []bool{false, true} {
		r := dialRaw(t, addr)
		resp := r.handshake(ro)
		want := 4 + 4 + 8 + 4 + 16
		if ro {
			want++
		}
		if len(resp) != want {
			t.Fatalf("readOnly=%v: response is %d bytes, want %d", ro, len(resp), want)
		}
		var cr proto.ConnectResponse
		if err := proto.Unmarshal(resp, &cr); err != nil || cr.TimeOut != 12345 || cr.SessionID == 0 || len(cr.Passwd) != 16 || cr.ReadOnly {
			t.Fatalf("connect response %+v, %v", cr, err)
		}
	}
}

func TestRawProtocol(t *testing.T) {
	addr := startServer(t, &Server{})
	r := dialRaw(t, addr)
	r.handshake(false)

	// Pipelined requests are answered in order, each with its own xid.
	var batch []byte
	const n = 100
	for i := 1; i <= n; i++ {
		batch = proto.AppendRequest(batch, proto.RequestHeader{Xid: int32(i), Type: proto.OpGetData}, &proto.GetDataRequest{Path: "/p"})
	}
	r.write(batch)
	for i := 1; i <= n; i++ {
		h, body := r.reply()
		var gd proto.GetDataResponse
		if h.Xid != int32(i) || h.Err != 0 || proto.Unmarshal(body, &gd) != nil || len(gd.Data) != 1024 {
			t.Fatalf("reply %d: %+v, %d-byte body", i, h, len(body))
		}
	}

	r.write(proto.AppendRequest(nil, proto.RequestHeader{Xid: proto.XidPing, Type: proto.OpPing}, nil))
	if h, body := r.reply(); h.Xid != proto.XidPing || h.Err != 0 || len(body) != 0 {
		t.Fatalf("ping reply %+v, % x", h, body)
	}

	// An opcode proto does not know gets UNIMPLEMENTED, as from upstream.
	r.write(proto.AppendRequest(nil, proto.RequestHeader{Xid: 7, Type: 77}, nil))
	if h, body := r.reply(); h.Xid != 7 || h.Err != proto.ErrUnimplemented || len(body) != 0 {
		t.Fatalf("unknown-op reply %+v, % x", h, body)
	}

	// multiRead returns data for getData and no children.
	mr := &proto.MultiRequest{Ops: []proto.MultiOp{
		proto.NewMultiOp(proto.OpGetData, &proto.GetDataRequest{Path: "/a"}),
		proto.NewMultiOp(proto.OpGetChildren, &proto.GetChildrenRequest{Path: "/"}),
	}}
	r.write(proto.AppendRequest(nil, proto.RequestHeader{Xid: 8, Type: proto.OpMultiRead}, mr))
	h, body := r.reply()
	var resp proto.MultiResponse
	if err := proto.Unmarshal(body, &resp); err != nil || h.Xid != 8 || len(resp.Results) != 2 ||
		len(resp.Results[0].Data) != 1024 || resp.Results[1].Type != proto.OpGetChildren || resp.Results[1].Children == nil {
		t.Fatalf("multiRead reply %+v %+v, %v", h, resp, err)
	}

	r.write(proto.AppendRequest(nil, proto.RequestHeader{Xid: 9, Type: proto.OpCloseSession}, nil))
	if h, body := r.reply(); h.Xid != 9 || h.Err != 0 || len(body) != 0 {
		t.Fatalf("closeSession reply %+v, % x", h, body)
	}
	r.expectClosed()
}

func TestBadFramesCloseOnlyThatConnection(t *testing.T) {
	addr := startServer(t, &Server{MaxBuffer: 4096})
	c := connect(t, addr)

	cases := []struct {
		name  string
		frame []byte
	}{
		{"oversized", binaryLen(4097)},
		{"negative length", []byte{0xff, 0xff, 0xff, 0xf0}},
		{"short header", append(binaryLen(3), 1, 2, 3)},
		{"bad getData body", proto.AppendRequest(nil, proto.RequestHeader{Xid: 1, Type: proto.OpGetData}, &proto.Empty{})},
		{"multi with a bad op", append(proto.AppendRequest(nil, proto.RequestHeader{Xid: 1, Type: proto.OpMulti}, nil)[:0],
			proto.AppendRequest(nil, proto.RequestHeader{Xid: 1, Type: proto.OpMulti}, &proto.MultiHeader{Type: proto.OpExists})...)},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			r := dialRaw(t, addr)
			r.handshake(false)
			r.write(tc.frame)
			r.expectClosed()
			if _, _, err := c.Get("/still-alive"); err != nil {
				t.Fatalf("other client failed after %s: %v", tc.name, err)
			}
		})
	}
	// A bad connect request is refused too.
	r := dialRaw(t, addr)
	r.write(append(binaryLen(5), 0, 0, 0, 0, 0))
	r.expectClosed()
}

func TestFourLetterWords(t *testing.T) {
	addr := startServer(t, &Server{})
	connect(t, addr)
	ask := func(word string) string {
		r := dialRaw(t, addr)
		r.write([]byte(word))
		b, err := io.ReadAll(r.br)
		if err != nil {
			t.Fatalf("%s: %v", word, err)
		}
		return string(b)
	}
	if got := ask("ruok"); got != "imok" {
		t.Fatalf("ruok = %q", got)
	}
	if got := ask("isro"); got != "rw" {
		t.Fatalf("isro = %q", got)
	}
	// The session and the asking connection. The server closes each
	// four-letter connection after answering and counts it out only once
	// its goroutine ends, so an earlier one may still be counted: ask again.
	srvr := ask("srvr")
	for deadline := time.Now().Add(5 * time.Second); !strings.Contains(srvr, "Connections: 2\n") && time.Now().Before(deadline); {
		time.Sleep(10 * time.Millisecond)
		srvr = ask("srvr")
	}
	for _, want := range []string{"Zookeeper version: " + Version, "Mode: standalone\n", "Connections: 2\n", "Zxid: 0x"} {
		if !strings.Contains(srvr, want) {
			t.Errorf("srvr output lacks %q:\n%s", want, srvr)
		}
	}
	if ok := zk.FLWRuok([]string{addr}, 5*time.Second); len(ok) != 1 || !ok[0] {
		t.Fatalf("zk.FLWRuok = %v", ok)
	}
}

func TestServeReturnsOnCancel(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- (&Server{}).Serve(ctx, ln) }()
	r := dialRaw(t, ln.Addr().String())
	r.handshake(true)
	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("Serve = %v, want nil", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("Serve still running 10s after cancel")
	}
	r.expectClosed()
	if _, err := net.Dial("tcp", ln.Addr().String()); err == nil {
		t.Fatal("listener still accepting after Serve returned")
	}
}

func TestPasswordStable(t *testing.T) {
	if !bytes.Equal(passwordFor(42), passwordFor(42)) || bytes.Equal(passwordFor(42), passwordFor(43)) {
		t.Fatal("passwordFor is not a function of the session id")
	}
}

func TestIdleConnectionClosed(t *testing.T) {
	addr := startServer(t, &Server{})
	r := dialRaw(t, addr)
	r.handshakeTimeout(false, 50) // silent for 100 ms: gone
	r.expectClosed()

	// A client that keeps pinging within its timeout stays connected.
	r = dialRaw(t, addr)
	r.handshakeTimeout(false, 300)
	for i := 0; i < 5; i++ {
		time.Sleep(100 * time.Millisecond)
		r.write(proto.AppendRequest(nil, proto.RequestHeader{Xid: proto.XidPing, Type: proto.OpPing}, nil))
		if h, _ := r.reply(); h.Xid != proto.XidPing {
			t.Fatalf("ping %d: reply xid %d", i, h.Xid)
		}
	}
}

// TestRepliesBatched checks that replies to pipelined requests leave in
// batches, not one write each.
func TestRepliesBatched(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var writes atomic.Int64
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- (&Server{}).Serve(ctx, netutiltest.CountingListener{Listener: ln, Writes: &writes}) }()
	t.Cleanup(func() { cancel(); <-done })

	r := dialRaw(t, ln.Addr().String())
	r.handshake(false)
	before := writes.Load()
	const n = 200
	var batch []byte
	for i := 1; i <= n; i++ {
		batch = proto.AppendRequest(batch, proto.RequestHeader{Xid: int32(i), Type: proto.OpExists}, &proto.ExistsRequest{Path: "/p"})
	}
	r.write(batch)
	for i := 1; i <= n; i++ {
		if h, _ := r.reply(); h.Xid != int32(i) {
			t.Fatalf("reply %d has xid %d", i, h.Xid)
		}
	}
	if w := writes.Load() - before; w > n/4 {
		t.Fatalf("%d replies took %d writes; want them batched (at most %d)", n, w, n/4)
	} else {
		t.Logf("%d replies in %d writes", n, w)
	}
}
