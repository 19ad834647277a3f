package clientconn

import "github.com/zkbench/zkbench/server/proto"

// Encoded sizes of reply parts, in bytes, as jute writes them; replyLen
// and its helpers let a reply be measured before it is built, so that
// one larger than jute.maxbuffer never is (see conn.refuseOversized).
const (
	replyHeaderLen = 16 // xid, zxid, err
	statLen        = 68
	multiHeaderLen = 9 // type, done, err
)

// replyLen is the length of the reply frame (without its 4-byte length
// prefix) carrying body. Records that cannot outgrow the request that
// asked for them count only the header.
func replyLen(body proto.Record) int {
	n := replyHeaderLen
	switch r := body.(type) {
	case *proto.GetDataResponse:
		n += bufferLen(r.Data) + statLen
	case *proto.GetChildrenResponse:
		n += stringsLen(r.Children)
	case *proto.GetChildren2Response:
		n += stringsLen(r.Children) + statLen
	case *proto.GetEphemeralsResponse:
		n += stringsLen(r.Ephemerals)
	case *proto.MultiResponse:
		n += multiHeaderLen // the end marker
		for i := range r.Results {
			n += multiResultLen(&r.Results[i])
		}
	}
	return n
}

// multiResultLen is the encoded length of one result of a multiRead.
func multiResultLen(r *proto.MultiResult) int {
	switch r.Type {
	case proto.OpGetData:
		return multiHeaderLen + bufferLen(r.Data) + statLen
	case proto.OpGetChildren:
		return multiHeaderLen + stringsLen(r.Children)
	}
	return multiHeaderLen + 4 // an error result
}

func bufferLen(b []byte) int { return 4 + len(b) }

func stringsLen(v []string) int {
	n := 4
	for _, s := range v {
		n += 4 + len(s)
	}
	return n
}
