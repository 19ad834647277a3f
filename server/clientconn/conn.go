package clientconn

import (
	"bufio"
	"crypto/sha1"
	"encoding/base64"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/netip"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/zkbench/zkbench/server/proto"
	"github.com/zkbench/zkbench/server/sasl"
	"github.com/zkbench/zkbench/server/tree"
)

// handshakeTimeout bounds how long a new connection may take to send its
// connect request (or four-letter word).
const handshakeTimeout = 30 * time.Second

// op is one request of a session waiting for its turn to be answered.
type op struct {
	xid   int32
	code  proto.OpCode
	body  proto.Record
	start time.Time // when the batch of frames it came in was read
	write bool      // answered by the write path (or sync), not from the tree
	// ready: a write's result has arrived in res. It is stored by the
	// goroutine that applied the write and loaded by the connection's
	// writer, which answers the op.
	ready atomic.Bool
	res   WriteResult
}

// latRun is a run of replies, appended one after another, to requests
// read in the same batch (the same start): their latencies are taken
// together when the writer sends them.
type latRun struct {
	start time.Time
	n     int64
	write bool // the replies answer writes (updatelatency), else reads (readlatency)
}

// conn is one client connection.
type conn struct {
	srv  *Server
	nc   net.Conn
	addr netip.Addr
	br   *bufio.Reader
	log  *slog.Logger
	rbuf []byte
	dec  proto.Decoder // the reader goroutine's, reused for every request

	// legacyClient: the connect request had no readOnly byte, so the
	// connect response leaves it out too (upstream does the same).
	legacyClient bool

	session   atomic.Int64
	timeoutMs atomic.Int32
	auth      atomic.Pointer[[]proto.ID] // copy on write
	est       time.Time
	// sasl is the session's SASL exchange, from its first sasl request
	// (the reader goroutine's alone).
	sasl *sasl.Server

	// per-connection figures for cons: the server's counters for this
	// connection alone, and the last request's
	stats             counters
	lastCxid          atomic.Int32
	lastZxid          atomic.Int64
	lastOp            atomic.Int32
	lastLatencyMicros atomic.Int64

	mu      sync.Mutex // guards pending
	pending []*op

	outMu      sync.Mutex // leaf lock: guards out, spare, lat, latSpare, unsent, inflight, throttled, outClosed, closeAfter, flushing
	out, spare []byte
	// lat are the start times of the request replies in out, in runs;
	// unsent counts the frames in out (replies and events).
	lat, latSpare []latRun
	unsent        int64
	// inflight is the length of the buffer a flush is writing; with out,
	// what the connection holds queued. throttled: that passed
	// Options.MaxOutput, and has not yet fallen to half of it.
	inflight  int
	throttled bool
	// outClosed: nothing more is appended to out (the connection is
	// closed, or closes once out is written).
	outClosed  bool
	closeAfter bool
	// flushing: a goroutine (the reader or the writer) has taken out and
	// is writing it; no other writes until it is done.
	flushing bool
	// writeDeadlineSet is when the write deadline was last moved; only
	// the goroutine that is flushing touches it.
	writeDeadlineSet time.Time
	// events counts the watch events appended to out (changed under
	// outMu): a read that sets a watch checks it did not change between
	// its tree read and the append of its reply.
	events atomic.Uint64
	// paused mirrors throttled for the reader, which does not read the
	// next request while it is set; drained is signalled when it clears.
	paused    atomic.Bool
	drained   chan struct{}
	wake      chan struct{}
	quit      chan struct{}
	closeOnce sync.Once
}

func newConn(s *Server, nc net.Conn, addr netip.Addr) *conn {
	c := &conn{
		srv:     s,
		nc:      nc,
		addr:    addr,
		br:      bufio.NewReaderSize(nc, 64<<10),
		log:     s.log.With("remote", nc.RemoteAddr().String()),
		est:     time.Now(),
		wake:    make(chan struct{}, 1),
		drained: make(chan struct{}, 1),
		quit:    make(chan struct{}),
	}
	ids := []proto.ID{{Scheme: "ip", ID: addr.String()}}
	c.auth.Store(&ids)
	c.lastOp.Store(int32(-100))
	return c
}

func (c *conn) authIDs() []proto.ID { return *c.auth.Load() }

