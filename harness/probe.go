package harness

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/go-zookeeper/zk"
)

// probePath is the znode the harness writes to check that the ensemble
// serves writes.
const probePath = "/zkbench-harness-probe"

// probeSessionTimeout is long enough that a probe session survives an
// election, short enough that a dead one is noticed within a run.
const probeSessionTimeout = 10 * time.Second

// tightHosts is a zk.HostProvider for one server that reconnects at once
// after a loss and then every 10 ms, instead of go-zookeeper's pause of a
// second after every pass over the server list.
type tightHosts struct {
	mu     sync.Mutex
	server string
	fresh  bool
	stop   <-chan struct{}
}

func (h *tightHosts) Init(servers []string) error {
	if len(servers) != 1 {
		return fmt.Errorf("harness: probe host provider wants one server, got %d", len(servers))
	}
	h.server, h.fresh = servers[0], true
	return nil
}

func (h *tightHosts) Len() int { return 1 }

func (h *tightHosts) Next() (string, bool) {
	h.mu.Lock()
	fresh := h.fresh
	h.fresh = false
	h.mu.Unlock()
	if !fresh {
		select {
		case <-time.After(10 * time.Millisecond):
		case <-h.stop:
		}
	}
	return h.server, false
}

func (h *tightHosts) Connected() {
	h.mu.Lock()
	h.fresh = true
	h.mu.Unlock()
}

type nopLogger struct{}

func (nopLogger) Printf(string, ...any) {}

// prober holds one go-zookeeper connection per server, so that a write can
// be tried on every live server at once.
type prober struct {
	mu    sync.Mutex
	conns map[int]*zk.Conn
	stop  chan struct{}
}

func newProber() *prober {
	return &prober{conns: map[int]*zk.Conn{}, stop: make(chan struct{})}
}

func (p *prober) conn(id int, addr string) (*zk.Conn, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if c, ok := p.conns[id]; ok {
		return c, nil
	}
	c, _, err := zk.Connect([]string{addr}, probeSessionTimeout,
		zk.WithHostProvider(&tightHosts{stop: p.stop}), zk.WithLogger(nopLogger{}), zk.WithLogInfo(false))
	if err != nil {
		return nil, fmt.Errorf("harness: probe client for server %d: %w", id, err)
	}
	p.conns[id] = c
	return c, nil
}

func (p *prober) close() {
	p.mu.Lock()
	defer p.mu.Unlock()
	select {
	case <-p.stop:
		return
	default:
	}
	close(p.stop)
	// go-zookeeper's Close sends closeSession and waits up to a second for
	// the reply, which a client without a session (refused by a leader
	// that does not serve clients, or by a server still electing) never
	// gets. Waiting for those would add a second to every start-up
	// figure: they are closed in the background; sessions that exist are
	// closed before close returns, all at once.
	var wg sync.WaitGroup
	for _, c := range p.conns {
		if c.State() != zk.StateHasSession {
			go c.Close()
			continue
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			c.Close()
		}()
	}
	wg.Wait()
}

// write sets the probe znode through server id, creating it if needed.
func write(c *zk.Conn) error {
	_, err := c.Set(probePath, []byte("probe"), -1)
	if errors.Is(err, zk.ErrNoNode) {
		_, err = c.Create(probePath, []byte("probe"), 0, zk.WorldACL(zk.PermAll))
		if errors.Is(err, zk.ErrNodeExists) {
			err = nil
		}
	}
	return err
}

// target is one server a probe may write through.
type probeTarget struct {
	id   int
	addr string
}

// writeTargets lists the servers that could answer a client now: running,
// not frozen, and not the leader when the leader does not serve clients.
func (e *Ensemble) writeTargets() []probeTarget {
	e.mu.Lock()
	defer e.mu.Unlock()
	var ts []probeTarget
	for _, s := range e.servers {
		if !s.running || s.frozen {
			continue
		}
		ts = append(ts, probeTarget{s.id, s.clientAddr()})
	}
	return ts
}

// probeWrite tries a write through every live server until one succeeds or
// ctx ends. Each server has at most one write outstanding; a new round
// starts every 5 ms. It returns the id of the server that took the write.
func (e *Ensemble) probeWrite(ctx context.Context, p *prober) (int, error) {
	type result struct {
		id  int
		err error
	}
	results := make(chan result, 64)
	busy := map[int]bool{}
	var lastErr error
	tick := time.NewTicker(5 * time.Millisecond)
	defer tick.Stop()
	for {
		for _, t := range e.writeTargets() {
			if busy[t.id] {
				continue
			}
			c, err := p.conn(t.id, t.addr)
			if err != nil {
				lastErr = err
				continue
			}
			busy[t.id] = true
			go func() {
				err := write(c)
				select {
				case results <- result{t.id, err}:
				case <-p.stop:
				}
			}()
		}
		select {
		case r := <-results:
			busy[r.id] = false
			if r.err == nil {
				return r.id, nil
			}
			lastErr = r.err
		case <-tick.C:
		case <-ctx.Done():
			if lastErr != nil {
				return 0, fmt.Errorf("harness: probe write: %w (last error: %v)", context.Cause(ctx), lastErr)
			}
			return 0, fmt.Errorf("harness: probe write: %w", context.Cause(ctx))
		}
	}
}

// testWrite checks that the ensemble takes a write.
func (e *Ensemble) testWrite(ctx context.Context) error {
	p := newProber()
	defer p.close()
	_, err := e.probeWrite(ctx, p)
	return err
}
