package tree

import (
	"reflect"
	"testing"

	"github.com/zkbench/zkbench/server/proto"
)

func TestCheckACL(t *testing.T) {
	digest := proto.ID{Scheme: "digest", ID: "bob:hash="}
	ip := func(s string) proto.ID { return proto.ID{Scheme: "ip", ID: s} }
	acl := func(perms int32, id proto.ID) []proto.ACL { return []proto.ACL{{Perms: perms, ID: id}} }
	for _, c := range []struct {
		name string
		acl  []proto.ACL
		perm int32
		ids  []proto.ID
		want bool
	}{
		{"empty acl grants all", nil, proto.PermAdmin, nil, true},
		{"world anyone", proto.OpenACLUnsafe, proto.PermWrite, nil, true},
		{"world read only: read", proto.ReadACLUnsafe, proto.PermRead, nil, true},
		{"world read only: write", proto.ReadACLUnsafe, proto.PermWrite, nil, false},
		{"world other id: no provider", acl(proto.PermAll, proto.ID{Scheme: "world", ID: "someone"}), proto.PermRead, []proto.ID{{Scheme: "world", ID: "someone"}}, false},
		{"unregistered scheme", acl(proto.PermAll, proto.ID{Scheme: "kerberos", ID: "bob"}), proto.PermRead, []proto.ID{{Scheme: "kerberos", ID: "bob"}}, false},
		{"sasl user", acl(proto.PermAll, proto.ID{Scheme: "sasl", ID: "bob"}), proto.PermRead, []proto.ID{{Scheme: "sasl", ID: "bob"}}, true},
		{"sasl other user", acl(proto.PermAll, proto.ID{Scheme: "sasl", ID: "bob"}), proto.PermRead, []proto.ID{{Scheme: "sasl", ID: "eve"}}, false},
		{"sasl user named super", acl(proto.PermRead, proto.ID{Scheme: "sasl", ID: "bob"}), proto.PermRead, []proto.ID{{Scheme: "sasl", ID: "super"}}, true},
		{"sasl super lacks the perm", acl(proto.PermRead, proto.ID{Scheme: "sasl", ID: "bob"}), proto.PermWrite, []proto.ID{{Scheme: "sasl", ID: "super"}}, false},
		{"sasl is not digest", acl(proto.PermAll, proto.ID{Scheme: "sasl", ID: "bob"}), proto.PermRead, []proto.ID{{Scheme: "digest", ID: "bob"}}, false},
		{"super", acl(proto.PermRead, digest), proto.PermAdmin, []proto.ID{{Scheme: "super", ID: ""}}, true},
		{"digest match", acl(proto.PermRead|proto.PermWrite, digest), proto.PermWrite, []proto.ID{ip("1.2.3.4"), digest}, true},
		{"digest perm missing", acl(proto.PermRead, digest), proto.PermDelete, []proto.ID{digest}, false},
		{"digest other user", acl(proto.PermAll, digest), proto.PermRead, []proto.ID{{Scheme: "digest", ID: "eve:hash="}}, false},
		{"scheme must match", acl(proto.PermAll, proto.ID{Scheme: "digest", ID: "1.2.3.4"}), proto.PermRead, []proto.ID{ip("1.2.3.4")}, false},
		{"no ids", acl(proto.PermAll, digest), proto.PermRead, nil, false},
		{"second entry grants", []proto.ACL{{Perms: proto.PermRead, ID: digest}, {Perms: proto.PermWrite, ID: ip("10.0.0.1")}}, proto.PermWrite, []proto.ID{ip("10.0.0.1")}, true},
		{"ip exact", acl(proto.PermAll, ip("127.0.0.1")), proto.PermRead, []proto.ID{ip("127.0.0.1")}, true},
		{"ip exact other", acl(proto.PermAll, ip("127.0.0.1")), proto.PermRead, []proto.ID{ip("127.0.0.2")}, false},
		{"ip /24 in", acl(proto.PermAll, ip("192.168.1.0/24")), proto.PermRead, []proto.ID{ip("192.168.1.77")}, true},
		{"ip /24 out", acl(proto.PermAll, ip("192.168.1.0/24")), proto.PermRead, []proto.ID{ip("192.168.2.77")}, false},
		{"ip /0", acl(proto.PermAll, ip("0.0.0.0/0")), proto.PermRead, []proto.ID{ip("8.8.8.8")}, true},
		{"ip /31", acl(proto.PermAll, ip("10.0.0.2/31")), proto.PermRead, []proto.ID{ip("10.0.0.3")}, true},
		{"ip /31 out", acl(proto.PermAll, ip("10.0.0.2/31")), proto.PermRead, []proto.ID{ip("10.0.0.4")}, false},
		{"ip /33 invalid", acl(proto.PermAll, ip("10.0.0.2/33")), proto.PermRead, []proto.ID{ip("10.0.0.2")}, false},
		{"ip bad bits", acl(proto.PermAll, ip("10.0.0.2/x")), proto.PermRead, []proto.ID{ip("10.0.0.2")}, false},
		{"ip bad octet", acl(proto.PermAll, ip("10.0.0.256")), proto.PermRead, []proto.ID{ip("10.0.0.0")}, false},
		{"ip bad client", acl(proto.PermAll, ip("10.0.0.0/8")), proto.PermRead, []proto.ID{ip("localhost")}, false},
		{"ipv6 unsupported in 3.8", acl(proto.PermAll, ip("::1")), proto.PermRead, []proto.ID{ip("::1")}, false},
	} {
		if got := CheckACL(c.acl, c.perm, c.ids, Providers{SASL: true, X509: true}); got != c.want {
			t.Errorf("%s: CheckACL = %v, want %v", c.name, got, c.want)
		}
	}
}

