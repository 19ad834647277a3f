package clientconn

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"sync"
	"sync/atomic"
	"time"

	"github.com/zkbench/zkbench/internal/netutil"
	"github.com/zkbench/zkbench/server/metrics"
	"github.com/zkbench/zkbench/server/proto"
	"github.com/zkbench/zkbench/server/tree"
)

// Options configure a Server.
type Options struct {
	Backend Backend
	Logger  *slog.Logger
	// Metrics records request latencies (readlatency, updatelatency),
	// bytes received and connections accepted; nil records nothing.
	Metrics *metrics.Server
	// MaxBuffer is the largest request accepted and the largest reply
	// sent (jute.maxbuffer).
	MaxBuffer int
	// MaxOutput caps, in bytes, the replies and events queued on one
	// connection: above it the server stops reading the connection until
	// the client has taken half of it. 0 means twice MaxBuffer.
	MaxOutput int
	// MinSessionTimeout and MaxSessionTimeout bound negotiated timeouts (ms).
	MinSessionTimeout, MaxSessionTimeout int32
	// MaxClientCnxns limits connections per client IP; 0 means no limit.
	MaxClientCnxns int
	// FourLetterWords is the whitelist of four-letter words; nil or an entry
	// "*" allows all.
	FourLetterWords map[string]bool
	// SuperDigest is "super:<base64 sha1>" from
	// DigestAuthenticationProvider.superDigest; empty disables it.
	SuperDigest string
	// SkipACL disables ACL checks on reads (zookeeper.skipACL).
	SkipACL bool
	// Providers are the registered authentication providers. An ACL
	// entry of a scheme without one grants nothing. With Providers.X509
	// the certificate a client presents on a TLS connection makes the id
	// x509:<its subject> (tlsconf.ClientID); without it such a client is
	// disconnected, as upstream ("X509 Auth provider not found").
	Providers tree.Providers
	// X509SuperUser is X509AuthenticationProvider.superUser: the subject
	// that is also super.
	X509SuperUser string
	// SASL configures client SASL (the sasl request) and enforced
	// authentication; the zero value has neither.
	SASL SASL
	// Version is reported by srvr/stat/envi.
	Version string
	// Config lines for the conf four-letter word, in order.
	Config [][2]string
	// ConfigTail, if set, is printed after Config by conf: what changes
	// while the server runs (an ensemble member's membership).
	ConfigTail func() string
	// Env lines for the envi four-letter word, in order.
	Env [][2]string
	// Admit decides, per connect request, whether to open a session: an
	// ensemble member that is electing or syncing refuses clients, a
	// leader with leaderServes=no refuses them, and a member serving
	// read-only admits only clients that asked for read-only sessions. Nil
	// admits everyone. Four-letter words are answered regardless.
	Admit func(readOnlyClient bool) bool
}

// Server accepts client connections. Create it with New and run Serve.
type Server struct {
	opts  Options
	log   *slog.Logger
	stats counters

	mu       sync.Mutex
	conns    map[*conn]struct{}
	sessions map[int64]*conn
	perIP    map[netip.Addr]int
	started  time.Time
}

// counters are the request statistics srvr and mntr report.
type counters struct {
	received, sent           atomic.Int64
	latencyTotal, latencyCnt atomic.Int64 // microseconds
	latencyMin, latencyMax   atomic.Int64
}

// observe records the latencies of n requests that took d each.
func (c *counters) observe(d time.Duration, n int64) {
	us := d.Microseconds()
	c.latencyTotal.Add(us * n)
	c.latencyCnt.Add(n)
	for {
		cur := c.latencyMax.Load()
		if us <= cur || c.latencyMax.CompareAndSwap(cur, us) {
			break
		}
	}
	for {
		cur := c.latencyMin.Load()
		if (cur != 0 && us >= cur) || c.latencyMin.CompareAndSwap(cur, max(us, 1)) {
			break
		}
	}
}

func (c *counters) reset() {
	c.received.Store(0)
	c.sent.Store(0)
	c.latencyTotal.Store(0)
	c.latencyCnt.Store(0)
	c.latencyMin.Store(0)
	c.latencyMax.Store(0)
}

