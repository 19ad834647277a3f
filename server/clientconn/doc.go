// Package clientconn is the client side of the server: it accepts ZooKeeper
// client connections, performs the session handshake, decodes requests,
// keeps each session's replies in request order, delivers watch events, and
// answers the four-letter words.
//
// Writes go to a Backend (the driver: standalone or peer; prep, log, agreement, apply) and are
// answered when the Backend reports them applied. Reads are answered from
// the Backend's local tree, but never ahead of the session's earlier writes:
// a read that arrives while writes of its session are in flight waits in the
// connection's queue and runs when the writes before it have been applied.
//
// Who does what: a connection's reader goroutine decodes requests and
// answers a read at once when nothing of its session is queued. The
// Backend's completion callback (on the apply goroutine) only records the
// result and wakes the connection's writer goroutine; the writer answers
// the queue's head in order (the completed writes and the reads behind
// them), then sends everything queued with one write. So applying never
// waits for read work, and replies leave in request order.
//
// Clock and counters: the frames of one socket read share one clock
// reading (the start of their latencies) and one session touch; the
// writer reads the clock once per wakeup, for its deadline and the
// latencies of the replies it sends.
//
// Ordering of watch events against replies: a watch event is appended to the
// connection's output when the txn that triggers it is applied (under the
// tree's write lock), and a read that observes the change runs after that
// apply, so its reply is appended later. Both go through one output buffer,
// so the client sees the event first, as ZooKeeper promises. A read that
// sets a watch is redone if an event was appended between its tree read
// and its reply, so that its reply never follows an event of the watch
// it set while showing the data from before the change.
//
// Bounded output: a connection's queued replies and events are capped in
// bytes (Options.MaxOutput). Past the cap the reader reads no further
// request of that connection, and the writer answers no further queued
// read, until what is queued has drained to half the cap; the check is a
// comparison under outMu on append and an atomic load per request. A
// reply longer than jute.maxbuffer is measured before it is built and
// never built: the connection is closed instead, which is what upstream's
// clients do when such a reply reaches them.
//
// Locks, in the only order they are taken: conn.mu (the pending queue), then
// the tree's lock (inside tree calls), then conn.outMu (the output buffer).
// conn.outMu is a leaf: nothing is called while holding it.
package clientconn
