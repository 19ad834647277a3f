package history

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"net"
	"path"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/go-zookeeper/zk"
)

// Options configure RunClients.
type Options struct {
	// Addrs are the servers' client addresses (host:port). Client i starts
	// at Addrs[i%len(Addrs)] and fails over round robin.
	Addrs []string
	// Clients is the number of concurrent clients, each with its own
	// session (default 4).
	Clients int
	// Keys is the number of znodes, Root/k0 .. Root/k<Keys-1> (default 3).
	Keys int
	// Root is the parent of the keys (default "/hist"). Use a fresh root per
	// run on a reused ensemble: a write left in flight by an earlier run
	// could otherwise land in this one.
	Root string
	// Seed makes the mix of operations reproducible.
	Seed int64
	// Weights of reads, writes and syncs in the mix (default 45, 40, 15).
	// Once a session has synced, all its later reads are checked as
	// linearizable reads (see doc.go).
	ReadWeight, WriteWeight, SyncWeight int
	// SyncEvery, if positive, makes every SyncEvery-th operation of each
	// client a sync (of a random key), in addition to the weighted mix.
	SyncEvery int
	// Timeout bounds each operation (default 3s): an operation still
	// unanswered then is recorded as failed (a write: of unknown outcome)
	// and the client starts over with a new session.
	Timeout time.Duration
	// SessionTimeout is the session timeout the clients ask for (default 4s).
	SessionTimeout time.Duration
	// ConnectTimeout bounds each TCP connect and session handshake (default 1s).
	ConnectTimeout time.Duration
	// Backoff is how long a client waits after failing to connect to every
	// server in turn before it tries them all again (default 20ms; the
	// go-zookeeper default is 1s).
	Backoff time.Duration
	// MaxOps bounds the operations per client (default 2000).
	MaxOps int
	// Think is a pause between a client's operations (default none).
	Think time.Duration
	// RunTag prefixes every value written, to keep values unique across runs
	// on one ensemble (default: derived from the wall clock).
	RunTag string
	// Decode turns the data a read returned into the Value recorded
	// (default: the data as a string), for clients whose values carry
	// their identity in part of the data.
	Decode func([]byte) string
}

func (o *Options) defaults() error {
	if len(o.Addrs) == 0 {
		return errors.New("history: no server addresses")
	}
	if o.Clients <= 0 {
		o.Clients = 4
	}
	if o.Keys <= 0 {
		o.Keys = 3
	}
	if o.Root == "" {
		o.Root = "/hist"
	}
	if o.ReadWeight <= 0 && o.WriteWeight <= 0 && o.SyncWeight <= 0 {
		o.ReadWeight, o.WriteWeight, o.SyncWeight = 45, 40, 15
	}
	if o.Timeout <= 0 {
		o.Timeout = 3 * time.Second
	}
	if o.SessionTimeout <= 0 {
		o.SessionTimeout = 4 * time.Second
	}
	if o.ConnectTimeout <= 0 {
		o.ConnectTimeout = time.Second
	}
	if o.Backoff <= 0 {
		o.Backoff = 20 * time.Millisecond
	}
	if o.MaxOps <= 0 {
		o.MaxOps = 2000
	}
	if o.RunTag == "" {
		o.RunTag = fmt.Sprintf("r%x", time.Now().UnixNano()&0xffffffff)
	}
	if o.Decode == nil {
		o.Decode = func(b []byte) string { return string(b) }
	}
	return nil
}

// KeyPaths returns the znode paths RunClients uses for these options.
func KeyPaths(root string, n int) []string {
	if root == "" {
		root = "/hist"
	}
	keys := make([]string, n)
	for i := range keys {
		keys[i] = path.Join(root, fmt.Sprintf("k%d", i))
	}
	return keys
}

