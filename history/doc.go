// Package history records what ZooKeeper clients did and saw, and checks the
// record against exactly what ZooKeeper promises. It is the correctness
// oracle of the replication and fault tests, and of zkbench's own runs with
// faults or --check (package bench records them with a Recorder and reads
// the final state with FinalCheckWith): a run under faults is judged by its
// history, not by "no error".
//
// # Recording
//
// A [Recorder] (safe for concurrent use) timestamps every operation when it
// is invoked and when it returns, from the monotonic clock or from an
// injected logical clock for simulations ([NewRecorderClock]). Operations
// are on a small key space of znodes: [Read] (getData), [Write] (setData of
// a value unique to that write, e.g. "c3-17") and [Sync]. A result carries
// the znode's Stat when known: for a write the version it produced and its
// zxid, for a read the version and mzxid of the value it returned.
//
// An operation ends in one of three ways: [Pending.Return] (success: for a
// write, acknowledged), [Pending.Fail] with maybeApplied=false (it certainly
// took no effect), or Fail with maybeApplied=true (a write that timed out or
// lost its connection: it may or may not have been applied; its return time
// is infinity, and it may take effect at any moment after its invocation). A
// write that never returns counts as maybe applied; a read or sync that
// fails or never returns observed nothing.
//
// [RunClients] drives real servers with go-zookeeper clients and records
// everything: each client keeps one session, starts at its own server and
// fails over round robin with a tight reconnect policy (a short backoff after
// a full round of refusals, a bounded session handshake), and gives its
// session up for a new one when an operation gets no reply within
// Options.Timeout. [FinalCheck] reads the state after healing; [Check] runs
// every checker and returns a [Report]. A [Record] saves a history and its
// final state as JSON, to look at or re-check a failed run later.
//
// # What ZooKeeper promises, and what is checked
//
// The ZooKeeper Programmer's Guide, "Consistency Guarantees", promises
// sequential consistency (updates from a client are applied in the order
// sent), atomicity, a single system image (a client never sees an older view
// of the system, even when it fails over to a different server with the same
// session), reliability (an update that got a successful return code has
// been applied, and an update seen by a client is never rolled back) and
// timeliness. It explicitly does not promise simultaneously consistent
// cross-client views: a read may be served stale by a lagging server, unless
// the client calls sync() before it. Writes are agreed by Zab and applied in
// zxid order; ZooKeeper's paper (Hunt et al., USENIX ATC 2010, section 2.3)
// calls this "linearizable writes" and "FIFO client order". Each check below
// is one of those promises, made precise; a violation is reported with the
// key, the session and the operations that show it.
//
// well-formed: values written are unique (a write is identified by its
// value) and no operation returns before it is invoked.
//
// reads: a successful read returns the key's initial value or the value of a
// write to that key that was invoked before the read returned and was not
// reported failed. (Atomicity; no phantom or corrupted data.)
//
// linearizable: for each key separately (linearizability is compositional,
// so checking keys one by one is exact), porcupine checks a register model
// on a history made of
//
//   - every write that may have taken effect: acknowledged writes over
//     [invoked, returned]; writes of unknown outcome over [invoked,
//     infinity). A write of unknown outcome whose value no read in this
//     history saw is left out, which changes no verdict: it can always be
//     linearized last, with no effect anyone observed;
//   - every synced read: a successful read R in session S such that S
//     completed a sync (any path) before R was invoked. R is checked as a
//     linearizable read over [invocation of the latest such sync, return of
//     R]: it must see every write that completed before that sync was
//     invoked, and nothing that had not been invoked when R returned. This
//     is what sync promises: the server flushes to the client everything the
//     leader had committed when the sync reached it, and the session's later
//     reads never see an older view (single system image, and FIFO order
//     within the session). The path of the sync does not matter, because a
//     sync flushes the whole channel between the server and the leader.
//     Reads without a preceding sync may be stale and are left to the
//     session checks;
//   - the final read of the key, after every other operation.
//
// Upstream ZooKeeper's sync is not a quorum operation: a leader that has just
// been partitioned away and not yet noticed could answer one. Such a stale
// synced read is reported here as a violation, which it is of the promise
// above.
//
// session-order: within one session, what the session had seen when it
// issued an operation is what the operations that had returned by then
// showed (ZooKeeper answers a session's requests in the order the client
// sent them, but a pipelining client's invocation times need not be that
// order, so only an operation that returned before another was invoked is
// known to precede it; for a client that waits for each reply that is every
// earlier operation): an acknowledged write gets a zxid above every zxid the
// session had already seen, its own writes' included; and a read of key k
// returning mzxid m when the session had already seen zxid Z (through any
// key) is stale if a write to k is known to have committed with a zxid in
// (m, Z]. (Sequential
// consistency, FIFO client order, single system image across keys.)
//
// no-time-travel: within one session, across reconnections to other servers,
// the mzxid and the version of a key that the session observes never
// decrease (in the same precedence: from what had returned to what was
// invoked after); in particular a read after the session's own acknowledged write
// returns that write or a later one. A session is identified by its session
// id; a client that opens a new session is not promised anything about what
// its old session saw. (go-zookeeper keeps the same session across
// reconnections and sends the last zxid it saw; a server behind it refuses
// the connection.) Operations recorded with session 0 (unknown) are exempt
// from the session checks.
//
// stats: the Stat of every observation agrees with every other: one value
// has one (version, mzxid), one mzxid names one value, one zxid wrote one
// key, versions grow with mzxid, and a write invoked after another write
// returned has a larger zxid (zxid order is the linearization order of
// writes, across keys).
//
// lost-writes: needs the [Final] state, read after healing with sync then
// getData on each key. The final value must be the initial value or the
// value of a write W not reported failed, such that no acknowledged write W'
// to the same key was invoked after W returned: such a W' comes after W in
// every linearization, so if the final value is still W's, W' was lost. (A
// write of unknown outcome returns at infinity, so it can end a history.)
// Where Stats are known, every applied setData adds one to the version: the
// final version minus the initial one must be at least the number of
// acknowledged writes (else some were lost, even if later overwritten) and
// at most acknowledged plus unknown-outcome writes; and no acknowledged
// write's zxid may exceed the final mzxid. (Reliability.)
//
// converged: every server that answered the final read reports the same
// state for every key.
//
// Checks that lack what they need (no final state) or do not finish
// (porcupine's search is bounded by [CheckOptions].LinearizabilityTimeout)
// report Unknown, never Pass. Keep histories small per key (up to a few
// thousand operations): porcupine's search can be exponential.
package history
