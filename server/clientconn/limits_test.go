package clientconn

import (
	"io"
	"net"
	"runtime"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/zkbench/zkbench/server/proto"
)

// put creates path holding data straight in the fake's tree.
func (f *fakeBackend) put(path string, data []byte) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.zxid++
	hdr := proto.TxnHeader{Zxid: f.zxid, Type: proto.OpCreate}
	f.t.Apply(&hdr, &proto.CreateTxn{Path: path, Data: data, ACL: proto.OpenACLUnsafe, ParentCVersion: 1})
}

// expectClosed reads until the connection ends, failing on any frame.
func (c *rawConn) expectClosed() {
	c.t.Helper()
	frame, err := proto.ReadFrame(c.br, nil, 1<<30)
	if err == nil {
		var h proto.ReplyHeader
		h.Decode(proto.NewDecoder(frame))
		c.t.Fatalf("got a %d-byte frame %+v, want the connection closed", len(frame), h)
	}
	if !strings.Contains(err.Error(), "EOF") && !strings.Contains(err.Error(), "reset") {
		c.t.Fatalf("want the connection closed, got %v", err)
	}
}

func multiGetData(path string, n int) *proto.MultiRequest {
	mr := &proto.MultiRequest{}
	for range n {
		mr.Ops = append(mr.Ops, proto.NewMultiOp(proto.OpGetData, &proto.GetDataRequest{Path: path}))
	}
	return mr
}

// A reply longer than jute.maxbuffer is never built. Upstream builds and
// sends it, and the client, whose jute.maxbuffer is the same, drops the
// connection on its length ("Packet len N is out of range!"): the
// request fails with a connection loss and the session lives on. The
// server does the same without building it: the replies before it go
// out, then the connection closes; nothing after it is answered.
func TestOversizedReplyClosesConnection(t *testing.T) {
	f := newFake()
	big := make([]byte, 1_000_000)
	f.put("/big", big)
	for _, tc := range []struct {
		name string
		send func(c *rawConn)
	}{
		{"multiRead", func(c *rawConn) { c.send(2, proto.OpMultiRead, multiGetData("/big", 100)) }},
		{"multiRead behind a write", func(c *rawConn) {
			c.send(2, proto.OpCreate, &proto.CreateRequest{Path: "/w", ACL: proto.OpenACLUnsafe})
			c.send(3, proto.OpMultiRead, multiGetData("/big", 2))
			f.release <- struct{}{}
		}},
		{"getChildren", func(c *rawConn) { c.send(2, proto.OpGetChildren, &proto.GetChildrenRequest{Path: "/kids"}) }},
		{"getChildren2", func(c *rawConn) { c.send(2, proto.OpGetChildren2, &proto.GetChildren2Request{Path: "/kids"}) }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if tc.name == "getChildren" {
				f.put("/kids", nil)
				name := strings.Repeat("k", 1000)
				for i := range 1100 {
					f.put("/kids/"+name+string(rune('a'+i%26))+strings.Repeat("z", i/26), nil)
				}
			}
			c := dial(t, startServe(t, f, Options{}))
			c.send(1, proto.OpExists, &proto.ExistsRequest{Path: "/big"})
			var before runtime.MemStats
			runtime.ReadMemStats(&before)
			tc.send(c)
			c.send(9, proto.OpExists, &proto.ExistsRequest{Path: "/big"})
			h, _ := c.reply()
			if h.Xid != 1 || h.Err != proto.ErrOK {
				t.Fatalf("the reply before the oversized one: %+v", h)
			}
			if tc.name == "multiRead behind a write" {
				if h, _ := c.reply(); h.Xid != 2 {
					t.Fatalf("the write before the oversized read: %+v", h)
				}
			}
			c.expectClosed()
			var after runtime.MemStats
			runtime.ReadMemStats(&after)
			if grew := after.TotalAlloc - before.TotalAlloc; grew > 8<<20 {
				t.Fatalf("answering allocated %d MB: the oversized reply was built", grew>>20)
			}
		})
	}
}

