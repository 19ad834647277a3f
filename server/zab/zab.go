package zab

import (
	"encoding/binary"
	"errors"
	"fmt"
	"log/slog"
	"slices"

	"github.com/zkbench/zkbench/server/proto"
)

// Packet types of the leader/learner protocol, as upstream numbers them
// (Leader.java).
const (
	TypeRequest    = 1 // learner -> leader: a client write or sync (Data: upstream's request serialization)
	TypeProposal   = 2 // leader -> follower: Zxid, Data = txn
	TypeAck        = 3 // follower -> leader: Zxid durable (and everything before it)
	TypeCommit     = 4 // leader -> follower: Zxid committed
	TypePing       = 5 // both ways, every tick
	TypeRevalidate = 6 // session revalidation (not used by this package)
	TypeSync       = 7 // leader -> learner: the oldest pending sync is done
	TypeInform     = 8 // leader -> observer: Zxid committed, Data = txn
	// TypeCommitAndActivate: leader -> follower: the reconfig at Zxid is
	// committed; Data = the id of the leader to follow next (long).
	TypeCommitAndActivate = 9
	TypeNewLeader         = 10 // leader -> learner: end of the sync history, Zxid = epoch<<32
	TypeFollowerInfo      = 11 // follower -> leader: Zxid = acceptedEpoch<<32, Data = LearnerInfo
	TypeUpToDate          = 12 // leader -> learner: start serving (Zxid: commit point here, -1 upstream)
	TypeDiff              = 13 // leader -> learner: history follows after Zxid
	TypeTrunc             = 14 // leader -> learner: drop entries after Zxid, history follows
	TypeSnap              = 15 // leader -> learner: Data = snapshot at Zxid, history follows
	TypeObserverInfo      = 16 // observer -> leader: as FOLLOWERINFO
	TypeLeaderInfo        = 17 // leader -> learner: Zxid = newEpoch<<32, Data = protocol version
	TypeAckEpoch          = 18 // learner -> leader: Zxid = last logged zxid, Data = int32 currentEpoch or -1
	// TypeInformAndActivate: leader -> observer: the reconfig at Zxid is
	// committed; Data = the id of the leader to follow next (long), then
	// the txn.
	TypeInformAndActivate = 19
)

// ProtocolVersion is sent in LEADERINFO and FOLLOWERINFO (upstream 0x10000).
const ProtocolVersion = 0x10000

// Errors the caller branches on. Errors that stop the machine are also
// reported in Ready.RoleChange.Err.
var (
	ErrNotLeader     = errors.New("zab: not the leader")
	ErrNotReady      = errors.New("zab: not established or synced yet")
	ErrStopped       = errors.New("zab: stopped; run an election and start a new machine")
	ErrProtocol      = errors.New("zab: protocol violation")
	ErrQuorumLost    = errors.New("zab: leader lost its quorum")
	ErrInitTimeout   = errors.New("zab: discovery/synchronization timed out")
	ErrLeaderTimeout = errors.New("zab: nothing heard from the leader")
	ErrDisconnected  = errors.New("zab: connection to the leader lost")
	ErrFollowerAhead = errors.New("zab: a follower's history is more recent than the leader's")
	ErrEpochBehind   = errors.New("zab: leader's epoch is older than an accepted epoch")
	ErrZxidExhausted = errors.New("zab: zxid counter exhausted in this epoch")
	ErrSnapshot      = errors.New("zab: snapshot for a learner failed")
	// ErrReconfigInProgress: a membership change is proposed and not yet
	// committed; upstream allows one at a time.
	ErrReconfigInProgress = errors.New("zab: a reconfiguration is in progress")
	// ErrRemoved: the leader committed a membership it does not vote in.
	ErrRemoved = errors.New("zab: leader is not a voter of the new membership")
	// ErrSucceeded: a learner was told that a committed reconfig makes
	// another server the leader (Ready.Designated names it).
	ErrSucceeded = errors.New("zab: a reconfig designated another leader")
	// ErrRefused, from Step on a leader, refuses a learner's FOLLOWERINFO
	// or OBSERVERINFO: the driver closes the connection it came on and
	// keeps any other connection of that server.
	ErrRefused = errors.New("zab: learner refused")
)

// Role is what a server does in the ensemble once elected.
type Role int

