package proto

// Request is a client request as the server carries it down its write
// path, upstream's server.Request: who sent it, its xid, its opcode, the
// decoded body and the session's authenticated ids. The client connections
// make one for every write (IsWrite) and hand it to the driver, which hands
// it to the prep stage; an ensemble's learner forwards it to the leader.
type Request struct {
	SessionID int64
	Cxid      int32
	Op        OpCode
	Body      Record // decoded request record; nil for createSession/closeSession
	Auth      []ID   // the session's authenticated ids
	// TimeOut is the negotiated timeout of a createSession request.
	TimeOut int32
	// FromServer marks a request the server makes itself rather than a
	// client: the container reaper's deleteContainer. A deleteContainer
	// without it is refused, as upstream refuses one from a client.
	FromServer bool
}

// IsWrite reports whether op produces a txn and must go through the write
// path; every other op is answered from the local tree in session order.
func IsWrite(op OpCode) bool {
	switch op {
	case OpCreate, OpCreate2, OpCreateContainer, OpCreateTTL,
		OpDelete, OpDeleteContainer, OpSetData, OpSetACL,
		OpCheck, OpMulti, OpReconfig,
		OpCreateSession, OpCloseSession:
		return true
	}
	return false
}
