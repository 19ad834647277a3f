package server

import (
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/zkbench/zkbench/server/config"
	"github.com/zkbench/zkbench/server/tlsconf"
	"github.com/zkbench/zkbench/server/transport"
)

// clientTLS is the TLS configuration of the client ports, nil when
// neither secureClientPort nor client.portUnification asks for TLS. Bad
// stores or settings are an error naming the key, the file and the
// reason; log, if set, gets the warnings.
func clientTLS(cfg *config.Config, log *slog.Logger) (*tls.Config, error) {
	if cfg.SecureClientPort == 0 && !clientUnified(cfg) {
		return nil, nil
	}
	m, err := tlsconf.Load(cfg, tlsconf.Client, time.Now())
	if err == nil {
		err = m.CanServe()
	}
	if err != nil {
		return nil, fmt.Errorf("server: secureClientPort %d: %w", cfg.SecureClientPort, err)
	}
	if log != nil {
		for _, w := range m.Warnings {
			log.Warn("config: " + w)
		}
	}
	return m.Server(), nil
}

// listenSecure binds the secure client port with tc.
func listenSecure(cfg *config.Config, tc *tls.Config) (net.Listener, error) {
	l, err := net.Listen("tcp", net.JoinHostPort(cfg.SecureClientPortAddress, strconv.Itoa(cfg.SecureClientPort)))
	if err != nil {
		return nil, fmt.Errorf("server: bind secure client port: %w", err)
	}
	return tls.NewListener(l, tc), nil
}

// merged accepts from several listeners as one, so that the plain and the
// secure client ports share one clientconn.Server. Its address is the
// first listener's.
type merged struct {
	ls    []net.Listener
	conns chan net.Conn
	errs  chan error
	done  chan struct{}
	once  sync.Once
}

func mergeListeners(ls ...net.Listener) net.Listener {
	if len(ls) == 1 {
		return ls[0]
	}
	m := &merged{ls: ls, conns: make(chan net.Conn), errs: make(chan error), done: make(chan struct{})}
	for _, l := range ls {
		go m.accept(l)
	}
	return m
}

// accept hands l's connections and errors to Accept (which paces retries
// of transient errors) until l is closed.
func (m *merged) accept(l net.Listener) {
	for {
		c, err := l.Accept()
		if err != nil {
			if errors.Is(err, net.ErrClosed) {
				m.Close()
				return
			}
			select {
			case m.errs <- err:
				continue
			case <-m.done:
				return
			}
		}
		select {
		case m.conns <- c:
		case <-m.done:
			c.Close()
			return
		}
	}
}

func (m *merged) Accept() (net.Conn, error) {
	select {
	case c := <-m.conns:
		return c, nil
	case err := <-m.errs:
		return nil, err
	case <-m.done:
		return nil, net.ErrClosed
	}
}

// Close closes every listener.
func (m *merged) Close() error {
	var err error
	m.once.Do(func() {
		close(m.done)
		for _, l := range m.ls {
			err = errors.Join(err, l.Close())
		}
	})
	return err
}

func (m *merged) Addr() net.Addr { return m.ls[0].Addr() }

// x509SuperUser is X509AuthenticationProvider.superUser.
func x509SuperUser(cfg *config.Config) string {
	v, _ := cfg.Property("zookeeper.X509AuthenticationProvider.superUser")
	return v
}

// quorumSecure is TLS on the peer ports from sslQuorum, portUnification
// and the ssl.quorum.* settings; nil when neither is on. Bad stores or
// settings are an error naming the key, the file and the reason.
func quorumSecure(cfg *config.Config, log *slog.Logger) (*transport.Secure, error) {
	sslQuorum, unified := cfg.Other["sslQuorum"] == "true", cfg.Other["portUnification"] == "true"
	if !sslQuorum && !unified {
		return nil, nil
	}
	m, err := tlsconf.Load(cfg, tlsconf.Quorum, time.Now())
	if err == nil {
		err = m.CanServe()
	}
	if err != nil {
		return nil, fmt.Errorf("server: sslQuorum: %w", err)
	}
	for _, w := range m.Warnings {
		log.Warn("config: " + w)
	}
	sec := &transport.Secure{Server: m.Server(), Verify: m.CheckPeerHost, AcceptPlain: unified}
	if sslQuorum {
		sec.Client = m.Client
	}
	return sec, nil
}

// clientUnified is zookeeper.client.portUnification: the plain client
// port takes TLS clients too.
func clientUnified(cfg *config.Config) bool {
	v, _ := cfg.Property("zookeeper.client.portUnification")
	return strings.EqualFold(strings.TrimSpace(v), "true")
}

// unifyClientPort makes l take TLS clients beside plaintext ones when
// client.portUnification asks for it.
func unifyClientPort(cfg *config.Config, l net.Listener, tc *tls.Config) net.Listener {
	if tc == nil || !clientUnified(cfg) {
		return l
	}
	return unifiedListener{l, tc}
}

// unifiedListener serves each connection in TLS or plaintext, as its
// client's first byte says.
type unifiedListener struct {
	net.Listener
	cfg *tls.Config
}

func (l unifiedListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err != nil {
		return nil, err
	}
	return tlsconf.Unify(c, l.cfg), nil
}