// Roles.
const (
	Follower Role = iota
	Leader
	Observer
)

func (r Role) String() string {
	switch r {
	case Follower:
		return "follower"
	case Leader:
		return "leader"
	case Observer:
		return "observer"
	}
	return fmt.Sprintf("Role(%d)", int(r))
}

// Entry is one transaction of the log. Data is the serialized TxnHeader and
// txn; it is opaque to Zab.
type Entry struct {
	Zxid int64
	Data []byte
}

// Epochs are the two durable epochs of upstream's acceptedEpoch and
// currentEpoch files.
type Epochs struct {
	Accepted int64
	Current  int64
}

// Snapshot is a serialized state at Zxid (every entry up to Zxid applied).
// Its Data is opaque to Zab.
type Snapshot struct {
	Zxid int64
	Data []byte
}

// Snapshotter gives a leader a snapshot of its applied state, to send to a
// learner too far behind for a DIFF. The snapshot must reflect exactly the
// entries the driver has applied from Ready.Commit (it is called from Step,
// after the last Ready was applied), so its Zxid is at most the commit point.
type Snapshotter interface {
	Snapshot() (Snapshot, error)
}

// Message is one packet between two servers.
type Message struct {
	From, To int64
	Packet   proto.QuorumPacket
}

func (m Message) String() string {
	return fmt.Sprintf("%d->%d %s %s len=%d", m.From, m.To, TypeName(m.Packet.Type), FormatZxid(m.Packet.Zxid), len(m.Packet.Data))
}

// TypeName names a packet type as upstream does.
func TypeName(t int32) string {
	names := map[int32]string{
		TypeRequest: "REQUEST", TypeProposal: "PROPOSAL", TypeAck: "ACK", TypeCommit: "COMMIT",
		TypePing: "PING", TypeRevalidate: "REVALIDATE", TypeSync: "SYNC", TypeInform: "INFORM",
		TypeNewLeader: "NEWLEADER", TypeFollowerInfo: "FOLLOWERINFO", TypeUpToDate: "UPTODATE",
		TypeDiff: "DIFF", TypeTrunc: "TRUNC", TypeSnap: "SNAP", TypeObserverInfo: "OBSERVERINFO",
		TypeLeaderInfo: "LEADERINFO", TypeAckEpoch: "ACKEPOCH",
		TypeCommitAndActivate: "COMMITANDACTIVATE", TypeInformAndActivate: "INFORMANDACTIVATE",
	}
	if n, ok := names[t]; ok {
		return n
	}
	return fmt.Sprintf("TYPE%d", t)
}

// Request is a client write forwarded to the leader (REQUEST packet), for
// the leader's prep stage. Data is upstream's request serialization (see
// SyncRequest); Auth is the client's authenticated ids, which travel in
// the packet's auth info.
type Request struct {
	From int64
	Data []byte
	Auth []proto.ID
}

// opSync is upstream's OpCode.sync.
const opSync = 9

// SyncRequest builds upstream's REQUEST data for a client's sync
// (Learner.request: long sessionId, int cxid, int type, then the request
// record, here SyncRequest's ustring path), the token a learner passes to
// Sync.
func SyncRequest(sessionID int64, cxid int32, path string) []byte {
	b := binary.BigEndian.AppendUint64(nil, uint64(sessionID))
	b = binary.BigEndian.AppendUint32(b, uint32(cxid))
	b = binary.BigEndian.AppendUint32(b, opSync)
	b = binary.BigEndian.AppendUint32(b, uint32(len(path)))
	return append(b, path...)
}

// IsSyncRequest reports whether REQUEST data holds a sync (its type field
// is OpCode.sync).
func IsSyncRequest(data []byte) bool {
	return len(data) >= 16 && int32(binary.BigEndian.Uint32(data[12:16])) == opSync
}

// RoleChange tells the driver that the machine's standing changed.
type RoleChange struct {
	Role  Role
	Epoch int64
	// Active: a leader is established (a quorum acked NEWLEADER) or a
	// learner is synced (UPTODATE). It may now serve.
	Active bool
	// Lost: the machine stopped (Err says why). The driver runs leader
	// election again and starts a new machine with its result.
	Lost bool
	Err  error
}