// Bounds on the auth ids one connection holds (upstream has none): each
// addauth with new credentials adds one, and every write a follower
// forwards carries them all.
const (
	maxAuthIDs     = 32
	maxAuthIDBytes = 16 << 10
)

// addAuth adds the ids the connection does not hold yet; false, adding
// none, if that would pass maxAuthIDs or maxAuthIDBytes.
func (c *conn) addAuth(ids ...proto.ID) bool {
	old := c.authIDs()
	next := make([]proto.ID, 0, len(old)+len(ids))
	next = append(next, old...)
	size := 0
	for _, o := range old {
		size += len(o.Scheme) + len(o.ID)
	}
	for _, id := range ids {
		if slices.Contains(next, id) {
			continue
		}
		next = append(next, id)
		size += len(id.Scheme) + len(id.ID)
	}
	if len(next) > maxAuthIDs || size > maxAuthIDBytes {
		return false
	}
	c.auth.Store(&next)
	return true
}

func (c *conn) serve() {
	// When reading stops, the writer flushes what is queued and closes.
	defer c.closeAfterFlush("")
	go c.writeLoop()
	c.nc.SetReadDeadline(time.Now().Add(handshakeTimeout))
	if !c.secure() {
		return
	}
	head, err := c.br.Peek(4)
	if err != nil {
		return
	}
	if cmd := string(head); isFourLetterWord(cmd) {
		c.br.Discard(4)
		c.fourLetterWord(cmd)
		return
	}
	frame, err := proto.ReadFrame(c.br, c.rbuf, c.srv.opts.MaxBuffer)
	if err != nil {
		c.log.Warn("closing connection: bad connect request", "err", err)
		return
	}
	if !c.handshake(frame) {
		return
	}
	// The connection is closed when no request arrives for the session
	// timeout. Moving the read deadline costs a poller timer update, so it
	// is moved forward at most every quarter of the timeout, always to a
	// quarter beyond it: it stays between one and 1.25 timeouts after the
	// last request, and a pipelining client costs no timer work per request.
	//
	// The frames of one socket read are one batch: the clock is read once
	// per batch (the start of their latencies, the deadline), the session
	// touched once, and the server-wide received count bumped once.
	var (
		deadlineSet time.Time
		b           batch
		received    int64
		bytes       int64 // received since the last publication
	)
	defer func() { c.srv.stats.received.Add(received); c.srv.opts.Metrics.BytesReceived.Add(bytes) }()
	if timeout := time.Duration(c.timeoutMs.Load()) * time.Millisecond; timeout > 0 {
		deadlineSet = time.Now()
		c.nc.SetReadDeadline(deadlineSet.Add(timeout + timeout/4))
	}
	for {
		if c.paused.Load() && !c.awaitDrained() {
			return
		}
		fresh := c.br.Buffered() == 0
		frame, err = proto.ReadFrame(c.br, c.rbuf, c.srv.opts.MaxBuffer)
		if fresh || b.start.IsZero() {
			b = batch{start: time.Now()}
			timeout := time.Duration(c.timeoutMs.Load()) * time.Millisecond
			if b.start.Sub(deadlineSet) >= timeout/4 {
				c.nc.SetReadDeadline(b.start.Add(timeout + timeout/4))
				deadlineSet = b.start
			}
		}
		if err != nil {
			switch {
			case errors.Is(err, io.EOF), errors.Is(err, net.ErrClosed):
			case errors.Is(err, proto.ErrFrameTooLarge):
				c.log.Warn("closing connection: packet too large", "session", hex(c.session.Load()), "err", err)
			default:
				var ne net.Error
				if errors.As(err, &ne) && ne.Timeout() {
					c.log.Info("closing connection: client timed out", "session", hex(c.session.Load()))
				} else {
					c.log.Debug("connection read failed", "err", err)
				}
			}
			return
		}
		if cap(frame) > cap(c.rbuf) {
			c.rbuf = frame[:0]
		}
		// The count is published before the batch's last request is
		// handled, so a client that has its replies sees them counted.
		bytes += int64(len(frame)) + 4 // with its length prefix
		if received++; c.br.Buffered() == 0 {
			c.srv.stats.received.Add(received)
			c.srv.opts.Metrics.BytesReceived.Add(bytes)
			received, bytes = 0, 0
		}
		if !c.handle(frame, &b) {
			return
		}
		// The replies this goroutine appended go out before it may block
		// reading: in one write per batch, from here, without waking the
		// writer.
		if !c.frameBuffered() && !c.flush() {
			return
		}
	}
}

