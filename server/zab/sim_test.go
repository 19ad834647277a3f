package zab

import (
	"bytes"
	"encoding/binary"
	"errors"
	"flag"
	"fmt"
	"math/rand"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/zkbench/zkbench/server/election"
)

// This file is an in-process cluster simulator: every server runs the real
// state machine with a MemoryStorage as its disk, a seeded scheduler
// delivers messages on per-link FIFO queues, ticks, submits client writes
// and syncs, and injects faults. Invariants are checked at every step.

const (
	simInitLimit = 10
	simSyncLimit = 5
)

// simNode is one server: durable state (st, snap) survives a crash; the
// state machine instance and the applied state do not.
type simNode struct {
	id       int64
	observer bool
	st       *MemoryStorage
	snap     []Entry // durable snapshot: the applied entries it holds
	applied  []Entry // the volatile state: entries applied, in order
	z        *Zab    // nil while down or looking
	el       *election.Election
	inc      int // incarnation of z
	up       bool
	syncs    map[string]int64 // token -> leader commit point when issued
	// unsynced: appended, not yet fsynced (deferSync): a crash keeps a
	// prefix of them.
	unsynced []Entry
	// newLeaderNeeds: the last zxid of the history this instance held
	// when NEWLEADER came, which its ACK of NEWLEADER vouches for.
	newLeaderNeeds int64
}

func (n *simNode) appliedZxid() int64 {
	if len(n.applied) == 0 {
		return 0
	}
	return n.applied[len(n.applied)-1].Zxid
}

// Snapshot implements Snapshotter from the applied state.
func (n *simNode) Snapshot() (Snapshot, error) {
	return Snapshot{Zxid: n.appliedZxid(), Data: encodeEntries(n.applied)}, nil
}

func encodeEntries(ents []Entry) []byte {
	var b []byte
	for _, e := range ents {
		b = binary.BigEndian.AppendUint64(b, uint64(e.Zxid))
		b = binary.BigEndian.AppendUint32(b, uint32(len(e.Data)))
		b = append(b, e.Data...)
	}
	return b
}

func decodeEntries(b []byte) ([]Entry, error) {
	var out []Entry
	for len(b) > 0 {
		if len(b) < 12 {
			return nil, errors.New("short entry header")
		}
		z := int64(binary.BigEndian.Uint64(b))
		n := int(binary.BigEndian.Uint32(b[8:]))
		b = b[12:]
		if len(b) < n {
			return nil, errors.New("short entry data")
		}
		out = append(out, Entry{Zxid: z, Data: slices.Clone(b[:n])})
		b = b[n:]
	}
	return out, nil
}

type linkKey struct{ from, to int64 }

// queued is a message in flight, with the instances it went between.
type queued struct {
	m              Message
	fromInc, toInc int // toInc 0: the receiver had no machine yet
}

func pairOf(a, b int64) linkKey {
	if a > b {
		a, b = b, a
	}
	return linkKey{a, b}
}

type pendingDisc struct {
	at      int
	node    int64
	inc     int
	peer    int64
	peerInc int
}

// simOptions tune a schedule.
type simOptions struct {
	voters, observers int
	steps             int     // steps with faults
	faultRate         float64 // per step
	midReadyCrash     float64 // chance to crash between persisting and sending
	randomLeader      float64 // chance the stand-in election picks a non-best candidate
	leaderEarlySend   bool    // leaders send broadcasts before persisting
	deferSync         bool    // entries are fsynced later, at random steps, and Persisted then (the peer's syncer)
	clients           int     // simulated ZooKeeper clients, recorded and checked (sim_history_test.go); 0: bare writes and syncs
	bug               simBug  // a deliberate server bug for the clients to find
	reconfig          float64 // per step: a serving leader proposes a new set of voters
}

type cluster struct {
	t       testing.TB
	seed    int64
	rng     *rand.Rand
	opts    simOptions
	nodes   map[int64]*simNode
	ids     []int64
	voters  []int64
	obs     []int64
	links   map[linkKey][]queued
	cut     map[linkKey]bool // partitioned pairs
	broken  map[linkKey]bool // connection broken until a new instance at either end
	discs   []pendingDisc
	tick    int
	nextInc int

	committed   []Entry          // G: the one committed sequence, as applied anywhere
	acked       map[string]int64 // client write -> zxid, once its leader applied it
	epochLeader map[int64]int64
	writes      int
	trace       []string
	failed      bool
	quiet       bool // no more client ops
	manual      bool // no stand-in election: tests start machines themselves
	fle         bool // package election decides, over its own links
	elinks      map[linkKey][]election.Notification
	batch       bool // deliver without processing the Ready
	sent        map[int32]int
	rcs         map[int64][]RoleChange
	designated  map[int64]int64 // manual tests: the successor each server was told of
	sentTo      map[linkKey][]int32

	h     *simHistory // the clients and their history, if opts.clients > 0
	order []string    // if non-nil, applies and sync completions as the driver did them

	// counters for the report
	stats simStats
}

type simStats struct {
	delivered, dropped, crashes, midCrashes, cuts, heals, elections, established int
	diffs, truncs, snaps, syncsDone, compactions, stepDowns, reconfigs           int
	ticks, servingTicks                                                          int
}

