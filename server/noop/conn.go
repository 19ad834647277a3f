package noop

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"net"
	"sync"
	"time"

	"github.com/zkbench/zkbench/server/proto"
)

// maxPending bounds the replies queued for the writer; the reader stops
// reading while more than this many bytes wait to be written.
const maxPending = 1 << 20

// outbox hands encoded replies from a connection's reader to its writer.
// The reader appends to buf; the writer swaps buf for its spare buffer and
// writes everything queued in one call.
type outbox struct {
	mu     sync.Mutex
	cond   sync.Cond
	buf    []byte
	closed bool // no more replies will be queued, or the writer failed
	failed bool // the writer failed; queued replies are dropped
}

func newOutbox() *outbox {
	o := &outbox{buf: make([]byte, 0, 64<<10)}
	o.cond.L = &o.mu
	return o
}

// close tells the writer to finish once the queue is empty.
func (o *outbox) close() {
	o.mu.Lock()
	o.closed = true
	o.cond.Broadcast()
	o.mu.Unlock()
}

// writeLoop writes queued replies to w until the outbox is closed and
// drained, or a write fails.
func (o *outbox) writeLoop(w io.Writer) error {
	spare := make([]byte, 0, 64<<10)
	for {
		o.mu.Lock()
		for len(o.buf) == 0 && !o.closed {
			o.cond.Wait()
		}
		if len(o.buf) == 0 {
			o.mu.Unlock()
			return nil
		}
		out := o.buf
		o.buf = spare[:0]
		o.cond.Broadcast() // the reader may be waiting for room
		o.mu.Unlock()

		_, err := w.Write(out)
		spare = out
		if err != nil {
			o.mu.Lock()
			o.closed, o.failed = true, true
			o.cond.Broadcast()
			o.mu.Unlock()
			return err
		}
	}
}

// conn is one client connection.
type conn struct {
	s       *Server
	nc      net.Conn
	br      *bufio.Reader
	out     *outbox
	rbuf    []byte
	reply   replies
	session int64
	idle    time.Duration // close after this long without a request (0: never)
}

// replies holds one reusable record of each reply type the reader sends,
// so that answering a request allocates nothing.
type replies struct {
	getData  proto.GetDataResponse
	setData  proto.SetDataResponse
	exists   proto.ExistsResponse
	create   proto.CreateResponse
	create2  proto.Create2Response
	children proto.GetChildrenResponse
	child2   proto.GetChildren2Response
	sync     proto.SyncResponse
	multi    proto.MultiResponse
	addWatch proto.ErrorResponse
	getACL   proto.GetACLResponse
	whoAmI   proto.WhoAmIResponse

	ephemerals proto.GetEphemeralsResponse

	getDataReq  proto.GetDataRequest
	createReq   proto.CreateRequest
	createTTL   proto.CreateTTLRequest
	syncReq     proto.SyncRequest
	multiReq    proto.MultiRequest
	decoder     proto.Decoder
	noChildren  []string
	pathScratch []byte
}

func (s *Server) serveConn(nc net.Conn) {
	c := &conn{
		s:    s,
		nc:   nc,
		br:   bufio.NewReaderSize(nc, 64<<10),
		out:  newOutbox(),
		rbuf: make([]byte, 0, 4096),
	}
	c.reply.noChildren = []string{}
	log := s.log.With("remote", nc.RemoteAddr().String())

	nc.SetReadDeadline(time.Now().Add(handshakeTimeout))
	if word, ok := c.fourLetterWord(); ok {
		c.answerFourLetterWord(word)
		return
	}
	if err := c.handshake(); err != nil {
		log.Debug("noop: handshake failed", "err", err)
		return
	}
	nc.SetReadDeadline(time.Time{})

	var wg sync.WaitGroup
	wg.Add(1)
	var werr error
	go func() {
		defer wg.Done()
		werr = c.out.writeLoop(nc)
		if werr != nil {
			nc.Close() // unblock the reader
		}
	}()
	err := c.readLoop()
	c.out.close()
	wg.Wait()
	switch {
	case err == nil || errors.Is(err, io.EOF) || errors.Is(err, net.ErrClosed):
		log.Debug("noop: connection closed", "session", fmt.Sprintf("0x%x", c.session))
	default:
		log.Info("noop: closing connection", "session", fmt.Sprintf("0x%x", c.session), "err", err, "writeErr", werr)
	}
}

