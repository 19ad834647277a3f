package clientconn

import (
	"fmt"
	"testing"

	"github.com/zkbench/zkbench/server/proto"
)

// exists checks no ACL, as upstream's FinalRequestProcessor (statNode):
// a node whose ACL gives the caller no READ still reports its Stat, both
// when the read is answered at once and when it waits behind a write.
func TestExistsIgnoresACL(t *testing.T) {
	f := newFake()
	c := dial(t, startServe(t, f, Options{}))
	secret := []proto.ACL{{Perms: proto.PermAll, ID: proto.ID{Scheme: "digest", ID: DigestID("admin:secret")}}}
	c.send(1, proto.OpCreate, &proto.CreateRequest{Path: "/secret", Data: []byte("hidden"), ACL: secret})
	f.release <- struct{}{}
	if h, _ := c.reply(); h.Xid != 1 || h.Err != proto.ErrOK {
		t.Fatalf("create: %+v", h)
	}

	c.send(2, proto.OpExists, &proto.ExistsRequest{Path: "/secret"})
	// The same read queued behind a write takes the general path.
	c.send(3, proto.OpCreate, &proto.CreateRequest{Path: "/open", ACL: proto.OpenACLUnsafe})
	c.send(4, proto.OpExists, &proto.ExistsRequest{Path: "/secret", Watch: true})
	c.send(5, proto.OpGetData, &proto.GetDataRequest{Path: "/secret"})
	f.release <- struct{}{}
	for _, xid := range []int32{2, 3, 4} {
		h, d := c.reply()
		if h.Xid != xid || h.Err != proto.ErrOK {
			t.Fatalf("reply %+v, want xid %d OK", h, xid)
		}
		if xid == 3 {
			continue
		}
		var r proto.ExistsResponse
		r.Decode(d)
		if r.Stat.DataLength != int32(len("hidden")) || r.Stat.Czxid != 1 {
			t.Fatalf("exists %d on an unreadable node: stat %+v", xid, r.Stat)
		}
	}
	// getData still needs READ.
	if h, _ := c.reply(); h.Xid != 5 || h.Err != proto.ErrNoAuth {
		t.Fatalf("getData of an unreadable node: %+v, want NoAuth", h)
	}
}

// addauth digest with credentials that have no ':' is accepted, as
// upstream's DigestAuthenticationProvider accepts it: the id is the whole
// string, then ':' and the digest of the whole string. The session stays
// open and can use that identity.
func TestAddAuthDigestWithoutColon(t *testing.T) {
	f := newFake()
	c := dial(t, startServe(t, f, Options{}))
	c.send(-4, proto.OpAuth, &proto.AuthPacket{Scheme: "digest", Auth: []byte("nocolon")})
	if h, _ := c.reply(); h.Xid != -4 || h.Err != proto.ErrOK {
		t.Fatalf("addauth digest nocolon: %+v, want OK", h)
	}
	c.send(1, proto.OpWhoAmI, nil)
	h, d := c.reply()
	if h.Xid != 1 || h.Err != proto.ErrOK {
		t.Fatalf("whoAmI after addauth: %+v", h)
	}
	var who proto.WhoAmIResponse
	who.Decode(d)
	var users []string
	for _, ci := range who.ClientInfo {
		if ci.AuthScheme == "digest" {
			users = append(users, ci.User)
		}
	}
	if len(users) != 1 || users[0] != "nocolon" {
		t.Fatalf("whoAmI digest users %q, want [nocolon]", users)
	}
}

// DigestID is upstream's DigestAuthenticationProvider.generateDigest: the
// part before the first ':' (the whole string if there is none), ':', and
// base64(sha1(the whole string)).
func TestDigestID(t *testing.T) {
	for in, want := range map[string]string{
		// sha1("admin:secret") and sha1("nocolon"), base64.
		"admin:secret": "admin:" + "fvr2cB/fjGeAiX8g1aGhUm3ZICk=",
		"nocolon":      "nocolon:" + "Ra+cHr2ZoHvBjtNArFGNGlVie4g=",
		"a:b:c":        "a:" + "cLzgnoJ6mP5qz3w+mwvPE2vDgu0=",
	} {
		if got := DigestID(in); got != want {
			t.Errorf("DigestID(%q) = %q, want %q", in, got, want)
		}
	}
}

// A connection holds a bounded set of auth ids: addauth with ever new
// credentials would otherwise grow it without end, and every forwarded
// write carries the set. Past the bound addauth fails and the connection
// closes, as any failed addauth does; the ids it already holds still work
// until then.
func TestAddAuthIDsBounded(t *testing.T) {
	f := newFake()
	c := dial(t, startServe(t, f, Options{}))
	for i := range maxAuthIDs + 10 {
		c.send(-4, proto.OpAuth, &proto.AuthPacket{Scheme: "digest", Auth: fmt.Appendf(nil, "user%d:pw", i)})
		h, _ := c.reply()
		if h.Err == proto.ErrAuthFailed {
			if i < maxAuthIDs-1 { // the ip id counts too
				t.Fatalf("addauth %d refused; the bound is %d ids", i, maxAuthIDs)
			}
			c.expectClosed()
			return
		}
		if h.Err != proto.ErrOK {
			t.Fatalf("addauth %d: %+v", i, h)
		}
	}
	t.Fatalf("%d addauths with distinct credentials all accepted; the bound is %d ids", maxAuthIDs+10, maxAuthIDs)
}

// The same credentials added again do not count twice.
func TestAddAuthRepeatedIDCountsOnce(t *testing.T) {
	f := newFake()
	c := dial(t, startServe(t, f, Options{}))
	for i := range 3 * maxAuthIDs {
		c.send(-4, proto.OpAuth, &proto.AuthPacket{Scheme: "digest", Auth: []byte("same:pw")})
		if h, _ := c.reply(); h.Err != proto.ErrOK {
			t.Fatalf("addauth %d of the same credentials: %+v", i, h)
		}
	}
}