// frameBuffered reports whether a whole request frame is buffered, so
// that reading it will not block.
func (c *conn) frameBuffered() bool {
	n := c.br.Buffered()
	if n < 4 {
		return false
	}
	head, _ := c.br.Peek(4)
	size := int(binary.BigEndian.Uint32(head))
	return size >= 0 && n-4 >= size
}

// batch is what the requests of one socket read share.
type batch struct {
	start   time.Time // when the read returned
	touched bool      // the session was touched for this batch
}

// handshake handles the connect request; false closes the connection.
func (c *conn) handshake(frame []byte) bool {
	req, withReadOnly, err := proto.DecodeConnectRequest(frame)
	if err != nil {
		c.log.Warn("closing connection: malformed connect request", "err", err)
		return false
	}
	c.legacyClient = !withReadOnly
	if admit := c.srv.opts.Admit; admit != nil && !admit(req.ReadOnly) {
		c.log.Debug("refusing a client session: this server is not serving such clients now", "read_only_client", req.ReadOnly)
		return false
	}
	b := c.srv.opts.Backend
	if last := b.LastZxid(); req.LastZxidSeen > last {
		c.log.Info("refusing session request: client has seen a newer zxid than this server; it must try another server",
			"client_zxid", hex(req.LastZxidSeen), "our_zxid", hex(last))
		return false
	}
	timeout := c.srv.negotiateTimeout(req.TimeOut)
	type outcome struct {
		id      int64
		passwd  []byte
		timeout int32
		ok      bool
	}
	ch := make(chan outcome, 1)
	if req.SessionID == 0 {
		b.CreateSession(timeout, req.ReadOnly, func(id int64, passwd []byte, err error) {
			if err != nil {
				c.log.Warn("could not create session", "err", err)
				ch <- outcome{}
				return
			}
			ch <- outcome{id: id, passwd: passwd, timeout: timeout, ok: true}
		})
	} else {
		b.ReattachSession(req.SessionID, req.Passwd, timeout, func(ok bool, t int32) {
			ch <- outcome{id: req.SessionID, passwd: req.Passwd, timeout: t, ok: ok}
		})
	}
	var res outcome
	select {
	case res = <-ch:
	case <-c.quit:
		return false
	}
	if !res.ok {
		if req.SessionID != 0 {
			// An expired session: tell the client (timeout 0), then close.
			c.sendConnect(proto.ConnectResponse{Passwd: make([]byte, 16)})
			c.log.Info("invalid session: expired or wrong password", "session", hex(req.SessionID))
			c.closeAfterFlush("session expired")
			c.awaitQuit()
		}
		return false
	}
	c.session.Store(res.id)
	c.timeoutMs.Store(res.timeout)
	c.srv.bindSession(res.id, c)
	resp := proto.ConnectResponse{TimeOut: res.timeout, SessionID: res.id, Passwd: res.passwd}
	if ro, ok := b.(ReadOnlyReporter); ok && ro.ReadOnly() {
		resp.ReadOnly = true
	}
	c.sendConnect(resp)
	c.log.Debug("session established", "session", hex(res.id), "timeout_ms", res.timeout)
	return true
}

