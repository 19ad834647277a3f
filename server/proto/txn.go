package proto

import "fmt"

// NewTxn returns an empty txn body record for a TxnHeader.Type, as upstream
// SerializeUtils.deserializeTxn chooses it. closeSession's body is decoded
// only when present (upstream writes it since 3.6 when
// zookeeper.closeSessionTxn.enabled, the default).
func NewTxn(op OpCode) (Record, bool) {
	switch op {
	case OpCreate, OpCreate2:
		return &CreateTxn{}, true
	case OpCreateTTL:
		return &CreateTTLTxn{}, true
	case OpCreateContainer:
		return &CreateContainerTxn{}, true
	case OpDelete, OpDeleteContainer:
		return &DeleteTxn{}, true
	case OpSetData, OpReconfig:
		return &SetDataTxn{}, true
	case OpSetACL:
		return &SetACLTxn{}, true
	case OpCheck:
		return &CheckVersionTxn{}, true
	case OpError:
		return &ErrorTxn{}, true
	case OpMulti:
		return &MultiTxn{}, true
	case OpCreateSession:
		return &CreateSessionTxn{}, true
	case OpCloseSession:
		return &CloseSessionTxn{}, true
	}
	return nil, false
}

// LoggedTxn is one transaction as it is logged and proposed: a header, a
// body (nil for an old-style closeSession) and the optional tree digest.
type LoggedTxn struct {
	Header TxnHeader
	Body   Record
	Digest *TxnDigest
}

// DecodeLoggedTxn decodes a log record's payload (or a proposal's data):
// TxnHeader, then the body its type calls for, then an optional TxnDigest.
func DecodeLoggedTxn(b []byte) (LoggedTxn, error) { return ReadLoggedTxn(NewDecoder(b)) }

// ReadLoggedTxn is DecodeLoggedTxn from a decoder the caller reuses (Reset
// to the payload): from an aliasing one, the txn's data may be slices of
// the payload.
func ReadLoggedTxn(d *Decoder) (LoggedTxn, error) {
	var t LoggedTxn
	t.Header.Decode(d)
	if err := d.Err(); err != nil {
		return t, fmt.Errorf("proto: txn header: %w", err)
	}
	body, ok := NewTxn(t.Header.Type)
	if !ok {
		return t, fmt.Errorf("proto: txn zxid 0x%x: unknown txn type %v", t.Header.Zxid, t.Header.Type)
	}
	if t.Header.Type == OpCloseSession && d.Remaining() == 0 {
		return t, nil
	}
	body.Decode(d)
	if err := d.Err(); err != nil {
		return t, fmt.Errorf("proto: txn zxid 0x%x (%v): %w", t.Header.Zxid, t.Header.Type, err)
	}
	t.Body = body
	if d.Remaining() >= 12 {
		var dg TxnDigest
		dg.Decode(d)
		if d.Err() == nil {
			t.Digest = &dg
		}
	}
	return t, nil
}