func (s *simStats) add(o simStats) {
	s.delivered += o.delivered
	s.dropped += o.dropped
	s.crashes += o.crashes
	s.midCrashes += o.midCrashes
	s.cuts += o.cuts
	s.heals += o.heals
	s.elections += o.elections
	s.established += o.established
	s.diffs += o.diffs
	s.truncs += o.truncs
	s.snaps += o.snaps
	s.syncsDone += o.syncsDone
	s.compactions += o.compactions
	s.stepDowns += o.stepDowns
	s.reconfigs += o.reconfigs
	s.ticks += o.ticks
	s.servingTicks += o.servingTicks
}

func newCluster(t testing.TB, seed int64, opts simOptions) *cluster {
	c := &cluster{t: t, seed: seed, rng: rand.New(rand.NewSource(seed)), opts: opts,
		nodes: map[int64]*simNode{}, links: map[linkKey][]queued{}, cut: map[linkKey]bool{},
		broken: map[linkKey]bool{}, acked: map[string]int64{}, epochLeader: map[int64]int64{}}
	for i := 1; i <= opts.voters+opts.observers; i++ {
		id := int64(i)
		n := &simNode{id: id, observer: i > opts.voters, st: NewMemoryStorage(), up: true, syncs: map[string]int64{}}
		c.nodes[id] = n
		c.ids = append(c.ids, id)
		if n.observer {
			c.obs = append(c.obs, id)
		} else {
			c.voters = append(c.voters, id)
		}
	}
	if opts.clients > 0 {
		c.h = newSimHistory(c, opts.clients, opts.bug)
	}
	return c
}

func (c *cluster) logf(format string, args ...any) {
	s := fmt.Sprintf("t%d ", c.tick) + fmt.Sprintf(format, args...)
	c.trace = append(c.trace, s)
	if len(c.trace) > *simTrace*2 {
		c.trace = slices.Clone(c.trace[*simTrace:])
	}
}

func (c *cluster) fatalf(format string, args ...any) {
	c.t.Helper()
	if c.failed {
		return
	}
	c.failed = true
	c.t.Fatalf("seed %d: %s\nlast events:\n%s", c.seed, fmt.Sprintf(format, args...), strings.Join(c.trace, "\n"))
}

// reconfigPrefix marks a simulated reconfig entry: "reconfig:1,3,4" makes
// 1, 3 and 4 the voters (observers stay as configured).
const reconfigPrefix = "reconfig:"

func parseReconfig(data []byte) ([]int64, bool) {
	rest, ok := strings.CutPrefix(string(data), reconfigPrefix)
	if !ok {
		return nil, false
	}
	var ids []int64
	for _, f := range strings.Split(rest, ",") {
		id, err := strconv.ParseInt(f, 10, 64)
		if err != nil {
			return nil, false
		}
		ids = append(ids, id)
	}
	return ids, true
}

// view is n's membership as a driver would know it: the last reconfig it
// applied (or the initial voters), and a reconfig logged after that. Of
// several logged after it, all but the last are committed: a leader
// proposes a reconfig only when the one before it committed.
func (c *cluster) view(n *simNode) (Membership, *Reconfig) {
	m := Membership{Voters: c.voters, Observers: c.obs}
	for i := len(n.applied) - 1; i >= 0; i-- {
		if v, ok := parseReconfig(n.applied[i].Data); ok {
			m.Voters = v
			break
		}
	}
	var pending *Reconfig
	after := n.appliedZxid()
	for {
		ents, err := n.st.Entries(after, 1024)
		if err != nil || len(ents) == 0 {
			break
		}
		for _, e := range ents {
			if v, ok := parseReconfig(e.Data); ok {
				if pending != nil {
					m = pending.Next
				}
				pending = &Reconfig{Zxid: e.Zxid, Next: Membership{Voters: v, Observers: c.obs}}
			}
		}
		after = ents[len(ents)-1].Zxid
	}
	return m, pending
}

// quorumOf reports whether ids hold a quorum of m's voters.
func quorumOf(m Membership, ids map[int64]bool) bool {
	n := 0
	for _, v := range m.Voters {
		if ids[v] {
			n++
		}
	}
	return n >= len(m.Voters)/2+1
}

// votes reports whether id votes in m.
func votes(m Membership, id int64) bool { return slices.Contains(m.Voters, id) }

func (c *cluster) usable(a, b int64) bool {
	k := pairOf(a, b)
	return !c.cut[k] && !c.broken[k]
}

// reachable says whether a and b could connect (no partition between them).
func (c *cluster) reachable(a, b int64) bool { return a == b || !c.cut[pairOf(a, b)] }

// start creates a state machine on n following (or being) leader.
func (c *cluster) start(n *simNode, leader int64) {
	role := Follower
	switch {
	case leader == n.id:
		role = Leader
	case n.observer:
		role = Observer
	}
	m, pending := c.view(n)
	z, err := New(Config{ID: n.id, Voters: m.Voters, Observers: m.Observers, Pending: pending, Leader: leader, Role: role,
		InitLimitTicks: simInitLimit, SyncLimitTicks: simSyncLimit, Storage: n.st, Applied: n.appliedZxid(),
		Snapshotter: n})
	if err != nil {
		c.fatalf("New on %d: %v", n.id, err)
		return
	}
	c.nextInc++
	n.z, n.inc = z, c.nextInc
	n.syncs = map[string]int64{}
	// A new instance opens fresh connections (what was in flight on the
	// old ones is dropped at delivery, see deliver).
	for _, o := range c.ids {
		if o != n.id {
			delete(c.broken, pairOf(n.id, o))
		}
	}
	c.logf("start %d as %s of %d (epochs %d/%d last %s applied %s)", n.id, role, leader,
		n.st.AcceptedEpoch(), n.st.CurrentEpoch(), FormatZxid(n.st.LastZxid()), FormatZxid(n.appliedZxid()))
	c.process(n)
}

