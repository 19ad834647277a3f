package clientconn

import (
	"slices"

	"github.com/zkbench/zkbench/server/proto"
	"github.com/zkbench/zkbench/server/sasl"
)

// SASL configures client SASL: the sasl request (opcode 102) and the
// authentication a session must have before its other requests.
type SASL struct {
	// Password looks up a DIGEST-MD5 user's password (the JAAS Server
	// section's user_<name> options). Nil: no SASL login is configured,
	// and a sasl request gets an empty answer, as from upstream's server
	// without a JAAS Server section.
	Password func(user string) (string, bool)
	// SuperUsers are the sasl ids that are also super (zookeeper.superUser
	// and zookeeper.superUser.<anything>, as upstream's isSaslSuperUser).
	SuperUsers []string
	// AllowFailed keeps a client whose SASL login failed connected
	// (allowSaslFailedClients), unless Enforce requires sasl.
	AllowFailed bool
	// Enforce are the schemes of which a session must hold an id before
	// any request but auth and sasl (enforce.auth.enabled with
	// enforce.auth.schemes; sessionRequireClientSASLAuth is "sasl").
	// Empty enforces nothing. A request of a session without one is
	// answered SESSIONCLOSEDREQUIRESASLAUTH and the connection closed, as
	// upstream's AuthenticationHelper.enforceAuthentication (the session
	// itself lives on until it expires).
	Enforce []string
}

// requiresSASL is upstream's isSaslAuthRequired.
func (s *SASL) requiresSASL() bool { return slices.Contains(s.Enforce, "sasl") }

// enforced reports whether a request other than auth and sasl may go on;
// when not, it has answered it and the connection is to close.
func (c *conn) enforced(xid int32) bool {
	schemes := c.srv.opts.SASL.Enforce
	if len(schemes) == 0 {
		return true
	}
	for _, id := range c.authIDs() {
		if slices.Contains(schemes, id.Scheme) {
			return true
		}
	}
	c.log.Warn("closing connection: the session has no id of a scheme authentication is enforced for", "schemes", schemes, "session", hex(c.session.Load()))
	c.send(proto.ReplyHeader{Xid: xid, Err: proto.ErrSessionClosedRequireSASL}, nil)
	c.closeAfterFlush("authentication required")
	return false
}

// handleSASL runs one step of the session's SASL exchange, as upstream's
// ZooKeeperServer.processSasl: the reply carries the server's token and
// zxid 0; once the client has authenticated its user becomes the id
// sasl:<user> (and super, for a super user). A failed login is answered
// AUTHFAILED (SESSIONCLOSEDREQUIRESASLAUTH when SASL is required) and the
// connection closed, unless allowSaslFailedClients keeps it.
func (c *conn) handleSASL(hdr proto.RequestHeader, d *proto.Decoder) bool {
	var req proto.GetSASLRequest
	req.Decode(d)
	if d.Err() != nil {
		c.log.Warn("closing connection: malformed sasl request", "err", d.Err())
		return false
	}
	opts := &c.srv.opts.SASL
	if opts.Password == nil {
		c.log.Error("sasl request, but no SASL login is configured (no JAAS Server section)")
		c.send(proto.ReplyHeader{Xid: hdr.Xid}, &proto.SetSASLResponse{})
		return true
	}
	if c.sasl == nil {
		c.sasl = sasl.NewServer(sasl.Protocol, sasl.ServerName, opts.Password)
	}
	token, err := c.sasl.Next(req.Token)
	if err != nil {
		c.log.Warn("client failed to SASL authenticate", "err", err, "session", hex(c.session.Load()))
		if opts.AllowFailed && !opts.requiresSASL() {
			c.send(proto.ReplyHeader{Xid: hdr.Xid}, &proto.SetSASLResponse{})
			return true
		}
		code := proto.ErrAuthFailed
		if opts.requiresSASL() {
			code = proto.ErrSessionClosedRequireSASL
		}
		c.send(proto.ReplyHeader{Xid: hdr.Xid, Err: code}, &proto.SetSASLResponse{})
		c.closeAfterFlush("SASL authentication failed")
		return false
	}
	if c.sasl.Complete() {
		user := c.sasl.User()
		c.log.Info("adding SASL authorization", "id", user, "session", hex(c.session.Load()))
		ids := []proto.ID{{Scheme: "sasl", ID: user}}
		if slices.Contains(opts.SuperUsers, user) && user != "" {
			ids = append(ids, proto.ID{Scheme: "super"})
		}
		if !c.addAuth(ids...) {
			c.log.Warn("SASL login refused: too many auth ids on one connection", "max", maxAuthIDs)
			c.send(proto.ReplyHeader{Xid: hdr.Xid, Err: proto.ErrAuthFailed}, &proto.SetSASLResponse{})
			c.closeAfterFlush("too many auth ids")
			return false
		}
	}
	c.send(proto.ReplyHeader{Xid: hdr.Xid}, &proto.SetSASLResponse{Token: token})
	return true
}