// The largest reply that fits jute.maxbuffer is still sent, whole.
func TestReplyAtMaxBufferSent(t *testing.T) {
	f := newFake()
	const max = 64 << 10
	// A getData reply frame: 16 header, 4 length, data, 68 stat.
	f.put("/fits", make([]byte, max-16-4-68))
	f.put("/over", make([]byte, max-16-4-68+1))
	c := dial(t, startServe(t, f, Options{MaxBuffer: max}))
	c.send(1, proto.OpGetData, &proto.GetDataRequest{Path: "/fits"})
	frame, err := proto.ReadFrame(c.br, nil, max)
	if err != nil || len(frame) != max {
		t.Fatalf("getData of the largest node: %d bytes, %v; want %d", len(frame), err, max)
	}
	c.send(2, proto.OpGetData, &proto.GetDataRequest{Path: "/over"})
	c.expectClosed()
}

// A client that sends requests and never reads their replies stops being
// read once its queued output passes the cap: the server's memory for it
// stays bounded, and once it reads again everything is answered in order.
func TestQueuedOutputCapped(t *testing.T) {
	f := newFake()
	value := make([]byte, 64<<10)
	f.put("/v", value)
	s, addr := startServer(t, f, Options{})
	nc, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	// A small receive window, so that the kernel holds little of what the
	// server writes.
	nc.(*net.TCPConn).SetReadBuffer(16 << 10)
	nc.Write(proto.AppendFrame(nil, &proto.ConnectRequest{TimeOut: 30000, Passwd: make([]byte, 16)}))
	const n = 1000 // 64 MB of replies
	var reqs []byte
	for i := range n {
		reqs = proto.AppendRequest(reqs, proto.RequestHeader{Xid: int32(i + 1), Type: proto.OpGetData}, &proto.GetDataRequest{Path: "/v"})
	}
	go nc.Write(reqs) // blocks once the server stops reading
	var peak int
	for range 50 {
		time.Sleep(10 * time.Millisecond)
		for _, c := range s.snapshotConns() {
			c.outMu.Lock()
			q := len(c.out)
			c.outMu.Unlock()
			peak = max(peak, q)
		}
	}
	// The default cap is two jute.maxbuffers (2 MiB); a reply may cross
	// it, and the buffer being written is not counted here.
	if limit := 4 << 20; peak > limit {
		t.Fatalf("queued output reached %d bytes, more than %d", peak, limit)
	}
	// Reading again drains it all, in order.
	br := io.Reader(nc)
	nc.SetReadDeadline(time.Now().Add(20 * time.Second))
	if _, err := proto.ReadFrame(br, nil, 1<<20); err != nil { // the connect response
		t.Fatal(err)
	}
	for i := range n {
		frame, err := proto.ReadFrame(br, nil, 1<<20)
		if err != nil {
			t.Fatalf("reply %d: %v", i+1, err)
		}
		var h proto.ReplyHeader
		h.Decode(proto.NewDecoder(frame))
		if h.Xid != int32(i+1) || h.Err != proto.ErrOK || len(frame) != 16+4+len(value)+68 {
			t.Fatalf("reply %d: %+v, %d bytes", i+1, h, len(frame))
		}
	}
}

// replyLen measures what proto encodes.
func TestReplyLenMatchesEncoding(t *testing.T) {
	kids := []string{"a", "bb", "ccc\u00e9"}
	for _, body := range []proto.Record{
		&proto.GetDataResponse{Data: []byte("hello")},
		&proto.GetDataResponse{},
		&proto.GetChildrenResponse{Children: kids},
		&proto.GetChildrenResponse{Children: []string{}},
		&proto.GetChildren2Response{Children: kids},
		&proto.GetEphemeralsResponse{Ephemerals: kids},
		&proto.MultiResponse{Results: []proto.MultiResult{
			{Type: proto.OpGetData, Data: []byte("xyz")},
			{Type: proto.OpGetChildren, Children: kids},
			proto.MultiError(proto.ErrNoNode),
		}},
		&proto.MultiResponse{},
	} {
		frame := proto.AppendReply(nil, proto.ReplyHeader{Xid: 1}, body)
		if got, want := replyLen(body), len(frame)-4; got != want {
			t.Errorf("replyLen(%T) = %d, encoded %d", body, got, want)
		}
	}
}