// handle processes one request frame of batch bt; false closes the
// connection.
func (c *conn) handle(frame []byte, bt *batch) bool {
	var hdr proto.RequestHeader
	d := &c.dec
	d.Reset(frame)
	hdr.Decode(d)
	if d.Err() != nil {
		c.log.Warn("closing connection: malformed request header", "session", hex(c.session.Load()), "err", d.Err())
		return false
	}
	c.stats.received.Add(1)
	c.lastCxid.Store(hdr.Xid)
	c.lastOp.Store(int32(hdr.Type))
	sid := c.session.Load()
	b := c.srv.opts.Backend
	if !bt.touched || hdr.Type == proto.OpCloseSession {
		if !b.Touch(sid) && hdr.Type != proto.OpCloseSession {
			c.send(proto.ReplyHeader{Xid: hdr.Xid, Zxid: b.LastZxid(), Err: proto.ErrSessionExpired}, nil)
			c.closeAfterFlush("request on an expired session")
			return false
		}
		// After a closeSession the next request must find the session
		// closing.
		bt.touched = hdr.Type != proto.OpCloseSession
	}
	switch hdr.Type {
	case proto.OpAuth:
		return c.handleAuth(hdr, d)
	case proto.OpSASL:
		return c.handleSASL(hdr, d)
	}
	if !c.enforced(hdr.Xid) {
		return false
	}
	switch hdr.Type {
	case proto.OpPing:
		c.send(proto.ReplyHeader{Xid: proto.XidPing, Zxid: b.LastZxid()}, nil)
		return true
	case proto.OpGetData, proto.OpExists:
		if handled, keep := c.quickRead(hdr, d, bt.start); handled {
			return keep
		}
	case proto.OpCloseSession:
		o := &op{xid: hdr.Xid, code: hdr.Type, start: bt.start, write: true}
		c.enqueue(o)
		c.kick()
		b.Submit(&proto.Request{SessionID: sid, Cxid: hdr.Xid, Op: proto.OpCloseSession, Auth: c.authIDs()},
			func(r WriteResult) { c.complete(o, r) })
		return true
	}
	body, known := proto.NewRequest(hdr.Type)
	if !known || hdr.Type == proto.OpReconfig && body == nil {
		c.send(proto.ReplyHeader{Xid: hdr.Xid, Zxid: b.LastZxid(), Err: proto.ErrUnimplemented}, nil)
		return true
	}
	if body != nil {
		body.Decode(d)
		if d.Err() != nil {
			c.log.Warn("closing connection: malformed request", "op", hdr.Type, "session", hex(sid), "err", d.Err())
			return false
		}
	}
	o := &op{xid: hdr.Xid, code: hdr.Type, body: body, start: bt.start}
	switch {
	case hdr.Type == proto.OpSync:
		o.write = true
		c.enqueue(o)
		c.kick()
		b.Sync(sid, func(err proto.ErrCode) { c.complete(o, WriteResult{Err: err}) })
	case proto.IsWrite(hdr.Type):
		o.write = true
		c.enqueue(o)
		c.kick()
		b.Submit(&proto.Request{SessionID: sid, Cxid: hdr.Xid, Op: hdr.Type, Body: body, Auth: c.authIDs()},
			func(r WriteResult) { c.complete(o, r) })
	default:
		keep := true
		c.mu.Lock()
		if len(c.pending) == 0 {
			keep = c.answer(o)
		} else {
			c.pending = append(c.pending, o)
		}
		c.mu.Unlock()
		return keep
	}
	return true
}

// kick wakes the writer if replies are waiting to be sent: the reader
// calls it before handing a write to the Backend, which may block (a full
// queue, an ensemble member's busy loop), so that the replies it already
// answered in this batch do not wait for that.
func (c *conn) kick() {
	c.outMu.Lock()
	n := len(c.out)
	c.outMu.Unlock()
	if n > 0 {
		c.signal()
	}
}

func (c *conn) enqueue(o *op) {
	c.mu.Lock()
	c.pending = append(c.pending, o)
	c.mu.Unlock()
}

// complete records a write's result and wakes the connection's writer,
// which answers it and the requests queued behind it. It runs on the
// goroutine that applied the write (the node's apply loop), so it does
// no more than that: the replies, and the reads behind the write, are the
// writer's work.
func (c *conn) complete(o *op, r WriteResult) {
	o.res = r
	o.ready.Store(true)
	c.signal()
}

// drain answers, in order, the requests at the head of the queue that
// can be answered: completed writes and the reads behind them, until the
// queued output passes its cap (more is then true: answerable requests
// remain for when it has drained). It runs on the writer goroutine. It
// reports whether the queue still holds a closeSession waiting for its
// result, whose reply must go out before the connection closes.
func (c *conn) drain() (closeSessionPending, more bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for len(c.pending) > 0 {
		head := c.pending[0]
		if head.write && !head.ready.Load() {
			break
		}
		if c.paused.Load() {
			more = true
			break
		}
		c.pending[0] = nil
		c.pending = c.pending[1:]
		if !c.answer(head) {
			break
		}
	}
	if len(c.pending) == 0 {
		c.pending = c.pending[:0:0]
	}
	for _, o := range c.pending {
		if o.code == proto.OpCloseSession {
			return true, more
		}
	}
	return false, more
}

