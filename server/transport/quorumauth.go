package transport

import (
	"bufio"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"sync"

	"github.com/zkbench/zkbench/server/proto"
	"github.com/zkbench/zkbench/server/sasl"
)

// Upstream's QuorumAuth constants: the protocol and server name of quorum
// DIGEST-MD5, the magic number that starts every QuorumAuthPacket, and the
// packet statuses. Upstream writes the magic as -0xa0dbcafecafe1234L, a
// Java long literal: the hex is two's complement, so the negation is the
// positive 0x5f2435013501edcc.
const (
	QuorumAuthProtocol         = "zookeeper-quorum"
	QuorumAuthServerName       = "zk-quorum-sasl-md5"
	QuorumAuthMagic      int64 = 0x5f2435013501edcc

	authInProgress int32 = 0
	authSuccess    int32 = 1
	authError      int32 = -1

	// maxAuthRounds is upstream's MAX_RETRIES of challenges.
	maxAuthRounds = 5
)

// ErrQuorumAuth is wrapped by the errors of a failed quorum SASL exchange.
var ErrQuorumAuth = errors.New("transport: quorum SASL authentication failed")

// QuorumAuth is SASL DIGEST-MD5 between servers, as upstream's
// SaslQuorumAuthServer and SaslQuorumAuthLearner (quorum.auth.*): a
// connecting server authenticates right after its initial message on the
// election port and first thing on the leader's quorum port, with
// QuorumAuthPacket records (int64 magic, int32 status, buffer token)
// written back to back.
type QuorumAuth struct {
	// Password looks up the users of the QuorumServer section; the
	// accepting side authenticates whoever starts with a QuorumAuthPacket.
	Password func(user string) (string, bool)
	// ServerRequire closes an accepted connection that does not
	// authenticate (quorum.auth.serverRequireSasl); without it a
	// connection that does not try, or fails, is kept, as upstream's.
	ServerRequire bool
	// LearnerRequire makes every connection this server makes
	// authenticate as User with LearnerPassword (the QuorumLearner
	// section; quorum.auth.learnerRequireSasl). Without it the server
	// connects without authenticating, as upstream's.
	LearnerRequire        bool
	User, LearnerPassword string
}

// authServe runs the accepting side of the exchange on a connection whose
// reads go through br; an error means the connection must close.
func (a *QuorumAuth) authServe(w io.Writer, br *bufio.Reader) error {
	if a == nil || a.Password == nil {
		return nil
	}
	head, err := br.Peek(8)
	if err != nil || int64(binary.BigEndian.Uint64(head)) != QuorumAuthMagic {
		if a.ServerRequire {
			return fmt.Errorf("%w: the learner is not trying to authenticate and authentication is required", ErrQuorumAuth)
		}
		return nil
	}
	err = a.exchange(w, br)
	if err != nil && !a.ServerRequire {
		return nil // upstream keeps the learner's connection
	}
	return err
}

func (a *QuorumAuth) exchange(w io.Writer, br *bufio.Reader) error {
	p, err := readAuthPacket(br)
	if err != nil {
		return err
	}
	srv := sasl.NewServer(QuorumAuthProtocol, QuorumAuthServerName, a.Password)
	for round := 0; ; round++ {
		challenge, err := srv.Next(p.Token)
		if err != nil {
			writeAuthPacket(w, authError, []byte{})
			return fmt.Errorf("%w: %w", ErrQuorumAuth, err)
		}
		if srv.Complete() {
			return writeAuthPacket(w, authSuccess, challenge)
		}
		if round >= maxAuthRounds {
			writeAuthPacket(w, authError, challenge)
			return fmt.Errorf("%w: more than %d rounds", ErrQuorumAuth, maxAuthRounds)
		}
		if err := writeAuthPacket(w, authInProgress, challenge); err != nil {
			return err
		}
		if p, err = readAuthPacket(br); err != nil {
			return err
		}
	}
}

// authLearn runs the connecting side of the exchange.
func (a *QuorumAuth) authLearn(w io.Writer, br *bufio.Reader) error {
	if a == nil || !a.LearnerRequire {
		return nil
	}
	cl := sasl.NewClient(a.User, a.LearnerPassword, a.User, QuorumAuthProtocol, QuorumAuthServerName)
	if err := writeAuthPacket(w, authInProgress, cl.Start()); err != nil {
		return err
	}
	p, err := readAuthPacket(br)
	if err != nil {
		return err
	}
	for !cl.Complete() {
		switch p.Status {
		case authSuccess:
			out, err := cl.Next(p.Token)
			if err != nil {
				return fmt.Errorf("%w: %w", ErrQuorumAuth, err)
			}
			if out != nil {
				return fmt.Errorf("%w: protocol error: a response after completion", ErrQuorumAuth)
			}
		case authInProgress:
			out, err := cl.Next(p.Token)
			if err != nil {
				return fmt.Errorf("%w: %w", ErrQuorumAuth, err)
			}
			if err := writeAuthPacket(w, authInProgress, out); err != nil {
				return err
			}
			if p, err = readAuthPacket(br); err != nil {
				return err
			}
		default:
			return fmt.Errorf("%w: the server answered status %d (wrong credentials?)", ErrQuorumAuth, p.Status)
		}
	}
	if p.Status != authSuccess {
		return fmt.Errorf("%w: status %d after completion", ErrQuorumAuth, p.Status)
	}
	return nil
}

