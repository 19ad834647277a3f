package clientconn

import (
	"io"
	"testing"
	"time"

	"github.com/zkbench/zkbench/server/proto"
	"github.com/zkbench/zkbench/server/sasl"
	"github.com/zkbench/zkbench/server/tree"
)

func saslOptions(enforce ...string) Options {
	users := map[string]string{"bob": "b0b", "root": "r00t"}
	return Options{SASL: SASL{
		Password:   func(u string) (string, bool) { p, ok := users[u]; return p, ok },
		SuperUsers: []string{"root"},
		Enforce:    enforce,
	}, Providers: tree.Providers{SASL: true}}
}

// saslLogin runs a DIGEST-MD5 exchange over c and returns the error code
// of the last reply.
func (c *rawConn) saslLogin(user, password string) proto.ErrCode {
	c.t.Helper()
	cl := sasl.NewClient(user, password, user, sasl.Protocol, sasl.ServerName)
	tok := cl.Start()
	for xid := int32(1); xid < 4; xid++ {
		c.send(xid, proto.OpSASL, &proto.GetSASLRequest{Token: tok})
		h, d := c.reply()
		if h.Xid != xid || h.Zxid != 0 {
			c.t.Fatalf("sasl reply %+v, want xid %d zxid 0", h, xid)
		}
		var r proto.SetSASLResponse
		r.Decode(d)
		if h.Err != proto.ErrOK {
			if r.Token != nil || d.Err() != nil {
				c.t.Fatalf("failure reply token %q %v, want a null token", r.Token, d.Err())
			}
			return h.Err
		}
		var err error
		if tok, err = cl.Next(r.Token); err != nil {
			c.t.Fatalf("client: %v", err)
		}
		if cl.Complete() {
			return proto.ErrOK
		}
	}
	c.t.Fatal("no completion")
	return 0
}

func (c *rawConn) whoAmI(xid int32) map[string]string {
	c.t.Helper()
	c.send(xid, proto.OpWhoAmI, nil)
	h, d := c.reply()
	if h.Xid != xid || h.Err != proto.ErrOK {
		c.t.Fatalf("whoAmI: %+v", h)
	}
	var who proto.WhoAmIResponse
	who.Decode(d)
	ids := map[string]string{}
	for _, ci := range who.ClientInfo {
		ids[ci.AuthScheme] = ci.User
	}
	return ids
}

// closed reports whether the server closed c (within 5 s).
func (c *rawConn) closed() bool {
	c.nc.SetReadDeadline(time.Now().Add(5 * time.Second))
	_, err := c.br.ReadByte()
	return err == io.EOF
}

// Without the sasl provider registered (no authProvider.N naming
// SASLAuthenticationProvider) a SASL login still succeeds, but a sasl ACL
// entry grants nothing, as upstream's checkACL skips a scheme without
// its provider.
func TestSASLACLNeedsTheProvider(t *testing.T) {
	f := newFake()
	opts := saslOptions()
	opts.Providers = tree.Providers{}
	addr := startServe(t, f, opts)
	c := dial(t, addr)
	if code := c.saslLogin("bob", "b0b"); code != proto.ErrOK {
		t.Fatalf("login: %v", code)
	}
	c.send(11, proto.OpCreate, &proto.CreateRequest{Path: "/b", ACL: []proto.ACL{{Perms: proto.PermAll, ID: proto.ID{Scheme: "sasl", ID: "bob"}}}})
	f.release <- struct{}{}
	if h, _ := c.reply(); h.Err != proto.ErrOK {
		t.Fatalf("create (the fake backend does not validate): %+v", h)
	}
	c.send(12, proto.OpGetData, &proto.GetDataRequest{Path: "/b"})
	if h, _ := c.reply(); h.Err != proto.ErrNoAuth {
		t.Fatalf("bob reads a sasl:bob node without the sasl provider: %+v, want %v", h, proto.ErrNoAuth)
	}
}

func TestSASLLogin(t *testing.T) {
	f := newFake()
	addr := startServe(t, f, saslOptions())
	c := dial(t, addr)
	if code := c.saslLogin("bob", "b0b"); code != proto.ErrOK {
		t.Fatalf("login: %v", code)
	}
	if ids := c.whoAmI(10); ids["sasl"] != "bob" || ids["super"] != "" {
		t.Fatalf("ids after login %q", ids)
	}
	// A sasl ACL now lets bob in.
	c.send(11, proto.OpCreate, &proto.CreateRequest{Path: "/b", ACL: []proto.ACL{{Perms: proto.PermAll, ID: proto.ID{Scheme: "sasl", ID: "bob"}}}})
	f.release <- struct{}{}
	if h, _ := c.reply(); h.Err != proto.ErrOK {
		t.Fatalf("create: %+v", h)
	}
	c.send(12, proto.OpGetData, &proto.GetDataRequest{Path: "/b"})
	if h, _ := c.reply(); h.Err != proto.ErrOK {
		t.Fatalf("bob reads his node: %+v", h)
	}
	other := dial(t, addr)
	other.send(1, proto.OpGetData, &proto.GetDataRequest{Path: "/b"})
	if h, _ := other.reply(); h.Err != proto.ErrNoAuth {
		t.Fatalf("an anonymous session reads bob's node: %+v", h)
	}

	root := dial(t, addr)
	if code := root.saslLogin("root", "r00t"); code != proto.ErrOK {
		t.Fatalf("root login: %v", code)
	}
	if ids := root.whoAmI(10); ids["sasl"] != "root" {
		t.Fatalf("root's ids %q", ids)
	}
	if _, ok := root.whoAmI(11)["super"]; !ok {
		t.Fatal("superUser root is not super")
	}
}

