// Package noop is the "no-op upper bound" ZooKeeper server: it speaks the
// real client wire protocol (length-prefixed jute frames, the connect
// handshake, pings, request/reply xids) but keeps no tree, no log and no
// sessions, and answers every request from memory. Driving it with the same
// load generator as a real ensemble measures the ceiling that the client
// library, the loopback network and the machine impose, so that results can
// be reported against that bound ("Know the ceiling" in DESIGN.md).
//
// # Contract
//
// Every request gets a well-formed reply with the request's xid and, unless
// said otherwise, error 0:
//
//   - connect: a ConnectResponse echoing the requested timeout, with a fresh
//     session id (or the requested one when the client re-attaches) and a
//     16-byte password; readOnly is included only if the client sent it.
//   - ping: a reply with xid -2.
//   - getData: the same value of Server.ValueSize bytes for every path, with
//     a plausible Stat (DataLength = ValueSize).
//   - setData, exists, getChildren/getChildren2 (no children), create,
//     create2/createTTL/createContainer (the requested path, with a sequence
//     suffix for sequential modes), delete, sync (the path), addWatch,
//     multi and multiRead (every op succeeds): the reply record upstream
//     would send for success.
//   - closeSession: an empty reply, then the connection is closed.
//   - getACL: world:anyone with every permission; getEphemerals and whoAmI:
//     empty lists. Replies never carry a null vector (upstream never sends
//     one, and go-zookeeper/zk cannot decode one).
//   - any other opcode proto knows: the zero value of its upstream reply
//     record; an opcode it does not know: error UNIMPLEMENTED with an empty
//     body, as upstream 3.8 answers.
//
// A connection silent for twice its session timeout is closed (the noop
// keeps no sessions, so this is all that "expiry" means here). A frame
// larger than MaxBuffer, a frame too short for a RequestHeader, or a
// body that does not decode closes that connection only. The four-letter
// words ruok, isro, srvr and stat are answered when they are the first four
// bytes of a connection.
//
// Each connection has one reader goroutine, which decodes requests and
// encodes replies, and one writer goroutine, which writes the replies that
// accumulated while it was busy in a single write, so pipelined clients are
// answered in batches.
package noop
