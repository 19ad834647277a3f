package peer

import (
	"encoding/binary"
	"errors"
	"fmt"
	"runtime"
	"sync"
	"sync/atomic"
	"time"

	"github.com/zkbench/zkbench/server/proto"
	"github.com/zkbench/zkbench/server/transport"
	"github.com/zkbench/zkbench/server/zab"
)

// inPacket is a packet (or the end of a connection) from a peer.
type inPacket struct {
	conn *qconn
	pkt  *proto.QuorumPacket
	err  error
}

// qconn is one quorum connection with its own writer goroutine, so a slow
// peer never blocks the peer loop: the loop queues, the writer takes
// everything queued at once, sends it and flushes. The queue is bounded in
// bytes, not packets: a follower frozen for a few seconds under load misses
// hundreds of thousands of small COMMITs but little memory, and upstream
// keeps such a learner (its queue is unbounded; syncLimit drops a learner
// that stops acking, as zab does here). A queue over its budget closes the
// connection: the peer is hopelessly behind and will resync.
type qconn struct {
	qc       *transport.QuorumConn
	sid      int64        // peer server id; 0 until known (leader side, before FOLLOWERINFO)
	lastRecv atomic.Int64 // when the last packet arrived, in Unix nanoseconds
	once     sync.Once
	done     chan struct{}
	flushed  chan struct{} // closed once a flush marker was written out

	mu        sync.Mutex
	queue     []*proto.QuorumPacket // nil entries are flush markers
	spare     []*proto.QuorumPacket // the writer's last batch, reused
	queued    int                   // bytes in queue and in the batch being written
	maxQueued int                   // the budget for queued
	wake      chan struct{}         // one pending wake-up for the writer
}

// maxQueuedBytes bounds what one quorum connection may hold for its peer:
// at 25k writes/s of 1 KiB, about ten seconds (upstream's default
// syncLimit x tickTime).
const maxQueuedBytes = 256 << 20

// packetOverhead approximates a packet's bytes beyond its data: length
// prefix, type, zxid, data length and auth vector length.
const packetOverhead = 24

func newQconn(qc *transport.QuorumConn, sid int64) *qconn {
	c := &qconn{qc: qc, sid: sid, done: make(chan struct{}), flushed: make(chan struct{}),
		maxQueued: maxQueuedBytes, wake: make(chan struct{}, 1)}
	go c.writeLoop()
	return c
}

func packetSize(p *proto.QuorumPacket) int {
	if p == nil {
		return 0
	}
	n := packetOverhead + len(p.Data)
	for _, id := range p.AuthInfo {
		n += 8 + len(id.Scheme) + len(id.ID)
	}
	return n
}

func (c *qconn) writeLoop() {
	for {
		select {
		case <-c.wake:
		case <-c.done:
			return
		}
		// With GOMAXPROCS=1 the loop's send hands the P straight to this
		// goroutine, ahead of the client connections already runnable
		// with writes for the loop: taking the queue now would write
		// each forward (or ACK) alone. Yield so that their packets join
		// this batch (issue 19: a follower made 0.93 write(2) per
		// operation, half of them single forwards).
		runtime.Gosched()
		c.mu.Lock()
		batch := c.queue
		c.queue = c.spare[:0]
		c.mu.Unlock()
		written := 0
		for _, p := range batch {
			if p == nil {
				// flush's marker: everything before it is written.
				if c.qc.Flush() == nil {
					select {
					case <-c.flushed:
					default:
						close(c.flushed)
					}
				}
				continue
			}
			if err := c.qc.Send(p); err != nil {
				c.close()
				return
			}
			written += packetSize(p)
		}
		if err := c.qc.Flush(); err != nil {
			c.close()
			return
		}
		clear(batch) // drop the packets for the collector
		c.mu.Lock()
		c.spare = batch[:0]
		c.queued -= written
		c.mu.Unlock()
	}
}

