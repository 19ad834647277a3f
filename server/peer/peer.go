package peer

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"log/slog"
	"math/rand"
	"net"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/zkbench/zkbench/server/clientconn"
	"github.com/zkbench/zkbench/server/config"
	"github.com/zkbench/zkbench/server/election"
	"github.com/zkbench/zkbench/server/metrics"
	"github.com/zkbench/zkbench/server/proto"
	"github.com/zkbench/zkbench/server/quorum"
	"github.com/zkbench/zkbench/server/reaper"
	"github.com/zkbench/zkbench/server/replica"
	"github.com/zkbench/zkbench/server/transport"
	"github.com/zkbench/zkbench/server/tree"
	"github.com/zkbench/zkbench/server/txnprep"
	"github.com/zkbench/zkbench/server/wal"
	"github.com/zkbench/zkbench/server/zab"
)

// Election timing. The election state machine counts ticks; these make an
// election on loopback take a few ticks, well under upstream's fixed 200 ms
// finalize wait, without weakening safety (Zab's discovery is what makes a
// leader unique; see package election).
const (
	electionTick           = 10 * time.Millisecond
	finalizeWaitTicks      = 3
	maxNotifyIntervalTicks = 100
)

// Options configure a Peer.
type Options struct {
	Config *config.Config
	Logger *slog.Logger
	// Metrics records elections, proposals, commits and syncs; nil
	// records nothing.
	Metrics *metrics.Server
	// Recovered state: the tree and sessions, the snapshot zxid the log
	// window starts after, and the log entries replayed on top of it.
	Tree     *tree.Tree
	Sessions map[int64]int32
	SnapZxid int64
	Entries  []zab.Entry
	// Log is the open transaction log (appends only), opened with LogOptions.
	Log        *wal.Log
	LogOptions wal.Options
	// Rebuild reloads the state from disk (snapshot + log), after a TRUNC
	// cut entries the state had already applied.
	Rebuild func() (*tree.Tree, map[int64]int32, error)
	// OnApplied is called on the peer loop after each applied txn.
	OnApplied func(zxid int64)
	// SnapshotDir is where SNAP syncs are written and read.
	SnapshotDir string
	// Containers are the container reaper's settings, which the member
	// uses whenever it leads; New refuses settings a reaper cannot run
	// with.
	Containers reaper.Options
	// Providers are the registered authentication providers, which
	// decide the ACL schemes the prep stage accepts (ip and digest
	// always).
	Providers tree.Providers
	// Secure is TLS on the election and quorum ports (sslQuorum,
	// portUnification); nil means plaintext.
	Secure *transport.Secure
}

// Peer is one ensemble member. It implements clientconn.Backend.
type Peer struct {
	opts    Options
	metrics *metrics.Server // opts.Metrics, or one that records nothing
	cfg     *config.Config  // the loop's; replaced when the membership changes
	log     *slog.Logger
	id      int64
	store   *storage

	// replica is the state machine: tree, sessions, prep stage, apply.
	replica *replica.Replica

	sessMu  sync.Mutex         // guards touched and local
	touched map[int64]struct{} // learner: sessions its clients touched since the last TOUCH

	waitMu   sync.Mutex
	waiters  map[reqKey]func(clientconn.WriteResult)
	syncs    map[uint64]func(proto.ErrCode)
	nextSync uint64
	revals   map[int64][]func(valid bool) // learner: REVALIDATEs awaiting the leader, by session

	reqCh chan request

	// Role state, read by other goroutines.
	state   atomic.Int32 // election.State
	serving atomic.Bool
	leader  atomic.Int64
	epoch   atomic.Int64
	learner atomic.Int32 // leader: number of learners connected
	synced  atomic.Int32 // leader: learners synced

	fsyncs, fsyncTxns atomic.Int64 // group commit figures for mntr

	// readOnly: electing for long enough with readonlymode.enabled, so
	// serving read-only clients from the local tree with local sessions.
	readOnly atomic.Bool
	local    map[int64]int32 // read-only sessions (guarded by sessMu)

	closer interface {
		CloseSession(id int64)
		CloseAllClients(reason string)
	}
	prep *txnprep.Preparer
	rng  *rand.Rand

	leaderServes bool                         // zookeeper.leaderServes, read by client goroutines
	shown        atomic.Pointer[shownMembers] // the membership, for other goroutines

	// loop-owned membership state (see reconfig.go)
	members quorum.Members // the membership in force
	gossip  []byte         // members as text, sent with every election notification
	pending *zab.Reconfig  // a logged reconfig that may not be committed
	// pendingMembers is the configuration pending proposes (upstream's
	// last seen quorum verifier), when pending is set.
	pendingMembers quorum.Members
	// designated is the successor a reconfig that removed the leader
	// named; the next reign starts with it, without an election.
	designated int64
	zab        *zab.Zab // the current reign's machine, nil between reigns

	// loop-owned
	elect    *election.Election
	etr      transport.Transport
	accepted chan *transport.QuorumConn
	early    []earlyConn // learner connections that arrived before this server led
	stop     chan struct{}
}

