// Package fakezk is a tiny in-process ZooKeeper server for testing the load
// driver: it speaks the client wire protocol (server/proto), keeps no data,
// and answers every request after a fixed delay, or later while stalled.
// Knowing exactly how long the server took lets tests check that the driver
// reports what really happened.
//
// It answers getData (with a fixed value), setData, exists, getChildren2,
// create, delete, check, multi (every op succeeds), ping and closeSession;
// anything else gets UNIMPLEMENTED. Replies on one connection go out in
// request order, each no earlier than its request's arrival plus Delay.
package fakezk

import (
	"bufio"
	"fmt"
	"net"
	"sync"
	"sync/atomic"
	"time"

	"github.com/zkbench/zkbench/server/proto"
)

// Options configures a Server.
type Options struct {
	// Delay is how long after a request arrives its reply is sent.
	Delay time.Duration
	// ValueSize is the size of the value getData returns.
	ValueSize int
	// Trace, if positive, keeps the first Trace requests of every session
	// (opcode and path) for Traces.
	Trace int
	// Addr is the address to listen on (default 127.0.0.1:0, any free
	// port); give a closed server's Addr to restart it in place.
	Addr string
}

// Server is a running fake server. Close stops it.
type Server struct {
	opts       Options
	ln         net.Listener
	value      []byte
	stallUntil atomic.Int64 // unix nanoseconds
	requests   atomic.Int64
	sessions   atomic.Int64
	zxid       atomic.Int64
	wg         sync.WaitGroup
	mu         sync.Mutex
	conns      map[net.Conn]bool
	traces     map[int64][]string
	closed     bool
}

// Start listens on a loopback port and serves until Close.
func Start(opts Options) (*Server, error) {
	addr := opts.Addr
	if addr == "" {
		addr = "127.0.0.1:0"
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("fakezk: %w", err)
	}
	s := &Server{opts: opts, ln: ln, value: make([]byte, opts.ValueSize), conns: map[net.Conn]bool{}}
	s.wg.Go(s.accept)
	return s, nil
}

// Addr returns the server's client address.
func (s *Server) Addr() string { return s.ln.Addr().String() }

// Requests returns how many requests (not counting pings and handshakes)
// the server has received.
func (s *Server) Requests() int64 { return s.requests.Load() }

// Sessions returns how many sessions the server has opened.
func (s *Server) Sessions() int64 { return s.sessions.Load() }

// Stall holds every reply, including those to requests already received,
// until d from now.
func (s *Server) Stall(d time.Duration) {
	s.stallUntil.Store(time.Now().Add(d).UnixNano())
}

// Traces returns, per session id, the first Options.Trace requests the
// session sent, as "opcode path" strings (a multi lists its ops' paths).
func (s *Server) Traces() map[int64][]string {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make(map[int64][]string, len(s.traces))
	for id, tr := range s.traces {
		out[id] = append([]string(nil), tr...)
	}
	return out
}

