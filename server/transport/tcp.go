package transport

import (
	"bufio"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/zkbench/zkbench/internal/netutil"
)

// Upstream's connection protocol versions (the first long of a connection).
const (
	// ProtocolVersion is upstream's PROTOCOL_VERSION_V1, which this package
	// sends: one election address follows.
	ProtocolVersion int64 = -65536
	// protocolVersionV2 (upstream, multi-address) is accepted on receipt.
	protocolVersionV2 int64 = -65535
	// maxAddrBytes bounds the address string of an initial message
	// (upstream maxBuffer).
	maxAddrBytes = 2048
)

// TCPConfig configures a TCP transport.
type TCPConfig struct {
	MyID int64
	// ListenAddr is the election address to listen on ("127.0.0.1:0"
	// picks a port; see TCP.Addr).
	ListenAddr string
	// Listener, if set, is used instead of listening on ListenAddr; the
	// transport owns and closes it.
	Listener net.Listener
	// Peers maps every other server's id to its election address
	// ("host:port"). An entry for MyID is ignored.
	Peers map[int64]string
	// AdvertiseAddr is the address sent in initial messages; empty means
	// the listener's address.
	AdvertiseAddr string
	Logger        *slog.Logger // nil discards logs
	// MaxMessage bounds a message in both directions; 0 means DefaultMaxMessage.
	MaxMessage int
	// SendQueue is each peer's queue length; 0 means DefaultSendQueue.
	SendQueue int
	// RecvQueue is the receive queue length; 0 means DefaultRecvQueue.
	RecvQueue int
	// DialTimeout bounds a connection attempt and the initial message
	// exchange; 0 means 5 s (upstream cnxTimeout).
	DialTimeout time.Duration
	// MinBackoff and MaxBackoff bound the delay between failed connection
	// attempts to one peer; 0 means 20 ms and 1 s. A server asking a
	// higher id to call it back asks again after MaxBackoff at the soonest.
	MinBackoff, MaxBackoff time.Duration
	// Secure is TLS on election connections (sslQuorum,
	// portUnification); nil means plaintext.
	Secure *Secure
}

// TCP is the real election transport. See the package documentation for
// the connection rules.
type TCP struct {
	cfg       TCPConfig
	log       *slog.Logger
	ln        net.Listener
	advertise string
	ctx       context.Context
	cancel    context.CancelFunc
	in        *inbox

	pmu   sync.RWMutex // guards peers: servers join by reconfig or by calling in
	peers map[int64]*tcpPeer

	mu     sync.Mutex // guards closed and wg.Add
	closed bool
	wg     sync.WaitGroup
}

var _ Transport = (*TCP)(nil)

// NewTCP listens on cfg.ListenAddr and returns a running transport. It
// connects to peers on demand; peers need not be up yet. Cancelling ctx
// has the effect of Close, except that Close must still be called to wait
// for the goroutines.
func NewTCP(ctx context.Context, cfg TCPConfig) (*TCP, error) {
	if cfg.MaxMessage <= 0 {
		cfg.MaxMessage = DefaultMaxMessage
	}
	if cfg.SendQueue <= 0 {
		cfg.SendQueue = DefaultSendQueue
	}
	if cfg.RecvQueue <= 0 {
		cfg.RecvQueue = DefaultRecvQueue
	}
	if cfg.DialTimeout <= 0 {
		cfg.DialTimeout = 5 * time.Second
	}
	if cfg.MinBackoff <= 0 {
		cfg.MinBackoff = 20 * time.Millisecond
	}
	if cfg.MaxBackoff < cfg.MinBackoff {
		cfg.MaxBackoff = max(time.Second, cfg.MinBackoff)
	}
	log := cfg.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	log = log.With("myid", cfg.MyID)
	ln := cfg.Listener
	if ln == nil {
		var lc net.ListenConfig
		var err error
		ln, err = lc.Listen(ctx, "tcp", cfg.ListenAddr)
		if err != nil {
			return nil, fmt.Errorf("transport: server %d: listen on election address %s: %w", cfg.MyID, cfg.ListenAddr, err)
		}
	}
	t := &TCP{cfg: cfg, log: log, ln: ln, advertise: cfg.AdvertiseAddr, peers: map[int64]*tcpPeer{}, in: newInbox(cfg.RecvQueue)}
	if t.advertise == "" {
		t.advertise = ln.Addr().String()
	}
	t.ctx, t.cancel = context.WithCancel(ctx)
	for id, addr := range cfg.Peers {
		if id == cfg.MyID {
			continue
		}
		t.peers[id] = &tcpPeer{t: t, id: id, addr: addr, backoff: cfg.MinBackoff}
	}
	t.spawn(t.acceptLoop)
	t.spawn(func() {
		<-t.ctx.Done()
		ln.Close()
	})
	return t, nil
}