// breakLink drops what is in flight between a and b and breaks the
// connection; each end may hear of it after a while, or only time out.
func (c *cluster) breakLink(a, b int64) {
	k := pairOf(a, b)
	c.stats.dropped += len(c.links[linkKey{a, b}]) + len(c.links[linkKey{b, a}])
	delete(c.links, linkKey{a, b})
	delete(c.links, linkKey{b, a})
	c.broken[k] = true
	for _, end := range [][2]int64{{a, b}, {b, a}} {
		n := c.nodes[end[0]]
		if n.z != nil && c.rng.Intn(2) == 0 {
			c.discs = append(c.discs, pendingDisc{at: c.tick + c.rng.Intn(3), node: end[0], inc: n.inc, peer: end[1], peerInc: c.nodes[end[1]].inc})
		}
	}
}

func (c *cluster) crash(n *simNode) {
	c.logf("crash %d", n.id)
	c.stats.crashes++
	if len(n.unsynced) > 0 {
		// Written, not fsynced: any prefix may have reached the disk.
		k := c.rng.Intn(len(n.unsynced) + 1)
		if err := n.st.Append(n.unsynced[:k]); err != nil {
			c.fatalf("node %d: crash: %v", n.id, err)
		}
		c.logf("crash %d kept %d of %d unsynced entries", n.id, k, len(n.unsynced))
		n.unsynced = nil
	}
	n.z = nil
	n.el = nil
	n.up = false
	n.applied = slices.Clone(n.snap)
	for _, o := range c.ids {
		if o != n.id {
			c.breakLink(n.id, o)
			// Election notifications travel on connections too: what
			// was in flight to or from the crashed server is lost.
			delete(c.elinks, linkKey{n.id, o})
			delete(c.elinks, linkKey{o, n.id})
		}
	}
}

// process runs n's Ready loop as a driver would.
func (c *cluster) process(n *simNode) {
	for n.z != nil && n.z.HasReady() && !c.failed {
		z := n.z
		rd := z.Ready()
		torn := c.opts.midReadyCrash > 0 && len(rd.Persist) > 0 && c.rng.Float64() < c.opts.midReadyCrash
		// A leader may send its broadcasts before its own fsync (its own
		// ack counts only at Advance): the package doc allows it.
		var later []Message
		if c.opts.leaderEarlySend && z.role == Leader {
			held := map[int64]bool{} // per-peer order: hold all after the first held
			for _, m := range rd.Messages {
				switch m.Packet.Type {
				case TypeProposal, TypeCommit, TypeInform, TypePing:
					if !held[m.To] {
						c.sendMsg(m)
						continue
					}
				}
				held[m.To] = true
				later = append(later, m)
			}
		} else {
			later = rd.Messages
		}
		if rd.Snapshot != nil {
			ents, err := decodeEntries(rd.Snapshot.Data)
			if err != nil {
				c.fatalf("node %d: snapshot: %v", n.id, err)
				return
			}
			if len(ents) > 0 && ents[len(ents)-1].Zxid != rd.Snapshot.Zxid || len(ents) == 0 && rd.Snapshot.Zxid != 0 {
				c.fatalf("node %d: snapshot at %s holds entries up to %v", n.id, FormatZxid(rd.Snapshot.Zxid), ents)
				return
			}
			c.checkPrefix(n.id, ents)
			n.applied = ents
			n.snap = slices.Clone(ents)
			n.st.Reset(rd.Snapshot.Zxid)
			c.logf("%d installs snapshot at %s", n.id, FormatZxid(rd.Snapshot.Zxid))
		}
		if rd.Truncate != nil {
			if *rd.Truncate < n.appliedZxid() {
				c.fatalf("node %d: truncate to %s below applied %s", n.id, FormatZxid(*rd.Truncate), FormatZxid(n.appliedZxid()))
				return
			}
			if err := n.st.Truncate(*rd.Truncate); err != nil {
				c.fatalf("node %d: %v", n.id, err)
				return
			}
			c.logf("%d truncates to %s", n.id, FormatZxid(*rd.Truncate))
		}
		if len(n.unsynced) > 0 && (rd.Snapshot != nil || rd.Truncate != nil) {
			// The driver lets its syncer finish before it installs or
			// truncates (a new machine's sync; its old one's entries
			// were synced when it stopped).
			c.fatalf("node %d: snapshot or truncate with %d entries unsynced", n.id, len(n.unsynced))
			return
		}
		if torn {
			// The fsync did not finish: any prefix of the group may
			// have reached the disk; nothing was sent.
			all := append(slices.Clone(n.unsynced), rd.Persist...)
			n.unsynced = nil
			k := c.rng.Intn(len(all))
			if err := n.st.Append(all[:k]); err != nil {
				c.fatalf("node %d: persist: %v", n.id, err)
			}
			c.stats.midCrashes++
			c.logf("crash %d while persisting %d of %d entries", n.id, k, len(rd.Persist))
			c.crash(n)
			return
		}
		if c.opts.deferSync {
			n.unsynced = append(n.unsynced, rd.Persist...)
		} else if err := n.st.Append(rd.Persist); err != nil {
			c.fatalf("node %d: persist: %v", n.id, err)
			return
		}
		if e := rd.Epochs; e != nil {
			if e.Accepted < n.st.AcceptedEpoch() || e.Current < n.st.CurrentEpoch() || e.Current > e.Accepted {
				c.fatalf("node %d: epochs %d/%d -> %d/%d", n.id, n.st.AcceptedEpoch(), n.st.CurrentEpoch(), e.Accepted, e.Current)
				return
			}
			n.st.SetEpochs(*e)
		}
		if c.opts.midReadyCrash > 0 && c.rng.Float64() < c.opts.midReadyCrash {
			c.stats.midCrashes++
			c.logf("crash %d after persisting, before sending %d messages", n.id, len(rd.Messages))
			c.crash(n)
			return
		}
		for _, m := range later {
			c.sendMsg(m)
		}
		for _, e := range rd.Commit {
			c.applyEntry(n, e)
			if c.failed {
				return
			}
		}
		for _, tok := range rd.Synced {
			c.syncDone(n, string(tok))
		}
		if rd.Designated != 0 && c.designated != nil {
			c.designated[n.id] = rd.Designated
		}
		lost := false
		if rc := rd.RoleChange; rc != nil {
			c.logf("%d role change %+v", n.id, *rc)
			if c.rcs != nil {
				c.rcs[n.id] = append(c.rcs[n.id], *rc)
			}
			if rc.Lost {
				lost = true
				c.stats.stepDowns++
			} else if rc.Role == Leader {
				c.established(n, rc.Epoch)
			}
			if rc.Active && c.fle && n.el != nil {
				// Advertise the new epoch to looking servers, as
				// upstream's updateElectionVote does (package
				// election, driver duty 5): a looking server joins only
				// when the leader's vote and its followers' agree.
				v := n.el.Vote()
				v.PeerEpoch = rc.Epoch
				n.el.SetState(n.el.State(), v)
			}
		}
		// Advance reuses rd.Requests' array: keep the requests, as the
		// driver does.
		reqs := slices.Clone(rd.Requests)
		z.Advance(rd)
		if k := len(rd.Persist); k > 0 && !c.opts.deferSync {
			z.Persisted(rd.Persist[k-1].Zxid)
		}
		for _, r := range reqs {
			if _, err := z.Propose(r.Data); err != nil {
				c.logf("%d: propose forwarded %q: %v", n.id, r.Data, err)
			}
		}
		if lost {
			// The driver lets its syncer finish when a reign ends.
			c.fsync(n)
			n.z = nil
			if c.fle {
				c.lookAgain(n)
			}
			return
		}
	}
}