// Ready is what the state machine asks the driver to do, in this order (see
// the package documentation): install Snapshot, apply Truncate, append
// Persist, write Epochs, and make all of it but Persist durable; then
// send Messages; then apply Commit, hand Requests to prep, complete Synced;
// act on RoleChange; then call Advance. Persist's entries are fsynced then
// or later, and reported with Persisted.
type Ready struct {
	// Snapshot, when set, replaces the state and the whole log: the
	// driver installs it and the log continues after Snapshot.Zxid.
	Snapshot *Snapshot
	// Truncate, when set, drops every log entry after *Truncate. If the
	// driver's applied state is past it, the driver rebuilds its state at
	// *Truncate (a driver that applies only Ready.Commit never is).
	Truncate *int64
	// Persist lists entries to append to the log, in zxid order; the
	// driver reports them durable with Persisted.
	Persist []Entry
	// Epochs, when set, are the epochs to write durably.
	Epochs *Epochs
	// Messages to send once the above but Persist is durable, in order
	// per peer (none vouches for entries not yet Persisted). Their
	// packets stay unchanged after Advance: the driver may queue them.
	Messages []Message
	// Commit lists committed entries to apply, in zxid order (a quorum
	// logged them durably; this server perhaps not yet). Commit,
	// Requests and Synced are valid until Advance, which reuses their
	// arrays: the driver copies what it keeps.
	Commit []Entry
	// Requests are client writes forwarded by learners (leader only).
	Requests []Request
	// Synced are the tokens of Sync calls now complete: everything the
	// leader had committed when it saw the sync is in Commit or earlier,
	// and nothing committed after the sync's answer is in Commit (it
	// comes in a later Ready), so that a client's requests queued behind
	// its sync see the state as of the sync.
	Synced [][]byte
	// RoleChange, when set, reports that the machine became active or
	// stopped.
	RoleChange *RoleChange
	// LeaderMembership, on a learner, is what the leader's
	// Config.MembershipData gave for NEWLEADER: the configuration the new
	// epoch runs with (upstream sends its last seen quorum verifier
	// there). It comes with UPTODATE, once the leader is established, as
	// upstream's learner activates it.
	LeaderMembership []byte
	// Designated, when set, names the leader that a reconfig removing the
	// current leader designated as its successor (the data of upstream's
	// COMMITANDACTIVATE and INFORMANDACTIVATE): once this machine stops,
	// the driver may start the next reign with it as leader without an
	// election.
	Designated int64
}

// Empty reports whether rd asks for nothing.
func (rd *Ready) Empty() bool {
	return rd.Snapshot == nil && rd.Truncate == nil && len(rd.Persist) == 0 && rd.Epochs == nil &&
		len(rd.Messages) == 0 && len(rd.Commit) == 0 && len(rd.Requests) == 0 && len(rd.Synced) == 0 &&
		rd.RoleChange == nil && rd.LeaderMembership == nil && rd.Designated == 0
}

// Config starts a machine after an election.
type Config struct {
	// ID is this server's id (myid).
	ID int64
	// Voters are the ids of the participants (followers and the leader);
	// Observers the ids of the observers.
	Voters, Observers []int64
	// Pending is a reconfig entry in the log past the committed point (a
	// leader's history may hold one its predecessor did not commit): a
	// new leader needs a quorum of both memberships to establish itself,
	// and switches to Next when it commits its history.
	Pending *Reconfig
	// MembershipData, on a leader, gives the membership to send in
	// NEWLEADER for the epoch being established; it is opaque to Zab, and
	// a learner hands it over in Ready.LeaderMembership. Nil sends none.
	MembershipData func(epoch int64) []byte
	// Leader is the elected leader's id; Role is this server's role
	// (Leader when Leader == ID).
	Leader int64
	Role   Role
	// InitLimitTicks bounds each phase of discovery and synchronization;
	// SyncLimitTicks bounds silence from the leader (or, at the leader,
	// from a quorum) once synced.
	InitLimitTicks, SyncLimitTicks int
	// Storage is the durable log and epochs.
	Storage Storage
	// Applied is the zxid of the last entry the driver's state reflects
	// at start (its snapshot plus whatever it replayed).
	Applied int64
	// Snapshotter serves SNAP syncs; a leader without one can sync only
	// learners whose history its log covers.
	Snapshotter Snapshotter
	// Logger receives debug logs; nil discards them.
	Logger *slog.Logger
}