// Addr returns the address the transport listens on.
func (t *TCP) Addr() net.Addr { return t.ln.Addr() }

// Recv implements Transport.
func (t *TCP) Recv() <-chan Message { return t.in.ch }

// Send implements Transport.
func (t *TCP) Send(to int64, payload []byte) {
	if len(payload) == 0 || len(payload) > t.cfg.MaxMessage {
		t.log.Warn("transport: dropping message of bad size", "to", to, "bytes", len(payload), "max", t.cfg.MaxMessage)
		return
	}
	if to == t.cfg.MyID {
		t.in.put(Message{From: to, To: to, Payload: payload})
		return
	}
	p := t.peer(to)
	if p == nil {
		t.log.Warn("transport: dropping message to unknown server", "to", to)
		return
	}
	p.enqueue(payload)
}

// Close implements Transport: it closes the listener and every connection
// and waits for the transport's goroutines.
func (t *TCP) Close() error {
	t.mu.Lock()
	already := t.closed
	t.closed = true
	t.mu.Unlock()
	if already {
		return nil
	}
	t.cancel()
	t.ln.Close()
	t.pmu.RLock()
	for _, p := range t.peers {
		p.shutdown()
	}
	t.pmu.RUnlock()
	t.wg.Wait()
	t.in.close()
	return nil
}

// spawn runs fn in a tracked goroutine unless the transport is closed.
func (t *TCP) spawn(fn func()) bool {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.closed {
		return false
	}
	t.wg.Add(1)
	go func() {
		defer t.wg.Done()
		fn()
	}()
	return true
}

// acceptLoop accepts election connections until the transport closes;
// transient accept errors are retried (see netutil.AcceptRetrying).
func (t *TCP) acceptLoop() {
	for {
		c, err := netutil.AcceptRetrying(t.ctx, t.ln, t.log)
		if err != nil {
			return
		}
		if !t.spawn(func() { t.handleIncoming(c) }) {
			c.Close()
			return
		}
	}
}