// fsync completes n's pending fsync: its unsynced entries are durable.
// It reports the last of them, or 0 if there were none.
func (c *cluster) fsync(n *simNode) int64 {
	if len(n.unsynced) == 0 {
		return 0
	}
	if err := n.st.Append(n.unsynced); err != nil {
		c.fatalf("node %d: fsync: %v", n.id, err)
		return 0
	}
	last := n.unsynced[len(n.unsynced)-1].Zxid
	n.unsynced = nil
	return last
}

// syncSome completes the pending fsync of a random server, as the peer's
// syncer does, and tells its machine.
func (c *cluster) syncSome() {
	var have []*simNode
	for _, id := range c.ids {
		if n := c.nodes[id]; n.z != nil && len(n.unsynced) > 0 {
			have = append(have, n)
		}
	}
	if len(have) == 0 {
		return
	}
	n := have[c.rng.Intn(len(have))]
	if last := c.fsync(n); last != 0 && !c.failed {
		n.z.Persisted(last)
		c.process(n)
	}
}

// checkAckDurable: an ACK vouches for durable state. A broadcast ACK's
// entry is on n's disk; the ACK of NEWLEADER follows the whole history
// synced before it.
func (c *cluster) checkAckDurable(n *simNode, m Message) {
	zxid := m.Packet.Zxid
	if CounterOf(zxid) == 0 {
		if last := n.st.LastZxid(); last < n.newLeaderNeeds {
			c.fatalf("node %d acks NEWLEADER %s with its log durable to %s, history to %s", n.id, FormatZxid(zxid), FormatZxid(last), FormatZxid(n.newLeaderNeeds))
		}
		return
	}
	if f, err := n.st.Floor(zxid); err == nil && f != zxid {
		c.fatalf("node %d acks %s before it is durable (its disk ends at %s)", n.id, FormatZxid(zxid), FormatZxid(n.st.LastZxid()))
	}
}

func (c *cluster) sendMsg(m Message) {
	if m.Packet.Type == TypeAck {
		c.checkAckDurable(c.nodes[m.From], m)
	}
	to := c.nodes[m.To]
	if !to.up || !c.usable(m.From, m.To) {
		c.stats.dropped++
		return
	}
	switch m.Packet.Type {
	case TypeDiff:
		c.stats.diffs++
	case TypeTrunc:
		c.stats.truncs++
	case TypeSnap:
		c.stats.snaps++
	}
	k := linkKey{m.From, m.To}
	q := queued{m: m, fromInc: c.nodes[m.From].inc}
	if to.z != nil {
		q.toInc = to.inc
	}
	c.links[k] = append(c.links[k], q)
	if c.sent != nil {
		c.sent[m.Packet.Type]++
		c.sentTo[k] = append(c.sentTo[k], m.Packet.Type)
	}
}

// checkPrefix: ents must agree with the committed sequence G where they
// overlap.
func (c *cluster) checkPrefix(id int64, ents []Entry) {
	for i, e := range ents {
		if i >= len(c.committed) {
			return
		}
		if g := c.committed[i]; g.Zxid != e.Zxid || !bytes.Equal(g.Data, e.Data) {
			c.fatalf("node %d: entry %d is %s %q, committed sequence has %s %q", id, i, FormatZxid(e.Zxid), e.Data, FormatZxid(g.Zxid), g.Data)
			return
		}
	}
}