// handshake reads the connect request and queues the connect response.
// The response is written directly: the writer is not running yet.
func (c *conn) handshake() error {
	frame, err := proto.ReadFrame(c.br, c.rbuf, c.s.maxBuffer)
	if err != nil {
		return fmt.Errorf("noop: connect request: %w", err)
	}
	req, hasReadOnly, err := proto.DecodeConnectRequest(frame)
	if err != nil {
		return fmt.Errorf("noop: connect request: %w", err)
	}
	c.s.received.Add(1)
	resp := proto.ConnectResponse{TimeOut: req.TimeOut}
	if req.SessionID != 0 {
		resp.SessionID, resp.Passwd = req.SessionID, passwordFor(req.SessionID)
	} else {
		resp.SessionID, resp.Passwd = c.s.newSession()
	}
	c.session = resp.SessionID
	if req.TimeOut > 0 {
		// A live client sends something (at least a ping) every third of
		// its session timeout; one silent for twice the timeout is gone.
		c.idle = 2 * time.Duration(req.TimeOut) * time.Millisecond
	}
	out := proto.AppendConnectResponse(nil, &resp, hasReadOnly)
	if _, err := c.nc.Write(out); err != nil {
		return fmt.Errorf("noop: connect response: %w", err)
	}
	c.s.sent.Add(1)
	return nil
}

// readLoop reads requests and queues their replies until the client goes
// away, sends closeSession or sends something malformed.
func (c *conn) readLoop() error {
	for {
		if c.idle > 0 && c.br.Buffered() < 4 {
			c.nc.SetReadDeadline(time.Now().Add(c.idle))
		}
		frame, err := proto.ReadFrame(c.br, c.rbuf, c.s.maxBuffer)
		if err != nil {
			return err
		}
		c.rbuf = frame[:0]
		if len(frame) < 8 {
			return fmt.Errorf("noop: %d-byte request is too short for a header", len(frame))
		}
		c.s.received.Add(1)
		d := &c.reply.decoder
		d.Reset(frame)
		var h proto.RequestHeader
		h.Decode(d)
		closing, err := c.answer(h, d)
		if err != nil {
			return err
		}
		c.s.sent.Add(1)
		if closing {
			return nil
		}
	}
}

