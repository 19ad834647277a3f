package peer

import (
	"context"
	"fmt"

	"github.com/zkbench/zkbench/server/proto"
)

// A forwarded write travels to the leader as a REQUEST packet whose data is
// this package's own encoding of a proto.Request:
//
//	long sessionId, int cxid, int op, int timeOut, vector<Id> auth,
//	buffer body (the jute request record; null for session ops)

func encodeRequest(r *proto.Request) []byte {
	var e proto.Encoder
	e.Long(r.SessionID)
	e.Int(r.Cxid)
	e.Int(int32(r.Op))
	e.Int(r.TimeOut)
	proto.EncodeIDs(&e, r.Auth)
	if r.Body != nil {
		e.Buffer(proto.Marshal(r.Body))
	} else {
		e.Buffer(nil)
	}
	return e.Bytes()
}

func decodeRequest(b []byte) (*proto.Request, error) {
	d := proto.NewDecoder(b)
	r := &proto.Request{SessionID: d.Long(), Cxid: d.Int(), Op: proto.OpCode(d.Int()), TimeOut: d.Int()}
	r.Auth = proto.DecodeIDs(d)
	body := d.Buffer()
	if err := d.Err(); err != nil {
		return nil, fmt.Errorf("peer: forwarded request: %w", err)
	}
	if body != nil {
		rec, ok := proto.NewRequest(r.Op)
		if !ok || rec == nil {
			return nil, fmt.Errorf("peer: forwarded request with op %v", r.Op)
		}
		if err := proto.Unmarshal(body, rec); err != nil {
			return nil, fmt.Errorf("peer: forwarded %v request: %w", r.Op, err)
		}
		r.Body = rec
	}
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