// earlyConn is a learner that connected before this server finished its
// own election (it decided faster), or while this server still followed
// the leader a reconfig removed. If this server leads next, the
// connection is used; otherwise it is closed.
type earlyConn struct {
	qc *transport.QuorumConn
	at time.Time
}

type reqKey struct {
	session int64
	cxid    int32
}

// request is work handed to the peer loop.
type request struct {
	write      *proto.Request
	token      uint64 // sync
	session    int64  // sync, revalidate: the client's session
	sync       bool
	revalidate bool  // a reattaching session, for the leader to vouch for
	timeout    int32 // revalidate: the session's timeout
}

// New builds a peer from recovered state. Call SetCloser, then Run.
func New(opts Options) (*Peer, error) {
	cfg := opts.Config
	if opts.Logger == nil {
		opts.Logger = slog.Default()
	}
	p := &Peer{
		opts:     opts,
		metrics:  opts.Metrics.Or(),
		cfg:      cfg,
		log:      opts.Logger,
		id:       cfg.MyID,
		local:    map[int64]int32{},
		touched:  map[int64]struct{}{},
		waiters:  map[reqKey]func(clientconn.WriteResult){},
		syncs:    map[uint64]func(proto.ErrCode){},
		revals:   map[int64][]func(bool){},
		reqCh:    make(chan request, 4096),
		accepted: make(chan *transport.QuorumConn, 16),
		stop:     make(chan struct{}),
		rng:      rand.New(rand.NewSource(time.Now().UnixNano())),
	}
	p.leaderServes = cfg.LeaderServes
	p.replica = replica.New(replica.Options{
		ServerID: p.id,
		TickMs:   int64(cfg.TickTime),
		Tree:     opts.Tree,
		Sessions: opts.Sessions,
		Prep: txnprep.Options{
			SkipACL:           propertyTrue(cfg, "zookeeper.skipACL"),
			ExtendedTypes:     cfg.ExtendedTypesEnabled(),
			ReconfigEnabled:   cfg.ReconfigEnabled,
			Leader:            leaderView{p},
			StandaloneEnabled: cfg.StandaloneEnabled,
			Providers:         opts.Providers,
		},
		EnforceQuota: cfg.EnforceQuota(),
		Logger:       p.log,
	})
	p.initMembers(opts.Tree)
	p.store = newStorage(opts.Log.Dir(), opts.SnapshotDir, opts.Log, opts.LogOptions, opts.SnapZxid)
	if v, ok := cfg.Property("zookeeper.commitLogCount"); ok {
		// Upstream's size of the in-memory committed log that DIFF syncs
		// are served from; older history means a SNAP.
		if n, err := strconv.Atoi(v); err == nil && n > 0 {
			p.store.maxEntries = n
		}
	}
	p.store.remember(opts.Entries)
	p.store.trim(p.replica.LastApplied())
	if err := p.store.loadEpochs(p.store.LastZxid()); err != nil {
		return nil, err
	}
	// Refused when the server starts, rather than each time it would lead.
	if err := opts.Containers.Validate(); err != nil {
		return nil, fmt.Errorf("peer: %w", err)
	}
	return p, nil
}

