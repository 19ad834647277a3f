// Package transport carries messages between the servers of an ensemble.
//
// Two kinds of traffic use it:
//
//   - Election notifications travel over a Transport: fire-and-forget
//     messages between server ids. NewTCP is the real one, following
//     upstream's QuorumCnxManager; MemNetwork is an in-memory network with
//     drop, cut and delay faults, driven by a logical clock for
//     deterministic tests. One conformance suite runs against both.
//   - Zab traffic travels over QuorumConn streams of proto.QuorumPacket
//     records: the leader listens on its quorum port (ListenQuorum) and
//     learners dial it (DialQuorum).
//
// # Election connections (upstream QuorumCnxManager rules)
//
// Each pair of servers keeps at most one connection, and it is the one
// initiated by the server with the higher id. A connection starts with an
// initial message: protocol version -65536 (int64), the sender's id (int64),
// and the length-prefixed "host:port" of its election address. A server
// that receives a connection from a lower id closes it and connects back; a
// lower-id initiator closes its own socket right after the initial message.
// Messages are framed as a 4-byte big-endian length and the payload; a
// length outside (0, MaxMessage] ends the connection. A peer that sends a bad
// initial message or frame is logged and disconnected; nothing else is
// affected.
//
// A caller whose id is not in the configuration is never recorded and at
// most a few are served at once: with a higher id and an announced address
// (a server a reconfiguration is about to add) its connection is kept and
// answered on, as upstream, until it ends; with a lower id (a server a
// reconfiguration removed, which restarted servers no longer list) it is
// hung up on and called back once, as upstream, but only when the address
// it announces is on the host it called from: a forged initial message
// must not make a server dial another host. AddPeers makes servers known. A new connection from a known
// higher id replaces the old one, and one from a known lower id makes this
// server drop its own and call back, as upstream's tie-break.
//
// Sending never blocks. Each peer has a small queue (upstream keeps one
// message: the newest notification supersedes older ones) that drops its
// oldest entry when full, and the last message sent is sent again on a new
// connection when the queue is empty, since it may have been lost with the
// old one. Connections are made on demand, when there is something to send
// or a lower-id peer asks to be called back, with capped exponential backoff
// between failed attempts. The receive queue is bounded too and drops its
// oldest message when the driver falls behind. Election notifications
// tolerate all of this: FLE re-sends.
//
// # Quorum streams
//
// A QuorumConn carries jute-encoded proto.QuorumPacket records back to back,
// exactly as upstream's leader and learners write them (no extra framing).
// Reads enforce a maximum data size so a corrupt or hostile stream cannot
// make the reader allocate without bound. Sends are buffered; call Flush.
package transport
