package bench

import (
	"encoding/binary"
	"errors"
	"fmt"
	"net"
	"sync"
	"time"

	"github.com/zkbench/zkbench/server/proto"
	"github.com/zkbench/zkbench/server/sasl"
)

// SASLLogin is a DIGEST-MD5 user the driver's sessions log in as, on
// every connection, as upstream's Java client does with a JAAS Client
// section (go-zookeeper has no SASL).
type SASLLogin struct {
	User, Password string
}

// maxConnectResponse bounds the connect response saslConn reads itself.
const maxConnectResponse = 4096

// saslConn logs a go-zookeeper connection in with SASL between the
// connect response and the session's first request: the first Read takes
// the connect response off the wire, runs the sasl exchange (go-zookeeper
// writes nothing until it has that response), then hands the response to
// go-zookeeper; later reads and writes pass through.
type saslConn struct {
	net.Conn
	login   SASLLogin
	timeout time.Duration

	once    sync.Once
	err     error
	pending []byte // the connect response frame, not yet read by go-zookeeper
}

func newSASLConn(c net.Conn, login SASLLogin, timeout time.Duration) net.Conn {
	return &saslConn{Conn: c, login: login, timeout: timeout}
}

func (s *saslConn) Read(p []byte) (int, error) {
	s.once.Do(func() { s.err = s.authenticate() })
	if s.err != nil {
		return 0, s.err
	}
	if len(s.pending) > 0 {
		n := copy(p, s.pending)
		s.pending = s.pending[n:]
		return n, nil
	}
	return s.Conn.Read(p)
}

// authenticate reads the connect response and, when it opened a session,
// runs DIGEST-MD5 on it within the timeout.
func (s *saslConn) authenticate() error {
	s.Conn.SetDeadline(time.Now().Add(s.timeout))
	defer s.Conn.SetDeadline(time.Time{})
	body, err := proto.ReadFrame(s.Conn, nil, maxConnectResponse)
	if err != nil {
		return fmt.Errorf("bench: sasl: connect response: %w", err)
	}
	s.pending = binary.BigEndian.AppendUint32(make([]byte, 0, 4+len(body)), uint32(len(body)))
	s.pending = append(s.pending, body...)
	if len(body) < 8 || int32(binary.BigEndian.Uint32(body[4:8])) <= 0 {
		return nil // no session (expired): go-zookeeper handles it
	}
	cl := sasl.NewClient(s.login.User, s.login.Password, s.login.User, sasl.Protocol, sasl.ServerName)
	tok := cl.Start()
	for xid := int32(1); !cl.Complete(); xid++ {
		if xid > 4 {
			return errors.New("bench: sasl: no completion after 3 rounds")
		}
		req := proto.AppendRequest(nil, proto.RequestHeader{Xid: xid, Type: proto.OpSASL}, &proto.GetSASLRequest{Token: tok})
		if _, err := s.Conn.Write(req); err != nil {
			return fmt.Errorf("bench: sasl: %w", err)
		}
		frame, err := proto.ReadFrame(s.Conn, nil, 2*sasl.MaxToken)
		if err != nil {
			return fmt.Errorf("bench: sasl: reply: %w", err)
		}
		d := proto.NewDecoder(frame)
		var h proto.ReplyHeader
		h.Decode(d)
		if h.Xid != xid {
			return fmt.Errorf("bench: sasl: reply xid %d to request %d", h.Xid, xid)
		}
		if h.Err != proto.ErrOK {
			return fmt.Errorf("bench: sasl: login as %s refused: %v", s.login.User, h.Err)
		}
		var r proto.SetSASLResponse
		r.Decode(d)
		if d.Err() != nil {
			return fmt.Errorf("bench: sasl: reply: %w", d.Err())
		}
		if tok, err = cl.Next(r.Token); err != nil {
			return fmt.Errorf("bench: sasl: %w", err)
		}
	}
	return nil
}