// send queues p; false if the connection is closed or hopelessly behind.
func (c *qconn) send(p *proto.QuorumPacket) bool {
	select {
	case <-c.done:
		return false
	default:
	}
	n := packetSize(p)
	c.mu.Lock()
	if c.queued+n > c.maxQueued {
		c.mu.Unlock()
		c.close()
		return false
	}
	c.queue = append(c.queue, p)
	c.queued += n
	c.mu.Unlock()
	select {
	case c.wake <- struct{}{}:
	default:
	}
	return true
}

// pending reports whether c holds packets its writer has not taken.
func (c *qconn) pending() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.queue) > 0
}

// queuedBytes reports the bytes queued or being written.
func (c *qconn) queuedBytes() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.queued
}

// flushWait bounds how long a closing reign waits for its last messages.
const flushWait = 200 * time.Millisecond

// flushAll waits, up to d in all, until what is queued on each connection
// has been written.
func flushAll(conns map[int64]*qconn, d time.Duration) {
	deadline := time.After(d)
	for _, c := range conns {
		if !c.send(nil) {
			continue // closed, or hopelessly behind anyway
		}
		select {
		case <-c.flushed:
		case <-c.done:
		case <-deadline:
			return
		}
	}
}

func (c *qconn) close() {
	c.once.Do(func() {
		close(c.done)
		c.qc.Close()
	})
}

// readLoop delivers c's packets to in until the connection ends. On the
// leader the first packet names the peer (FOLLOWERINFO/OBSERVERINFO carry
// a LearnerInfo with its server id).
func (c *qconn) readLoop(in chan<- inPacket, stop <-chan struct{}) {
	for {
		p, err := c.qc.Recv()
		if err == nil {
			c.lastRecv.Store(time.Now().UnixNano())
		}
		if err == nil && c.sid == 0 {
			c.sid, err = learnerID(p)
		}
		select {
		case in <- inPacket{conn: c, pkt: p, err: err}:
		case <-stop:
			c.close()
			return
		}
		if err != nil {
			c.close()
			return
		}
	}
}

// liveTicks: a learner connection heard from within this many ticks is
// alive (a learner answers the leader's ping every tick).
const liveTicks = 2

// heardWithin reports whether c received a packet within d.
func (c *qconn) heardWithin(d time.Duration) bool {
	return time.Since(time.Unix(0, c.lastRecv.Load())) <= d
}

// learnerConn keeps, on the leader, one connection per learner id, and
// reports whether the packet in may be handled. A connection that claims
// the id of a learner whose connection is alive is closed: upstream keeps
// both handlers until the old connection dies, but here Zab has one
// learner per id, and letting the newcomer evict a live follower would let
// anyone who can reach the quorum port and name the followers' ids take a
// leader's quorum away. A learner that really reconnected is taken once
// its old connection has gone quiet or closed. Packets from a connection
// another has replaced are dropped with it.
func (p *Peer) learnerConn(rs *reignState, in inPacket) bool {
	c, sid := in.conn, in.conn.sid
	cur, ok := rs.conns[sid]
	if ok && cur == c {
		return true
	}
	if in.pkt.Type != zab.TypeFollowerInfo && in.pkt.Type != zab.TypeObserverInfo {
		c.close()
		return false
	}
	tick := time.Duration(p.cfg.TickTime) * time.Millisecond
	if ok && cur.heardWithin(liveTicks*tick) {
		p.log.Warn("refusing a second quorum connection for a live learner", "sid", sid,
			"remote", c.qc.RemoteAddr().String(), "live", cur.qc.RemoteAddr().String())
		c.close()
		return false
	}
	if ok {
		cur.close() // the learner reconnected: the old connection is dead
	}
	rs.conns[sid] = c
	p.learner.Store(int32(len(rs.conns)))
	return true
}

// refused closes a learner connection Zab refused (zab.ErrRefused).
func (p *Peer) refused(rs *reignState, c *qconn, err error) {
	p.log.Warn("refused a learner", "sid", c.sid, "remote", c.qc.RemoteAddr().String(), "err", err)
	if rs.conns[c.sid] == c {
		delete(rs.conns, c.sid)
		p.learner.Store(int32(len(rs.conns)))
	}
	c.close()
}

