package peer

import (
	"context"
	"fmt"

	"github.com/zkbench/zkbench/server/proto"
)

// A forwarded write travels to the leader as a REQUEST packet in upstream's
// serialization (Learner.request): long sessionId, int cxid, int type, then
// the request record's bytes (for createSession the int timeout, for
// closeSession nothing); the session's auth ids go in the packet's auth
// info.

// encodeRequest serializes r for the leader into the reused scratch
// encoder and returns an exact-size copy (exactCopy).
func encodeRequest(scratch *proto.Encoder, r *proto.Request) []byte {
	return exactCopy(scratch, func(e *proto.Encoder) {
		e.Long(r.SessionID)
		e.Int(r.Cxid)
		e.Int(int32(r.Op))
		switch {
		case r.Op == proto.OpCreateSession:
			e.Int(r.TimeOut)
		case r.Body != nil:
			r.Body.Encode(e)
		}
	})
}

// decodeRequest decodes a forwarded request with d, which it resets. b is
// this server's own copy of the packet's data: the record's buffers may
// point into it (the txn made from it is serialized anew).
func decodeRequest(d *proto.Decoder, b []byte, auth []proto.ID) (*proto.Request, error) {
	if len(b) < 16 {
		return nil, fmt.Errorf("peer: forwarded request of %d bytes, want at least 16", len(b))
	}
	d.ResetAliasing(b)
	r := &proto.Request{SessionID: d.Long(), Cxid: d.Int(), Op: proto.OpCode(d.Int()), Auth: auth}
	switch r.Op {
	case proto.OpCreateSession:
		if r.TimeOut = d.Int(); d.Err() != nil {
			return nil, fmt.Errorf("peer: forwarded createSession without its timeout")
		}
		return r, nil
	case proto.OpCloseSession:
		return r, nil
	}
	rec, ok := proto.NewRequest(r.Op)
	if !ok || rec == nil || !proto.IsWrite(r.Op) {
		return nil, fmt.Errorf("peer: forwarded request with op %v", r.Op)
	}
	rec.Decode(d)
	if err := d.Err(); err != nil {
		return nil, fmt.Errorf("peer: forwarded %v request: %w", r.Op, err)
	}
	if n := d.Remaining(); n != 0 {
		return nil, fmt.Errorf("peer: forwarded %v request: %d trailing bytes", r.Op, n)
	}
	r.Body = rec
	return r, nil
}

// ctxFromStop turns a stop channel into a context.
func ctxFromStop(stop <-chan struct{}) context.Context {
	ctx, cancel := context.WithCancel(context.Background())
	go func() {
		select {
		case <-stop:
		case <-ctx.Done():
		}
		cancel()
	}()
	return ctx
}