// RollLog ends the current log file (before a snapshot); call it only from
// OnApplied, which runs on the peer loop.
func (p *Peer) RollLog() error { return p.store.log.Roll() }

// Close closes the transaction log; call it after Run returned.
func (p *Peer) Close() error { return p.store.log.Close() }

// SetCloser tells the peer how to close client connections (clientconn.Server).
func (p *Peer) SetCloser(c interface {
	CloseSession(id int64)
	CloseAllClients(reason string)
}) {
	p.closer = c
	p.replica.SetSessionCloser(c)
}

// Admit reports whether a client may open a session now (clientconn.Options.Admit):
// not while electing or syncing, not on a leader with leaderServes=no, and
// only read-only clients while this member serves read-only.
func (p *Peer) Admit(readOnlyClient bool) bool {
	if p.readOnly.Load() {
		return readOnlyClient
	}
	if !p.serving.Load() {
		return false
	}
	return p.leaderServes || election.State(p.state.Load()) != election.Leading
}

// ReadOnly reports whether this member serves read-only now (cut off from
// its quorum, readonlymode.enabled).
func (p *Peer) ReadOnly() bool { return p.readOnly.Load() }

func propertyTrue(cfg *config.Config, key string) bool {
	v, ok := cfg.Property(key)
	return ok && (v == "yes" || v == "true")
}

func (p *Peer) isObserver() bool {
	s, ok := p.members.Servers[p.id]
	return ok && s.Role == quorum.Observer
}

// Run runs elections and reigns until ctx ends.
func (p *Peer) Run(ctx context.Context) error {
	me, ok := p.cfg.Servers[p.id]
	if !ok {
		return fmt.Errorf("peer: myid %d is not among the server.N lines", p.id)
	}
	peers := map[int64]string{}
	for id, s := range p.cfg.Servers {
		if id != p.id {
			peers[id] = net.JoinHostPort(s.Host, strconv.Itoa(s.ElectionPort))
		}
	}
	etr, err := transport.NewTCP(ctx, transport.TCPConfig{
		MyID:       p.id,
		ListenAddr: net.JoinHostPort(listenHost(p.cfg, me.Host), strconv.Itoa(me.ElectionPort)),
		Peers:      peers,
		Logger:     p.log.With("part", "election-transport"),
		// Reconnect quickly: peers of a starting or recovering ensemble
		// appear within milliseconds of each other on one host or LAN.
		MinBackoff: 5 * time.Millisecond,
		MaxBackoff: 100 * time.Millisecond,
		Secure:     p.opts.Secure,
	})
	if err != nil {
		return fmt.Errorf("peer: election port: %w", err)
	}
	p.etr = etr
	defer etr.Close()
	ql, err := transport.ListenQuorum(net.JoinHostPort(listenHost(p.cfg, me.Host), strconv.Itoa(me.QuorumPort)), p.log.With("part", "quorum-port"))
	if err != nil {
		return fmt.Errorf("peer: quorum port: %w", err)
	}
	ql.Secured(p.opts.Secure)
	defer ql.Close()
	go func() {
		for {
			// Accept retries transient errors (EMFILE, ENFILE, ...)
			// itself; an error here means the peer is stopping.
			qc, err := ql.Accept(ctx)
			if err != nil {
				return
			}
			select {
			case p.accepted <- qc:
			case <-ctx.Done():
				qc.Close()
				return
			}
		}
	}()
	defer close(p.stop)
	p.elect = election.New(election.Config{
		ID: p.id, Voters: p.members.Voters(), Observers: p.members.Observers(),
		TickMs: int(electionTick / time.Millisecond), FinalizeWaitTicks: finalizeWaitTicks,
		MaxNotifyIntervalTicks: maxNotifyIntervalTicks, Rand: p.rng,
		Logger: p.log.With("part", "election"),
	}, p.store.LastZxid(), p.store.CurrentEpoch())
	var logFailed logFailures
	for ctx.Err() == nil {
		start := time.Now()
		dec, ok := p.designatedDecision()
		if !ok {
			var err error
			if dec, err = p.lookForLeader(ctx); err != nil {
				break
			}
			p.metrics.ElectionTime.Observe(time.Since(start))
		}
		p.log.Info("election decided", "state", dec.State, "leader", dec.Leader, "took", time.Since(start).Round(time.Microsecond))
		err = p.reign(ctx, dec)
		p.endReign(err)
		if err := p.afterLogFailure(ctx, &logFailed); err != nil {
			return err
		}
	}
	return nil
}

