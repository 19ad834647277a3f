package proto

import (
	"errors"
	"fmt"
)

// ErrInvalidOp reports an opcode that is not allowed where it appears: an op
// type a multi cannot carry, or a result type a multi response cannot hold.
var ErrInvalidOp = errors.New("proto: invalid op type")

// MultiOp is one operation of a multi or multiRead request.
type MultiOp struct {
	// Header.Type is the op's opcode. Upstream clients send Done false and
	// Err -1; Encode writes Type and Err as given and Done as false.
	Header MultiHeader
	// Op is the request body: *CreateRequest (create, create2,
	// createContainer), *CreateTTLRequest, *DeleteRequest, *SetDataRequest,
	// *CheckVersionRequest, *GetChildrenRequest or *GetDataRequest.
	Op Record
}

// MultiRequest is the body of a multi (opcode 14) or multiRead (22) request,
// upstream MultiOperationRecord. On the wire each op is a MultiHeader
// followed by the op's request record, and the list ends with
// MultiHeader{Type: -1, Done: true, Err: -1}.
//
// Decode accepts the op types upstream's MultiOperationRecord.deserialize
// accepts: create, create2, createContainer, createTTL, delete, setData,
// check, getChildren and getData; anything else fails with ErrInvalidOp.
// (deleteContainer is not accepted inside a multi upstream either.) Upstream
// also rejects, while decoding, a create whose flags are not a valid
// CreateMode; here that check is the server's (CreateMode.Valid). Whether
// the ops are all writes (multi) or all reads (multiRead) is the server's
// check, not the codec's; upstream rejects a mix when it builds the request.
type MultiRequest struct {
	Ops []MultiOp
}

// NewMultiOp returns the op with the header upstream clients send.
func NewMultiOp(op OpCode, body Record) MultiOp {
	return MultiOp{Header: MultiHeader{Type: op, Done: false, Err: -1}, Op: body}
}

// multiEnd terminates the op list of a multi request and the result list of
// a multi response.
var multiEnd = MultiHeader{Type: OpError, Done: true, Err: -1}

// Encode implements Record.
func (r *MultiRequest) Encode(e *Encoder) {
	for i := range r.Ops {
		h := r.Ops[i].Header
		h.Done = false
		h.Encode(e)
		if r.Ops[i].Op != nil {
			r.Ops[i].Op.Encode(e)
		}
	}
	end := multiEnd
	end.Encode(e)
}

// newMultiOpRecord returns a fresh request record for an op inside a multi.
func newMultiOpRecord(op OpCode) Record {
	switch op {
	case OpCreate, OpCreate2, OpCreateContainer:
		return &CreateRequest{}
	case OpCreateTTL:
		return &CreateTTLRequest{}
	case OpDelete:
		return &DeleteRequest{}
	case OpSetData:
		return &SetDataRequest{}
	case OpCheck:
		return &CheckVersionRequest{}
	case OpGetChildren:
		return &GetChildrenRequest{}
	case OpGetData:
		return &GetDataRequest{}
	}
	return nil
}

// Decode implements Record.
func (r *MultiRequest) Decode(d *Decoder) {
	r.Ops = nil
	var h MultiHeader
	for h.Decode(d); d.err == nil && !h.Done; h.Decode(d) {
		rec := newMultiOpRecord(h.Type)
		if rec == nil {
			d.Fail(fmt.Errorf("%w: %v in multi request at offset %d", ErrInvalidOp, h.Type, d.off-9))
			return
		}
		rec.Decode(d)
		r.Ops = append(r.Ops, MultiOp{Header: h, Op: rec})
	}
}

