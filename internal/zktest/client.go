package zktest

import (
	"bufio"
	"fmt"
	"net"
	"time"

	"github.com/zkbench/zkbench/server/proto"
)

// RawClient speaks the client protocol one request at a time, for the
// operations go-zookeeper/zk lacks (addWatch, removeWatches, whoAmI, ...),
// and records watch events as they arrive.
type RawClient struct {
	nc      net.Conn
	br      *bufio.Reader
	xid     int32
	Session int64
	Events  []proto.WatcherEvent
}

// DialRaw connects and opens a new session with the given timeout.
func DialRaw(addr string, timeout time.Duration) (*RawClient, error) {
	nc, err := net.DialTimeout("tcp", addr, 5*time.Second)
	if err != nil {
		return nil, err
	}
	c := &RawClient{nc: nc, br: bufio.NewReader(nc)}
	req := proto.ConnectRequest{TimeOut: int32(timeout.Milliseconds()), Passwd: make([]byte, 16)}
	nc.SetDeadline(time.Now().Add(10 * time.Second))
	if _, err := nc.Write(proto.AppendFrame(nil, &req)); err != nil {
		nc.Close()
		return nil, err
	}
	frame, err := proto.ReadFrame(c.br, nil, proto.DefaultMaxBuffer)
	if err != nil {
		nc.Close()
		return nil, fmt.Errorf("zktest: connect response: %w", err)
	}
	var resp proto.ConnectResponse
	d := proto.NewDecoder(frame)
	resp.Decode(d)
	if d.Err() != nil {
		nc.Close()
		return nil, d.Err()
	}
	c.Session = resp.SessionID
	return c, nil
}

// Close closes the session and the connection.
func (c *RawClient) Close() error {
	c.Do(proto.OpCloseSession, nil, nil)
	return c.nc.Close()
}

// Do sends one request and waits for its reply, decoding the body into resp
// (if non-nil and the reply is not an error). Watch events that arrive
// first are appended to Events.
func (c *RawClient) Do(op proto.OpCode, req, resp proto.Record) (proto.ReplyHeader, error) {
	c.xid++
	c.nc.SetDeadline(time.Now().Add(10 * time.Second))
	if _, err := c.nc.Write(proto.AppendRequest(nil, proto.RequestHeader{Xid: c.xid, Type: op}, req)); err != nil {
		return proto.ReplyHeader{}, err
	}
	for {
		h, d, err := c.next()
		if err != nil {
			return proto.ReplyHeader{}, err
		}
		if h.Xid != c.xid {
			continue // a watch event, a ping reply or a stray
		}
		if resp != nil && h.Err == proto.ErrOK && d.Remaining() > 0 {
			resp.Decode(d)
			if d.Err() != nil {
				return h, fmt.Errorf("zktest: decode %v reply: %w", op, d.Err())
			}
		}
		return h, nil
	}
}

// next reads one frame and decodes its reply header; a watch event is
// decoded too and appended to Events.
func (c *RawClient) next() (proto.ReplyHeader, *proto.Decoder, error) {
	frame, err := proto.ReadFrame(c.br, nil, proto.DefaultMaxBuffer)
	if err != nil {
		return proto.ReplyHeader{}, nil, err
	}
	d := proto.NewDecoder(frame)
	var h proto.ReplyHeader
	h.Decode(d)
	if h.Xid == proto.XidWatcherEvent {
		var ev proto.WatcherEvent
		ev.Decode(d)
		c.Events = append(c.Events, ev)
	}
	return h, d, nil
}

// WaitEvents reads frames until n events have arrived or timeout passes.
func (c *RawClient) WaitEvents(n int, timeout time.Duration) []proto.WatcherEvent {
	deadline := time.Now().Add(timeout)
	for len(c.Events) < n && time.Now().Before(deadline) {
		c.nc.SetReadDeadline(deadline)
		if _, _, err := c.next(); err != nil {
			break
		}
	}
	return c.Events
}

// Raw sends bytes as they are, for malformed-input tests.
func (c *RawClient) Raw(b []byte) error {
	_, err := c.nc.Write(b)
	return err
}

// Conn exposes the connection for tests that read replies themselves.
func (c *RawClient) Conn() net.Conn { return c.nc }