// listenHost is the address to bind for a server line's host.
func listenHost(cfg *config.Config, host string) string {
	if cfg.QuorumListenOnAllIPs {
		return "0.0.0.0"
	}
	return host
}

// lookForLeader runs Fast Leader Election until it decides.
func (p *Peer) lookForLeader(ctx context.Context) (election.Decision, error) {
	p.metrics.LookingCount.Inc()
	p.state.Store(int32(election.Looking))
	p.serving.Store(false)
	e := p.elect
	p.refreshPending()
	e.SetHistory(p.store.LastZxid(), p.store.CurrentEpoch())
	e.Start()
	tick := time.NewTicker(electionTick)
	defer tick.Stop()
	// Upstream starts a read-only server after max(2 s, tickTime) of
	// looking, when readonlymode.enabled is set.
	var roTimer <-chan time.Time
	if p.cfg.ReadOnlyModeEnabled() {
		roTimer = time.After(max(2*time.Second, time.Duration(p.cfg.TickTime)*time.Millisecond))
	}
	defer p.leaveReadOnly()
	for {
		if dec := p.flushElection(); dec != nil {
			return *dec, nil
		}
		p.releaseEarly()
		select {
		case <-roTimer:
			p.readOnly.Store(true)
			p.log.Warn("no quorum: serving read-only clients from the local state", "last_zxid", fmt.Sprintf("0x%x", p.replica.LastApplied()))
		case m, ok := <-p.etr.Recv():
			if !ok {
				return election.Decision{}, errors.New("peer: election transport closed")
			}
			p.stepElection(m)
		case <-tick.C:
			e.Tick()
		case qc := <-p.accepted:
			p.early = append(p.early, earlyConn{qc, time.Now()})
		case r := <-p.reqCh:
			p.failRequest(r, proto.ErrConnectionLoss)
		case <-ctx.Done():
			return election.Decision{}, ctx.Err()
		}
	}
}

// releaseEarly closes, while looking, the learner connections accepted
// early (from servers that decided we lead before we did) once they can
// no longer be used: when our proposal names another server, for within a
// round a proposal only moves to better votes, never back to our own; or
// after discoveryWait. Closing tells those learners at once that we do not
// lead, so they look again instead of waiting out initLimit ticks for a
// leader that never answers — which kept a quorum from forming: they stay
// FOLLOWING, and their notifications then name a leader nobody else can
// join (seen as a 2.3 s failover of 7 servers under CPU starvation).
func (p *Peer) releaseEarly() {
	if len(p.early) == 0 {
		return
	}
	if p.elect.Vote().Leader != p.id {
		p.closeEarly(0)
		return
	}
	p.closeEarly(discoveryWait)
}

// leaveReadOnly ends read-only service: its clients and local sessions go.
func (p *Peer) leaveReadOnly() {
	if !p.readOnly.Swap(false) {
		return
	}
	p.sessMu.Lock()
	p.local = map[int64]int32{}
	p.sessMu.Unlock()
	if p.closer != nil {
		p.closer.CloseAllClients("leaving read-only mode: the quorum is back")
	}
	p.log.Info("quorum regained: leaving read-only mode")
}