func (c *cluster) applyEntry(n *simNode, e Entry) {
	if e.Zxid <= n.appliedZxid() {
		c.fatalf("node %d: applies %s after %s: zxids must increase", n.id, FormatZxid(e.Zxid), FormatZxid(n.appliedZxid()))
		return
	}
	i := len(n.applied)
	if i < len(c.committed) {
		if g := c.committed[i]; g.Zxid != e.Zxid || !bytes.Equal(g.Data, e.Data) {
			c.fatalf("node %d: applies #%d %s %q, but %s %q was committed there", n.id, i, FormatZxid(e.Zxid), e.Data, FormatZxid(g.Zxid), g.Data)
			return
		}
	} else {
		c.committed = append(c.committed, e)
	}
	n.applied = append(n.applied, e)
	if c.order != nil {
		c.order = append(c.order, fmt.Sprintf("%d applies %s", n.id, e.Data))
	}
	if n.z.role == Leader {
		c.acked[string(e.Data)] = e.Zxid
	}
	if c.h != nil {
		c.h.applied(n, e)
	}
}

// established checks Zab's core promise at the moment a leader takes over:
// everything ever committed is in its history (it has just applied it), and
// no other leader was established in its epoch.
func (c *cluster) established(n *simNode, epoch int64) {
	c.stats.established++
	if other, ok := c.epochLeader[epoch]; ok && other != n.id {
		c.fatalf("two leaders established in epoch %d: %d and %d", epoch, other, n.id)
		return
	}
	c.epochLeader[epoch] = n.id
	if len(n.applied) < len(c.committed) {
		c.fatalf("leader %d of epoch %d has applied %d entries (last %s), but %d are committed (last %s)", n.id, epoch,
			len(n.applied), FormatZxid(n.appliedZxid()), len(c.committed), FormatZxid(c.committed[len(c.committed)-1].Zxid))
	}
}

func (c *cluster) syncDone(n *simNode, tok string) {
	want, ok := n.syncs[tok]
	if !ok {
		c.fatalf("node %d: sync %q completed but was not issued by this instance", n.id, tok)
		return
	}
	delete(n.syncs, tok)
	if n.appliedZxid() < want {
		c.fatalf("node %d: sync %q done at %s, leader had committed %s when it was issued", n.id, tok, FormatZxid(n.appliedZxid()), FormatZxid(want))
	}
	c.stats.syncsDone++
	if c.order != nil {
		c.order = append(c.order, fmt.Sprintf("%d syncs %s", n.id, tok))
	}
	if c.h != nil {
		c.h.synced(n, tok)
	}
}

// deliver pops the head of one link's queue. A link is a connection
// between two machine instances: what an instance sent dies with it, and
// so does what was sent to an instance that is gone. What was sent to a
// server that had no machine yet waits for the one it starts (a learner
// retries connecting to its leader).
func (c *cluster) deliver(k linkKey) (progress bool) {
	head := c.links[k][0]
	m := head.m
	n, from := c.nodes[m.To], c.nodes[m.From]
	if n.z == nil && n.up && head.toInc == 0 && from.z != nil && from.inc == head.fromInc {
		return false
	}
	if q := c.links[k]; len(q) == 1 {
		delete(c.links, k)
	} else {
		c.links[k] = q[1:]
	}
	if n.z == nil || from.z == nil || from.inc != head.fromInc || head.toInc != 0 && head.toInc != n.inc {
		c.stats.dropped++
		return true
	}
	c.stats.delivered++
	if m.Packet.Type == TypeNewLeader {
		n.newLeaderNeeds = n.z.Status().LastZxid
	}
	_ = n.z.Step(m)
	if !c.batch {
		c.process(n)
	}
	return true
}

func (c *cluster) nonEmptyLinks() []linkKey {
	ks := make([]linkKey, 0, len(c.links))
	for k := range c.links {
		ks = append(ks, k)
	}
	slices.SortFunc(ks, func(a, b linkKey) int {
		if a.from != b.from {
			return int(a.from - b.from)
		}
		return int(a.to - b.to)
	})
	return ks
}

func (c *cluster) doTick() {
	c.tick++
	c.stats.ticks++
	if c.servingLeader() != nil {
		c.stats.servingTicks++
	}
	for _, id := range c.ids {
		if n := c.nodes[id]; n.z != nil {
			n.z.Tick()
			c.process(n)
		}
	}
	var rest []pendingDisc
	for _, d := range c.discs {
		if d.at > c.tick {
			rest = append(rest, d)
			continue
		}
		// The notice is about one connection: it means nothing once
		// either end has started a new instance (and connection).
		if n := c.nodes[d.node]; n.z != nil && n.inc == d.inc && c.nodes[d.peer].inc == d.peerInc {
			n.z.Disconnected(d.peer)
			c.process(n)
		}
	}
	c.discs = rest
	if c.h != nil {
		c.h.tick()
	}
	if c.fle {
		c.tickElections()
	} else if !c.manual {
		c.elect()
	}
}

// summary orders candidates as FLE does: (currentEpoch, lastZxid, id).
func summaryLess(a, b *simNode) bool {
	if a.st.CurrentEpoch() != b.st.CurrentEpoch() {
		return a.st.CurrentEpoch() < b.st.CurrentEpoch()
	}
	if a.st.LastZxid() != b.st.LastZxid() {
		return a.st.LastZxid() < b.st.LastZxid()
	}
	return a.id < b.id
}

