package election

import (
	"fmt"
	"log/slog"
	"math"
	"math/rand"
	"slices"
)

// State is a server's role, numbered as upstream's QuorumPeer.ServerState
// ordinals (the numbers travel in notifications).
type State int32

// Server states.
const (
	Looking   State = 0
	Following State = 1
	Leading   State = 2
	Observing State = 3
)

// String returns upstream's name for the state.
func (s State) String() string {
	switch s {
	case Looking:
		return "LOOKING"
	case Following:
		return "FOLLOWING"
	case Leading:
		return "LEADING"
	case Observing:
		return "OBSERVING"
	}
	return fmt.Sprintf("State(%d)", int32(s))
}

// NotificationVersion is the notification format version this package sends
// (upstream's Notification.CURRENTVERSION: the layout that carries config
// bytes).
const NotificationVersion int32 = 2

// NoVote is the leader id, zxid and epoch a non-voter proposes: it loses to
// every real vote (upstream uses Long.MIN_VALUE the same way).
const NoVote = math.MinInt64

// Vote is a proposal for leader.
type Vote struct {
	Leader        int64 // proposed leader's server id
	Zxid          int64 // proposed leader's last logged zxid
	ElectionEpoch int64 // logical clock of the election round the vote belongs to
	PeerEpoch     int64 // proposed leader's current (accepted) epoch
}

// Better reports whether v beats w in FLE's total order: higher peer epoch,
// then higher zxid, then higher leader id. Election epochs are not compared.
func (v Vote) Better(w Vote) bool {
	if v.PeerEpoch != w.PeerEpoch {
		return v.PeerEpoch > w.PeerEpoch
	}
	if v.Zxid != w.Zxid {
		return v.Zxid > w.Zxid
	}
	return v.Leader > w.Leader
}

// String formats the vote like upstream's log lines.
func (v Vote) String() string {
	return fmt.Sprintf("(leader=%d zxid=0x%x round=0x%x peerEpoch=0x%x)", v.Leader, v.Zxid, v.ElectionEpoch, v.PeerEpoch)
}

// Notification is one election message: the sender's state and vote.
type Notification struct {
	From, To int64 // server ids; on the wire, From comes from the connection
	State    State // sender's state
	Vote     Vote  // sender's vote; Vote.ElectionEpoch is the sender's round
	Version  int32 // format version (0 for pre-3.4 senders)
}

// Decision is the outcome of an election round.
type Decision struct {
	State  State // Leading, Following or Observing
	Leader int64 // the leader's server id
	Vote   Vote  // the vote decided on, with the round it was decided in
}

// Ready is the output of the state machine since the last Advance.
type Ready struct {
	Messages []Notification // to send, in order
	Decided  *Decision      // set once when LOOKING ends
}

// Config configures an Election.
type Config struct {
	ID     int64   // this server's id
	Voters []int64 // participant ids, this server included if it votes
	// Observers lists the observer ids. Any server that is not a voter is
	// treated as a non-voter (answered, never counted), so the list only
	// serves validation: an id may not be both.
	Observers []int64
	// TickMs is the length of one logical tick the driver uses; the state
	// machine only counts ticks, the value is for logs and callers.
	TickMs int
	// FinalizeWaitTicks is how long a quorum-backed proposal waits for a
	// better vote before it is decided, unless every voter already agrees.
	// Zero decides at once on a quorum.
	FinalizeWaitTicks int
	// MaxNotifyIntervalTicks caps the exponential backoff of re-sent
	// notifications while nothing is heard. The first interval is
	// max(FinalizeWaitTicks, 1), as upstream starts at finalizeWait.
	MaxNotifyIntervalTicks int
	// Rand is the source of any randomness (currently unused by the
	// algorithm, accepted so drivers pass their seeded source).
	Rand *rand.Rand
	// Logger receives debug logs; nil discards them.
	Logger *slog.Logger
}

// ballot is a vote as recorded in a vote table, with the state and format
// version of the server that cast it.
type ballot struct {
	vote    Vote
	state   State
	version int32
}