// Status is a summary of the machine, for tests and four-letter words.
type Status struct {
	ID, Leader        int64
	Role              Role
	Epoch             int64 // the epoch being established or served; 0 before it is known
	Active, Stopped   bool
	LastZxid, Applied int64
	Committed         int64 // leader: commit point; learner: highest commit seen
	// Leader only: synced followers and observers (NEWLEADER acked), and
	// proposals not yet committed.
	SyncedFollowers, SyncedObservers, Outstanding int
}

// Zab is the state machine of one server for one leader's reign. It is not
// safe for concurrent use: one driver loop owns it.
type Zab struct {
	cfg     Config
	id      int64
	role    Role
	leader  int64
	members quorumSet        // the membership in force
	next    *pendingReconfig // a proposed membership not yet committed
	logger  *slog.Logger

	log      zlog
	accepted int64
	current  int64
	applied  int64
	durable  int64 // the log is durable up to here (Persisted)
	tick     int
	stopped  bool
	active   bool

	out          Ready
	handedBytes  int   // data of the messages handed out from out.Messages' array (queue, sent)
	syncedAt     []int // for each of out.Synced, how many of out.Commit precede it
	epochsDirty  bool
	pendingSnap  *Snapshot
	truncHandout bool

	l *leaderState
	f *learnerState
}

// New starts a machine in the role the election gave this server.
func New(cfg Config) (*Zab, error) {
	if cfg.Storage == nil {
		return nil, errors.New("zab: config: nil Storage")
	}
	if cfg.InitLimitTicks <= 0 || cfg.SyncLimitTicks <= 0 {
		return nil, fmt.Errorf("zab: config: initLimit %d and syncLimit %d must be positive", cfg.InitLimitTicks, cfg.SyncLimitTicks)
	}
	z := &Zab{
		cfg:      cfg,
		id:       cfg.ID,
		role:     cfg.Role,
		leader:   cfg.Leader,
		logger:   cfg.Logger,
		log:      zlog{st: cfg.Storage},
		accepted: cfg.Storage.AcceptedEpoch(),
		current:  cfg.Storage.CurrentEpoch(),
		applied:  cfg.Applied,
	}
	if z.logger == nil {
		z.logger = slog.New(slog.DiscardHandler)
	}
	z.durable = z.log.lastZxid()
	var err error
	if z.members, err = newQuorumSet(Membership{Voters: cfg.Voters, Observers: cfg.Observers}); err != nil {
		return nil, err
	}
	if cfg.Pending != nil {
		set, err := newQuorumSet(cfg.Pending.Next)
		if err != nil {
			return nil, fmt.Errorf("zab: config: pending reconfig: %w", err)
		}
		z.next = &pendingReconfig{zxid: cfg.Pending.Zxid, set: set}
	}
	if z.applied > z.log.lastZxid() || z.applied < z.log.base() {
		return nil, fmt.Errorf("zab: config: applied %s outside log [%s, %s]", FormatZxid(z.applied), FormatZxid(z.log.base()), FormatZxid(z.log.lastZxid()))
	}
	switch cfg.Role {
	case Leader:
		// A leader may be a voter of the pending membership only: its
		// history holds the reconfig that makes it one, committed once
		// it is established.
		if cfg.Leader != cfg.ID || !z.isVoter(cfg.ID) {
			return nil, fmt.Errorf("zab: config: leader %d must be this server (%d) and a voter", cfg.Leader, cfg.ID)
		}
		z.startLeader()
	case Follower, Observer:
		if cfg.Leader == cfg.ID {
			return nil, fmt.Errorf("zab: config: leader %d must be another server", cfg.Leader)
		}
		// A follower need not be a voter: a server being added, or one
		// removed, follows without being counted.
		if cfg.Role == Follower && z.members.observers[cfg.ID] || cfg.Role == Observer && z.members.voters[cfg.ID] {
			return nil, fmt.Errorf("zab: config: server %d is not configured as a %s", cfg.ID, cfg.Role)
		}
		z.startLearner()
	default:
		return nil, fmt.Errorf("zab: config: unknown role %d", cfg.Role)
	}
	return z, nil
}