// handleIncoming reads an initial message and applies the connection rule.
func (t *TCP) handleIncoming(c net.Conn) {
	c = t.cfg.Secure.accept(c) // a TLS handshake runs in readInitial
	c.SetReadDeadline(time.Now().Add(t.cfg.DialTimeout))
	br := bufio.NewReader(c)
	sid, addr, err := readInitial(br)
	if err == nil {
		c.SetWriteDeadline(time.Now().Add(t.cfg.DialTimeout))
		err = t.cfg.Secure.electionAccepted(c, br) // quorum SASL, as upstream after the initial message
	}
	if err != nil {
		t.log.Warn("transport: dropping connection", "remote", c.RemoteAddr().String(), "err", err)
		c.Close()
		return
	}
	c.SetDeadline(time.Time{})
	p := t.peer(sid)
	switch {
	case sid == t.cfg.MyID:
		t.log.Error("transport: connection claims our own id: configuration error", "remote", c.RemoteAddr().String(), "addr", addr)
		c.Close()
	case p == nil && addr == "":
		t.log.Warn("transport: dropping connection from unknown server", "sid", sid, "remote", c.RemoteAddr().String())
		c.Close()
	case p == nil && sid < t.cfg.MyID:
		// A lower id not in the configuration (a server a reconfig
		// removed, which restarted servers no longer list) hangs up and
		// waits to be called back, as upstream. Upstream calls back the
		// address a caller announces, whoever it is; a forged initial
		// message would make this server dial any address. This server
		// calls back only an address on the host the call came from,
		// once: the peer is forgotten when that connection ends.
		c.Close()
		if !sameHost(t.ctx, addr, c.RemoteAddr()) {
			t.log.Warn("transport: dropping connection from a lower id not in the configuration; not calling back an address on another host",
				"sid", sid, "remote", c.RemoteAddr().String(), "addr", addr)
			return
		}
		if p = t.addCaller(sid, addr); p == nil {
			t.log.Warn("transport: dropping connection from a server not in the configuration: too many such callers",
				"sid", sid, "remote", c.RemoteAddr().String(), "max", maxCallers)
			return
		}
		t.log.Info("transport: calling back a server not in the configuration", "sid", sid, "addr", addr)
		p.callBack()
	case p == nil:
		// A higher id not in the configuration that announces its
		// address (a server a reconfig is about to add) keeps its
		// connection and is answered on it, as upstream; it is
		// forgotten when the connection ends.
		if p = t.addCaller(sid, ""); p == nil {
			t.log.Warn("transport: dropping connection from a server not in the configuration: too many such callers",
				"sid", sid, "remote", c.RemoteAddr().String(), "max", maxCallers)
			c.Close()
			return
		}
		t.log.Info("transport: connection from a server not in the configuration", "sid", sid, "remote", c.RemoteAddr().String(), "addr", addr)
		p.install(c, br)
	case sid < t.cfg.MyID:
		// We win the challenge: drop theirs and call back.
		c.Close()
		p.callBack()
	default:
		p.install(c, br)
	}
}

func (t *TCP) peer(id int64) *tcpPeer {
	t.pmu.RLock()
	defer t.pmu.RUnlock()
	return t.peers[id]
}

// maxCallers bounds the servers not in the configuration that may hold a
// connection at once.
const maxCallers = 16

// addPeer returns the peer for id, creating it with addr if it is new. A
// caller not in the configuration (see addCaller) becomes a peer proper.
func (t *TCP) addPeer(id int64, addr string) *tcpPeer {
	t.pmu.Lock()
	defer t.pmu.Unlock()
	p := t.peers[id]
	if p == nil {
		p = &tcpPeer{t: t, id: id, addr: addr, backoff: t.cfg.MinBackoff}
		t.peers[id] = p
		return p
	}
	p.mu.Lock()
	if p.addr == "" || p.once {
		p.addr = addr
		p.once = false
	}
	p.mu.Unlock()
	return p
}

// addCaller returns a peer for a server that called in but is not in the
// configuration: messages to it go on its connection only, and it is
// dropped when that connection ends. A higher id keeps the connection it
// called on (callBack is ""); a lower id is called back once at callBack.
// It returns nil if maxCallers such peers exist.
func (t *TCP) addCaller(id int64, callBack string) *tcpPeer {
	t.pmu.Lock()
	defer t.pmu.Unlock()
	if p := t.peers[id]; p != nil {
		return p
	}
	n := 0
	for _, p := range t.peers {
		if p.caller() {
			n++
		}
	}
	if n >= maxCallers {
		return nil
	}
	p := &tcpPeer{t: t, id: id, addr: callBack, once: callBack != "", backoff: t.cfg.MinBackoff}
	t.peers[id] = p
	return p
}

// forgetCaller removes p from the peer table if it is a caller without a
// connection.
func (t *TCP) forgetCaller(p *tcpPeer) {
	t.pmu.Lock()
	defer t.pmu.Unlock()
	p.mu.Lock()
	gone := (p.addr == "" || p.once) && p.conn == nil && !p.dialing
	p.mu.Unlock()
	if gone && t.peers[p.id] == p {
		delete(t.peers, p.id)
		p.shutdown()
	}
}

// AddPeers adds servers to talk to (a reconfiguration added them); the
// address of a server already known is kept.
func (t *TCP) AddPeers(addrs map[int64]string) {
	for id, addr := range addrs {
		if id != t.cfg.MyID {
			t.addPeer(id, addr)
		}
	}
}