// elect is the stand-in for Fast Leader Election: a looking server joins a
// reachable leader, or a quorum of reachable looking voters elects the most
// up-to-date of them (sometimes another one, which Zab must survive).
func (c *cluster) elect() {
	for _, id := range c.ids {
		n := c.nodes[id]
		if !n.up || n.z != nil {
			continue
		}
		for _, lid := range c.ids {
			l := c.nodes[lid]
			if l.z != nil && l.z.role == Leader && !l.z.stopped && c.reachable(id, lid) && c.rng.Intn(3) > 0 {
				c.start(n, lid)
				break
			}
		}
	}
	// Participants look; each server's view says whether it may lead and
	// whose support counts (a reconfig changes both).
	var looking []*simNode
	for _, id := range c.voters {
		if n := c.nodes[id]; n.up && n.z == nil {
			looking = append(looking, n)
		}
	}
	c.rng.Shuffle(len(looking), func(i, j int) { looking[i], looking[j] = looking[j], looking[i] })
	for _, n := range looking {
		if n.z != nil {
			continue
		}
		var group, candidates []*simNode
		for _, o := range looking {
			if o.z == nil && c.reachable(n.id, o.id) {
				group = append(group, o)
				if m, pending := c.view(o); votes(m, o.id) || pending != nil && votes(pending.Next, o.id) {
					candidates = append(candidates, o)
				}
			}
		}
		if len(candidates) == 0 {
			continue
		}
		best := candidates[0]
		for _, o := range candidates[1:] {
			if summaryLess(best, o) {
				best = o
			}
		}
		if c.rng.Float64() < c.opts.randomLeader {
			best = candidates[c.rng.Intn(len(candidates))]
		}
		m, pending := c.view(best)
		var followers []*simNode
		support := map[int64]bool{best.id: true}
		for _, o := range group {
			if o != best && c.reachable(best.id, o.id) {
				followers = append(followers, o)
				support[o.id] = true
			}
		}
		if !quorumOf(m, support) || pending != nil && !quorumOf(pending.Next, support) {
			continue
		}
		c.stats.elections++
		c.logf("elect %d with %d followers (voters %v)", best.id, len(followers), m.Voters)
		c.start(best, best.id)
		for _, o := range followers {
			if o.up && o.z == nil {
				c.start(o, best.id)
			}
		}
		for _, oid := range c.obs {
			if o := c.nodes[oid]; o.up && o.z == nil && c.reachable(best.id, oid) {
				c.start(o, best.id)
			}
		}
	}
}

// reconfigOp has a serving leader propose a random new set of voters from
// the participants, unless a reconfig is pending.
func (c *cluster) reconfigOp() {
	l := c.servingLeader()
	if l == nil || l.z.ReconfigPending() {
		return
	}
	var next []int64
	for _, id := range c.voters {
		if c.rng.Intn(3) > 0 {
			next = append(next, id)
		}
	}
	if len(next) == 0 {
		next = append(next, c.voters[c.rng.Intn(len(c.voters))])
	}
	parts := make([]string, len(next))
	for i, id := range next {
		parts[i] = strconv.FormatInt(id, 10)
	}
	data := []byte(reconfigPrefix + strings.Join(parts, ","))
	c.stats.reconfigs++
	if _, err := l.z.ProposeReconfig(data, Membership{Voters: next, Observers: c.obs}); err != nil {
		c.logf("reconfig on %d: %v", l.id, err)
		return
	}
	c.logf("%d proposes %s", l.id, data)
	c.process(l)
}

// clientOp submits a write (at the leader, or forwarded by a learner) or a
// sync on a random serving server.
func (c *cluster) clientOp() {
	if c.h != nil {
		c.h.clientOp()
		return
	}
	var active []*simNode
	for _, id := range c.ids {
		if n := c.nodes[id]; n.z != nil && n.z.active {
			active = append(active, n)
		}
	}
	if len(active) == 0 {
		return
	}
	n := active[c.rng.Intn(len(active))]
	if c.rng.Intn(5) == 0 {
		c.writes++
		tok := string(SyncRequest(0, 0, fmt.Sprintf("sync%d", c.writes)))
		n.syncs[tok] = c.leaderCommitted(n)
		if err := n.z.Sync([]byte(tok)); err != nil {
			c.fatalf("sync on active %d: %v", n.id, err)
		}
		c.process(n)
		return
	}
	c.writes++
	data := []byte(fmt.Sprintf("w%d", c.writes))
	if n.z.role == Leader {
		if _, err := n.z.Propose(data); err != nil {
			c.logf("propose on %d: %v", n.id, err)
		}
	} else if err := n.z.Forward(data, nil); err != nil {
		c.fatalf("forward on active %d: %v", n.id, err)
	}
	c.process(n)
}

// leaderCommitted is the commit point of n's leader now: a sync n issues
// now must see at least that much.
func (c *cluster) leaderCommitted(n *simNode) int64 {
	if n.z.role == Leader {
		return n.z.l.committed
	}
	if l := c.nodes[n.z.leader]; l.z != nil && l.z.role == Leader {
		return l.z.l.committed
	}
	return 0
}

