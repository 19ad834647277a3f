package txnprep

import (
	"fmt"
	"testing"

	"github.com/zkbench/zkbench/server/proto"
	"github.com/zkbench/zkbench/server/tree"
)

// The prep stage runs under one lock for every write, so work per request
// must not grow with the square of its size. Run by hand to compare sizes
// (doubling n must about double ns/op):
//
//	go test -run '^$' -bench 'FixupACL|CloseSession' -benchtime 3x ./server/txnprep/

func BenchmarkFixupACL(b *testing.B) {
	for _, n := range []int{2000, 4000, 8000} {
		acl := make([]proto.ACL, n)
		for i := range acl {
			acl[i] = proto.ACL{Perms: proto.PermRead, ID: proto.ID{Scheme: "ip", ID: fmt.Sprintf("10.%d.%d.%d", i>>16&255, i>>8&255, i&255)}}
		}
		b.Run(fmt.Sprintf("n=%d", n), func(b *testing.B) {
			for range b.N {
				if _, err := FixupACL(acl, nil, tree.Providers{}); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

func BenchmarkCloseSession(b *testing.B) {
	for _, n := range []int{5000, 10000, 20000} {
		tr := tree.New()
		p := New(Options{Store: treeStore{tr}})
		for i := range n {
			prepApplyB(b, p, tr, &proto.Request{SessionID: 5, Op: proto.OpCreate, Body: &proto.CreateRequest{
				Path: fmt.Sprintf("/e%07d", i), ACL: proto.OpenACLUnsafe, Flags: proto.ModeEphemeral}}, int64(i+1))
		}
		b.Run(fmt.Sprintf("n=%d", n), func(b *testing.B) {
			for i := range b.N {
				txn, err := p.Prepare(&proto.Request{SessionID: 5, Op: proto.OpCloseSession}, int64(n+1+i), 0)
				if err != nil || len(txn.Body.(*proto.CloseSessionTxn).Paths2Delete) != n {
					b.Fatalf("closeSession: %v", err)
				}
				p.Reset()
			}
		})
	}
}

func prepApplyB(b *testing.B, p *Preparer, tr *tree.Tree, req *proto.Request, zxid int64) {
	txn, err := p.Prepare(req, zxid, 0)
	if err != nil || txn.Err != proto.ErrOK {
		b.Fatalf("prepare %v: %v %v", req.Op, txn, err)
	}
	hdr := txn.Header
	tr.Apply(&hdr, txn.Body)
	p.Applied(zxid)
}
