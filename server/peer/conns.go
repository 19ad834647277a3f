package peer

import (
	"encoding/binary"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/zkbench/zkbench/server/proto"
	"github.com/zkbench/zkbench/server/transport"
	"github.com/zkbench/zkbench/server/zab"
)

// typeTouch is a driver-level packet (not zab's): a follower's list of
// session ids its clients touched since its last TOUCH, for the leader's
// session expiry. Data: a sequence of 8-byte ids.
const typeTouch = 100

// inPacket is a packet (or the end of a connection) from a peer.
type inPacket struct {
	conn *qconn
	pkt  *proto.QuorumPacket
	err  error
}

// qconn is one quorum connection with its own writer goroutine, so a slow
// peer never blocks the peer loop: the loop queues, the writer sends and
// flushes when its queue drains. A queue that overflows closes the
// connection (the peer is hopelessly behind; it will resync).
type qconn struct {
	qc      *transport.QuorumConn
	sid     int64 // peer server id; 0 until known (leader side, before FOLLOWERINFO)
	out     chan *proto.QuorumPacket
	once    sync.Once
	done    chan struct{}
	flushed chan struct{} // closed once a flush marker was written out
}

const sendQueue = 64 << 10

func newQconn(qc *transport.QuorumConn, sid int64) *qconn {
	c := &qconn{qc: qc, sid: sid, out: make(chan *proto.QuorumPacket, sendQueue), done: make(chan struct{}), flushed: make(chan struct{})}
	go c.writeLoop()
	return c
}

func (c *qconn) writeLoop() {
	for {
		select {
		case p := <-c.out:
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
			if len(c.out) == 0 {
				if err := c.qc.Flush(); err != nil {
					c.close()
					return
				}
			}
		case <-c.done:
			return
		}
	}
}

// send queues p; false if the connection is closed or hopelessly behind.
func (c *qconn) send(p *proto.QuorumPacket) bool {
	select {
	case <-c.done:
		return false
	default:
	}
	select {
	case c.out <- p:
		return true
	default:
		c.close()
		return false
	}
}

// flushWait bounds how long a closing reign waits for its last messages.
const flushWait = 200 * time.Millisecond

// flushAll waits, up to d in all, until what is queued on each connection
// has been written.
func flushAll(conns map[int64]*qconn, d time.Duration) {
	deadline := time.After(d)
	for _, c := range conns {
		select {
		case c.out <- nil:
		default:
			continue // hopelessly behind anyway
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

func encodeTouches(ids []int64) []byte {
	b := make([]byte, 0, 8*len(ids))
	for _, id := range ids {
		b = binary.BigEndian.AppendUint64(b, uint64(id))
	}
	return b
}

func decodeTouches(b []byte) []int64 {
	ids := make([]int64, 0, len(b)/8)
	for len(b) >= 8 {
		ids = append(ids, int64(binary.BigEndian.Uint64(b)))
		b = b[8:]
	}
	return ids
}

// dialRetry dials the leader until it answers or the deadline passes.
func dialRetry(stop <-chan struct{}, addr string, deadline time.Time) (*transport.QuorumConn, error) {
	var last error
	for delay := 5 * time.Millisecond; time.Now().Before(deadline); delay = min(2*delay, 200*time.Millisecond) {
		qc, err := transport.DialQuorum(ctxFromStop(stop), addr, time.Until(deadline))
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