// RunClients creates the keys if needed, records their initial state, then
// runs opts.Clients go-zookeeper clients doing a seeded random mix of
// getData, setData and sync against opts.Addrs until ctx ends or each has
// done opts.MaxOps operations, and returns everything they did. Each
// operation is bounded by opts.Timeout; RunClients returns within about
// opts.Timeout plus a few seconds (closing sessions) after ctx ends.
func RunClients(ctx context.Context, opts Options) (*History, error) {
	if err := opts.defaults(); err != nil {
		return nil, err
	}
	keys := KeyPaths(opts.Root, opts.Keys)
	rec := NewRecorder()
	if err := setup(ctx, opts, keys, rec); err != nil {
		return nil, err
	}
	var wg, closers sync.WaitGroup
	for c := 0; c < opts.Clients; c++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			cl := &client{id: c, opts: &opts, keys: keys, rec: rec, closers: &closers,
				rng: rand.New(rand.NewPCG(uint64(opts.Seed), uint64(c)))}
			cl.run(ctx)
		}()
	}
	wg.Wait()
	closers.Wait()
	return rec.History(), nil
}

// setup makes the keys exist and records their state.
func setup(ctx context.Context, opts Options, keys []string, rec *Recorder) error {
	ctx, cancel := context.WithTimeout(ctx, 10*opts.Timeout)
	defer cancel()
	var lastErr error
	for ctx.Err() == nil {
		states, err := readKeys(ctx, opts, opts.Addrs, keys, true)
		if err == nil {
			for k, s := range states {
				rec.SetInitial(k, s)
			}
			return nil
		}
		lastErr = err
		select {
		case <-ctx.Done():
		case <-time.After(100 * time.Millisecond):
		}
	}
	return fmt.Errorf("history: setting up %v under %s: %w (last error: %v)", opts.Addrs, opts.Root, ctx.Err(), lastErr)
}

// FinalCheck reads the final state of keys from every server in addrs: on
// each, sync then getData of every key (a key that does not exist is
// Missing). Call it once faults have healed. If
// the servers disagree it reads again, a few times, in case one was still
// catching up. It fails only if no server answered.
func FinalCheck(ctx context.Context, addrs []string, keys []string) (*Final, error) {
	return FinalCheckWith(ctx, Options{Addrs: addrs}, keys)
}

// FinalCheckWith is FinalCheck of the servers opts.Addrs, with opts'
// timeouts and Decode.
func FinalCheckWith(ctx context.Context, opts Options, keys []string) (*Final, error) {
	if err := opts.defaults(); err != nil {
		return nil, err
	}
	addrs := opts.Addrs
	var f *Final
	for attempt := 0; attempt < 4; attempt++ {
		f = &Final{Servers: map[string]map[string]State{}, Unreachable: map[string]string{}}
		for _, a := range addrs {
			states, err := readKeys(ctx, opts, []string{a}, keys, false)
			if err != nil {
				f.Unreachable[a] = err.Error()
				continue
			}
			f.Servers[a] = states
			if f.Keys == nil {
				f.Keys = states
			}
		}
		if f.Keys == nil {
			return nil, fmt.Errorf("history: final read: no server answered: %v", f.Unreachable)
		}
		if converged(f) {
			return f, nil
		}
		select {
		case <-ctx.Done():
			return f, nil
		case <-time.After(300 * time.Millisecond):
		}
	}
	return f, nil
}

func converged(f *Final) bool {
	for _, s := range f.Servers {
		for k, v := range f.Keys {
			if s[k] != v {
				return false
			}
		}
	}
	return true
}

// readKeys opens a session to addrs, optionally creates the keys, and reads
// each with sync then getData.
func readKeys(ctx context.Context, opts Options, addrs []string, keys []string, create bool) (map[string]State, error) {
	conn, err := connect(ctx, &opts, addrs, 0, nil)
	if err != nil {
		return nil, err
	}
	defer conn.close()
	states := map[string]State{}
	for _, k := range keys {
		if create {
			if err := createPath(conn.Conn, k, "init-"+opts.RunTag+"-"+path.Base(k)); err != nil {
				return nil, fmt.Errorf("history: create %s: %w", k, err)
			}
		}
		if _, err := conn.do(opts.Timeout, func() error { _, err := conn.Sync(k); return err }); err != nil {
			return nil, fmt.Errorf("history: sync %s: %w", k, err)
		}
		var data []byte
		var st *zk.Stat
		if _, err := conn.do(opts.Timeout, func() (err error) { data, st, err = conn.Get(k); return err }); err != nil {
			if !create && errors.Is(err, zk.ErrNoNode) {
				states[k] = State{Missing: true}
				continue
			}
			return nil, fmt.Errorf("history: get %s: %w", k, err)
		}
		states[k] = State{Value: opts.Decode(data), HasStat: true, Version: st.Version, Zxid: st.Mzxid}
	}
	return states, nil
}

