// Package election is ZooKeeper's Fast Leader Election (FLE) as a pure state
// machine, in the shape of etcd's raft: notifications and logical ticks go
// in, notifications to send and at most one decision come out. The package
// does no I/O, reads no clock and starts no goroutines; randomness, if any,
// comes from the seeded *rand.Rand in Config.
//
// # What FLE decides
//
// Every LOOKING voter proposes a vote (leader id, the leader's last zxid and
// its current epoch) and broadcasts it, stamped with its logical clock (the
// election epoch). Votes are totally ordered by (peer epoch, zxid, id); a
// voter adopts any better vote it hears in its election epoch and re-broadcasts.
// A higher election epoch from a peer moves the local clock forward and
// discards the votes received so far; a lower one is ignored (and the sender
// is told the current vote). Notifications from FOLLOWING or LEADING peers
// let a LOOKING server join an established leader without a new election: it
// follows that leader once a quorum of such notifications agree on it (in its
// own election epoch, or in the separate "out of election" set) and the leader
// itself claims LEADING. Observers never vote; they run the same exchange to
// learn the leader and end in the OBSERVING state.
//
// # Termination and the finalize wait
//
// A voter may stop looking once a quorum of the votes it holds (its own
// included) equal its proposal. Upstream then waits finalizeWait (200 ms)
// for a better vote before it commits to the decision. This package decides
// at once when every voter's vote agrees with the proposal (no better vote
// can still be in flight from a voter of this election epoch: each voter's
// vote only grows), and otherwise waits Config.FinalizeWaitTicks ticks,
// abandoning the wait if a better vote arrives or the quorum is lost.
//
// # Safety
//
// FLE alone does not guarantee a unique leader: with message loss or delays
// longer than the finalize wait, two servers can decide differently. What it
// guarantees is that a server decides LEADING only when a quorum of voters
// voted for it in one election epoch, and each of those voters' own
// (epoch, zxid) is no greater than the leader's. Uniqueness of an
// established leader is Zab's job: discovery requires a quorum of followers
// to acknowledge a new epoch, and a leader that cannot gather one (or a
// follower that cannot reach its leader) goes back to LOOKING. The driver
// must therefore treat a Decision as a candidate outcome that Zab confirms.
//
// # Driver duties
//
//  1. Build one Election per server with New; call Start when the server
//     enters LOOKING (at boot, and whenever Zab gives up on its leader).
//     Call SetHistory first if the last logged zxid or current epoch changed.
//  2. Call Tick once per Config.TickMs milliseconds of wall time.
//  3. Call Step for every notification received (decoded with
//     DecodeNotification; the transport supplies From).
//  4. After Start, Step or Tick, take Ready: send every message in
//     Ready.Messages (encoded with EncodeNotification) and, if Ready.Decided
//     is set, switch the server to the decided role; then call Advance.
//     Do not call Step or Tick between Ready and Advance.
//  5. Keep stepping notifications while FOLLOWING, LEADING or OBSERVING: the
//     election then answers LOOKING peers with its current vote and state, so
//     that a restarted server learns the leader. Use SetState if Zab changes
//     the vote to advertise (for example the new peer epoch).
package election
