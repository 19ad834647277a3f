package txnprep

import (
	"testing"

	"github.com/zkbench/zkbench/server/proto"
	"github.com/zkbench/zkbench/server/tree"
)

// sasl ACL ids are valid as upstream's KerberosName parses them.
func TestValidSASLID(t *testing.T) {
	for id, want := range map[string]bool{
		"bob": true, "": true, "zk/host@EXAMPLE.COM": true, "bob@R": true, "a/b/c": true,
		"a@b@c": false, "a/b/c@R": false, "bob@R/x": false,
	} {
		if got := validID(proto.ID{Scheme: "sasl", ID: id}); got != want {
			t.Errorf("sasl:%q valid %v, want %v", id, got, want)
		}
	}
}

// An id of the sasl or x509 scheme is an invalid ACL unless its provider
// is registered, and "auth" expands only to ids of registered schemes, as
// upstream's fixupACL asks ProviderRegistry.
func TestFixupACLNeedsTheSchemesProvider(t *testing.T) {
	for _, id := range []proto.ID{{Scheme: "sasl", ID: "bob"}, {Scheme: "x509", ID: "CN=bob"}} {
		acl := []proto.ACL{{Perms: proto.PermAll, ID: id}}
		all := tree.Providers{SASL: true, X509: true}
		if _, err := FixupACL(acl, nil, all); err != nil {
			t.Errorf("%v with its provider: %v", id, err)
		}
		if _, err := FixupACL(acl, nil, tree.Providers{}); err != proto.ErrInvalidACL {
			t.Errorf("%v without its provider: err %v, want %v", id, err, proto.ErrInvalidACL)
		}
		authACL := []proto.ACL{{Perms: proto.PermRead, ID: proto.ID{Scheme: "auth"}}}
		got, err := FixupACL(authACL, []proto.ID{id}, all)
		if err != nil || len(got) != 1 || got[0].ID != id {
			t.Errorf("auth for %v with its provider: %v %v", id, got, err)
		}
		if got, err := FixupACL(authACL, []proto.ID{id}, tree.Providers{}); err != proto.ErrInvalidACL {
			t.Errorf("auth for %v without its provider: %v %v, want %v", id, got, err, proto.ErrInvalidACL)
		}
	}
	digest := proto.ID{Scheme: "digest", ID: "bob:hash="}
	if _, err := FixupACL([]proto.ACL{{Perms: proto.PermAll, ID: digest}}, nil, tree.Providers{}); err != nil {
		t.Errorf("digest with no optional provider: %v", err)
	}
}