func writeAuthPacket(w io.Writer, status int32, token []byte) error {
	e := proto.NewEncoder(nil)
	(&proto.QuorumAuthPacket{Magic: QuorumAuthMagic, Status: status, Token: token}).Encode(e)
	if _, err := w.Write(e.Bytes()); err != nil {
		return fmt.Errorf("transport: send quorum auth packet: %w", err)
	}
	return nil
}

// readAuthPacket reads one QuorumAuthPacket, its token at most
// sasl.MaxToken bytes.
func readAuthPacket(r io.Reader) (*proto.QuorumAuthPacket, error) {
	var head [16]byte
	if _, err := io.ReadFull(r, head[:]); err != nil {
		return nil, fmt.Errorf("transport: read quorum auth packet: %w", err)
	}
	p := &proto.QuorumAuthPacket{
		Magic:  int64(binary.BigEndian.Uint64(head[:8])),
		Status: int32(binary.BigEndian.Uint32(head[8:12])),
	}
	if p.Magic != QuorumAuthMagic {
		return nil, fmt.Errorf("%w: a packet without the quorum auth magic number", ErrQuorumAuth)
	}
	n := int32(binary.BigEndian.Uint32(head[12:]))
	if n < -1 || n > sasl.MaxToken {
		return nil, fmt.Errorf("%w: a token of %d bytes (at most %d)", ErrQuorumAuth, n, sasl.MaxToken)
	}
	if n >= 0 {
		p.Token = make([]byte, n)
		if _, err := io.ReadFull(r, p.Token); err != nil {
			return nil, fmt.Errorf("transport: read quorum auth token: %w", err)
		}
	}
	return p, nil
}

// authConn runs a quorum SASL exchange on its first Read or Write, in the
// goroutine that serves the connection and under its deadlines, as a TLS
// connection runs its handshake; a failed exchange fails every later Read
// and Write.
type authConn struct {
	net.Conn
	br   *bufio.Reader
	run  func(w io.Writer, br *bufio.Reader) error
	once sync.Once
	err  error
}

func newAuthConn(c net.Conn, run func(io.Writer, *bufio.Reader) error) net.Conn {
	return &authConn{Conn: c, br: bufio.NewReader(c), run: run}
}

func (a *authConn) auth() error {
	a.once.Do(func() { a.err = a.run(a.Conn, a.br) })
	return a.err
}

func (a *authConn) Read(b []byte) (int, error) {
	if err := a.auth(); err != nil {
		return 0, err
	}
	return a.br.Read(b)
}

func (a *authConn) Write(b []byte) (int, error) {
	if err := a.auth(); err != nil {
		return 0, err
	}
	return a.Conn.Write(b)
}

// acceptLearner secures a connection accepted on the quorum port: TLS as
// accept, then the accepting side of quorum SASL.
func (s *Secure) acceptLearner(c net.Conn) net.Conn {
	c = s.accept(c)
	if s == nil || s.Auth == nil || s.Auth.Password == nil {
		return c
	}
	return newAuthConn(c, s.Auth.authServe)
}

// dialLeader secures a connection dialled to the quorum port: TLS as
// dial, then the connecting side of quorum SASL.
func (s *Secure) dialLeader(c net.Conn, addr string) net.Conn {
	c = s.dial(c, addr)
	if s == nil || s.Auth == nil || !s.Auth.LearnerRequire {
		return c
	}
	return newAuthConn(c, s.Auth.authLearn)
}

// electionAccepted authenticates an accepted election connection after its
// initial message (reads through br).
func (s *Secure) electionAccepted(c net.Conn, br *bufio.Reader) error {
	if s == nil {
		return nil
	}
	return s.Auth.authServe(c, br)
}

// electionDialled authenticates a dialled election connection after its
// initial message (reads through br).
func (s *Secure) electionDialled(c net.Conn, br *bufio.Reader) error {
	if s == nil {
		return nil
	}
	return s.Auth.authLearn(c, br)
}
