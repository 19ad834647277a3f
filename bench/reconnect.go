package bench

import (
	"context"
	"crypto/tls"
	"fmt"
	"log/slog"
	"net"
	"sync"
	"time"

	"github.com/go-zookeeper/zk"
)

// orderedHosts is the tight reconnect policy's zk.HostProvider. It ignores
// the (shuffled) list zk.Connect passes to Init and uses its own order: the
// client's member first, then the others. After a full round without a
// successful connection it sleeps itself and never reports retryStart, so
// go-zookeeper's fixed 1 s pause never happens. The pause is spread between
// half and one and a half times the policy's RoundPause by the client's
// index, so that a thousand clients do not knock on a recovering server in
// step.
type orderedHosts struct {
	mu      sync.Mutex
	servers []string
	pause   time.Duration
	curr    int
	last    int // index of the last server connected to, -1 before any
	tried   int // servers tried since the last success
}

var _ zk.HostProvider = (*orderedHosts)(nil)

func newOrderedHosts(servers []string, pause time.Duration, client int) *orderedHosts {
	// The fractional parts of multiples of the golden ratio spread evenly.
	const phi = 0.6180339887498949
	f := float64(client+1) * phi
	f -= float64(int64(f))
	pause = time.Duration(float64(pause) * (0.5 + f))
	return &orderedHosts{servers: servers, pause: pause, curr: -1, last: -1}
}

// Init implements zk.HostProvider; the order given at construction wins.
func (h *orderedHosts) Init([]string) error {
	if len(h.servers) == 0 {
		return fmt.Errorf("bench: no servers")
	}
	return nil
}

// Len implements zk.HostProvider.
func (h *orderedHosts) Len() int { return len(h.servers) }

// Next implements zk.HostProvider.
func (h *orderedHosts) Next() (string, bool) {
	h.mu.Lock()
	if h.tried >= len(h.servers) {
		h.tried = 0
		h.mu.Unlock()
		time.Sleep(h.pause) // the connect loop's goroutine: nothing else waits on it
		h.mu.Lock()
	}
	h.curr = (h.curr + 1) % len(h.servers)
	h.tried++
	s := h.servers[h.curr]
	h.mu.Unlock()
	return s, false
}

// Connected implements zk.HostProvider.
func (h *orderedHosts) Connected() {
	h.mu.Lock()
	h.last = h.curr
	h.tried = 0
	h.mu.Unlock()
}

// clientServers returns the connection list of a client whose own member is
// serving[primary]: that member first, then the others in order.
func clientServers(serving []Target, primary int) []string {
	out := make([]string, 0, len(serving))
	for i := range serving {
		out = append(out, serving[(primary+i)%len(serving)].Addr)
	}
	return out
}

// dial opens a session for one client (asynchronously: the session is
// established in the background and reported to cb).
//
// onTimeout, if not nil, is called when a connection's read times out:
// go-zookeeper then drops the connection and fails the requests on it with
// the same error as any connection loss; the callback lets the driver tell
// the two apart.
func (o Options) dial(client int, servers []string, logger *slog.Logger, cb zk.EventCallback, onTimeout func()) (*zk.Conn, error) {
	// go-zookeeper gives every connection a 1.5 MiB send buffer and a
	// 1.5 MiB receive buffer; a thousand clients do not need 3 GiB.
	buf := o.bufferSize()
	opts := optList(
		zk.WithLogger(zkLogger{logger}),
		zk.WithLogInfo(false),
		zk.WithEventCallback(cb),
		zk.WithMaxConnBufferSize(buf),
		zk.WithMaxBufferSize(buf),
	)
	tight := o.Reconnect.Mode == ReconnectTight
	if tight {
		opts = append(opts, zk.WithHostProvider(newOrderedHosts(servers, o.Reconnect.RoundPause, client)))
	}
	opts = append(opts, zk.WithDialer(func(network, addr string, timeout time.Duration) (net.Conn, error) {
		if tight {
			timeout = o.Reconnect.DialTimeout
		}
		c, err := net.DialTimeout(network, addr, timeout)
		if err != nil {
			return nil, err
		}
		if o.TLS != nil {
			if c, err = dialTLS(c, addr, o.TLS, timeout); err != nil {
				return nil, err
			}
		}
		if o.SASL != nil {
			c = newSASLConn(c, *o.SASL, timeout)
		}
		return newDriverConn(c, o.SessionTimeout*2/3, onTimeout), nil
	}))
	conn, _, err := zk.Connect(servers, o.SessionTimeout, opts...)
	return conn, err
}

// bufferSize is the largest packet a client sends or receives: a multi of
// MultiSize values (or one value), with room for headers and paths.
func (o Options) bufferSize() int {
	return max(64<<10, o.Spec.ValueSize*max(1, o.Spec.MultiSize)+16<<10)
}

// optList lets the compiler name go-zookeeper's unexported option type.
func optList[T any](v ...T) []T { return v }

// zkLogger sends go-zookeeper's log lines to slog at debug level.
type zkLogger struct{ l *slog.Logger }

// Printf implements zk.Logger.
func (z zkLogger) Printf(format string, args ...any) {
	// Reconnect loops log every failed dial: format only when wanted.
	if z.l.Enabled(context.Background(), slog.LevelDebug) {
		z.l.Debug(fmt.Sprintf(format, args...), "source", "go-zookeeper")
	}
}

// dialTLS runs a TLS client handshake on c within timeout, so that a
// refused certificate fails the dial rather than the session's first
// request.
func dialTLS(c net.Conn, addr string, cfg *tls.Config, timeout time.Duration) (net.Conn, error) {
	if cfg.ServerName == "" {
		host, _, err := net.SplitHostPort(addr)
		if err != nil {
			host = addr
		}
		cfg = cfg.Clone()
		cfg.ServerName = host
	}
	tc := tls.Client(c, cfg)
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	if err := tc.HandshakeContext(ctx); err != nil {
		c.Close()
		return nil, fmt.Errorf("bench: TLS handshake with %s: %w", addr, err)
	}
	return tc, nil
}