// maxReadRetries bounds how often a watch-setting read is redone because
// watch events were queued on the connection while it ran (see answer).
const maxReadRetries = 64

// answer sends the reply of o; called with c.mu held, in session order.
// It reports false when the connection is closing instead (a reply too
// large to send).
func (c *conn) answer(o *op) bool {
	b := c.srv.opts.Backend
	if !o.write {
		return c.answerRead(o)
	}
	body, err := writeReply(o)
	// A write's reply carries its own txn's zxid, as upstream's
	// FinalRequestProcessor: with writes pipelined, the tree may be
	// further along by the time this reply is written.
	zxid := o.res.Zxid
	if zxid == 0 {
		zxid = b.LastZxid() // sync, or a write that never got a txn
	}
	c.sendReply(proto.ReplyHeader{Xid: o.xid, Zxid: zxid, Err: err}, body, o.start)
	c.lastZxid.Store(b.LastZxid())
	if o.code == proto.OpCloseSession {
		c.closeAfterFlush("client closed its session")
	}
	return true
}

// answerRead sends the reply of the read o; called with c.mu held, in
// session order. It reports false when the connection is closing
// instead (a reply too large to send).
func (c *conn) answerRead(o *op) bool {
	switch r := o.body.(type) {
	case *proto.GetDataRequest:
		// The commonest reads, queued behind a write: encoded without
		// a response record, as when nothing is queued.
		return c.answerDataRead(o.xid, o.code, r.Path, r.Watch, o.start)
	case *proto.ExistsRequest:
		return c.answerDataRead(o.xid, o.code, r.Path, r.Watch, o.start)
	}
	// A read that sets a watch must not have its reply overtaken by an
	// event of that watch: if a change applied between the tree read and
	// the append queued events here, the read is redone, so the reply
	// follows the events and shows the change, as if the read ran after
	// the write.
	b := c.srv.opts.Backend
	watch := setsWatch(o.body)
	for try := 0; ; try++ {
		ev := c.events.Load()
		zxid := b.LastZxid()
		body, err := c.read(o)
		if n := replyLen(body); n > c.srv.opts.MaxBuffer {
			c.refuseOversized(o.xid, o.code, n)
			return false
		}
		if c.appendReplyIf(watch && try < maxReadRetries, ev, o.start, false,
			func(dst []byte) []byte {
				return proto.AppendReply(dst, proto.ReplyHeader{Xid: o.xid, Zxid: zxid, Err: err}, body)
			}) {
			break
		}
	}
	c.lastZxid.Store(b.LastZxid())
	return true
}

// refuseOversized closes the connection instead of sending a reply of n
// bytes, more than jute.maxbuffer. Upstream builds and sends such a reply
// and the client, whose jute.maxbuffer is the same, drops the connection
// when it reads the length ("Packet len n is out of range!"): the request
// fails with a connection loss and the session lives on, for the client
// to resume on a new connection. The server does the same without
// building the reply: what was queued before it goes out, nothing after
// it does, and the connection closes.
func (c *conn) refuseOversized(xid int32, code proto.OpCode, n int) {
	c.log.Warn("closing connection: reply larger than jute.maxbuffer", "session", hex(c.session.Load()),
		"xid", xid, "op", code, "reply_bytes", n, "max", c.srv.opts.MaxBuffer)
	c.outMu.Lock()
	c.outClosed = true
	c.closeAfter = true
	c.outMu.Unlock()
	c.signal()
}

// setsWatch reports whether a read request asks for a watch.
func setsWatch(body proto.Record) bool {
	switch r := body.(type) {
	case *proto.GetDataRequest:
		return r.Watch
	case *proto.ExistsRequest:
		return r.Watch
	case *proto.GetChildrenRequest:
		return r.Watch
	case *proto.GetChildren2Request:
		return r.Watch
	}
	return false
}

// observe records the latencies of n requests that took d each.
func (c *conn) observe(d time.Duration, n int64) {
	c.lastLatencyMicros.Store(d.Microseconds())
	c.stats.observe(d, n)
}