func learnerID(p *proto.QuorumPacket) (int64, error) {
	if p.Type != zab.TypeFollowerInfo && p.Type != zab.TypeObserverInfo {
		return 0, fmt.Errorf("peer: first packet from a learner is %s, want FOLLOWERINFO or OBSERVERINFO", zab.TypeName(p.Type))
	}
	var li proto.LearnerInfo
	if err := proto.Unmarshal(p.Data, &li); err != nil {
		// Older learners send just the 8-byte id.
		if len(p.Data) >= 8 {
			return int64(binary.BigEndian.Uint64(p.Data)), nil
		}
		return 0, fmt.Errorf("peer: bad LearnerInfo: %w", err)
	}
	if li.ServerID <= 0 {
		return 0, errors.New("peer: LearnerInfo without a server id")
	}
	return li.ServerID, nil
}

// encodeTouches makes the data of a learner's session PING, as upstream's
// Learner.ping: for each session its clients touched, long id and int
// timeout (upstream's leader renews the session by that timeout).
func (p *Peer) encodeTouches(ids []int64) []byte {
	b := make([]byte, 0, 12*len(ids))
	for _, id := range ids {
		to, ok := p.replica.SessionTimeout(id)
		if !ok {
			continue
		}
		b = binary.BigEndian.AppendUint64(b, uint64(id))
		b = binary.BigEndian.AppendUint32(b, uint32(to))
	}
	return b
}

// decodeTouches reads the session ids of a learner's PING data.
func decodeTouches(b []byte) []int64 {
	ids := make([]int64, 0, len(b)/12)
	for len(b) >= 12 {
		ids = append(ids, int64(binary.BigEndian.Uint64(b)))
		b = b[12:]
	}
	return ids
}

// revalidate answers, on the leader, a learner's REVALIDATE: upstream's
// learner asks whether a session a client reattaches with is still alive
// (data: long id, int timeout), and the leader answers on the same packet
// with long id, boolean valid, renewing the session if it is. (This
// package's learners decide from their own session table.)
func (p *Peer) revalidate(c *qconn, pkt *proto.QuorumPacket) {
	if len(pkt.Data) < 12 {
		p.log.Warn("dropping a short REVALIDATE", "sid", c.sid, "bytes", len(pkt.Data))
		return
	}
	id := int64(binary.BigEndian.Uint64(pkt.Data))
	live, _ := p.replica.Touch(id)
	reply := binary.BigEndian.AppendUint64(nil, uint64(id))
	if live {
		reply = append(reply, 1)
	} else {
		reply = append(reply, 0)
	}
	c.send(&proto.QuorumPacket{Type: zab.TypeRevalidate, Zxid: pkt.Zxid, Data: reply, AuthInfo: pkt.AuthInfo})
}

// onRevalidated takes, on a learner, the leader's answer to a REVALIDATE:
// long id, boolean valid.
func (p *Peer) onRevalidated(pkt *proto.QuorumPacket) {
	if len(pkt.Data) < 9 {
		p.log.Warn("dropping a short REVALIDATE answer", "bytes", len(pkt.Data))
		return
	}
	p.revalidated(int64(binary.BigEndian.Uint64(pkt.Data)), pkt.Data[8] != 0)
}

// dialRetry dials the leader (with sec's TLS, if any) until it answers or
// the deadline passes.
func dialRetry(stop <-chan struct{}, addr string, deadline time.Time, sec *transport.Secure) (*transport.QuorumConn, error) {
	var last error
	for delay := 5 * time.Millisecond; time.Now().Before(deadline); delay = min(2*delay, 200*time.Millisecond) {
		qc, err := transport.DialQuorumSecure(ctxFromStop(stop), addr, time.Until(deadline), sec)
		if err == nil {
			return qc, nil
		}
		last = err
		select {
		case <-stop:
			return nil, errors.New("peer: stopped")
		case <-time.After(delay):
		}
	}
	return nil, fmt.Errorf("peer: leader at %s unreachable: %w", addr, last)
}
