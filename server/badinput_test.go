package server_test

import (
	"encoding/binary"
	"io"
	"net"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/go-zookeeper/zk"

	"github.com/zkbench/zkbench/internal/zktest"
	"github.com/zkbench/zkbench/server/proto"
)

// Bad input closes the offending connection and hurts nobody else.
func TestIntegrationBadInputClosesOnlyThatConnection(t *testing.T) {
	srv := zktest.StartGo(t, "jute.maxbuffer=65536")
	good := connect(t, srv.Addr)
	if _, err := good.Create("/ok", []byte("v"), 0, zk.WorldACL(zk.PermAll)); err != nil {
		t.Fatal(err)
	}
	frame := func(body []byte) []byte {
		return binary.BigEndian.AppendUint32(nil, uint32(len(body))) // length only; body follows
	}
	cases := []struct {
		name string
		send func(c *zktest.RawClient) error
	}{
		{"oversized frame", func(c *zktest.RawClient) error {
			return c.Raw(binary.BigEndian.AppendUint32(nil, 1<<20))
		}},
		{"negative length", func(c *zktest.RawClient) error {
			return c.Raw([]byte{0xff, 0xff, 0xff, 0xf0})
		}},
		{"truncated getData body", func(c *zktest.RawClient) error {
			body := proto.Marshal(&proto.RequestHeader{Xid: 1, Type: proto.OpGetData})
			body = append(body, 0, 0, 0, 50, 'x') // path says 50 bytes, has 1
			return c.Raw(append(frame(body), body...))
		}},
		{"vector count beyond frame", func(c *zktest.RawClient) error {
			body := proto.Marshal(&proto.RequestHeader{Xid: 1, Type: proto.OpCreate})
			body = append(body, 0, 0, 0, 2, '/', 'z', 0, 0, 0, 0, 0x7f, 0xff, 0xff, 0xff)
			return c.Raw(append(frame(body), body...))
		}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			c, err := zktest.DialRaw(srv.Addr, 10*time.Second)
			if err != nil {
				t.Fatal(err)
			}
			defer c.Conn().Close()
			if err := tc.send(c); err != nil {
				t.Fatal(err)
			}
			c.Conn().SetReadDeadline(time.Now().Add(5 * time.Second))
			if _, err := io.ReadAll(c.Conn()); err != nil {
				if ne, ok := err.(net.Error); ok && ne.Timeout() {
					t.Fatalf("server kept the connection open after %s", tc.name)
				}
			}
			data, _, err := good.Get("/ok")
			if err != nil || string(data) != "v" {
				t.Fatalf("other client hurt by %s: %q %v", tc.name, data, err)
			}
		})
	}
}

// A session that stops pinging expires, its ephemerals vanish, and a
// reconnect with its id is told it expired.
func TestIntegrationSessionExpiry(t *testing.T) {
	srv := zktest.StartGo(t, "tickTime=100", "minSessionTimeout=200")
	c, err := zktest.DialRaw(srv.Addr, 300*time.Millisecond)
	if err != nil {
		t.Fatal(err)
	}
	h, err := c.Do(proto.OpCreate, &proto.CreateRequest{Path: "/e", ACL: proto.OpenACLUnsafe, Flags: proto.ModeEphemeral}, &proto.CreateResponse{})
	if err != nil || h.Err != proto.ErrOK {
		t.Fatalf("create ephemeral: %v %v", h.Err, err)
	}
	watcher := connect(t, srv.Addr)
	ok, _, ch, err := watcher.ExistsW("/e")
	if err != nil || !ok {
		t.Fatalf("exists: %v %v", ok, err)
	}
	select { // no pings from the raw client: the session must expire
	case ev := <-ch:
		if ev.Type != zk.EventNodeDeleted {
			t.Fatalf("event %v, want NodeDeleted", ev.Type)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("ephemeral of an expired session was not deleted")
	}
	nc, err := net.Dial("tcp", srv.Addr)
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	req := proto.ConnectRequest{TimeOut: 300, SessionID: c.Session, Passwd: make([]byte, 16)}
	nc.Write(proto.AppendFrame(nil, &req))
	nc.SetReadDeadline(time.Now().Add(5 * time.Second))
	body, err := proto.ReadFrame(nc, nil, proto.DefaultMaxBuffer)
	if err != nil {
		t.Fatal(err)
	}
	var resp proto.ConnectResponse
	resp.Decode(proto.NewDecoder(body))
	if resp.TimeOut != 0 {
		t.Fatalf("reconnect to an expired session got timeout %d, want 0", resp.TimeOut)
	}
}

// go-zookeeper reconnects with its session id and password after its
// connection drops, and keeps its session and ephemerals.
func TestIntegrationSessionReattach(t *testing.T) {
	srv := zktest.StartGo(t)
	var mu sync.Mutex // the client's goroutine dials; the test reads
	var dialed []net.Conn
	dialer := func(network, addr string, timeout time.Duration) (net.Conn, error) {
		nc, err := net.DialTimeout(network, addr, timeout)
		if err == nil {
			mu.Lock()
			dialed = append(dialed, nc)
			mu.Unlock()
		}
		return nc, err
	}
	dials := func() []net.Conn {
		mu.Lock()
		defer mu.Unlock()
		return slices.Clone(dialed)
	}
	c, _, err := zk.Connect([]string{srv.Addr}, 10*time.Second, zk.WithDialer(dialer), zk.WithLogger(quietLogger{}))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if _, err := c.Create("/mine", nil, zk.FlagEphemeral, zk.WorldACL(zk.PermAll)); err != nil {
		t.Fatal(err)
	}
	sid := c.SessionID()
	dials()[0].Close() // cut the connection under the client
	deadline := time.Now().Add(10 * time.Second)
	for len(dials()) < 2 || c.State() != zk.StateHasSession {
		if time.Now().After(deadline) {
			t.Fatalf("client did not reconnect (state %v)", c.State())
		}
		time.Sleep(10 * time.Millisecond)
	}
	if c.SessionID() != sid {
		t.Fatalf("session changed from %#x to %#x", sid, c.SessionID())
	}
	if ok, _, err := c.Exists("/mine"); err != nil || !ok {
		t.Fatalf("ephemeral lost across reconnect: %v %v", ok, err)
	}
}
