package transport

import (
	"context"
	"crypto/tls"
	"fmt"
	"net"
	"time"

	"github.com/zkbench/zkbench/server/tlsconf"
)

// Secure is TLS on the peer ports (upstream's sslQuorum and
// portUnification): every accepted election or quorum connection is a
// TLS server connection, checked by Server (and Verify), and every
// dialled one a TLS client connection configured by Client. The
// handshake runs on the connection's first read or write, in the
// goroutine that serves it, under that goroutine's deadlines: a peer
// that fails it loses that connection only, and never holds up the
// accept loop.
type Secure struct {
	// Server configures accepted connections; nil accepts plaintext
	// only.
	Server *tls.Config
	// Client configures a connection dialled to host; nil dials in
	// plaintext (portUnification without sslQuorum).
	Client func(host string) *tls.Config
	// Verify, if set, checks an accepted peer's certificate against the
	// address it connected from (upstream verifies quorum peers' host
	// names).
	Verify func(cs tls.ConnectionState, remote net.Addr) error
	// AcceptPlain also accepts plaintext connections
	// (portUnification): a connection whose first byte does not start a
	// TLS handshake is served in plaintext, so that servers not yet
	// using TLS still join during a rolling upgrade.
	AcceptPlain bool
	// Auth is SASL between servers (quorum.auth.*); nil: none. It works
	// with or without TLS (Server and Client nil).
	Auth *QuorumAuth
}

// accept secures an accepted connection.
func (s *Secure) accept(c net.Conn) net.Conn {
	if s == nil || s.Server == nil {
		return c
	}
	cfg := s.Server
	if s.Verify != nil {
		cfg = cfg.Clone()
		remote := c.RemoteAddr()
		cfg.VerifyConnection = func(cs tls.ConnectionState) error { return s.Verify(cs, remote) }
	}
	if !s.AcceptPlain {
		return tls.Server(c, cfg)
	}
	return tlsconf.Unify(c, cfg)
}

// dial secures a connection dialled to addr.
func (s *Secure) dial(c net.Conn, addr string) net.Conn {
	if s == nil || s.Client == nil {
		return c
	}
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		host = addr
	}
	return tls.Client(c, s.Client(host))
}

// Secured makes l accept learners as sec says (nil: plaintext).
func (l *QuorumListener) Secured(sec *Secure) *QuorumListener {
	l.sec = sec
	return l
}

// DialQuorumSecure is DialQuorum with sec's TLS (nil: plaintext).
func DialQuorumSecure(ctx context.Context, addr string, timeout time.Duration, sec *Secure) (*QuorumConn, error) {
	d := net.Dialer{Timeout: timeout}
	c, err := d.DialContext(ctx, "tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("transport: dial quorum address %s: %w", addr, err)
	}
	setNoDelay(c)
	return newQuorumConn(sec.dialLeader(c, addr)), nil
}