// MultiResult is one result of a multi or multiRead response, flattened:
// which fields are on the wire depends on Type, as in upstream
// MultiResponse.serialize:
//
//	create                  Path
//	create2                 Path, Stat (upstream reports create2, createTTL
//	                        and createContainer ops this way)
//	setData                 Stat
//	delete, check           nothing (deleteContainer reports as delete)
//	getData     (multiRead) Data, Stat
//	getChildren (multiRead) Children
//	error (-1)              Err (an ErrorResponse)
//
// Encode writes createTTL and createContainer results as create2 and
// deleteContainer results as delete, so a server may fill Type with the op's
// own opcode. The MultiHeader of a result carries Err for an error result
// and 0 otherwise. A Type outside this list is written as a bare header,
// which no client can decode.
type MultiResult struct {
	Type     OpCode
	Err      ErrCode // for Type OpError: the op's code (ErrOK for ops rolled back before the failing one)
	Path     string
	Stat     Stat
	Data     []byte
	Children []string
}

// MultiError returns a failed result carrying code.
func MultiError(code ErrCode) MultiResult {
	return MultiResult{Type: OpError, Err: code}
}

// wireType is the result type upstream puts on the wire for t.
func (r *MultiResult) wireType() OpCode {
	switch r.Type {
	case OpCreateTTL, OpCreateContainer:
		return OpCreate2
	case OpDeleteContainer:
		return OpDelete
	}
	return r.Type
}

func (r *MultiResult) encode(e *Encoder) {
	t := r.wireType()
	h := MultiHeader{Type: t}
	if t == OpError {
		h.Err = r.Err
	}
	h.Encode(e)
	switch t {
	case OpCreate:
		e.String(r.Path)
	case OpCreate2:
		e.String(r.Path)
		r.Stat.Encode(e)
	case OpSetData:
		r.Stat.Encode(e)
	case OpGetData:
		e.Buffer(r.Data)
		r.Stat.Encode(e)
	case OpGetChildren:
		e.Strings(r.Children)
	case OpError:
		e.Int(int32(r.Err))
	}
}

// decode reads the body of a result whose header h has been read.
func (r *MultiResult) decode(h MultiHeader, d *Decoder) {
	*r = MultiResult{Type: h.Type}
	switch h.Type {
	case OpCreate:
		r.Path = d.String()
	case OpCreate2:
		r.Path = d.String()
		r.Stat.Decode(d)
	case OpDelete, OpCheck:
	case OpSetData:
		r.Stat.Decode(d)
	case OpGetData:
		r.Data = d.Buffer()
		r.Stat.Decode(d)
	case OpGetChildren:
		r.Children = d.Strings()
	case OpError:
		// Upstream reads the code from the ErrorResponse body, not the header.
		r.Err = ErrCode(d.Int())
	default:
		d.Fail(fmt.Errorf("%w: %v in multi response at offset %d", ErrInvalidOp, h.Type, d.off-9))
	}
}

// MultiResponse is the body of the reply to multi and multiRead, upstream
// MultiResponse: per result a MultiHeader and a body (see MultiResult),
// ended by MultiHeader{Type: -1, Done: true, Err: -1}.
//
// What upstream sends (DataTree.processTxn, FinalRequestProcessor; checked
// on the wire against Java 3.8.0):
//   - A failed multi still has ReplyHeader.Err 0; every result is an error
//     result: ErrOK for the ops before the failing one, the failing op's
//     code, then ErrRuntimeInconsistency for the ops after it.
//   - multiRead answers each op on its own: a failed read is an error
//     result among successful ones, and ReplyHeader.Err is 0.
//   - createContainer and createTTL results are reported as create2; 3.8.0
//     reports a create2 op as create (path only), later versions as create2.
type MultiResponse struct {
	Results []MultiResult
}

// Encode implements Record.
func (r *MultiResponse) Encode(e *Encoder) {
	for i := range r.Results {
		r.Results[i].encode(e)
	}
	end := multiEnd
	end.Encode(e)
}

// Decode implements Record. Result types other than those listed on
// MultiResult fail with ErrInvalidOp, as upstream's deserialize does.
func (r *MultiResponse) Decode(d *Decoder) {
	r.Results = nil
	var h MultiHeader
	for h.Decode(d); d.err == nil && !h.Done; h.Decode(d) {
		var res MultiResult
		res.decode(h, d)
		if d.err != nil {
			return
		}
		r.Results = append(r.Results, res)
	}
}
