package netproxy

import (
	"errors"
	"fmt"
	"io"
	"net"
	"sync"
	"syscall"
	"time"
)

// Direction names one direction of a proxied connection.
type Direction int

const (
	// Forward is the traffic from the connecting side to the target.
	Forward Direction = iota
	// Backward is the traffic from the target back to the connecting side.
	Backward
)

func (d Direction) String() string {
	if d == Forward {
		return "forward"
	}
	return "backward"
}

// chunkSize and queueLen bound the bytes buffered per direction
// (queueLen*chunkSize) before the proxy stops reading and TCP pushes back.
const (
	chunkSize = 32 << 10
	queueLen  = 64
)

// Proxy forwards connections accepted on one listener to one target.
type Proxy struct {
	ln     net.Listener
	target string

	mu      sync.Mutex
	hold    [2]bool
	delay   [2]time.Duration
	changed chan struct{} // closed and replaced on every state change
	conns   map[net.Conn]struct{}
	rewrite func(client io.Reader) ([]byte, error)
	closed  bool
	done    chan struct{} // closed by Close
	wg      sync.WaitGroup
}

// Listen starts a proxy listening on listenAddr and forwarding to target.
func Listen(listenAddr, target string) (*Proxy, error) {
	ln, err := net.Listen("tcp", listenAddr)
	if err != nil {
		return nil, fmt.Errorf("netproxy: listen %s: %w", listenAddr, err)
	}
	p := &Proxy{ln: ln, target: target, changed: make(chan struct{}), done: make(chan struct{}), conns: map[net.Conn]struct{}{}}
	p.wg.Add(1)
	go p.accept()
	return p, nil
}

// Addr is the address the proxy listens on.
func (p *Proxy) Addr() string { return p.ln.Addr().String() }

// Target is the address the proxy forwards to.
func (p *Proxy) Target() string { return p.target }

// SetHold holds (true) or releases (false) the traffic in direction d.
func (p *Proxy) SetHold(d Direction, hold bool) {
	p.mu.Lock()
	p.hold[d] = hold
	p.notifyLocked()
	p.mu.Unlock()
}

// SetDelay delays the traffic in direction d by delay (0 removes the delay).
// The new delay applies to bytes read after the call.
func (p *Proxy) SetDelay(d Direction, delay time.Duration) {
	p.mu.Lock()
	p.delay[d] = delay
	p.notifyLocked()
	p.mu.Unlock()
}

// SetRewriter installs f, which each new connection runs once, after the
// target is dialled and before any other byte is forwarded: f reads the
// opening bytes the client sends (and no more) and returns what to send the
// target in their place. An error from f closes the connection. Peers that
// announce their own address in a handshake need this to keep replies
// flowing through the proxy.
func (p *Proxy) SetRewriter(f func(client io.Reader) ([]byte, error)) {
	p.mu.Lock()
	p.rewrite = f
	p.mu.Unlock()
}

// Reset removes every hold and delay.
func (p *Proxy) Reset() {
	p.mu.Lock()
	p.hold = [2]bool{}
	p.delay = [2]time.Duration{}
	p.notifyLocked()
	p.mu.Unlock()
}

// State reports the current hold and delay of direction d.
func (p *Proxy) State(d Direction) (hold bool, delay time.Duration) {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.hold[d], p.delay[d]
}

// Cut closes every connection currently open through the proxy; new
// connections are still accepted.
func (p *Proxy) Cut() {
	p.mu.Lock()
	for c := range p.conns {
		c.Close()
	}
	p.mu.Unlock()
}

// Close stops the listener, closes every connection and waits for the
// proxy's goroutines to finish. It is idempotent.
func (p *Proxy) Close() error {
	p.mu.Lock()
	if p.closed {
		p.mu.Unlock()
		return nil
	}
	p.closed = true
	close(p.done)
	err := p.ln.Close()
	for c := range p.conns {
		c.Close()
	}
	p.notifyLocked()
	p.mu.Unlock()
	p.wg.Wait()
	return err
}

func (p *Proxy) notifyLocked() {
	close(p.changed)
	p.changed = make(chan struct{})
}

func (p *Proxy) track(c net.Conn) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.closed {
		c.Close()
		return false
	}
	p.conns[c] = struct{}{}
	return true
}