// matches is upstream's Vote.equals: all fields when either side is
// LOOKING; otherwise only leader and peer epoch (the zxid and round of a
// server out of election may lag), and only the leader when exactly one
// side predates versioned notifications.
func (b ballot) matches(o ballot) bool {
	if b.state == Looking || o.state == Looking {
		return b.vote == o.vote
	}
	if (b.version > 0) != (o.version > 0) {
		return b.vote.Leader == o.vote.Leader
	}
	return b.vote.Leader == o.vote.Leader && b.vote.PeerEpoch == o.vote.PeerEpoch
}

// Election is one server's Fast Leader Election state machine. It is not
// safe for concurrent use; one driver loop owns it.
type Election struct {
	cfg     Config
	log     *slog.Logger
	voters  map[int64]bool
	peers   []int64 // voters other than this server, sorted
	isVoter bool
	quorum  int // votes needed: more than half of the voters

	lastZxid, currentEpoch int64

	started  bool
	state    State
	clock    int64 // logical clock: the current election round
	proposal Vote  // current proposal while looking (ElectionEpoch unused)
	current  Vote  // vote advertised once out of election

	recv  map[int64]ballot // votes of this round (upstream recvset)
	outOf map[int64]ballot // votes of servers out of election (upstream outofelection)

	finalizing   bool
	finalizeLeft int

	quiet          int // ticks since anything was heard
	notifyInterval int // ticks of silence before re-sending

	msgs    []Notification
	decided *Decision
}

// New returns an election for cfg. lastZxid and currentEpoch are the
// server's last logged zxid and current epoch, its own initial vote.
// The election is idle until Start.
func New(cfg Config, lastZxid, currentEpoch int64) *Election {
	e := &Election{
		cfg:          cfg,
		log:          cfg.Logger,
		lastZxid:     lastZxid,
		currentEpoch: currentEpoch,
		recv:         map[int64]ballot{},
		outOf:        map[int64]ballot{},
	}
	if e.log == nil {
		e.log = slog.New(slog.DiscardHandler)
	}
	e.setMembers(cfg.Voters, cfg.Observers)
	if cfg.FinalizeWaitTicks < 0 || cfg.MaxNotifyIntervalTicks < 0 {
		panic(fmt.Sprintf("election: negative tick counts in config (finalize %d, max notify %d)",
			cfg.FinalizeWaitTicks, cfg.MaxNotifyIntervalTicks))
	}
	e.current = e.initVote()
	return e
}

// SetMembership replaces the voters and observers, after a reconfiguration
// committed; it takes effect for the votes counted from now on.
func (e *Election) SetMembership(voters, observers []int64) {
	e.setMembers(voters, observers)
}

func (e *Election) setMembers(voters, observers []int64) {
	e.voters = make(map[int64]bool, len(voters))
	e.peers, e.isVoter = nil, false
	for _, v := range voters {
		if e.voters[v] {
			panic(fmt.Sprintf("election: voter %d listed twice", v))
		}
		e.voters[v] = true
		if v == e.cfg.ID {
			e.isVoter = true
		} else {
			e.peers = append(e.peers, v)
		}
	}
	if len(e.voters) == 0 {
		panic("election: no voters")
	}
	for _, o := range observers {
		if e.voters[o] {
			panic(fmt.Sprintf("election: server %d is both a voter and an observer", o))
		}
	}
	slices.Sort(e.peers)
	e.quorum = len(e.voters)/2 + 1
}

// SetHistory updates the last logged zxid and current epoch that the next
// Start proposes.
func (e *Election) SetHistory(lastZxid, currentEpoch int64) {
	e.lastZxid, e.currentEpoch = lastZxid, currentEpoch
}

// State returns the server's current state.
func (e *Election) State() State { return e.state }

// LogicalClock returns the current election round.
func (e *Election) LogicalClock() int64 { return e.clock }

// Vote returns the vote this server advertises: its proposal while looking,
// its decided (or SetState) vote otherwise.
func (e *Election) Vote() Vote {
	if e.state == Looking {
		v := e.proposal
		v.ElectionEpoch = e.clock
		return v
	}
	return e.current
}

// Quorum returns the number of agreeing voters a decision needs.
func (e *Election) Quorum() int { return e.quorum }