func TestSASLWrongPassword(t *testing.T) {
	addr := startServe(t, newFake(), saslOptions())
	c := dial(t, addr)
	if code := c.saslLogin("bob", "wrong"); code != proto.ErrAuthFailed {
		t.Fatalf("wrong password: %v, want AUTHFAILED", code)
	}
	if !c.closed() {
		t.Fatal("the connection stayed open after a failed login")
	}
	c = dial(t, addr)
	if code := c.saslLogin("nobody", "b0b"); code != proto.ErrAuthFailed {
		t.Fatalf("unknown user: %v, want AUTHFAILED", code)
	}
	// allowSaslFailedClients keeps the connection, without the id.
	opts := saslOptions()
	opts.SASL.AllowFailed = true
	c = dial(t, startServe(t, newFake(), opts))
	cl := sasl.NewClient("bob", "wrong", "", sasl.Protocol, sasl.ServerName)
	c.send(1, proto.OpSASL, &proto.GetSASLRequest{Token: cl.Start()})
	_, d := c.reply()
	var r proto.SetSASLResponse
	r.Decode(d)
	tok, _ := cl.Next(r.Token)
	c.send(2, proto.OpSASL, &proto.GetSASLRequest{Token: tok})
	if h, _ := c.reply(); h.Err != proto.ErrOK {
		t.Fatalf("allowSaslFailedClients: %+v", h)
	}
	if ids := c.whoAmI(3); ids["sasl"] != "" {
		t.Fatalf("a failed login gave ids %q", ids)
	}
}

// With sasl required, every request but auth and sasl of a session
// without a sasl id is answered SESSIONCLOSEDREQUIRESASLAUTH and the
// connection closed; a failed login gets that code too.
func TestSASLRequired(t *testing.T) {
	addr := startServe(t, newFake(), saslOptions("sasl"))
	for _, op := range []proto.OpCode{proto.OpPing, proto.OpGetData, proto.OpCreate} {
		c := dial(t, addr)
		c.send(7, proto.OpAuth, &proto.AuthPacket{Scheme: "digest", Auth: []byte("a:b")})
		if h, _ := c.reply(); h.Err != proto.ErrOK {
			t.Fatalf("addauth digest: %+v", h)
		}
		var body proto.Record
		switch op {
		case proto.OpGetData:
			body = &proto.GetDataRequest{Path: "/"}
		case proto.OpCreate:
			body = &proto.CreateRequest{Path: "/x", ACL: proto.OpenACLUnsafe}
		}
		c.send(8, op, body)
		if h, _ := c.reply(); h.Xid != 8 || h.Err != proto.ErrSessionClosedRequireSASL || h.Zxid != 0 {
			t.Fatalf("%v without sasl: %+v, want SESSIONCLOSEDREQUIRESASLAUTH", op, h)
		}
		if !c.closed() {
			t.Fatalf("%v without sasl: the connection stayed open", op)
		}
	}
	c := dial(t, addr)
	if code := c.saslLogin("bob", "b0b"); code != proto.ErrOK {
		t.Fatalf("login: %v", code)
	}
	c.send(9, proto.OpGetData, &proto.GetDataRequest{Path: "/"})
	if h, _ := c.reply(); h.Err != proto.ErrOK {
		t.Fatalf("getData after login: %+v", h)
	}
	c = dial(t, addr)
	if code := c.saslLogin("bob", "bad"); code != proto.ErrSessionClosedRequireSASL {
		t.Fatalf("failed login with sasl required: %v", code)
	}
}

// Without a JAAS Server section a sasl request gets OK and a null token,
// as from upstream's server without a SASL login.
func TestSASLNotConfigured(t *testing.T) {
	c := dial(t, startServe(t, newFake(), Options{}))
	c.send(1, proto.OpSASL, &proto.GetSASLRequest{Token: []byte{}})
	h, d := c.reply()
	var r proto.SetSASLResponse
	r.Decode(d)
	if h.Err != proto.ErrOK || r.Token != nil {
		t.Fatalf("%+v token %q", h, r.Token)
	}
}