// Step feeds one message received from a peer. On a leader, an error
// wrapping ErrRefused means the learner's FOLLOWERINFO or OBSERVERINFO was
// refused: close the connection it came on.
func (z *Zab) Step(m Message) error {
	if z.stopped {
		return ErrStopped
	}
	if m.To != z.id {
		return fmt.Errorf("zab: message for %d delivered to %d", m.To, z.id)
	}
	if z.role == Leader {
		return z.stepLeader(m)
	}
	z.stepLearner(m)
	return nil
}

// Tick advances logical time by one tick (upstream tickTime).
func (z *Zab) Tick() {
	if z.stopped {
		return
	}
	z.tick++
	if z.role == Leader {
		z.tickLeader()
	} else {
		z.tickLearner()
	}
}

// Disconnected tells the machine that the connection to peer broke. A
// learner whose leader connection broke stops; a leader forgets that
// learner until it connects again.
func (z *Zab) Disconnected(peer int64) {
	if z.stopped {
		return
	}
	if z.role == Leader {
		if z.l.learners[peer] != nil {
			z.logger.Debug("zab: learner disconnected", "id", z.id, "learner", peer)
			z.l.removeLearner(peer)
		}
		return
	}
	if peer == z.leader {
		z.stop(ErrDisconnected)
	}
}

// Propose appends a new transaction at the leader and broadcasts it. It
// returns the zxid given to it, the one NextZxid announced.
func (z *Zab) Propose(data []byte) (int64, error) {
	if err := z.canPropose(); err != nil {
		return 0, err
	}
	return z.propose(data)
}

// canPropose is why Propose and NextZxid cannot run now, or nil: the
// machine has stopped, it does not lead, or its leadership is not
// established yet.
func (z *Zab) canPropose() error {
	switch {
	case z.stopped:
		return ErrStopped
	case z.role != Leader:
		return ErrNotLeader
	case !z.l.established:
		return ErrNotReady
	}
	return nil
}

// NextZxid returns the zxid the next Propose will assign, for the prep
// stage to put in the txn header it serializes into the proposal's data.
func (z *Zab) NextZxid() (int64, error) {
	if err := z.canPropose(); err != nil {
		return 0, err
	}
	last := z.log.lastZxid()
	if EpochOf(last) != z.l.epoch {
		return Zxid(z.l.epoch, 1), nil
	}
	if CounterOf(last) >= maxCounter {
		return 0, ErrZxidExhausted
	}
	return last + 1, nil
}

// canForward is why Forward and Sync cannot run now, or nil: the machine
// has stopped, or it is not active in its role (not synced, not
// established).
func (z *Zab) canForward() error {
	switch {
	case z.stopped:
		return ErrStopped
	case !z.active:
		return ErrNotReady
	}
	return nil
}

// Forward sends a client write to the leader (REQUEST, with auth in the
// packet's auth info); at the leader it comes back in Ready.Requests, as
// forwarded writes do. req is upstream's request serialization (long
// sessionId, int cxid, int type, the request record).
func (z *Zab) Forward(req []byte, auth []proto.ID) error {
	if err := z.canForward(); err != nil {
		return err
	}
	if z.role == Leader {
		z.out.Requests = append(z.out.Requests, Request{From: z.id, Data: req, Auth: auth})
		return nil
	}
	z.queue(Message{From: z.id, To: z.leader,
		Packet: proto.QuorumPacket{Type: TypeRequest, Zxid: -1, Data: req, AuthInfo: auth}})
	return nil
}

// Sync asks for everything the leader has committed to be applied here;
// token comes back in Ready.Synced when it is (upstream's sync op). On a
// learner the token is sent as the REQUEST's data, so it must be
// upstream's serialization of a sync request (SyncRequest builds one); the
// leader answers syncs in the order they came. A pending sync is lost if
// the machine stops: the driver fails it then.
func (z *Zab) Sync(token []byte) error {
	if err := z.canForward(); err != nil {
		return err
	}
	if z.role == Leader {
		z.leaderSync(z.id, token)
		return nil
	}
	if !IsSyncRequest(token) {
		return fmt.Errorf("zab: sync token is not a sync request (see SyncRequest): %w", ErrProtocol)
	}
	z.f.syncs = append(z.f.syncs, token)
	z.send(z.leader, TypeRequest, -1, token)
	return nil
}

