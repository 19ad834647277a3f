package harness

import (
	"encoding/binary"
	"fmt"
	"io"
)

// ZooKeeper's election connections open with an initial message that names
// the sender's own election address: protocol version (int64, -65536 or
// -65535), server id (int64), length (int32), "host:port[|host:port...]".
// A server that receives a connection from a lower id closes it and
// connects back to that announced address, which would bypass the fault
// proxies. The harness rewrites the address to the proxy that carries the
// receiver's traffic back to the sender. Connections that open differently
// pass through unchanged.
const (
	electionProtoV1 = -65536
	electionProtoV2 = -65535
	maxAnnounce     = 4096
)

// electionRewriter returns a netproxy rewriter that replaces the announced
// address with back ("host:port").
func electionRewriter(back string) func(io.Reader) ([]byte, error) {
	return func(r io.Reader) ([]byte, error) {
		var head [8]byte
		if _, err := io.ReadFull(r, head[:]); err != nil {
			return nil, err
		}
		v := int64(binary.BigEndian.Uint64(head[:]))
		if v != electionProtoV1 && v != electionProtoV2 {
			return head[:], nil
		}
		var rest [12]byte
		if _, err := io.ReadFull(r, rest[:]); err != nil {
			return nil, err
		}
		n := int32(binary.BigEndian.Uint32(rest[8:]))
		if n <= 0 || n > maxAnnounce {
			return nil, fmt.Errorf("harness: election handshake announces %d bytes", n)
		}
		if _, err := io.CopyN(io.Discard, r, int64(n)); err != nil {
			return nil, err
		}
		out := make([]byte, 0, 20+len(back))
		out = append(out, head[:]...)
		out = append(out, rest[:8]...)
		out = binary.BigEndian.AppendUint32(out, uint32(len(back)))
		return append(out, back...), nil
	}
}