func createPath(c *zk.Conn, p, value string) error {
	parts := strings.Split(strings.Trim(p, "/"), "/")
	for i := range parts {
		sub := "/" + strings.Join(parts[:i+1], "/")
		data := []byte{}
		if i == len(parts)-1 {
			data = []byte(value)
		}
		if _, err := c.Create(sub, data, 0, zk.WorldACL(zk.PermAll)); err != nil && !errors.Is(err, zk.ErrNodeExists) {
			return err
		}
	}
	return nil
}

// client is one simulated client: one session at a time.
type client struct {
	id      int
	opts    *Options
	keys    []string
	rec     *Recorder
	rng     *rand.Rand
	closers *sync.WaitGroup
}

func (c *client) run(ctx context.Context) {
	var conn *session
	defer func() {
		if conn != nil {
			conn.close()
		}
	}()
	for n := 0; n < c.opts.MaxOps && ctx.Err() == nil; n++ {
		if conn == nil {
			var err error
			if conn, err = connect(ctx, c.opts, c.opts.Addrs, c.id, c.closers); err != nil {
				// No server gave a session in time; try again.
				conn = nil
				continue
			}
		}
		op := c.next(n)
		sid := conn.SessionID()
		p := c.rec.Invoke(c.id, sid, op)
		var res Result
		timedOut, err := conn.do(c.opts.Timeout, func() error {
			switch op.Kind {
			case KindRead:
				data, st, err := conn.Get(op.Key)
				if err == nil {
					res = Result{Value: c.opts.Decode(data), HasStat: true, Version: st.Version, Zxid: st.Mzxid}
				}
				return err
			case KindWrite:
				st, err := conn.Set(op.Key, []byte(op.Value), -1)
				if err == nil {
					res = Result{HasStat: true, Version: st.Version, Zxid: st.Mzxid}
				}
				return err
			default:
				_, err := conn.Sync(op.Key)
				return err
			}
		})
		if after := conn.SessionID(); sid == 0 || after != sid {
			p.SetSession(0) // it straddled a session change
		}
		if err == nil {
			p.Return(res)
		} else {
			p.Fail(err, MaybeApplied(err))
		}
		if timedOut {
			conn = nil // do closed it
		}
		if c.opts.Think > 0 {
			select {
			case <-ctx.Done():
			case <-time.After(c.opts.Think):
			}
		}
	}
}

func (c *client) next(n int) Op {
	k := c.keys[c.rng.IntN(len(c.keys))]
	if c.opts.SyncEvery > 0 && n%c.opts.SyncEvery == c.opts.SyncEvery-1 {
		return Sync(k)
	}
	total := max(c.opts.ReadWeight, 0) + max(c.opts.WriteWeight, 0) + max(c.opts.SyncWeight, 0)
	x := c.rng.IntN(total)
	switch {
	case x < max(c.opts.ReadWeight, 0):
		return Read(k)
	case x < max(c.opts.ReadWeight, 0)+max(c.opts.WriteWeight, 0):
		return Write(k, fmt.Sprintf("%s-c%d-%d", c.opts.RunTag, c.id, n))
	}
	return Sync(k)
}

// MaybeApplied says whether a write that failed with err may nonetheless
// have been applied: only errors the server returns after validating the
// request rule that out.
func MaybeApplied(err error) bool {
	for _, definite := range []error{zk.ErrNoNode, zk.ErrBadVersion, zk.ErrBadArguments, zk.ErrNoAuth, zk.ErrInvalidACL, zk.ErrNodeExists} {
		if errors.Is(err, definite) {
			return false
		}
	}
	return true
}

// session is a go-zookeeper connection with a tight reconnect policy.
type session struct {
	*zk.Conn
	hosts   *hostList
	closers *sync.WaitGroup
	once    sync.Once
}