// HasReady reports whether Ready has anything to do.
func (z *Zab) HasReady() bool {
	z.fillReady()
	return !z.out.Empty()
}

// Ready returns what the driver must do now. Call Advance when it is done;
// do not call Step, Tick, Propose, Forward or Sync in between.
func (z *Zab) Ready() Ready {
	z.fillReady()
	rd := z.out
	rd.Persist = slices.Clone(z.log.unstable())
	if len(rd.Synced) > 0 {
		// Stop at the first completed sync: later commits and syncs
		// wait for the next Ready.
		at := z.syncedAt[0]
		k := 1
		for k < len(z.syncedAt) && z.syncedAt[k] == at {
			k++
		}
		if at < len(rd.Commit) || k < len(rd.Synced) {
			// A role change comes after everything before it.
			rd.Commit, rd.Synced, rd.RoleChange = rd.Commit[:at:at], rd.Synced[:k:k], nil
		}
	}
	return rd
}

// synced completes a sync after what is in z.out.Commit so far.
func (z *Zab) synced(token []byte) {
	z.out.Synced = append(z.out.Synced, token)
	z.syncedAt = append(z.syncedAt, len(z.out.Commit))
}

func (z *Zab) fillReady() {
	if z.log.snapPending {
		z.out.Snapshot = z.pendingSnap
	}
	if z.log.truncPending {
		t := z.log.truncTo
		z.out.Truncate = &t
	}
	if z.epochsDirty {
		z.out.Epochs = &Epochs{Accepted: z.accepted, Current: z.current}
	}
	z.out.Persist = z.log.unstable()
}

// Advance tells the machine that the driver did everything rd asked.
func (z *Zab) Advance(rd Ready) {
	z.log.stableTo(&rd)
	if rd.Snapshot != nil {
		z.pendingSnap = nil
	}
	if rd.Epochs != nil && rd.Epochs.Accepted == z.accepted && rd.Epochs.Current == z.current {
		z.epochsDirty = false
	}
	z.out.Snapshot, z.out.Truncate, z.out.Epochs, z.out.Persist = nil, nil, nil, nil
	if rd.LeaderMembership != nil {
		z.out.LeaderMembership = nil
	}
	if rd.Designated != 0 {
		z.out.Designated = 0
	}
	z.sent(len(rd.Messages))
	z.out.Commit = trim(z.out.Commit, len(rd.Commit))
	z.out.Requests = trim(z.out.Requests, len(rd.Requests))
	z.out.Synced = trim(z.out.Synced, len(rd.Synced))
	z.syncedAt = trim(z.syncedAt, len(rd.Synced))
	for i := range z.syncedAt {
		z.syncedAt[i] -= len(rd.Commit)
	}
	if rd.RoleChange != nil && z.out.RoleChange == rd.RoleChange {
		z.out.RoleChange = nil
	}
	if z.stopped {
		return
	}
	z.log.release(z.applied)
}

// Persisted tells the machine that the driver made the log durable up to
// zxid: every entry of the Ready.Persist lists it appended up to zxid is
// fsynced, and Storage holds it. Call it when the fsync returns, outside
// Ready and Advance, with a zxid Advance has seen appended. What vouches
// for those entries waits for it: a follower's ACKs (of each proposal, and
// of NEWLEADER for the history before it) and a leader's count of its own
// acknowledgement. Until then the driver may send every Ready's Messages
// without waiting for the fsync.
func (z *Zab) Persisted(zxid int64) {
	zxid = min(zxid, z.log.handed, z.log.lastZxid())
	if z.stopped || zxid <= z.durable {
		return
	}
	z.durable = zxid
	z.log.release(z.applied)
	if z.role == Leader {
		z.l.selfDurable = max(z.l.selfDurable, zxid)
		z.maybeCommit()
		return
	}
	z.flushAcks()
}

// trim drops the first n elements of s, which a Ready handed out; the
// driver is done with them at Advance, so an array all of whose elements
// were handed out is reused.
func trim[T any](s []T, n int) []T {
	if n >= len(s) {
		clear(s)
		return s[:0]
	}
	return append([]T(nil), s[n:]...)
}

// messageChunk is how many messages a fresh Ready.Messages array holds.
const messageChunk = 64