// A sasl or x509 entry matches only when its provider is registered, as
// upstream's checkACL skips an entry whose scheme has no provider; ip and
// digest are always registered.
func TestCheckACLNeedsTheSchemesProvider(t *testing.T) {
	for _, id := range []proto.ID{{Scheme: "sasl", ID: "bob"}, {Scheme: "x509", ID: "CN=bob"}} {
		acl := []proto.ACL{{Perms: proto.PermAll, ID: id}}
		ids := []proto.ID{id}
		all := Providers{SASL: true, X509: true}
		if !CheckACL(acl, proto.PermRead, ids, all) {
			t.Errorf("%v: refused with its provider registered", id)
		}
		if CheckACL(acl, proto.PermRead, ids, Providers{}) {
			t.Errorf("%v: granted without its provider", id)
		}
		other := Providers{SASL: id.Scheme != "sasl", X509: id.Scheme != "x509"}
		if CheckACL(acl, proto.PermRead, ids, other) {
			t.Errorf("%v: granted with only the other provider (%+v)", id, other)
		}
		// world:anyone, super and the built-in schemes need no provider.
		if !CheckACL(append(acl, proto.OpenACLUnsafe...), proto.PermRead, ids, Providers{}) {
			t.Errorf("%v: world:anyone beside it refused", id)
		}
		if !CheckACL(acl, proto.PermRead, []proto.ID{{Scheme: "super"}}, Providers{}) {
			t.Errorf("%v: super refused", id)
		}
	}
	digest := proto.ID{Scheme: "digest", ID: "bob:hash="}
	if !CheckACL([]proto.ACL{{Perms: proto.PermAll, ID: digest}}, proto.PermRead, []proto.ID{digest}, Providers{}) {
		t.Error("digest refused with no optional provider")
	}
	ip := proto.ID{Scheme: "ip", ID: "10.0.0.1"}
	if !CheckACL([]proto.ACL{{Perms: proto.PermAll, ID: ip}}, proto.PermRead, []proto.ID{ip}, Providers{}) {
		t.Error("ip refused with no optional provider")
	}
}

func TestValidIPExpr(t *testing.T) {
	for expr, want := range map[string]bool{
		"1.2.3.4": true, "1.2.3.4/32": true, "1.2.3.4/0": true, "1.2.3.4/33": false,
		"1.2.3": false, "1.2.3.4.5": false, "a.b.c.d": false, "1.2.3.4/": false,
	} {
		if got := ValidIPExpr(expr); got != want {
			t.Errorf("ValidIPExpr(%q) = %v", expr, got)
		}
	}
}

func TestACLCacheReferenceCounts(t *testing.T) {
	tr := New()
	a := newApplier(t, tr)
	mine := []proto.ACL{{Perms: proto.PermAll, ID: proto.ID{Scheme: "digest", ID: "u:p"}}}
	create := func(path string, acl []proto.ACL) {
		t.Helper()
		r := a.apply(proto.OpCreate, 0, &proto.CreateTxn{Path: path, ACL: acl, ParentCVersion: a.parentCV(path)})
		if r.Err != proto.ErrOK {
			t.Fatal(r.Err)
		}
	}
	create("/x", mine)
	create("/y", append([]proto.ACL(nil), mine...)) // equal list, same id
	create("/o", proto.OpenACLUnsafe)               // interned too: only nil is the -1 id
	want := map[int64][]proto.ACL{1: proto.ReadACLUnsafe, 2: mine, 3: proto.OpenACLUnsafe}
	if got := tr.ACLCache(); !reflect.DeepEqual(got, want) {
		t.Fatalf("ACL cache = %v, want %v", got, want)
	}
	a.del("/x")
	if got := tr.ACLCache(); !reflect.DeepEqual(got, want) {
		t.Fatalf("ACL cache after one delete = %v", got)
	}
	a.apply(proto.OpSetACL, 0, &proto.SetACLTxn{Path: "/y", ACL: proto.ReadACLUnsafe, Version: 1})
	delete(want, 2)
	if got := tr.ACLCache(); !reflect.DeepEqual(got, want) {
		t.Fatalf("ACL cache after last user changed = %v, want %v", got, want)
	}
	// A new list gets a fresh id; ids are never reused.
	create("/z", mine)
	want[4] = mine
	if got := tr.ACLCache(); !reflect.DeepEqual(got, want) {
		t.Fatalf("ACL cache after re-adding = %v, want %v", got, want)
	}
	// A nil ACL is the open ACL, id -1, not in the cache.
	create("/n", nil)
	var ref int64
	tr.Walk(func(r NodeRecord) error {
		if r.Path == "/n" {
			ref = r.ACLRef
		}
		return nil
	})
	if ref != OpenACLID {
		t.Fatalf("nil ACL ref = %d, want %d", ref, OpenACLID)
	}
	if got, _, _ := tr.GetACL("/n"); !reflect.DeepEqual(got, proto.OpenACLUnsafe) {
		t.Fatalf("nil ACL reads as %v", got)
	}
}
