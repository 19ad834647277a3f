// Package proto is ZooKeeper's wire vocabulary: the jute records that clients,
// servers, transaction logs and snapshots exchange, the opcodes, error codes,
// event types and create modes that give those records meaning, and an
// allocation-conscious codec for them.
//
// Every type here mirrors a record in upstream ZooKeeper's zookeeper.jute
// (field order and widths are the wire format; names follow upstream with Go
// capitalisation). Jute encodes big-endian: int is 4 bytes, long 8, boolean 1
// byte (0 or 1), ustring and buffer are a 4-byte length followed by the bytes
// (length -1 means null), and vector<T> is a 4-byte count (-1 means null)
// followed by the elements. Decoding keeps null and empty apart: a null
// buffer or vector decodes as nil, an empty one as a non-nil empty slice;
// a null ustring decodes as "".
//
// # Client framing
//
// Every client packet is a 4-byte big-endian length and a body (ReadFrame,
// AppendReply, AppendRequest, AppendFrame). The first packet each way is the
// handshake: a ConnectRequest body with no header, answered by a
// ConnectResponse with no header. After it, a request body is a
// RequestHeader then the record NewRequest(header.Type) returns; a reply is
// a ReplyHeader then, when Err is 0, the record NewResponse returns (on
// error the body is empty, multi and multiRead aside). Replies with xid -1
// carry a WatcherEvent, -2 answer pings, -4 answer auth. A server should
// never put a null vector (count -1) in a reply: upstream never does, and
// go-zookeeper/zk tries to allocate 2^32 elements when it meets one. An
// opcode upstream does not know is answered with ErrUnimplemented and an
// empty body.
//
// # The readOnly byte of the handshake
//
// ConnectRequest and ConnectResponse end with a readOnly boolean that
// clients before 3.4 do not send, and go-zookeeper/zk still does not. A
// server must accept the request without it (ReadOnly false) and, exactly
// as upstream's compat.ProtocolManager does, answer such a client with a
// ConnectResponse that also leaves readOnly out; a client that sent it gets
// it back. DecodeConnectRequest reports which form arrived and
// AppendConnectResponse writes the matching form. Upstream ignores bytes
// after the request and refuses a not-read-only client only when it is
// itself a read-only server; when it cannot accept the session it replies
// with TimeOut 0, SessionID 0 and a 16-byte zero password, then closes.
//
// # Errors
//
// Decoding never panics. A record cut short fails with ErrShortBuffer (also
// when a length or count claims more bytes than remain), a negative length
// other than -1 with ErrBadLength, a multi op or result of a type a multi
// cannot hold with ErrInvalidOp, and a frame over the size limit with
// ErrFrameTooLarge.
//
// The package does no I/O beyond ReadFrame.
package proto
