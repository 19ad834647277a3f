package proto

// NewRequest returns a fresh, zero request record for a client opcode, to
// decode the body that follows a RequestHeader of that type. ok is false for
// opcodes a client may not send (including createSession, which arrives as
// a ConnectRequest without a RequestHeader, and notification).
//
// Requests with an empty body — ping, closeSession and whoAmI — return
// *Empty. create, create2 and createContainer share *CreateRequest (the
// opcode alone says which reply to send); delete and deleteContainer share
// *DeleteRequest; multi and multiRead share *MultiRequest; sasl is
// *GetSASLRequest.
func NewRequest(op OpCode) (rec Record, ok bool) {
	switch op {
	case OpCreate, OpCreate2, OpCreateContainer:
		return &CreateRequest{}, true
	case OpCreateTTL:
		return &CreateTTLRequest{}, true
	case OpDelete, OpDeleteContainer:
		return &DeleteRequest{}, true
	case OpExists:
		return &ExistsRequest{}, true
	case OpGetData:
		return &GetDataRequest{}, true
	case OpSetData:
		return &SetDataRequest{}, true
	case OpGetACL:
		return &GetACLRequest{}, true
	case OpSetACL:
		return &SetACLRequest{}, true
	case OpGetChildren:
		return &GetChildrenRequest{}, true
	case OpGetChildren2:
		return &GetChildren2Request{}, true
	case OpSync:
		return &SyncRequest{}, true
	case OpCheck:
		return &CheckVersionRequest{}, true
	case OpMulti, OpMultiRead:
		return &MultiRequest{}, true
	case OpReconfig:
		return &ReconfigRequest{}, true
	case OpCheckWatches:
		return &CheckWatchesRequest{}, true
	case OpRemoveWatches:
		return &RemoveWatchesRequest{}, true
	case OpAuth:
		return &AuthPacket{}, true
	case OpSetWatches:
		return &SetWatches{}, true
	case OpSetWatches2:
		return &SetWatches2{}, true
	case OpSASL:
		return &GetSASLRequest{}, true
	case OpGetEphemerals:
		return &GetEphemeralsRequest{}, true
	case OpGetAllChildrenNumber:
		return &GetAllChildrenNumberRequest{}, true
	case OpAddWatch:
		return &AddWatchRequest{}, true
	case OpPing, OpCloseSession, OpWhoAmI:
		return &Empty{}, true
	}
	return nil, false
}

// NewResponse returns a fresh, zero record for the body of a successful
// reply to op, as upstream FinalRequestProcessor builds it. A failed request
// (ReplyHeader.Err != 0) has an empty body whatever its opcode, multi and
// multiRead aside: they always carry a MultiResponse.
//
// Notable upstream choices it mirrors: create2, createTTL and
// createContainer reply with *Create2Response; check outside a multi and
// setData reply with *SetDataResponse; reconfig replies with
// *GetDataResponse (the new config); addWatch replies with an
// *ErrorResponse holding 0; sasl replies with *SetSASLResponse; delete,
// deleteContainer, ping, closeSession, auth, setWatches, setWatches2,
// checkWatches and removeWatches reply with *Empty.
func NewResponse(op OpCode) (rec Record, ok bool) {
	switch op {
	case OpCreate:
		return &CreateResponse{}, true
	case OpCreate2, OpCreateTTL, OpCreateContainer:
		return &Create2Response{}, true
	case OpSetData, OpCheck:
		return &SetDataResponse{}, true
	case OpExists:
		return &ExistsResponse{}, true
	case OpGetData, OpReconfig:
		return &GetDataResponse{}, true
	case OpGetACL:
		return &GetACLResponse{}, true
	case OpSetACL:
		return &SetACLResponse{}, true
	case OpGetChildren:
		return &GetChildrenResponse{}, true
	case OpGetChildren2:
		return &GetChildren2Response{}, true
	case OpSync:
		return &SyncResponse{}, true
	case OpMulti, OpMultiRead:
		return &MultiResponse{}, true
	case OpAddWatch:
		return &ErrorResponse{}, true
	case OpSASL:
		return &SetSASLResponse{}, true
	case OpGetEphemerals:
		return &GetEphemeralsResponse{}, true
	case OpGetAllChildrenNumber:
		return &GetAllChildrenNumberResponse{}, true
	case OpWhoAmI:
		return &WhoAmIResponse{}, true
	case OpDelete, OpDeleteContainer, OpPing, OpCloseSession, OpAuth,
		OpSetWatches, OpSetWatches2, OpCheckWatches, OpRemoveWatches:
		return &Empty{}, true
	}
	return nil, false
}