// cons counts each connection's requests and replies and its latencies
// (min <= avg <= max, in ms), and crst sets them back to zero; the server's
// totals (srvr) are not reset by crst.
func TestConsCountsPerConnectionAndCrstResets(t *testing.T) {
	s, addr := startServer(t, newFake(), Options{})
	c := dial(t, addr)
	for xid := int32(1); xid <= 3; xid++ {
		c.send(xid, proto.OpExists, &proto.ExistsRequest{Path: "/"})
		if h, _ := c.reply(); h.Xid != xid {
			t.Fatalf("reply xid %d, want %d", h.Xid, xid)
		}
	}
	field := func(line, name string) int64 {
		t.Helper()
		_, rest, ok := strings.Cut(line, name+"=")
		if !ok {
			t.Fatalf("no %s in %q", name, line)
		}
		end := strings.IndexAny(rest, ",)")
		n, err := strconv.ParseInt(rest[:end], 10, 64)
		if err != nil {
			t.Fatalf("%s in %q: %v", name, line, err)
		}
		return n
	}
	cons := s.FourLetterWord("cons")
	// The three requests (not the handshake) and their replies.
	if got := field(cons, "recved"); got != 3 {
		t.Errorf("recved=%d after 3 requests, want 3:\n%s", got, cons)
	}
	if got := field(cons, "sent"); got < 3 {
		t.Errorf("sent=%d after 3 replies:\n%s", got, cons)
	}
	if lo, avg, hi := field(cons, "minlat"), field(cons, "avglat"), field(cons, "maxlat"); lo > avg || avg > hi {
		t.Errorf("minlat %d, avglat %d, maxlat %d out of order:\n%s", lo, avg, hi, cons)
	}
	s.FourLetterWord("crst")
	cons = s.FourLetterWord("cons")
	for _, name := range []string{"recved", "sent", "minlat", "avglat", "maxlat"} {
		if got := field(cons, name); got != 0 {
			t.Errorf("%s=%d after crst, want 0:\n%s", name, got, cons)
		}
	}
	if srvr := s.FourLetterWord("srvr"); !strings.Contains(srvr, "Received: 3\n") {
		t.Errorf("crst reset the server's totals too:\n%s", srvr)
	}
}

// Watch events queue past the output cap (the throttle pauses the reader,
// not the tree), but not without end: a client that holds a persistent
// recursive watch and stops reading is disconnected once its events reach
// eventBacklog times the cap, as a reconnecting client re-registers its
// watches and misses nothing it could not have missed anyway.
func TestUnreadWatchEventsBounded(t *testing.T) {
	f := newFake()
	s, addr := startServer(t, f, Options{MaxOutput: 64 << 10})
	nc, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	nc.(*net.TCPConn).SetReadBuffer(16 << 10)
	nc.Write(proto.AppendFrame(nil, &proto.ConnectRequest{TimeOut: 30000, Passwd: make([]byte, 16)}))
	nc.Write(proto.AppendRequest(nil, proto.RequestHeader{Xid: 1, Type: proto.OpAddWatch},
		&proto.AddWatchRequest{Path: "/", Mode: proto.AddWatchPersistentRecursive}))
	nc.SetReadDeadline(time.Now().Add(10 * time.Second))
	for range 2 { // the connect response and the addWatch reply
		if _, err := proto.ReadFrame(nc, nil, 1<<20); err != nil {
			t.Fatal(err)
		}
	}
	// The client reads no more. 100k creates of 200-byte names make
	// ~25 MB of events, far past eventBacklog x 64 KiB plus what the
	// kernel buffers (a few MB).
	long := "/" + strings.Repeat("n", 200)
	var peak int
	for i := range 100_000 {
		f.put(long+strconv.Itoa(i), nil)
		if i%1000 == 0 {
			for _, c := range s.snapshotConns() {
				c.outMu.Lock()
				peak = max(peak, len(c.out))
				c.outMu.Unlock()
			}
		}
	}
	if limit := eventBacklog*(64<<10) + 64<<10; peak > limit {
		t.Errorf("queued events reached %d bytes, more than %d", peak, limit)
	}
	deadline := time.Now().Add(10 * time.Second)
	for len(s.snapshotConns()) > 0 {
		if time.Now().After(deadline) {
			t.Fatal("the connection that stopped reading its events is still open")
		}
		time.Sleep(10 * time.Millisecond)
	}
}