// connect opens a session, starting at addrs[start%len], and waits until
// the session is established.
func connect(ctx context.Context, opts *Options, addrs []string, start int, closers *sync.WaitGroup) (*session, error) {
	hosts := &hostList{backoff: opts.Backoff}
	for i := range addrs {
		hosts.servers = append(hosts.servers, addrs[(start+i)%len(addrs)])
	}
	dial := func(network, addr string, timeout time.Duration) (net.Conn, error) {
		nc, err := net.DialTimeout(network, addr, opts.ConnectTimeout)
		if err != nil {
			return nil, err
		}
		return &handshakeConn{Conn: nc, limit: opts.ConnectTimeout}, nil
	}
	events := make(chan zk.Event, 16)
	conn, _, err := zk.Connect(hosts.servers, opts.SessionTimeout,
		zk.WithHostProvider(hosts), zk.WithDialer(dial), zk.WithLogger(quiet{}), zk.WithLogInfo(false),
		zk.WithEventCallback(func(ev zk.Event) {
			select {
			case events <- ev:
			default:
			}
		}))
	if err != nil {
		return nil, fmt.Errorf("history: connect %v: %w", addrs, err)
	}
	s := &session{Conn: conn, hosts: hosts, closers: closers}
	deadline := time.NewTimer(opts.Timeout)
	defer deadline.Stop()
	for {
		if conn.State() == zk.StateHasSession && conn.SessionID() != 0 {
			return s, nil
		}
		select {
		case <-events:
		case <-deadline.C:
			s.close()
			return nil, fmt.Errorf("history: connect %v: no session within %v", addrs, opts.Timeout)
		case <-ctx.Done():
			s.close()
			return nil, fmt.Errorf("history: connect %v: %w", addrs, ctx.Err())
		}
	}
}

// close closes the session, in the background when a WaitGroup tracks
// closers (go-zookeeper's Close can take seconds against a dead server).
func (s *session) close() {
	s.once.Do(func() {
		s.hosts.stop()
		if s.closers == nil {
			s.Conn.Close()
			return
		}
		s.closers.Add(1)
		go func() {
			defer s.closers.Done()
			s.Conn.Close()
		}()
	})
}

// do runs f, closing the session if f takes longer than timeout (which
// makes f return). It reports whether that happened.
func (s *session) do(timeout time.Duration, f func() error) (timedOut bool, err error) {
	var fired atomic.Bool
	t := time.AfterFunc(timeout, func() {
		fired.Store(true)
		s.close()
	})
	err = f()
	t.Stop()
	if fired.Load() {
		return true, fmt.Errorf("history: no reply within %v: %w", timeout, err)
	}
	return false, err
}

// hostList is a zk.HostProvider that goes round robin through the servers
// in the given order and, after a full round of failures, waits only
// backoff before the next round (go-zookeeper's own waits a second).
type hostList struct {
	servers []string
	backoff time.Duration

	mu      sync.Mutex
	next    int
	tried   int
	stopped bool
}

// Init ignores go-zookeeper's shuffled list: the order is set already.
func (h *hostList) Init([]string) error { return nil }

func (h *hostList) Len() int { return len(h.servers) }

func (h *hostList) Next() (string, bool) {
	h.mu.Lock()
	if h.tried >= len(h.servers) {
		h.tried = 0
		h.mu.Unlock()
		time.Sleep(h.backoff)
		h.mu.Lock()
	}
	defer h.mu.Unlock()
	s := h.servers[h.next]
	h.next = (h.next + 1) % len(h.servers)
	h.tried++
	// retryStart makes go-zookeeper check whether it was closed (and wait a
	// second); only say so once the session is being closed.
	return s, h.stopped
}

func (h *hostList) Connected() {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.tried = 0
}

func (h *hostList) stop() {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.stopped = true
}

// handshakeConn bounds the session handshake: go-zookeeper waits ten times
// the receive timeout for a connect response, far too long against a paused
// server. The first read and write deadlines it sets are clamped to limit.
type handshakeConn struct {
	net.Conn
	limit       time.Duration
	read, write bool
}

func (c *handshakeConn) SetReadDeadline(t time.Time) error {
	if !c.read && !t.IsZero() {
		c.read = true
		t = earliest(t, time.Now().Add(c.limit))
	}
	return c.Conn.SetReadDeadline(t)
}

func (c *handshakeConn) SetWriteDeadline(t time.Time) error {
	if !c.write && !t.IsZero() {
		c.write = true
		t = earliest(t, time.Now().Add(c.limit))
	}
	return c.Conn.SetWriteDeadline(t)
}

func earliest(a, b time.Time) time.Time {
	if a.Before(b) {
		return a
	}
	return b
}

type quiet struct{}

func (quiet) Printf(string, ...any) {}
