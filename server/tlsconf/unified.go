package tlsconf

import (
	"bufio"
	"crypto/tls"
	"net"
	"sync"
)

// tlsHandshakeRecord is the first byte a TLS client sends (the record
// type of its ClientHello).
const tlsHandshakeRecord = 0x16

// UnifiedConn is an accepted connection that may speak TLS or plaintext
// (upstream's portUnification and client.portUnification): its first
// byte decides, on the first Read, Write or TLS call.
type UnifiedConn struct {
	net.Conn // the raw connection until decided, then the chosen one
	cfg      *tls.Config
	once     sync.Once
	tls      *tls.Conn
	err      error
}

// Unify serves c as TLS with cfg if the peer starts a TLS handshake, and
// in plaintext otherwise. The peer must speak first, as clients and
// learners do.
func Unify(c net.Conn, cfg *tls.Config) *UnifiedConn {
	return &UnifiedConn{Conn: c, cfg: cfg}
}

func (u *UnifiedConn) decide() {
	br := bufio.NewReader(u.Conn)
	first, err := br.Peek(1)
	if err != nil {
		u.err = err
		return
	}
	raw := &peekedConn{Conn: u.Conn, r: br}
	if first[0] == tlsHandshakeRecord {
		u.tls = tls.Server(raw, u.cfg)
		u.Conn = u.tls
	} else {
		u.Conn = raw
	}
}

// TLS waits for the peer's first byte and returns the TLS connection, or
// nil if the peer speaks plaintext.
func (u *UnifiedConn) TLS() (*tls.Conn, error) {
	u.once.Do(u.decide)
	return u.tls, u.err
}

// Read reads from the chosen connection.
func (u *UnifiedConn) Read(b []byte) (int, error) {
	if _, err := u.TLS(); err != nil {
		return 0, err
	}
	return u.Conn.Read(b)
}

// Write writes to the chosen connection (after the peer's first byte).
func (u *UnifiedConn) Write(b []byte) (int, error) {
	if _, err := u.TLS(); err != nil {
		return 0, err
	}
	return u.Conn.Write(b)
}

// peekedConn reads through the reader that peeked at it.
type peekedConn struct {
	net.Conn
	r *bufio.Reader
}

func (p *peekedConn) Read(b []byte) (int, error) { return p.r.Read(b) }
