// Package peer drives one member of a ZooKeeper ensemble: it runs Fast
// Leader Election (package election) over the election port, then Zab
// (package zab) in the role the election gave it, serving clients while Zab
// says it is active, and goes back to election when Zab stops.
//
// The state machine — tree, sessions, the prep stage's view, apply,
// snapshot restore — is a replica (package replica), the same as the
// standalone node's; this package keeps what differs in an ensemble: how
// a txn is ordered and made durable.
//
// One goroutine, the peer loop, owns the election and Zab state machines,
// the Zab storage (the transaction log plus an in-memory window of recent
// entries and the epoch files), runs the prep stage (on the leader) and
// applies commits to the replica; everything else talks to it through
// channels. For each Zab Ready the loop follows zab's driver duties in
// order: install a snapshot or truncate, append and fsync the log and
// epochs (one fsync per Ready: the group commit), send messages, apply
// commits, then Advance.
//
// Writes: a client write on the leader is prepared (prep, with the zxid Zab
// will assign) and proposed; on a follower or observer it is forwarded to
// the leader (a REQUEST packet) and prepared there. Every server applies
// committed txns in zxid order; the server that holds the client connection
// answers it when it applies the txn.
//
// Sessions: every server learns sessions from the createSession and
// closeSession txns it applies. Session ids carry the creating server's id
// in their top byte, as upstream. The leader alone expires sessions, and
// followers send it the sessions their clients touched once per tick in a
// PING's data (long id, int timeout each, upstream's Learner.ping), handled
// by this package rather than by zab; the leader also answers upstream
// learners' REVALIDATE from its session table. Forwarded writes are
// REQUESTs in upstream's serialization (request.go), and SNAP syncs carry
// upstream's snapshot stream (snapstream.go), so Java servers can be
// members.
//
// Log failures: a member whose transaction log fails (a full disk, an I/O
// error) leaves its role before it acknowledges anything the failure may
// have lost, recovers its log to the entries it did acknowledge, and sits
// out of elections for a pause that doubles with each failure in a row
// (logfail.go), so the others elect without it; it rejoins once its log
// can be written again.
package peer