func (c *cluster) fault() {
	r := c.rng.Intn(10)
	switch {
	case r < 2: // crash a server that is up
		var up []*simNode
		for _, id := range c.ids {
			if n := c.nodes[id]; n.up {
				up = append(up, n)
			}
		}
		if len(up) > 0 {
			c.crash(up[c.rng.Intn(len(up))])
		}
	case r < 5: // restart a crashed server
		for _, id := range c.ids {
			if n := c.nodes[id]; !n.up {
				n.up = true
				c.logf("restart %d", id)
				if c.fle {
					c.lookAgain(n)
				}
				break
			}
		}
	case r < 6: // isolate one server
		id := c.ids[c.rng.Intn(len(c.ids))]
		c.logf("isolate %d", id)
		c.stats.cuts++
		for _, o := range c.ids {
			if o != id {
				c.cut[pairOf(id, o)] = true
				c.breakLink(id, o)
			}
		}
	case r < 7: // cut one link
		a, b := c.ids[c.rng.Intn(len(c.ids))], c.ids[c.rng.Intn(len(c.ids))]
		if a != b {
			c.logf("cut %d-%d", a, b)
			c.stats.cuts++
			c.cut[pairOf(a, b)] = true
			c.breakLink(a, b)
		}
	case r < 8: // heal everything
		if len(c.cut) > 0 {
			c.logf("heal")
			c.stats.heals++
			clear(c.cut)
		}
	default: // snapshot and compact the log of a server
		id := c.ids[c.rng.Intn(len(c.ids))]
		n := c.nodes[id]
		if n.up && n.appliedZxid() >= n.st.BaseZxid() && n.appliedZxid() <= n.st.LastZxid() {
			n.snap = slices.Clone(n.applied)
			if err := n.st.Compact(n.appliedZxid()); err != nil {
				c.fatalf("compact %d: %v", id, err)
			}
			c.stats.compactions++
			c.logf("%d snapshots and compacts to %s", id, FormatZxid(n.appliedZxid()))
		}
	}
}

// step does one random thing.
func (c *cluster) step(faults bool) {
	if c.h != nil {
		c.h.steps++
	}
	if c.opts.deferSync && c.rng.Intn(4) == 0 {
		c.syncSome()
		return
	}
	r := c.rng.Float64()
	links := c.nonEmptyLinks()
	if c.fle && len(c.elinks) > 0 && (len(links) == 0 || c.rng.Intn(3) == 0) && r < 0.90 {
		c.deliverElection()
		return
	}
	switch {
	case len(links) > 0 && r < 0.90:
		// Like a driver draining its socket: a few Steps, then one Ready.
		k := links[c.rng.Intn(len(links))]
		c.batch = true
		for n := 1 + c.rng.Intn(6); n > 0 && len(c.links[k]) > 0 && !c.failed && c.deliver(k); n-- {
		}
		c.batch = false
		c.process(c.nodes[k.to])
	case r < 0.915:
		c.doTick()
	case r < 0.97 || !faults:
		if c.quiet {
			break
		}
		if c.opts.reconfig > 0 && c.rng.Float64() < c.opts.reconfig/0.055 {
			c.reconfigOp()
		} else {
			c.clientOp()
		}
	default:
		if c.rng.Float64() < c.opts.faultRate/0.03 {
			c.fault()
		}
	}
}

// settle heals every fault, restarts every server and runs without faults
// until one leader serves everyone and a last write is applied everywhere.
func (c *cluster) settle() {
	c.opts.midReadyCrash = 0
	clear(c.cut)
	for _, id := range c.ids {
		if n := c.nodes[id]; !n.up {
			n.up = true
			if c.fle {
				c.lookAgain(n)
			}
		}
	}
	c.logf("settle: healed, all up")
	var final []byte
	var finalBy *Zab
	for i := 0; i < 20000 && !c.failed; i++ {
		if final != nil && c.allApplied(final) && c.allCaughtUp() {
			c.checkConverged()
			return
		}
		// Propose a last write through each new leader that serves
		// everyone (one proposed to an earlier leader may be lost).
		if l := c.servingLeader(); l != nil && l.z != finalBy && c.allServing(l) {
			c.writes++
			final = []byte(fmt.Sprintf("final%d", c.writes))
			finalBy = l.z
			c.quiet = true
			if _, err := l.z.Propose(final); err != nil {
				c.fatalf("final propose: %v", err)
			}
			c.process(l)
		}
		c.step(false)
	}
	if !c.failed {
		var views []string
		for _, e := range c.committed {
			if _, ok := parseReconfig(e.Data); ok {
				views = append(views, fmt.Sprintf("committed %s %s", FormatZxid(e.Zxid), e.Data))
			}
		}
		for _, id := range c.ids {
			n := c.nodes[id]
			m, pending := c.view(n)
			views = append(views, fmt.Sprintf("node %d: epochs %d/%d last %s applied %s view %v pending %+v",
				id, n.st.AcceptedEpoch(), n.st.CurrentEpoch(), FormatZxid(n.st.LastZxid()), FormatZxid(n.appliedZxid()), m.Voters, pending))
		}
		c.fatalf("no progress after healing: committed %d, final write applied everywhere: %v\n%s", len(c.committed), final != nil, strings.Join(views, "\n"))
	}
}

func (c *cluster) servingLeader() *simNode {
	for _, id := range c.ids {
		if n := c.nodes[id]; n.z != nil && n.z.role == Leader && n.z.active {
			return n
		}
	}
	return nil
}

func (c *cluster) allServing(l *simNode) bool {
	for _, id := range c.ids {
		n := c.nodes[id]
		if n.z == nil || !n.z.active || n.z.leader != l.id {
			return false
		}
	}
	return true
}

