package peer

import (
	"encoding/binary"
	"fmt"
	"net"
	"slices"
	"strconv"
	"time"

	"github.com/zkbench/zkbench/server/config"
	"github.com/zkbench/zkbench/server/election"
	"github.com/zkbench/zkbench/server/proto"
	"github.com/zkbench/zkbench/server/quorum"
	"github.com/zkbench/zkbench/server/tree"
	"github.com/zkbench/zkbench/server/txnprep"
	"github.com/zkbench/zkbench/server/zab"
)

// Dynamic reconfiguration, as the peer sees it. The membership in force
// (p.members) changes when:
//   - a reconfig txn is applied (the committed COMMITANDACTIVATE upstream);
//   - a learner receives a newer membership with NEWLEADER;
//   - an epoch is established with reconfigEnabled and the membership
//     still has version 0: it takes the epoch's NEWLEADER zxid as its
//     version (upstream's ZOOKEEPER-1783 rule), so an established
//     configuration beats any joiner's initial one.
//
// Each change updates the election's voters, the election transport's
// peers, /zookeeper/config (unless the txn itself did), and, with
// reconfigEnabled, the dynamic configuration file beside zoo.cfg. Zab
// switches its own quorum when the reconfig entry commits (package zab).

// zabMembership is m as Zab counts it.
func zabMembership(m quorum.Members) zab.Membership {
	return zab.Membership{Voters: m.Voters(), Observers: m.Observers()}
}

// initMembers takes the starting membership from the configuration files,
// which are written only when a configuration takes effect, and puts it in
// /zookeeper/config (upstream's initConfigInZKDatabase). Reconfig txns the
// log holds past it are sorted out by refreshPending.
func (p *Peer) initMembers(t *tree.Tree) {
	p.members = p.cfg.Members()
	p.publishMembers()
	p.setConfigNode(t)
}

// publishMembers makes the membership in force readable by other
// goroutines (Membership, for the conf four-letter word).
func (p *Peer) publishMembers() {
	text := p.members.String()
	p.gossip = []byte(text)
	s, ok := p.members.Servers[p.id]
	p.shown.Store(&shownMembers{text: text, observer: ok && s.Role == quorum.Observer})
}

type shownMembers struct {
	text     string
	observer bool
}

// Membership returns the configuration in force as /zookeeper/config
// shows it, and whether this server is an observer in it. Safe for
// concurrent use.
func (p *Peer) Membership() (text string, observer bool) {
	m := p.shown.Load()
	return m.text, m.observer
}

// setConfigNode puts the membership into /zookeeper/config as upstream
// does when a configuration takes effect without a txn
// (ZKDatabase.initConfigInZKDatabase): data version -1, mzxid the
// configuration's version.
func (p *Peer) setConfigNode(t *tree.Tree) {
	t.ApplyOutOfLog(&proto.TxnHeader{Zxid: p.members.Version, Time: time.Now().UnixMilli(), Type: proto.OpSetData},
		&proto.SetDataTxn{Path: tree.ConfigPath, Data: []byte(p.members.String()), Version: -1})
}

// leaderMembership is what a leader sends in NEWLEADER: its membership,
// with the epoch's version if it is the initial one (ZOOKEEPER-1783, as
// upstream's lead() does before NEWLEADER), so the learners that establish
// the epoch store the version it will have. When its history ends in a
// reconfig not known to be committed, it sends that one, as upstream sends
// its last seen configuration: establishing the epoch commits it, and a
// learner takes it at UPTODATE (the sync commits the reconfig txn with a
// plain COMMIT, which activates nothing on an upstream learner).
func (p *Peer) leaderMembership(epoch int64) []byte {
	m := p.members
	if p.pending != nil && p.pendingMembers.Version > m.Version {
		m = p.pendingMembers
	}
	if p.cfg.ReconfigEnabled && m.Version == 0 {
		m.Version = zab.Zxid(epoch, 0)
	}
	return []byte(m.String())
}

// adoptMembers makes m the membership in force if it is newer. setNode
// says whether /zookeeper/config must be written (a reconfig txn already
// wrote it).
func (p *Peer) adoptMembers(m quorum.Members, why string, setNode bool) {
	if m.Version < p.members.Version || m.Version == p.members.Version && m.String() == p.members.String() {
		return
	}
	p.members = m
	p.publishMembers()
	p.cfg = p.cfg.WithMembers(m)
	if p.elect != nil {
		p.elect.SetMembership(m.Voters(), m.Observers())
	}
	if tr, ok := p.etr.(interface{ AddPeers(map[int64]string) }); ok {
		addrs := map[int64]string{}
		for id, s := range m.Servers {
			if id != p.id {
				addrs[id] = net.JoinHostPort(s.Host, strconv.Itoa(s.ElectionPort))
			}
		}
		tr.AddPeers(addrs)
	}
	if setNode {
		p.setConfigNode(p.replica.Tree())
	}
	p.log.Info("configuration changed", "why", why, "version", fmt.Sprintf("%x", m.Version),
		"voters", m.Voters(), "observers", m.Observers(), "voter", m.IsVoter(p.id))
	if p.cfg.ReconfigEnabled && p.cfg.Path != "" && m.Version != 0 {
		// Upstream writes no file for an initial configuration that no
		// epoch has established yet.
		if path, err := config.WriteDynamic(p.cfg.Path, p.id, m); err != nil {
			p.log.Error("cannot store the new configuration", "err", err)
		} else {
			p.log.Info("stored the configuration", "file", path)
		}
	}
}