// writeInitial writes upstream's initial message (version 1).
func writeInitial(w io.Writer, myID int64, addr string) error {
	b := make([]byte, 0, 20+len(addr))
	v := ProtocolVersion
	b = binary.BigEndian.AppendUint64(b, uint64(v))
	b = binary.BigEndian.AppendUint64(b, uint64(myID))
	b = binary.BigEndian.AppendUint32(b, uint32(len(addr)))
	b = append(b, addr...)
	_, err := w.Write(b)
	return err
}

// readInitial parses an initial message the way upstream does: a
// non-negative first long is a bare server id (pre-3.5 peers); otherwise it
// must be a known protocol version followed by the id and the addresses.
func readInitial(r io.Reader) (sid int64, addr string, err error) {
	var hdr [8]byte
	if _, err := io.ReadFull(r, hdr[:]); err != nil {
		return 0, "", fmt.Errorf("transport: reading initial message: %w", err)
	}
	version := int64(binary.BigEndian.Uint64(hdr[:]))
	if version >= 0 {
		return version, "", nil
	}
	if version != ProtocolVersion && version != protocolVersionV2 {
		return 0, "", fmt.Errorf("%w: unknown protocol version %d", ErrBadHeader, version)
	}
	var rest [12]byte
	if _, err := io.ReadFull(r, rest[:]); err != nil {
		return 0, "", fmt.Errorf("%w: truncated: %w", ErrBadHeader, err)
	}
	sid = int64(binary.BigEndian.Uint64(rest[:8]))
	n := int32(binary.BigEndian.Uint32(rest[8:]))
	if n <= 0 || n > maxAddrBytes {
		return 0, "", fmt.Errorf("%w: server %d: unreasonable address length %d", ErrBadHeader, sid, n)
	}
	buf := make([]byte, n)
	if _, err := io.ReadFull(r, buf); err != nil {
		return 0, "", fmt.Errorf("%w: server %d: address truncated: %w", ErrBadHeader, sid, err)
	}
	addr = string(buf)
	for _, a := range strings.Split(addr, "|") {
		host, port, err := net.SplitHostPort(a)
		if err != nil || host == "" {
			return 0, "", fmt.Errorf("%w: server %d: badly formed address %q", ErrBadHeader, sid, a)
		}
		if _, err := strconv.ParseUint(port, 10, 16); err != nil {
			return 0, "", fmt.Errorf("%w: server %d: bad port in %q", ErrBadHeader, sid, a)
		}
	}
	return sid, addr, nil
}

// tcpPeer is the connection state for one remote server.
type tcpPeer struct {
	t    *TCP
	id   int64
	addr string // election address; "" for a caller not in the configuration (never dialled)
	once bool   // a caller not in the configuration, dialled only to call it back

	mu       sync.Mutex
	queue    [][]byte // oldest first, at most SendQueue long
	last     []byte   // last message written, re-sent on a new connection
	conn     *tcpConn
	dialing  bool
	wantConn bool // a lower-id peer asked us to connect back
	backoff  time.Duration
	notUntil time.Time   // no dial before this
	retry    *time.Timer // pending retry, if any
	down     bool
}

// tcpConn is one established connection and its writer's wake-up channel.
type tcpConn struct {
	c     net.Conn
	kick  chan struct{}
	done  chan struct{}
	close sync.Once
}

// wake tells the connection's writer that there is work; it never blocks.
func (tc *tcpConn) wake() {
	select {
	case tc.kick <- struct{}{}:
	default:
	}
}

func (tc *tcpConn) shut() {
	tc.close.Do(func() {
		close(tc.done)
		tc.c.Close()
	})
}

func (p *tcpPeer) enqueue(payload []byte) {
	p.mu.Lock()
	if len(p.queue) >= p.t.cfg.SendQueue {
		// Newer notifications supersede older ones (upstream's circular queue).
		p.queue = append(p.queue[:0], p.queue[1:]...)
	}
	p.queue = append(p.queue, payload)
	tc := p.conn
	p.mu.Unlock()
	if tc != nil {
		tc.wake()
		return
	}
	p.maybeDial()
}