func (s *Server) trace(session int64, h proto.RequestHeader, req proto.Record) {
	if s.opts.Trace <= 0 || h.Type == proto.OpCloseSession {
		return
	}
	entry := h.Type.String()
	switch r := req.(type) {
	case *proto.GetDataRequest:
		entry += " " + r.Path
	case *proto.SetDataRequest:
		entry += " " + r.Path
	case *proto.ExistsRequest:
		entry += " " + r.Path
	case *proto.GetChildren2Request:
		entry += " " + r.Path
	case *proto.CreateRequest:
		entry += " " + r.Path
	case *proto.DeleteRequest:
		entry += " " + r.Path
	case *proto.MultiRequest:
		for _, op := range r.Ops {
			if sd, ok := op.Op.(*proto.SetDataRequest); ok {
				entry += " " + sd.Path
			}
		}
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.traces == nil {
		s.traces = map[int64][]string{}
	}
	if len(s.traces[session]) < s.opts.Trace {
		s.traces[session] = append(s.traces[session], entry)
	}
}

// Close stops the server and closes every connection.
func (s *Server) Close() error {
	s.mu.Lock()
	s.closed = true
	for c := range s.conns {
		c.Close()
	}
	s.mu.Unlock()
	err := s.ln.Close()
	s.wg.Wait()
	return err
}

func (s *Server) accept() {
	for {
		c, err := s.ln.Accept()
		if err != nil {
			return
		}
		s.mu.Lock()
		if s.closed {
			s.mu.Unlock()
			c.Close()
			return
		}
		s.conns[c] = true
		s.mu.Unlock()
		s.wg.Go(func() {
			s.serve(c)
			s.mu.Lock()
			delete(s.conns, c)
			s.mu.Unlock()
			c.Close()
		})
	}
}

type reply struct {
	due   time.Time
	frame []byte
	last  bool // close the connection after this reply
}

func (s *Server) serve(c net.Conn) {
	r := bufio.NewReader(c)
	body, err := proto.ReadFrame(r, nil, 0)
	if err != nil {
		return
	}
	req, hasReadOnly, err := proto.DecodeConnectRequest(body)
	if err != nil {
		return
	}
	id := s.sessions.Add(1)
	resp := proto.ConnectResponse{TimeOut: req.TimeOut, SessionID: id, Passwd: make([]byte, 16)}
	if _, err := c.Write(proto.AppendConnectResponse(nil, &resp, hasReadOnly)); err != nil {
		return
	}

	replies := make(chan reply, 4096)
	writerDone := make(chan struct{})
	go func() {
		defer close(writerDone)
		s.write(c, replies)
	}()
	defer func() {
		close(replies)
		<-writerDone
	}()
	var buf []byte
	for {
		buf, err = proto.ReadFrame(r, buf, 0)
		if err != nil {
			return
		}
		arrived := time.Now()
		frame, last := s.answer(id, buf)
		due := arrived.Add(s.opts.Delay)
		if st := time.Unix(0, s.stallUntil.Load()); st.After(due) {
			due = st
		}
		replies <- reply{due: due, frame: frame, last: last}
		if last {
			return
		}
	}
}

// write sends replies when they are due, flushing when none is waiting.
func (s *Server) write(c net.Conn, replies <-chan reply) {
	w := bufio.NewWriter(c)
	for rp := range replies {
		// A stall that began after this reply was queued holds it too.
		due := rp.due
		if st := time.Unix(0, s.stallUntil.Load()); st.After(due) && time.Now().Before(st) {
			due = st
		}
		if d := time.Until(due); d > 0 {
			if w.Buffered() > 0 && w.Flush() != nil {
				return
			}
			time.Sleep(d)
		}
		if _, err := w.Write(rp.frame); err != nil {
			return
		}
		if len(replies) == 0 || rp.last {
			if w.Flush() != nil {
				return
			}
		}
		if rp.last {
			c.Close()
			return
		}
	}
}

// answer builds the reply frame to one request frame.
func (s *Server) answer(session int64, frame []byte) (out []byte, last bool) {
	d := proto.NewDecoder(frame)
	var h proto.RequestHeader
	h.Decode(d)
	if d.Err() != nil {
		return proto.AppendReply(nil, proto.ReplyHeader{Xid: h.Xid, Err: proto.ErrMarshallingError}, nil), true
	}
	rh := proto.ReplyHeader{Xid: h.Xid}
	if h.Type == proto.OpPing {
		return proto.AppendReply(nil, rh, nil), false
	}
	s.requests.Add(1)
	rh.Zxid = s.zxid.Load()
	req, ok := proto.NewRequest(h.Type)
	if ok {
		req.Decode(d)
	}
	if !ok || d.Err() != nil {
		rh.Err = proto.ErrUnimplemented
		if ok {
			rh.Err = proto.ErrMarshallingError
		}
		return proto.AppendReply(nil, rh, nil), false
	}
	s.trace(session, h, req)
	var body proto.Record
	switch h.Type {
	case proto.OpGetData:
		body = &proto.GetDataResponse{Data: s.value}
	case proto.OpSetData, proto.OpCheck:
		rh.Zxid = s.zxid.Add(1)
		body = &proto.SetDataResponse{}
	case proto.OpExists:
		body = &proto.ExistsResponse{}
	case proto.OpGetChildren2:
		body = &proto.GetChildren2Response{Children: []string{}} // go-zookeeper cannot decode a null vector
	case proto.OpGetChildren:
		body = &proto.GetChildrenResponse{Children: []string{}}
	case proto.OpCreate:
		rh.Zxid = s.zxid.Add(1)
		body = &proto.CreateResponse{Path: req.(*proto.CreateRequest).Path}
	case proto.OpDelete:
		rh.Zxid = s.zxid.Add(1)
	case proto.OpMulti:
		rh.Zxid = s.zxid.Add(1)
		m := &proto.MultiResponse{}
		for _, op := range req.(*proto.MultiRequest).Ops {
			res := proto.MultiResult{Type: op.Header.Type}
			if cr, ok := op.Op.(*proto.CreateRequest); ok {
				res.Path = cr.Path
			}
			m.Results = append(m.Results, res)
		}
		body = m
	case proto.OpCloseSession:
		return proto.AppendReply(nil, rh, nil), true
	default:
		rh.Err = proto.ErrUnimplemented
	}
	return proto.AppendReply(nil, rh, body), false
}