func (p *Proxy) untrack(c net.Conn) {
	p.mu.Lock()
	delete(p.conns, c)
	p.mu.Unlock()
	c.Close()
}

func (p *Proxy) accept() {
	defer p.wg.Done()
	for {
		c, err := p.ln.Accept()
		if err != nil {
			if errors.Is(err, net.ErrClosed) {
				return
			}
			time.Sleep(10 * time.Millisecond)
			continue
		}
		if !p.track(c) {
			return
		}
		p.wg.Add(1)
		go p.handle(c)
	}
}

func (p *Proxy) handle(client net.Conn) {
	defer p.wg.Done()
	defer p.untrack(client)
	// While the forward direction is held, do not even connect: a peer that
	// connects during a partition must not be seen by the target.
	if !p.waitReleased(Forward) {
		return
	}
	server, err := p.dialTarget()
	if err != nil {
		return
	}
	if !p.track(server) {
		return
	}
	defer p.untrack(server)
	p.mu.Lock()
	rewrite := p.rewrite
	p.mu.Unlock()
	if rewrite != nil {
		_ = client.SetReadDeadline(time.Now().Add(30 * time.Second))
		b, err := rewrite(client)
		_ = client.SetReadDeadline(time.Time{})
		if err != nil {
			return
		}
		if _, err := server.Write(b); err != nil {
			return
		}
	}
	done := make(chan struct{}, 2)
	go func() { p.pump(server, client, Forward); done <- struct{}{} }()
	go func() { p.pump(client, server, Backward); done <- struct{}{} }()
	<-done
	// One side ended: close both so the other pump ends too.
	client.Close()
	server.Close()
	<-done
}

// refusedRetry is how long a proxy retries a dial its target refuses.
// The connecting side, which would have seen the refusal itself, has a
// connection instead; upstream's learner retries a refused connect to its
// leader 5 times 100 ms apart, but takes an accepted connection that then
// closes for a failed leader and elects again (a Java leader binds its
// quorum port only once elected, so its followers often connect first).
const refusedRetry = time.Second

// dialTarget dials the target, retrying for refusedRetry while it refuses.
func (p *Proxy) dialTarget() (net.Conn, error) {
	deadline := time.Now().Add(refusedRetry)
	for {
		server, err := net.DialTimeout("tcp", p.target, 5*time.Second)
		if err == nil || !errors.Is(err, syscall.ECONNREFUSED) || time.Now().After(deadline) {
			return server, err
		}
		select {
		case <-p.done:
			return nil, err
		case <-time.After(50 * time.Millisecond):
		}
	}
}

// waitReleased blocks while direction d is held; it returns false if the
// proxy closed meanwhile.
func (p *Proxy) waitReleased(d Direction) bool {
	for {
		p.mu.Lock()
		held, closed, ch := p.hold[d], p.closed, p.changed
		p.mu.Unlock()
		if closed {
			return false
		}
		if !held {
			return true
		}
		<-ch
	}
}

type chunk struct {
	data []byte
	at   time.Time
}

// pump copies src to dst in direction d, honouring holds and delays.
func (p *Proxy) pump(dst, src net.Conn, d Direction) {
	q := make(chan chunk, queueLen)
	go func() {
		defer close(q)
		for {
			buf := make([]byte, chunkSize)
			n, err := src.Read(buf)
			if n > 0 {
				q <- chunk{data: buf[:n], at: time.Now()}
			}
			if err != nil {
				return
			}
		}
	}()
	defer func() {
		// Unblock and drain the reader once the writer gives up.
		src.Close()
		for range q {
		}
	}()
	for c := range q {
		if !p.waitReleased(d) {
			return
		}
		p.mu.Lock()
		delay := p.delay[d]
		p.mu.Unlock()
		if wait := time.Until(c.at.Add(delay)); delay > 0 && wait > 0 {
			t := time.NewTimer(wait)
			select {
			case <-t.C:
			case <-p.done:
				t.Stop()
				return
			}
		}
		if !p.waitReleased(d) {
			return
		}
		if _, err := dst.Write(c.data); err != nil {
			return
		}
	}
	if tc, ok := dst.(*net.TCPConn); ok {
		_ = tc.CloseWrite()
	}
}
