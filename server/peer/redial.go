package peer

import (
	"fmt"
	"net"
	"strconv"
	"time"

	"github.com/zkbench/zkbench/server/proto"
)

// leaderTries bounds a learner's connections to the leader it decided on
// before the leader has said anything, as upstream's
// Learner.connectToLeader makes at most 5 connect attempts.
const leaderTries = 5

// leaderRedialDelay is the pause before a learner connects again,
// upstream's zookeeper.leaderConnectDelayDuringRetryMs default.
const leaderRedialDelay = 100 * time.Millisecond

// maxUnheard bounds the packets a learner keeps to send again on a new
// connection to its leader. Before the leader speaks a learner sends only
// its FOLLOWERINFO or OBSERVERINFO.
const maxUnheard = 8

// connectLeader connects a learner's reign to its leader, trying until
// initLimit ticks after the reign began, and starts reading from it.
func (p *Peer) connectLeader(rs *reignState) error {
	s, ok := p.cfg.Servers[rs.leader]
	if !ok {
		return fmt.Errorf("peer: elected leader %d is not in the configuration", rs.leader)
	}
	addr := net.JoinHostPort(s.Host, strconv.Itoa(s.QuorumPort))
	qc, err := dialRetry(rs.stop, addr, p.initDeadline(rs), p.opts.Secure)
	if err != nil {
		return err
	}
	rs.dials++
	rs.toLead = newQconn(qc, rs.leader)
	go rs.toLead.readLoop(rs.in, rs.stop)
	return nil
}

// initDeadline is when a learner's reign stops trying to reach its
// leader: initLimit ticks after it began, as upstream's connect timeout.
func (p *Peer) initDeadline(rs *reignState) time.Time {
	return rs.started.Add(time.Duration(p.cfg.InitLimit) * time.Duration(p.cfg.TickTime) * time.Millisecond)
}

// sentToLeader records, until the leader first speaks, what a learner
// sent it, to send again on a new connection.
func (rs *reignState) sentToLeader(pkt *proto.QuorumPacket) {
	if rs.heard {
		return
	}
	if len(rs.unheard) >= maxUnheard {
		rs.unheard = nil
		rs.heard = true // cannot replay: no redial
		return
	}
	rs.unheard = append(rs.unheard, *pkt)
}

// redialLeader connects a learner again to a leader whose connection ended
// before anything was received from it, and sends again what it sent
// there; false when it must give the leader up (it spoke, leaderTries
// connections were made, initLimit ticks have passed, or the dial failed).
//
// Upstream's learner retries the connect itself within initLimit. A
// connection that is accepted and closed at once is a refusal seen through
// a proxy (a harness partition's per-link proxy accepts before it dials
// the leader's port, which a Java leader binds only once it leads).
// Going back to election instead costs the ensemble a new round, and
// those rounds can chase each other for seconds.
func (p *Peer) redialLeader(rs *reignState) bool {
	if rs.heard || rs.dials >= leaderTries || !time.Now().Add(leaderRedialDelay).Before(p.initDeadline(rs)) {
		return false
	}
	select {
	case <-rs.stop:
		return false
	case <-time.After(leaderRedialDelay):
	}
	old := rs.toLead
	if err := p.connectLeader(rs); err != nil {
		p.log.Warn("leader's connection closed before it spoke, and connecting again failed", "leader", rs.leader, "err", err)
		return false
	}
	old.close()
	p.log.Info("leader's connection closed before it spoke: connected again", "leader", rs.leader, "connection", rs.dials)
	for i := range rs.unheard {
		pkt := rs.unheard[i]
		rs.toLead.send(&pkt)
	}
	return true
}