// writeReply builds the reply body of a completed write (upstream
// FinalRequestProcessor).
func writeReply(o *op) (proto.Record, proto.ErrCode) {
	r := o.res
	if r.Err != proto.ErrOK {
		return nil, r.Err
	}
	if o.code == proto.OpSync {
		if sr, ok := o.body.(*proto.SyncRequest); ok {
			return &proto.SyncResponse{Path: sr.Path}, proto.ErrOK
		}
		return nil, proto.ErrOK
	}
	res := r.Result
	if o.code == proto.OpMulti {
		return multiResponse(res.Multi), proto.ErrOK
	}
	if res.Err != proto.ErrOK {
		return nil, res.Err
	}
	switch o.code {
	case proto.OpCreate:
		return &proto.CreateResponse{Path: res.Path}, proto.ErrOK
	case proto.OpCreate2, proto.OpCreateTTL, proto.OpCreateContainer:
		return &proto.Create2Response{Path: res.Path, Stat: res.Stat}, proto.ErrOK
	case proto.OpSetData:
		return &proto.SetDataResponse{Stat: res.Stat}, proto.ErrOK
	case proto.OpSetACL:
		return &proto.SetACLResponse{Stat: res.Stat}, proto.ErrOK
	case proto.OpCheck:
		return &proto.SetDataResponse{Stat: res.Stat}, proto.ErrOK
	case proto.OpReconfig:
		// Upstream answers with the configuration now in force.
		return &proto.GetDataResponse{Data: res.Data, Stat: res.Stat}, proto.ErrOK
	}
	return nil, proto.ErrOK
}

func multiResponse(results []tree.Result) *proto.MultiResponse {
	mr := &proto.MultiResponse{Results: make([]proto.MultiResult, 0, len(results))}
	for _, r := range results {
		var res proto.MultiResult
		switch {
		case r.Op == proto.OpError || r.Err != proto.ErrOK:
			res = proto.MultiResult{Type: proto.OpError, Err: r.Err}
		case r.Op == proto.OpCreate:
			res = proto.MultiResult{Type: r.Op, Path: r.Path}
		case r.Op == proto.OpCreate2 || r.Op == proto.OpCreateTTL || r.Op == proto.OpCreateContainer:
			res = proto.MultiResult{Type: r.Op, Path: r.Path, Stat: r.Stat}
		case r.Op == proto.OpSetData:
			res = proto.MultiResult{Type: r.Op, Stat: r.Stat}
		default:
			res = proto.MultiResult{Type: r.Op}
		}
		mr.Results = append(mr.Results, res)
	}
	return mr
}

// handleAuth processes addAuth at once, as upstream does.
func (c *conn) handleAuth(hdr proto.RequestHeader, d *proto.Decoder) bool {
	var ap proto.AuthPacket
	ap.Decode(d)
	if d.Err() != nil {
		c.log.Warn("closing connection: malformed auth packet", "err", d.Err())
		return false
	}
	zxid := int64(0)
	var ids []proto.ID
	switch ap.Scheme {
	case "digest":
		id := DigestID(string(ap.Auth))
		if super := c.srv.opts.SuperDigest; super != "" && id == super {
			ids = append(ids, proto.ID{Scheme: "super"})
		}
		ids = append(ids, proto.ID{Scheme: "digest", ID: id})
	case "ip":
		ids = append(ids, proto.ID{Scheme: "ip", ID: c.addr.String()})
	}
	if ids != nil && c.addAuth(ids...) {
		c.send(proto.ReplyHeader{Xid: hdr.Xid, Zxid: zxid}, nil)
		return true
	}
	if ids != nil {
		c.log.Warn("authentication failed: too many auth ids on one connection", "scheme", ap.Scheme, "max", maxAuthIDs)
	} else {
		c.log.Warn("authentication failed", "scheme", ap.Scheme)
	}
	c.send(proto.ReplyHeader{Xid: hdr.Xid, Zxid: zxid, Err: proto.ErrAuthFailed}, nil)
	c.closeAfterFlush("authentication failed")
	return false
}

// DigestID turns "user:password" into the digest ACL id
// "user:base64(sha1(user:password))", as upstream's
// DigestAuthenticationProvider.generateDigest: credentials without a colon
// are all user, and the digest is of the whole string.
func DigestID(userPassword string) string {
	user, _, _ := strings.Cut(userPassword, ":")
	sum := sha1.Sum([]byte(userPassword))
	return user + ":" + base64.StdEncoding.EncodeToString(sum[:])
}

