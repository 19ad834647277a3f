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
// followed by the elements.
//
// The package does no I/O beyond the frame helpers in frame.go, which read and
// write the 4-byte length prefix that wraps every client packet.
package proto