// answer queues the reply to the request with header h, whose body d holds.
func (c *conn) answer(h proto.RequestHeader, d *proto.Decoder) (closing bool, err error) {
	r := &c.reply
	zxid := c.s.zxid.Load()
	var body proto.Record
	switch h.Type {
	case proto.OpPing:
		h.Xid = proto.XidPing
	case proto.OpGetData:
		// The body is decoded to validate it, as a real server must.
		if r.getDataReq.Decode(d); d.Err() != nil {
			return false, c.badBody(h, d)
		}
		r.getData.Data, r.getData.Stat = c.s.value, c.s.stat(zxid)
		body = &r.getData
	case proto.OpExists:
		r.exists.Stat = c.s.stat(zxid)
		body = &r.exists
	case proto.OpSetData:
		zxid = c.s.zxid.Add(1)
		r.setData.Stat = c.s.stat(zxid)
		body = &r.setData
	case proto.OpCreate, proto.OpCreate2, proto.OpCreateContainer, proto.OpCreateTTL:
		var path string
		var mode proto.CreateMode
		if h.Type == proto.OpCreateTTL {
			r.createTTL.Decode(d)
			path, mode = r.createTTL.Path, r.createTTL.Flags
		} else {
			r.createReq.Decode(d)
			path, mode = r.createReq.Path, r.createReq.Flags
		}
		if d.Err() != nil {
			return false, c.badBody(h, d)
		}
		zxid = c.s.zxid.Add(1)
		path = c.createdPath(path, mode)
		if h.Type == proto.OpCreate {
			r.create.Path = path
			body = &r.create
		} else {
			r.create2.Path, r.create2.Stat = path, c.s.stat(zxid)
			body = &r.create2
		}
	case proto.OpDelete, proto.OpDeleteContainer:
		zxid = c.s.zxid.Add(1)
	case proto.OpGetChildren:
		r.children.Children = r.noChildren
		body = &r.children
	case proto.OpGetChildren2:
		r.child2.Children, r.child2.Stat = r.noChildren, c.s.stat(zxid)
		body = &r.child2
	case proto.OpSync:
		if r.syncReq.Decode(d); d.Err() != nil {
			return false, c.badBody(h, d)
		}
		r.sync.Path = r.syncReq.Path
		body = &r.sync
	case proto.OpAddWatch:
		body = &r.addWatch
	case proto.OpMulti, proto.OpMultiRead:
		if r.multiReq.Decode(d); d.Err() != nil {
			return false, c.badBody(h, d)
		}
		if h.Type == proto.OpMulti {
			zxid = c.s.zxid.Add(1)
		}
		c.multiResults(zxid)
		body = &r.multi
	case proto.OpCloseSession:
		closing = true
	// Vectors are sent empty, never null: upstream never sends a null
	// vector in a reply, and go-zookeeper/zk tries to allocate 2^32
	// elements when it meets one.
	case proto.OpGetACL:
		r.getACL.ACL, r.getACL.Stat = proto.OpenACLUnsafe, c.s.stat(zxid)
		body = &r.getACL
	case proto.OpGetEphemerals:
		r.ephemerals.Ephemerals = r.noChildren
		body = &r.ephemerals
	case proto.OpWhoAmI:
		r.whoAmI.ClientInfo = []proto.ClientInfo{}
		body = &r.whoAmI
	default:
		rec, ok := proto.NewResponse(h.Type)
		if !ok {
			// Upstream 3.8 answers an opcode it does not know this way.
			c.queue(proto.ReplyHeader{Xid: h.Xid, Zxid: zxid, Err: proto.ErrUnimplemented}, nil)
			return false, nil
		}
		body = rec
	}
	c.queue(proto.ReplyHeader{Xid: h.Xid, Zxid: zxid, Err: proto.ErrOK}, body)
	return closing, nil
}

func (c *conn) badBody(h proto.RequestHeader, d *proto.Decoder) error {
	return fmt.Errorf("noop: %v request (xid %d): %w", h.Type, h.Xid, d.Err())
}

// createdPath returns path, with a sequence suffix for sequential modes.
func (c *conn) createdPath(path string, mode proto.CreateMode) string {
	if !mode.IsSequential() {
		return path
	}
	b := append(c.reply.pathScratch[:0], path...)
	b = fmt.Appendf(b, "%010d", c.s.seq.Add(1))
	c.reply.pathScratch = b
	return string(b)
}

// multiResults fills the multi reply: every op succeeds.
func (c *conn) multiResults(zxid int64) {
	r := &c.reply
	res := r.multi.Results[:0]
	for _, op := range r.multiReq.Ops {
		mr := proto.MultiResult{Type: op.Header.Type}
		switch o := op.Op.(type) {
		case *proto.CreateRequest:
			mr.Path = c.createdPath(o.Path, o.Flags)
			mr.Stat = c.s.stat(zxid)
		case *proto.CreateTTLRequest:
			mr.Path = c.createdPath(o.Path, o.Flags)
			mr.Stat = c.s.stat(zxid)
		case *proto.SetDataRequest:
			mr.Stat = c.s.stat(zxid)
		case *proto.GetDataRequest:
			mr.Data, mr.Stat = c.s.value, c.s.stat(zxid)
		case *proto.GetChildrenRequest:
			mr.Children = r.noChildren
		}
		res = append(res, mr)
	}
	r.multi.Results = res
}

// queue encodes a reply into the outbox, waiting while the writer is too
// far behind.
func (c *conn) queue(h proto.ReplyHeader, body proto.Record) {
	o := c.out
	o.mu.Lock()
	for len(o.buf) > maxPending && !o.failed {
		o.cond.Wait()
	}
	if !o.failed {
		o.buf = proto.AppendReply(o.buf, h, body)
		o.cond.Broadcast()
	}
	o.mu.Unlock()
}