// callBack handles a connection from this lower-id peer: it may believe
// our connection is gone, so drop ours and dial it afresh.
func (p *tcpPeer) callBack() {
	p.mu.Lock()
	old := p.conn
	p.conn = nil
	p.wantConn = true
	p.notUntil = time.Time{}
	p.mu.Unlock()
	if old != nil {
		old.shut()
	}
	p.maybeDial()
}

// maybeDial starts a connection attempt if one is needed and allowed now,
// or schedules one for when the backoff ends.
func (p *tcpPeer) maybeDial() {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.down || p.addr == "" || p.conn != nil || p.dialing || (len(p.queue) == 0 && !p.wantConn) || (p.once && !p.wantConn) {
		return
	}
	if wait := time.Until(p.notUntil); wait > 0 {
		if p.retry == nil {
			p.retry = time.AfterFunc(wait, func() {
				p.mu.Lock()
				p.retry = nil
				p.mu.Unlock()
				p.maybeDial()
			})
		}
		return
	}
	p.dialing = true
	if !p.t.spawn(p.dial) {
		p.dialing = false
	}
}

func (p *tcpPeer) dial() {
	t := p.t
	d := net.Dialer{Timeout: t.cfg.DialTimeout}
	var br *bufio.Reader
	c, err := d.DialContext(t.ctx, "tcp", p.addr)
	if err == nil {
		c = t.cfg.Secure.dial(c, p.addr) // a TLS handshake runs in writeInitial
		c.SetDeadline(time.Now().Add(t.cfg.DialTimeout))
		err = writeInitial(c, t.cfg.MyID, t.advertise)
		br = bufio.NewReader(c)
		if err == nil {
			err = t.cfg.Secure.electionDialled(c, br) // quorum SASL, as upstream after the initial message
		}
		c.SetDeadline(time.Time{})
		if err != nil {
			c.Close()
		}
	}
	if err != nil {
		if t.ctx.Err() == nil {
			t.log.Debug("transport: cannot connect", "sid", p.id, "addr", p.addr, "err", err)
		}
		p.failed()
		return
	}
	if p.id > t.cfg.MyID {
		// We lose the challenge: the peer connects back. Asking again
		// before it had the chance would make it drop the connection it
		// is building, so the next ask waits MaxBackoff.
		c.Close()
		p.mu.Lock()
		p.dialing = false
		p.notUntil = time.Now().Add(t.cfg.MaxBackoff)
		p.mu.Unlock()
		p.maybeDial()
		return
	}
	p.install(c, br)
}

// failed ends a dial attempt that produced no connection. A caller
// called back once is forgotten instead of redialled.
func (p *tcpPeer) failed() {
	p.mu.Lock()
	p.dialing = false
	if p.once {
		p.wantConn = false
		p.mu.Unlock()
		p.t.forgetCaller(p)
		return
	}
	p.notUntil = time.Now().Add(p.backoff)
	p.backoff = min(2*p.backoff, p.t.cfg.MaxBackoff)
	p.mu.Unlock()
	p.maybeDial()
}

// install makes c the connection to this peer, replacing any other.
func (p *tcpPeer) install(c net.Conn, br *bufio.Reader) {
	tc := &tcpConn{c: c, kick: make(chan struct{}, 1), done: make(chan struct{})}
	p.mu.Lock()
	if p.down {
		p.mu.Unlock()
		c.Close()
		return
	}
	old := p.conn
	p.conn = tc
	p.dialing = false
	p.wantConn = false
	p.backoff = p.t.cfg.MinBackoff
	p.notUntil = time.Time{}
	p.mu.Unlock()
	if old != nil {
		old.shut()
	}
	p.t.log.Debug("transport: connected", "sid", p.id, "remote", c.RemoteAddr().String())
	tc.wake()
	if !p.t.spawn(func() { p.writeLoop(tc) }) || !p.t.spawn(func() { p.readLoop(tc, br) }) {
		p.lost(tc, nil)
	}
}

// lost retires a broken connection and reconnects if messages are waiting.
func (p *tcpPeer) lost(tc *tcpConn, err error) {
	p.mu.Lock()
	current := p.conn == tc
	if current {
		p.conn = nil
	}
	p.mu.Unlock()
	tc.shut()
	if current && err != nil && p.t.ctx.Err() == nil {
		p.t.log.Info("transport: connection lost", "sid", p.id, "err", err)
	}
	if current {
		p.maybeDial()
		p.t.forgetCaller(p)
	}
}