// keptMessageBytes bounds the data of the handed-out messages a Messages
// array keeps alive after the driver is done with them (see sent): past
// it the array is let go (a SNAP's at once).
const keptMessageBytes = 64 << 10

// queue adds m to the next Ready's Messages. The driver may keep pointers
// to the packets of messages it was handed (a connection's writer queues
// them), so an array's handed-out part is never written again: messages
// go after it, into a fresh array once it is full. (Regrowing the slice
// from nil on every Ready was 11 % of a loaded leader's allocated bytes.)
func (z *Zab) queue(m Message) {
	ms := z.out.Messages
	if len(ms) == cap(ms) {
		ms = append(make([]Message, 0, max(messageChunk, 2*len(ms))), ms...)
		z.handedBytes = 0
	}
	z.out.Messages = append(ms, m)
}

// sent drops the first n messages, which a Ready handed out (see queue).
func (z *Zab) sent(n int) {
	if n == 0 {
		return
	}
	ms := z.out.Messages
	for i := range n {
		z.handedBytes += len(ms[i].Packet.Data)
	}
	if z.handedBytes > keptMessageBytes {
		z.out.Messages = append([]Message(nil), ms[n:]...)
		z.handedBytes = 0
		return
	}
	z.out.Messages = ms[n:]
}

// Status summarizes the machine.
func (z *Zab) Status() Status {
	s := Status{ID: z.id, Leader: z.leader, Role: z.role, Active: z.active, Stopped: z.stopped,
		LastZxid: z.log.lastZxid(), Applied: z.applied}
	if z.role == Leader {
		s.Epoch = z.l.epoch
		s.Committed = z.l.committed
		s.Outstanding = len(z.l.pending)
		for _, lr := range z.l.learners {
			switch {
			case lr.phase != lpSynced:
			case lr.observer:
				s.SyncedObservers++
			default:
				s.SyncedFollowers++
			}
		}
	} else {
		s.Epoch = z.f.epoch
		s.Committed = z.f.target
	}
	return s
}

func (z *Zab) send(to int64, typ int32, zxid int64, data []byte) {
	z.queue(Message{From: z.id, To: to,
		Packet: proto.QuorumPacket{Type: typ, Zxid: zxid, Data: data}})
}

func (z *Zab) setEpochs(accepted, current int64) {
	if accepted < z.accepted || current < z.current {
		panic(fmt.Sprintf("zab: epochs going back: accepted %d->%d current %d->%d", z.accepted, accepted, z.current, current))
	}
	z.accepted, z.current = accepted, current
	z.epochsDirty = true
}

// stop ends this machine's reign; the driver goes back to election.
func (z *Zab) stop(err error) {
	if z.stopped {
		return
	}
	z.logger.Debug("zab: stopping", "id", z.id, "role", z.role, "err", err)
	z.stopped = true
	z.active = false
	z.out.RoleChange = &RoleChange{Role: z.role, Epoch: z.Status().Epoch, Lost: true, Err: err}
}

// commitTo emits log entries (applied, upto] in Ready.Commit.
func (z *Zab) commitTo(upto int64) error {
	for z.applied < upto {
		ents, err := z.log.entries(z.applied, upto, 1024)
		if err != nil {
			return fmt.Errorf("zab: commit %s..%s: %w", FormatZxid(z.applied), FormatZxid(upto), err)
		}
		if len(ents) == 0 {
			return fmt.Errorf("zab: commit to %s but log ends at %s: %w", FormatZxid(upto), FormatZxid(z.log.lastZxid()), ErrProtocol)
		}
		z.out.Commit = append(z.out.Commit, ents...)
		z.applied = ents[len(ents)-1].Zxid
	}
	return nil
}

func putInt32(v int32) []byte { return binary.BigEndian.AppendUint32(nil, uint32(v)) }

func getInt32(b []byte) (int32, bool) {
	if len(b) < 4 {
		return 0, false
	}
	return int32(binary.BigEndian.Uint32(b)), true
}

// learnerInfo encodes upstream's LearnerInfo record (jute: long serverid,
// int protocolVersion, long configVersion).
func learnerInfo(id int64) []byte {
	b := binary.BigEndian.AppendUint64(nil, uint64(id))
	b = binary.BigEndian.AppendUint32(b, ProtocolVersion)
	return binary.BigEndian.AppendUint64(b, 0)
}
