// Package serve is the client side of the server: it accepts ZooKeeper
// client connections, performs the session handshake, decodes requests,
// keeps each session's replies in request order, delivers watch events, and
// answers the four-letter words.
//
// Writes go to a Backend (the node: prep, log, agreement, apply) and are
// answered when the Backend reports them applied. Reads are answered from
// the Backend's local tree, but never ahead of the session's earlier writes:
// a read that arrives while writes of its session are in flight waits in the
// connection's queue and runs when the writes before it have been applied.
//
// Ordering of watch events against replies: a watch event is appended to the
// connection's output when the txn that triggers it is applied (under the
// tree's write lock), and a read that observes the change runs after that
// apply, so its reply is appended later. Both go through one output buffer,
// so the client sees the event first, as ZooKeeper promises.
//
// Locks, in the only order they are taken: conn.mu (the pending queue), then
// the tree's lock (inside tree calls), then conn.outMu (the output buffer).
// conn.outMu is a leaf: nothing is called while holding it.
package serve