// caller reports whether p is a server not in the configuration that
// called in (it has no address to dial, or one to call it back once).
func (p *tcpPeer) caller() bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.addr == "" || p.once
}

// sameHost reports whether the address a caller announces is on the host
// its connection comes from (a host name is looked up, within a second).
func sameHost(ctx context.Context, announced string, remote net.Addr) bool {
	host, _, err := net.SplitHostPort(announced)
	ta, ok := remote.(*net.TCPAddr)
	if err != nil || !ok {
		return false
	}
	if ip := net.ParseIP(host); ip != nil {
		return ip.Equal(ta.IP)
	}
	ctx, cancel := context.WithTimeout(ctx, time.Second)
	defer cancel()
	addrs, err := net.DefaultResolver.LookupIPAddr(ctx, host)
	if err != nil {
		return false
	}
	return slices.ContainsFunc(addrs, func(a net.IPAddr) bool { return a.IP.Equal(ta.IP) })
}

func (p *tcpPeer) writeLoop(tc *tcpConn) {
	bw := bufio.NewWriter(tc.c)
	first := true
	for {
		select {
		case <-tc.done:
			return
		case <-tc.kick:
		}
		p.mu.Lock()
		batch := p.queue
		p.queue = nil
		if first && len(batch) == 0 && p.last != nil {
			// The last message may have died with the previous connection.
			batch = [][]byte{p.last}
		}
		if len(batch) > 0 {
			p.last = batch[len(batch)-1]
		}
		p.mu.Unlock()
		first = false
		if len(batch) == 0 {
			continue
		}
		tc.c.SetWriteDeadline(time.Now().Add(p.t.cfg.DialTimeout))
		var err error
		for _, m := range batch {
			if err = writeFrame(bw, m); err != nil {
				break
			}
		}
		if err == nil {
			err = bw.Flush()
		}
		if err != nil {
			p.lost(tc, fmt.Errorf("transport: writing to server %d: %w", p.id, err))
			return
		}
	}
}

func (p *tcpPeer) readLoop(tc *tcpConn, br *bufio.Reader) {
	for {
		b, err := readFrame(br, p.t.cfg.MaxMessage)
		if err != nil {
			select {
			case <-tc.done:
				p.lost(tc, nil)
			default:
				if errors.Is(err, ErrTooLarge) {
					p.t.log.Warn("transport: dropping connection", "sid", p.id, "err", err)
				}
				p.lost(tc, fmt.Errorf("transport: reading from server %d: %w", p.id, err))
			}
			return
		}
		if p.t.in.put(Message{From: p.id, To: p.t.cfg.MyID, Payload: b}) {
			p.t.log.Debug("transport: receive queue full, dropped oldest message")
		}
	}
}

func (p *tcpPeer) shutdown() {
	p.mu.Lock()
	p.down = true
	tc := p.conn
	p.conn = nil
	if p.retry != nil {
		p.retry.Stop()
		p.retry = nil
	}
	p.mu.Unlock()
	if tc != nil {
		tc.shut()
	}
}

func writeFrame(w *bufio.Writer, b []byte) error {
	var hdr [4]byte
	binary.BigEndian.PutUint32(hdr[:], uint32(len(b)))
	if _, err := w.Write(hdr[:]); err != nil {
		return err
	}
	_, err := w.Write(b)
	return err
}

// readFrame reads one length-prefixed frame of at most maxLen bytes.
func readFrame(r io.Reader, maxLen int) ([]byte, error) {
	var hdr [4]byte
	if _, err := io.ReadFull(r, hdr[:]); err != nil {
		return nil, err
	}
	n := int32(binary.BigEndian.Uint32(hdr[:]))
	if n <= 0 || int(n) > maxLen {
		return nil, fmt.Errorf("%w: frame length %d (max %d)", ErrTooLarge, n, maxLen)
	}
	b := make([]byte, n)
	if _, err := io.ReadFull(r, b); err != nil {
		return nil, err
	}
	return b, nil
}