// initVote is this server's own vote: itself with its history, or NoVote
// for a non-voter.
func (e *Election) initVote() Vote {
	if !e.isVoter {
		return Vote{Leader: NoVote, Zxid: NoVote, PeerEpoch: NoVote}
	}
	return Vote{Leader: e.cfg.ID, Zxid: e.lastZxid, PeerEpoch: e.currentEpoch}
}

// Start begins a new election round: the logical clock advances, the server
// votes for itself and tells every voter. A pending decision not yet taken
// through Ready is discarded.
func (e *Election) Start() {
	e.started = true
	e.state = Looking
	e.clock++
	clear(e.recv)
	clear(e.outOf)
	e.finalizing = false
	e.decided = nil
	e.quiet = 0
	e.notifyInterval = max(e.cfg.FinalizeWaitTicks, 1)
	e.propose(e.initVote())
	e.log.Debug("election: new round", "id", e.cfg.ID, "round", e.clock, "vote", e.proposal)
	e.broadcast()
	e.checkLooking()
}

// SetState sets the state and the vote this server advertises to LOOKING
// peers while out of election. SetState(Looking, _) is Start.
func (e *Election) SetState(s State, v Vote) {
	if s == Looking {
		e.Start()
		return
	}
	e.started = true
	e.state = s
	e.current = v
	e.finalizing = false
	clear(e.recv)
	clear(e.outOf)
}

// Ready returns what the driver must do: messages to send and a decision.
func (e *Election) Ready() Ready {
	return Ready{Messages: e.msgs, Decided: e.decided}
}

// HasReady reports whether Ready has anything in it.
func (e *Election) HasReady() bool { return len(e.msgs) > 0 || e.decided != nil }

// Advance acknowledges the last Ready.
func (e *Election) Advance() {
	e.msgs = nil
	e.decided = nil
}

// Tick advances logical time by one tick: the finalize wait counts down and,
// after a silence, notifications are re-sent with exponential backoff.
func (e *Election) Tick() {
	if !e.started || e.state != Looking {
		return
	}
	if e.finalizing {
		e.finalizeLeft--
		if e.finalizeLeft <= 0 {
			e.decideLooking()
		}
		return
	}
	e.quiet++
	if e.quiet >= e.notifyInterval {
		e.quiet = 0
		e.broadcast()
		limit := e.cfg.MaxNotifyIntervalTicks
		if limit < e.notifyInterval {
			limit = e.notifyInterval
		}
		e.notifyInterval = min(e.notifyInterval*2, limit)
	}
}

// Step processes a notification received from n.From.
func (e *Election) Step(n Notification) {
	if !e.started {
		return
	}
	if n.From == e.cfg.ID {
		return // our own vote is recorded directly, not by loopback
	}
	if !e.voters[n.From] {
		// A looking non-voter (observer) asks: tell it what we know, never
		// count it. Answering a non-voter that is not looking would let two
		// servers bounce replies forever.
		if n.State == Looking {
			e.reply(n.From)
		}
		return
	}
	// Only voters' notifications count as hearing from the ensemble; they
	// hold back the re-send timer.
	e.quiet = 0
	if e.state != Looking {
		if n.State == Looking {
			e.reply(n.From)
		}
		return
	}
	if n.State == Looking && n.Vote.ElectionEpoch < e.clock {
		// The sender is behind: bring it to our round (and drop its vote below).
		e.reply(n.From)
	}
	if !e.voters[n.Vote.Leader] {
		e.log.Debug("election: vote for a non-voter ignored", "id", e.cfg.ID, "from", n.From, "vote", n.Vote)
		return
	}
	switch n.State {
	case Looking:
		e.stepLooking(n)
	case Following, Leading:
		e.stepOutOfElection(n)
	}
}

func (e *Election) stepLooking(n Notification) {
	switch {
	case n.Vote.ElectionEpoch > e.clock:
		e.clock = n.Vote.ElectionEpoch
		clear(e.recv)
		e.finalizing = false
		best := e.initVote()
		if n.Vote.Better(best) {
			best = n.Vote
		}
		e.propose(best)
		e.broadcast()
	case n.Vote.ElectionEpoch < e.clock:
		return
	case n.Vote.Better(e.proposal):
		e.propose(n.Vote)
		e.broadcast()
	}
	e.recv[n.From] = ballot{vote: n.Vote, state: Looking, version: n.Version}
	e.checkLooking()
}