// adoptGossiped takes the membership another server's election
// notification carries (text as /zookeeper/config shows it) if it is newer
// than the one in force, as upstream's election does with reconfigEnabled:
// a server restarted with a stale configuration file learns the current
// voters from the servers it asks, where its own file may name too few of
// them to ever form a quorum. It reports whether the membership changed.
func (p *Peer) adoptGossiped(from int64, text []byte) bool {
	if !p.cfg.ReconfigEnabled {
		return false
	}
	m, err := quorum.ParseMembers(string(text))
	if err != nil {
		p.log.Debug("ignoring the configuration in an election notification", "from", from, "err", err)
		return false
	}
	if m.Version <= p.members.Version {
		return false
	}
	p.adoptMembers(m, fmt.Sprintf("server %d's election notification carries a newer configuration", from), true)
	p.refreshPending()
	return true
}

// refreshPending, before an election, looks for reconfig entries the log
// holds past the membership in force (replayed after a restart, or logged
// but not committed when a reign ended). All but the last are committed (a
// leader proposes a reconfig only once the one before it committed) and
// take effect; the last may not be, and stays pending: the election counts
// the voters of both memberships, and a new leader needs a quorum of each.
func (p *Peer) refreshPending() {
	p.pending = nil
	var last *quorum.Members
	var lastZxid int64
	after := p.store.BaseZxid()
	for {
		ents, err := p.store.Entries(after, 1024)
		if err != nil || len(ents) == 0 {
			break
		}
		for _, e := range ents {
			if e.Zxid <= p.members.Version {
				continue
			}
			if m, ok := reconfigMembers(e.Data); ok {
				if last != nil {
					p.adoptMembers(*last, "a later reconfig in the log shows it committed", true)
				}
				last, lastZxid = &m, e.Zxid
			}
		}
		after = ents[len(ents)-1].Zxid
	}
	if last != nil && last.Version > p.members.Version {
		p.pending = &zab.Reconfig{Zxid: lastZxid, Next: zabMembership(*last)}
		p.pendingMembers = *last
	}
	voters, observers := p.members.Voters(), p.members.Observers()
	if p.pending != nil {
		voters = union(voters, p.pending.Next.Voters)
		observers = minus(union(observers, p.pending.Next.Observers), voters)
	}
	p.elect.SetMembership(voters, observers)
}

func union(a, b []int64) []int64 {
	out := slices.Clone(a)
	for _, id := range b {
		if !slices.Contains(out, id) {
			out = append(out, id)
		}
	}
	slices.Sort(out)
	return out
}

func minus(a, b []int64) []int64 {
	var out []int64
	for _, id := range a {
		if !slices.Contains(b, id) {
			out = append(out, id)
		}
	}
	return out
}

// reconfigMembers decodes a logged txn and, if it is a reconfig, its new
// membership.
func reconfigMembers(data []byte) (quorum.Members, bool) {
	// The txn header's type is at byte 28 (clientId, cxid, zxid, time
	// before it): most entries are rejected without decoding.
	if len(data) < 32 || proto.OpCode(int32(binary.BigEndian.Uint32(data[28:32]))) != proto.OpReconfig {
		return quorum.Members{}, false
	}
	lt, err := proto.DecodeLoggedTxn(data)
	if err != nil || lt.Header.Type != proto.OpReconfig {
		return quorum.Members{}, false
	}
	sd, ok := lt.Body.(*proto.SetDataTxn)
	if !ok {
		return quorum.Members{}, false
	}
	m, err := quorum.ParseMembers(string(sd.Data))
	return m, err == nil
}

// leaderView answers the prep stage's reconfig questions on the leader.
type leaderView struct{ p *Peer }

var _ txnprep.Leader = leaderView{}

// LastSeenMembers implements txnprep.Leader.
func (v leaderView) LastSeenMembers() (quorum.Members, bool) {
	z := v.p.zab
	return v.p.members, z != nil && z.ReconfigPending()
}

// QuorumSynced implements txnprep.Leader.
func (v leaderView) QuorumSynced(m quorum.Members) bool {
	z := v.p.zab
	return z != nil && z.QuorumSynced(zabMembership(m))
}

// designatedDecision, once, turns a designated successor into the next
// reign's decision, as upstream's followers and its designated leader
// switch roles without an election after COMMITANDACTIVATE. If that reign
// fails (the successor is gone), the next one elects.
func (p *Peer) designatedDecision() (election.Decision, bool) {
	d := p.designated
	p.designated = 0
	if d == 0 {
		return election.Decision{}, false
	}
	p.refreshPending()
	if d == p.id && !p.members.IsVoter(p.id) {
		return election.Decision{}, false
	}
	state := election.Following
	switch {
	case d == p.id:
		state = election.Leading
	case p.isObserver():
		// As upstream's updateServerState: an observer observes the
		// successor.
		state = election.Observing
	}
	v := election.Vote{Leader: d, Zxid: p.store.LastZxid(), PeerEpoch: p.store.CurrentEpoch(), ElectionEpoch: p.elect.LogicalClock()}
	p.elect.SetState(state, v)
	p.log.Info("following the successor the reconfig designated, without an election", "leader", d)
	return election.Decision{State: state, Leader: d, Vote: v}, true
}