// New returns a Server with opts; defaults fill what opts leaves zero.
func New(opts Options) *Server {
	if opts.Logger == nil {
		opts.Logger = slog.Default()
	}
	if opts.MaxBuffer <= 0 {
		opts.MaxBuffer = proto.DefaultMaxBuffer
	}
	if opts.MaxOutput <= 0 {
		opts.MaxOutput = 2 * opts.MaxBuffer
	}
	if opts.MinSessionTimeout <= 0 {
		opts.MinSessionTimeout = 4000
	}
	if opts.MaxSessionTimeout <= 0 {
		opts.MaxSessionTimeout = 40000
	}
	if opts.Version == "" {
		opts.Version = DefaultVersion
	}
	opts.Metrics = opts.Metrics.Or()
	return &Server{
		opts:     opts,
		log:      opts.Logger,
		conns:    make(map[*conn]struct{}),
		sessions: make(map[int64]*conn),
		perIP:    make(map[netip.Addr]int),
		started:  time.Now(),
	}
}

// DefaultVersion is what srvr reports: upstream's format, so that parsers
// of upstream's output (go-zookeeper's FLWSrvr among them) accept it.
const DefaultVersion = "3.8.0-zkbench-go, built on 11/22/2026 00:00 GMT"

// Serve accepts connections on l until ctx is done (it then returns nil)
// or l is closed. Transient accept errors, such as running out of file
// descriptors, are logged and retried. It closes every connection before
// returning.
func (s *Server) Serve(ctx context.Context, l net.Listener) error {
	stop := context.AfterFunc(ctx, func() { l.Close() })
	defer stop()
	defer s.closeAll()
	for {
		nc, err := netutil.AcceptRetrying(ctx, l, s.log)
		if err != nil {
			if ctx.Err() != nil {
				return nil
			}
			return fmt.Errorf("clientconn: %w", err)
		}
		s.opts.Metrics.ConnectionRequests.Inc()
		s.accept(nc)
	}
}

func (s *Server) accept(nc net.Conn) {
	addr := remoteAddr(nc)
	s.mu.Lock()
	if s.opts.MaxClientCnxns > 0 && s.perIP[addr] >= s.opts.MaxClientCnxns {
		s.mu.Unlock()
		s.log.Warn("too many connections from client", "remote", addr, "max", s.opts.MaxClientCnxns)
		nc.Close()
		return
	}
	s.perIP[addr]++
	c := newConn(s, nc, addr)
	s.conns[c] = struct{}{}
	s.mu.Unlock()
	go c.serve()
}

func remoteAddr(nc net.Conn) netip.Addr {
	if ta, ok := nc.RemoteAddr().(*net.TCPAddr); ok {
		if a, ok := netip.AddrFromSlice(ta.IP); ok {
			return a.Unmap()
		}
	}
	return netip.Addr{}
}

func (s *Server) removeConn(c *conn) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.conns[c]; !ok {
		return
	}
	delete(s.conns, c)
	if n := s.perIP[c.addr] - 1; n > 0 {
		s.perIP[c.addr] = n
	} else {
		delete(s.perIP, c.addr)
	}
	if id := c.session.Load(); id != 0 && s.sessions[id] == c {
		delete(s.sessions, id)
	}
}

// bindSession records that c now carries session id, closing an older
// connection of the same session (the client moved to this one).
func (s *Server) bindSession(id int64, c *conn) {
	s.mu.Lock()
	old := s.sessions[id]
	s.sessions[id] = c
	s.mu.Unlock()
	if old != nil && old != c {
		old.close("session moved to a new connection")
	}
}

// CloseSession closes the connection of a closed or expired session.
func (s *Server) CloseSession(id int64) {
	s.mu.Lock()
	c := s.sessions[id]
	s.mu.Unlock()
	if c != nil {
		c.closeAfterFlush("session closed")
	}
}

// CloseAllClients closes every client connection (e.g. when a server stops
// serving because it lost the leader); clients reconnect elsewhere.
func (s *Server) CloseAllClients(reason string) {
	s.closeAllReason(reason)
}

func (s *Server) closeAll() { s.closeAllReason("server shutting down") }

func (s *Server) closeAllReason(reason string) {
	s.mu.Lock()
	conns := make([]*conn, 0, len(s.conns))
	for c := range s.conns {
		conns = append(conns, c)
	}
	s.mu.Unlock()
	for _, c := range conns {
		c.close(reason)
	}
}

// NumConnections returns the number of open client connections.
func (s *Server) NumConnections() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.conns)
}

func (s *Server) snapshotConns() []*conn {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]*conn, 0, len(s.conns))
	for c := range s.conns {
		out = append(out, c)
	}
	return out
}

func (s *Server) negotiateTimeout(requested int32) int32 {
	return min(max(requested, s.opts.MinSessionTimeout), s.opts.MaxSessionTimeout)
}