// stepOutOfElection is upstream's receivedFollowingNotification: join an
// established leader when a quorum agrees on it and it claims to lead.
func (e *Election) stepOutOfElection(n Notification) {
	b := ballot{vote: n.Vote, state: n.State, version: n.Version}
	if n.Vote.ElectionEpoch == e.clock {
		e.recv[n.From] = b
		if e.hasQuorum(e.recv, b) && e.checkLeader(e.recv, n.Vote.Leader, n.Vote.ElectionEpoch) {
			e.decide(n.Vote.Leader, n.Vote)
			return
		}
	}
	e.outOf[n.From] = b
	if e.hasQuorum(e.outOf, b) && e.checkLeader(e.outOf, n.Vote.Leader, n.Vote.ElectionEpoch) {
		e.clock = n.Vote.ElectionEpoch
		e.decide(n.Vote.Leader, n.Vote)
		return
	}
	// A vote of this round may have been replaced: the wait is valid only
	// while the quorum for our proposal holds.
	e.checkLooking()
}

// checkLeader is upstream's checkLeader: someone else must have told us it
// leads; we may lead only if the votes are from our own round.
func (e *Election) checkLeader(votes map[int64]ballot, leader, round int64) bool {
	if leader != e.cfg.ID {
		b, ok := votes[leader]
		return ok && b.state == Leading
	}
	return e.clock == round
}

// hasQuorum reports whether the voters whose recorded ballots match ref
// form a quorum.
func (e *Election) hasQuorum(votes map[int64]ballot, ref ballot) bool {
	return e.agreeing(votes, ref) >= e.quorum
}

func (e *Election) agreeing(votes map[int64]ballot, ref ballot) int {
	n := 0
	for id, b := range votes {
		if e.voters[id] && b.matches(ref) {
			n++
		}
	}
	return n
}

// checkLooking decides, starts or cancels the finalize wait for the
// current proposal.
func (e *Election) checkLooking() {
	if e.state != Looking {
		return
	}
	ref := ballot{vote: e.Vote(), state: Looking}
	n := e.agreeing(e.recv, ref)
	switch {
	case n < e.quorum:
		e.finalizing = false
	case n == len(e.voters) || e.cfg.FinalizeWaitTicks == 0:
		// Every voter of this round agrees: nothing better can arrive.
		e.decideLooking()
	case !e.finalizing:
		e.finalizing = true
		e.finalizeLeft = e.cfg.FinalizeWaitTicks
	}
}

func (e *Election) decideLooking() {
	e.decide(e.proposal.Leader, e.Vote())
}

func (e *Election) decide(leader int64, v Vote) {
	s := Following
	switch {
	case leader == e.cfg.ID:
		s = Leading
	case !e.isVoter:
		s = Observing
	}
	e.state = s
	e.current = v
	e.finalizing = false
	clear(e.recv)
	clear(e.outOf)
	e.decided = &Decision{State: s, Leader: leader, Vote: v}
	e.log.Debug("election: decided", "id", e.cfg.ID, "state", s, "vote", v)
}

// propose makes v the proposal and records it as this server's own vote.
func (e *Election) propose(v Vote) {
	v.ElectionEpoch = 0
	if v != e.proposal {
		// A changed proposal invalidates any finalize wait in progress.
		e.finalizing = false
	}
	e.proposal = v
	if e.isVoter {
		w := v
		w.ElectionEpoch = e.clock
		e.recv[e.cfg.ID] = ballot{vote: w, state: Looking, version: NotificationVersion}
	}
}

func (e *Election) broadcast() {
	v := e.Vote()
	for _, p := range e.peers {
		e.msgs = append(e.msgs, Notification{From: e.cfg.ID, To: p, State: Looking, Vote: v, Version: NotificationVersion})
	}
}

func (e *Election) reply(to int64) {
	e.msgs = append(e.msgs, Notification{From: e.cfg.ID, To: to, State: e.state, Vote: e.Vote(), Version: NotificationVersion})
}