// stepElection hands a received notification to the election and
// returns it decoded (ok false: it was malformed and dropped).
func (p *Peer) stepElection(m transport.Message) (n election.Notification, ok bool) {
	n, members, err := election.DecodeNotification(m.Payload)
	if err != nil {
		p.log.Warn("dropping a malformed election notification", "from", m.From, "err", err)
		return n, false
	}
	n.From, n.To = m.From, p.id
	if len(members) > 0 && p.elect.State() == election.Looking && p.adoptGossiped(m.From, members) {
		// As upstream: the election restarts under the new membership.
		p.elect.Start()
	}
	p.elect.Step(n)
	return n, true
}

// flushElection sends what the election wants sent and returns its
// decision, if any.
func (p *Peer) flushElection() *election.Decision {
	e := p.elect
	if !e.HasReady() {
		return nil
	}
	rd := e.Ready()
	for _, n := range rd.Messages {
		p.etr.Send(n.To, election.EncodeNotification(n, p.gossip))
	}
	e.Advance()
	return rd.Decided
}

// endReign is called when a reign ends: stop serving, fail what waits.
func (p *Peer) endReign(err error) {
	p.serving.Store(false)
	p.state.Store(int32(election.Looking))
	p.learner.Store(0)
	p.synced.Store(0)
	p.log.Info("left the ensemble role; back to leader election", "reason", err)
	p.failAll(proto.ErrConnectionLoss)
	if p.closer != nil {
		p.closer.CloseAllClients("server lost its leader or quorum")
	}
}

func (p *Peer) failAll(code proto.ErrCode) {
	p.waitMu.Lock()
	waiters, syncs, revals := p.waiters, p.syncs, p.revals
	p.waiters = map[reqKey]func(clientconn.WriteResult){}
	p.syncs = map[uint64]func(proto.ErrCode){}
	p.revals = map[int64][]func(bool){}
	p.waitMu.Unlock()
	for _, done := range waiters {
		done(clientconn.WriteResult{Err: code})
	}
	for _, done := range syncs {
		done(code)
	}
	for _, dones := range revals {
		for _, done := range dones {
			done(false)
		}
	}
	for {
		select {
		case r := <-p.reqCh:
			p.failRequest(r, code)
		default:
			return
		}
	}
}

func (p *Peer) failRequest(r request, code proto.ErrCode) {
	p.waitMu.Lock()
	var w func(clientconn.WriteResult)
	var s func(proto.ErrCode)
	var revals []func(bool)
	if r.revalidate {
		revals = p.revals[r.session]
		delete(p.revals, r.session)
	} else if r.sync {
		s = p.syncs[r.token]
		delete(p.syncs, r.token)
	} else if r.write != nil {
		k := reqKey{r.write.SessionID, r.write.Cxid}
		w = p.waiters[k]
		delete(p.waiters, k)
	}
	p.waitMu.Unlock()
	if w != nil {
		w(clientconn.WriteResult{Err: code})
	}
	if s != nil {
		s(code)
	}
	for _, done := range revals {
		done(false)
	}
}

// encodeToken makes a sync's token: upstream's REQUEST data for a sync of
// the client's session, whose cxid field carries the token (the leader
// answers syncs in order and never reads it back; path "/").
func encodeToken(session int64, t uint64) []byte { return zab.SyncRequest(session, int32(t), "/") }

func decodeToken(b []byte) (uint64, bool) {
	if !zab.IsSyncRequest(b) {
		return 0, false
	}
	return uint64(binary.BigEndian.Uint32(b[8:12])), true
}

// Leader is the id of the leader this server follows or is, 0 while it
// has none (the AdminServer's leader command).
func (p *Peer) Leader() int64 {
	if !p.serving.Load() {
		return 0
	}
	return p.leader.Load()
}