// Event delivers a watch event; it implements tree.Watcher. The tree
// calls it under its write lock, while applying the change.
func (c *conn) Event(ev proto.WatcherEvent, zxid int64) {
	h := proto.ReplyHeader{Xid: proto.XidWatcherEvent, Zxid: zxid}
	c.outMu.Lock()
	if c.outClosed {
		c.outMu.Unlock()
		return
	}
	if len(c.out)+c.inflight > eventBacklog*c.srv.opts.MaxOutput {
		// The client has stopped reading: the throttle pauses its
		// requests, not the changes that fire its watches.
		c.outClosed = true
		c.outMu.Unlock()
		// close removes the watcher, which takes the tree's lock that
		// the caller holds.
		go c.close("watch events unread")
		return
	}
	c.out = proto.AppendReply(c.out, h, &ev)
	c.unsent++
	c.events.Add(1)
	c.checkCapLocked()
	c.outMu.Unlock()
	c.signal()
}

// eventBacklog bounds the watch events queued on a connection, in units of
// Options.MaxOutput: past it the connection closes. Upstream queues them
// without bound.
const eventBacklog = 4

// MayRead implements tree.Watcher: the session sees events only on znodes
// it may read.
func (c *conn) MayRead(acl []proto.ACL) bool { return c.mayRead(acl) }

func (c *conn) sendConnect(r proto.ConnectResponse) {
	c.outMu.Lock()
	c.out = proto.AppendConnectResponse(c.out, &r, !c.legacyClient)
	c.checkCapLocked()
	c.outMu.Unlock()
	c.signal()
}

// send appends one frame that answers no timed request (a ping, an auth
// reply, an error before the request was queued) to the output buffer.
func (c *conn) send(h proto.ReplyHeader, body proto.Record) {
	c.appendReplyIf(false, 0, time.Time{}, false, func(dst []byte) []byte { return proto.AppendReply(dst, h, body) })
}

// sendReply appends the reply of a write (or sync) read at start.
func (c *conn) sendReply(h proto.ReplyHeader, body proto.Record, start time.Time) {
	c.appendReplyIf(false, 0, start, true, func(dst []byte) []byte { return proto.AppendReply(dst, h, body) })
}

// appendReplyIf appends one reply frame, built by encode, to the output
// buffer. It does not wake the writer: its callers run on the reader,
// which flushes at the end of its batch, or on the writer itself. If check is set and watch events were
// appended since the count was events, it appends nothing and reports
// false. A non-zero start is when the answered request was read: its
// latency is taken when the writer sends it. encode runs under outMu and
// must not block; it does not escape, so the callers' closures stay on
// the stack.
func (c *conn) appendReplyIf(check bool, events uint64, start time.Time, write bool, encode func(dst []byte) []byte) bool {
	c.outMu.Lock()
	if check && c.events.Load() != events {
		c.outMu.Unlock()
		return false
	}
	if c.outClosed {
		c.outMu.Unlock()
		return true
	}
	c.out = encode(c.out)
	c.unsent++
	c.checkCapLocked()
	if !start.IsZero() {
		if n := len(c.lat); n > 0 && c.lat[n-1].start.Equal(start) && c.lat[n-1].write == write {
			c.lat[n-1].n++
		} else {
			c.lat = append(c.lat, latRun{start: start, n: 1, write: write})
		}
	}
	c.outMu.Unlock()
	return true
}

// checkCapLocked throttles the connection when what it holds queued
// passes Options.MaxOutput; called with outMu held after an append.
func (c *conn) checkCapLocked() {
	if !c.throttled && len(c.out)+c.inflight > c.srv.opts.MaxOutput {
		c.throttled = true
		c.paused.Store(true)
	}
}

// resumeLocked lifts the throttle once what is queued is down to half the
// cap, and reports whether it did; called with outMu held.
func (c *conn) resumeLocked() bool {
	if !c.throttled || len(c.out)+c.inflight > c.srv.opts.MaxOutput/2 {
		return false
	}
	c.throttled = false
	c.paused.Store(false)
	select {
	case c.drained <- struct{}{}:
	default:
	}
	return true
}

// awaitDrained holds the reader while the connection is throttled: it
// sends what is queued itself, or waits for the goroutine that is
// sending. It reports false if the connection closed meanwhile.
func (c *conn) awaitDrained() bool {
	for c.paused.Load() {
		if !c.flush() {
			return false
		}
		if !c.paused.Load() {
			return true
		}
		select {
		case <-c.drained:
		case <-c.quit:
			return false
		}
	}
	return true
}

