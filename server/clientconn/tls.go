package clientconn

import (
	"crypto/tls"

	"github.com/zkbench/zkbench/server/proto"
	"github.com/zkbench/zkbench/server/tlsconf"
)

// secure finishes the TLS handshake of a TLS connection: one from a TLS
// listener, or from a unified port (client.portUnification) whose client
// started one. It reports whether to go on serving.
func (c *conn) secure() bool {
	var tc *tls.Conn
	switch nc := c.nc.(type) {
	case *tls.Conn:
		tc = nc
	case *tlsconf.UnifiedConn:
		var err error
		if tc, err = nc.TLS(); err != nil {
			return false // gone before its first byte
		}
	}
	return tc == nil || c.tlsHandshake(tc)
}

// tlsHandshake completes a TLS connection's handshake (under the read
// deadline serve set) and gives the client certificate's x509 id, as
// upstream's NettyServerCnxnFactory.CertificateVerifier. A failure closes
// this connection only.
func (c *conn) tlsHandshake(tc *tls.Conn) bool {
	if err := tc.Handshake(); err != nil {
		c.log.Warn("closing connection: TLS handshake failed", "err", err)
		return false
	}
	certs := tc.ConnectionState().PeerCertificates
	if len(certs) == 0 {
		return true // clientAuth none, or want without a certificate
	}
	if !c.srv.opts.Providers.X509 {
		c.log.Error("closing connection: X509 Auth provider not found: x509 (set authProvider.x509=org.apache.zookeeper.server.auth.X509AuthenticationProvider)")
		return false
	}
	id := tlsconf.ClientID(certs[0])
	c.addAuth(proto.ID{Scheme: "x509", ID: id})
	if su := c.srv.opts.X509SuperUser; su != "" && su == id {
		c.addAuth(proto.ID{Scheme: "super", ID: id})
	}
	return true
}