func (c *cluster) allApplied(data []byte) bool {
	for _, id := range c.ids {
		if !slices.ContainsFunc(c.nodes[id].applied, func(e Entry) bool { return bytes.Equal(e.Data, data) }) {
			return false
		}
	}
	return true
}

func (c *cluster) allCaughtUp() bool {
	for _, id := range c.ids {
		if len(c.nodes[id].applied) != len(c.committed) {
			return false
		}
	}
	return true
}

// checkConverged: every server applied exactly the committed sequence, and
// every write a client saw acknowledged is in it.
func (c *cluster) checkConverged() {
	for _, id := range c.ids {
		n := c.nodes[id]
		if len(n.applied) != len(c.committed) {
			c.fatalf("node %d applied %d entries, %d committed", id, len(n.applied), len(c.committed))
			return
		}
		c.checkPrefix(id, n.applied)
	}
	in := map[string]int64{}
	for _, e := range c.committed {
		in[string(e.Data)] = e.Zxid
	}
	for w, z := range c.acked {
		if in[w] != z {
			c.fatalf("acknowledged write %q at %s lost", w, FormatZxid(z))
			return
		}
	}
	for i := 1; i < len(c.committed); i++ {
		if c.committed[i].Zxid <= c.committed[i-1].Zxid {
			c.fatalf("committed zxids not increasing at %d", i)
		}
	}
}

func runSchedule(t testing.TB, seed int64, opts simOptions) *cluster {
	c := newCluster(t, seed, opts)
	c.elect()
	for i := 0; i < opts.steps && !c.failed; i++ {
		c.step(true)
	}
	if !c.failed {
		c.settle()
	}
	if c.h != nil && !c.failed {
		c.h.finish()
	}
	return c
}

var (
	simSeeds = flag.Int("zab.seeds", 500, "number of seeded schedules TestSimulatedSchedules runs (-short: a fifth)")
	simFirst = flag.Int64("zab.seed", 1, "first seed of TestSimulatedSchedules; with -zab.seeds=1 it replays one schedule")
	simSteps = flag.Int("zab.steps", 4000, "faulty steps per schedule")
)

var simTrace = flag.Int("zab.trace", 200, "events a failing schedule prints (at least)")

var simReconfigSeeds = flag.Int("zab.reconfigseeds", 200, "number of seeded schedules TestSimulatedReconfigSchedules runs (-short: a fifth)")

// TestSimulatedReconfigSchedules runs fault schedules in which serving
// leaders also change the set of voters (any non-empty subset of the
// participants), with clients whose history is checked.
func TestSimulatedReconfigSchedules(t *testing.T) {
	seeds := *simReconfigSeeds
	if testing.Short() {
		seeds = max(1, seeds/5)
	}
	var total simStats
	committed := 0
	for seed := *simFirst; seed < *simFirst+int64(seeds); seed++ {
		sizes := []int{3, 5, 4, 2, 6}
		opts := simOptions{voters: sizes[seed%int64(len(sizes))], observers: int(seed % 2), steps: *simSteps,
			faultRate: 0.01, midReadyCrash: 0.002, randomLeader: 0.1, leaderEarlySend: seed%4 >= 2,
			deferSync: seed%3 == 0, clients: 2 + int(seed%3), reconfig: 0.004}
		c := runSchedule(t, seed, opts)
		c.checkHistory()
		if c.failed || t.Failed() {
			return
		}
		total.add(c.stats)
		committed += len(c.committed)
	}
	t.Logf("%d schedules: %d entries committed; %+v", seeds, committed, total)
	if seeds >= 100 && (total.reconfigs < seeds || total.established < seeds) {
		t.Errorf("schedules did not exercise reconfiguration: %+v", total)
	}
}

// TestSimulatedSchedules runs seeded fault schedules on clusters of 1 to 7
// voters and up to 2 observers. A failure prints its seed and the last
// events; replay it with -zab.seed=N -zab.seeds=1.
func TestSimulatedSchedules(t *testing.T) {
	seeds, steps := *simSeeds, *simSteps
	if testing.Short() {
		seeds = max(1, seeds/5)
	}
	var total simStats
	var hist simHistoryStats
	committed, checked := 0, 0
	for seed := *simFirst; seed < *simFirst+int64(seeds); seed++ {
		sizes := []int{3, 5, 3, 5, 7, 1, 2, 4}
		opts := simOptions{voters: sizes[seed%int64(len(sizes))], observers: int(seed % 3), steps: steps,
			faultRate: 0.01, midReadyCrash: 0.002, randomLeader: 0.1, leaderEarlySend: seed%4 >= 2,
			deferSync: seed%3 == 0, clients: 2 + int(seed%4)}
		c := runSchedule(t, seed, opts)
		c.checkHistory()
		if c.failed || t.Failed() {
			return
		}
		total.add(c.stats)
		hist.add(c.h.stats)
		checked += len(c.h.rec.History().Ops)
		committed += len(c.committed)
	}
	t.Logf("%d schedules: %d entries committed; %+v", seeds, committed, total)
	t.Logf("history: %d operations checked, every schedule passed; %+v", checked, hist)
	if seeds >= 100 && (hist.writesAcked == 0 || hist.writesUnknown == 0 || hist.syncs == 0 || hist.refused == 0) {
		t.Errorf("clients did not meet every outcome: %+v", hist)
	}
	if seeds >= 100 && (total.truncs == 0 || total.snaps == 0 || total.diffs == 0 || total.established < seeds) {
		t.Errorf("schedules did not exercise every sync path: %+v", total)
	}
}