func (c *conn) signal() {
	select {
	case c.wake <- struct{}{}:
	default:
	}
}

// writeLoop is the connection's writer. On every wakeup it answers the
// queued requests that can now be answered (drain), then sends everything
// queued with one write, unless the reader is sending (it wakes the
// writer again when it is done, if more is queued).
func (c *conn) writeLoop() {
	for {
		select {
		case <-c.wake:
		case <-c.quit:
			return
		}
		waitClose, more := c.drain()
		if !c.flush() {
			return
		}
		// A connection whose output is closed (a reply too large to
		// send) ends once what is queued is written; otherwise it waits
		// for every answerable request, and for a closeSession's reply.
		c.outMu.Lock()
		closing := c.closeAfter && (c.outClosed || !waitClose && !more) && !c.flushing && len(c.out) == 0
		c.outMu.Unlock()
		if closing {
			c.close("")
			return
		}
	}
}

// flush sends everything queued with one write, unless another goroutine
// is sending; it reads the clock once, for the deadline and the latencies
// of the replies sent. If more is queued when it is done, or the
// connection is to close, it wakes the writer. It reports false if the
// write failed (the connection is then closed).
func (c *conn) flush() bool {
	c.outMu.Lock()
	if c.flushing || len(c.out) == 0 {
		c.outMu.Unlock()
		return true
	}
	c.flushing = true
	buf, lat, sent := c.out, c.lat, c.unsent
	c.out, c.lat, c.unsent = c.spare[:0], c.latSpare[:0], 0
	c.inflight = len(buf)
	c.outMu.Unlock()
	now := time.Now()
	c.srv.stats.sent.Add(sent)
	c.stats.sent.Add(sent)
	m := c.srv.opts.Metrics
	for _, r := range lat {
		d := now.Sub(r.start)
		c.srv.stats.observe(d, r.n)
		c.observe(d, r.n)
		if r.write {
			m.UpdateLatency.ObserveN(d, r.n)
		} else {
			m.ReadLatency.ObserveN(d, r.n)
		}
	}
	// As for reads: the deadline moves at most every quarter of
	// handshakeTimeout, and stays at least handshakeTimeout away.
	if now.Sub(c.writeDeadlineSet) >= handshakeTimeout/4 {
		c.nc.SetWriteDeadline(now.Add(handshakeTimeout + handshakeTimeout/4))
		c.writeDeadlineSet = now
	}
	_, err := c.nc.Write(buf)
	c.outMu.Lock()
	c.flushing = false
	c.inflight = 0
	resumed := c.resumeLocked()
	// out and lat were taken from the spares: a spare is either the
	// buffer just written or nothing, never the buffer now in use.
	c.spare, c.latSpare = nil, nil
	if cap(buf) <= 1<<20 {
		c.spare = buf[:0]
	}
	if cap(lat) <= 1<<10 {
		c.latSpare = lat[:0]
	}
	// Resuming wakes the writer too: it may have stopped answering
	// queued requests at the cap.
	wake := len(c.out) > 0 || c.closeAfter || resumed
	c.outMu.Unlock()
	if err != nil {
		c.close("write failed: " + err.Error())
		return false
	}
	if wake {
		c.signal()
	}
	return true
}

// closeAfterFlush closes the connection once what is already queued has
// been written.
func (c *conn) closeAfterFlush(reason string) {
	if reason != "" {
		c.log.Debug("closing connection after flush", "session", hex(c.session.Load()), "reason", reason)
	}
	c.outMu.Lock()
	c.closeAfter = true
	c.outMu.Unlock()
	c.signal()
}

func (c *conn) awaitQuit() {
	select {
	case <-c.quit:
	case <-time.After(time.Second):
	}
}

func (c *conn) close(reason string) {
	c.closeOnce.Do(func() {
		if reason != "" {
			c.log.Debug("closing connection", "session", hex(c.session.Load()), "reason", reason)
		}
		c.outMu.Lock()
		c.outClosed = true
		c.outMu.Unlock()
		close(c.quit)
		c.nc.Close()
		c.srv.removeConn(c)
		c.srv.opts.Backend.Tree().RemoveWatcher(c)
	})
}

func hex(v int64) string { return fmt.Sprintf("0x%x", v) }
