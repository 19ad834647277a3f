package transport

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"net"
	"sync"
	"testing"
	"time"
)

// network is what the conformance suite needs from an implementation.
type network interface {
	// open starts (or restarts) server id and returns its transport.
	open(t *testing.T, id int64) Transport
	// pump lets time pass.
	pump()
}

// collector drains one transport's Recv channel.
type collector struct {
	mu   sync.Mutex
	got  []Message
	done chan struct{}
}

func collect(tr Transport) *collector {
	c := &collector{done: make(chan struct{})}
	go func() {
		defer close(c.done)
		for m := range tr.Recv() {
			c.mu.Lock()
			c.got = append(c.got, m)
			c.mu.Unlock()
		}
	}()
	return c
}

func (c *collector) has(from int64, payload []byte) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, m := range c.got {
		if m.From == from && bytes.Equal(m.Payload, payload) {
			return true
		}
	}
	return false
}

func (c *collector) count() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.got)
}

// deliver sends payload from one transport to server to until the
// collector sees it, re-sending like FLE does (queues may drop).
func deliver(t *testing.T, nw network, from Transport, fromID, to int64, c *collector, payload []byte) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for attempt := 0; time.Now().Before(deadline); attempt++ {
		from.Send(to, payload)
		for range 50 {
			nw.pump()
			if c.has(fromID, payload) {
				return
			}
		}
	}
	t.Fatalf("message %q from %d to %d never arrived", payload, fromID, to)
}

// runConformance runs the shared suite against one implementation.
func runConformance(t *testing.T, newNet func(t *testing.T) network) {
	t.Run("Exchange", func(t *testing.T) {
		nw := newNet(t)
		ids := []int64{1, 2, 3}
		trs := map[int64]Transport{}
		cols := map[int64]*collector{}
		for _, id := range ids {
			trs[id] = nw.open(t, id)
			cols[id] = collect(trs[id])
		}
		for _, from := range ids {
			for _, to := range ids {
				p := []byte(fmt.Sprintf("hello %d->%d", from, to))
				deliver(t, nw, trs[from], from, to, cols[to], p)
			}
		}
		for _, id := range ids {
			cols[id].mu.Lock()
			for _, m := range cols[id].got {
				if m.To != id {
					t.Errorf("server %d received a message addressed to %d", id, m.To)
				}
				if want := []byte(fmt.Sprintf("hello %d->%d", m.From, id)); !bytes.Equal(m.Payload, want) {
					t.Errorf("server %d: message from %d is %q, want %q", id, m.From, m.Payload, want)
				}
			}
			cols[id].mu.Unlock()
		}
	})
	t.Run("ManyMessagesArriveInOrder", func(t *testing.T) {
		nw := newNet(t)
		a, b := nw.open(t, 1), nw.open(t, 2)
		cb := collect(b)
		deliver(t, nw, a, 1, 2, cb, []byte("warm-up"))
		// Paced sends on an established connection: none may be reordered.
		const n = 200
		for i := range n {
			a.Send(2, []byte(fmt.Sprintf("m%03d", i)))
			for range 20 {
				nw.pump()
				if cb.has(1, []byte(fmt.Sprintf("m%03d", i))) {
					break
				}
			}
		}
		cb.mu.Lock()
		defer cb.mu.Unlock()
		last := ""
		for _, m := range cb.got[1:] {
			if s := string(m.Payload); s <= last {
				t.Fatalf("reordered: %q after %q", s, last)
			} else {
				last = s
			}
		}
		if len(cb.got) < n/2 {
			t.Fatalf("only %d of %d paced messages arrived", len(cb.got)-1, n)
		}
	})
	t.Run("Restart", func(t *testing.T) {
		nw := newNet(t)
		trs := map[int64]Transport{}
		cols := map[int64]*collector{}
		for _, id := range []int64{1, 2, 3} {
			trs[id] = nw.open(t, id)
			cols[id] = collect(trs[id])
		}
		deliver(t, nw, trs[1], 1, 2, cols[2], []byte("before"))
		deliver(t, nw, trs[3], 3, 2, cols[2], []byte("before3"))
		if err := trs[2].Close(); err != nil {
			t.Fatalf("close: %v", err)
		}
		<-cols[2].done // Recv is closed by Close
		trs[1].Send(2, []byte("while down"))
		trs[3].Send(2, []byte("while down"))
		nw.pump()
		trs[2] = nw.open(t, 2)
		cols[2] = collect(trs[2])
		deliver(t, nw, trs[1], 1, 2, cols[2], []byte("after from 1"))
		deliver(t, nw, trs[3], 3, 2, cols[2], []byte("after from 3"))
		deliver(t, nw, trs[2], 2, 1, cols[1], []byte("back to 1"))
		deliver(t, nw, trs[2], 2, 3, cols[3], []byte("back to 3"))
	})
	t.Run("OversizedRejected", func(t *testing.T) {
		nw := newNet(t)
		a, b := nw.open(t, 1), nw.open(t, 2)
		cb := collect(b)
		deliver(t, nw, a, 1, 2, cb, []byte("first"))
		before := cb.count()
		a.Send(2, make([]byte, DefaultMaxMessage+1))
		a.Send(2, nil)
		deliver(t, nw, a, 1, 2, cb, []byte("after"))
		cb.mu.Lock()
		defer cb.mu.Unlock()
		for _, m := range cb.got[before:] {
			if len(m.Payload) > DefaultMaxMessage || len(m.Payload) == 0 {
				t.Fatalf("a message of %d bytes was delivered", len(m.Payload))
			}
		}
	})
	t.Run("SendAfterCloseIsHarmless", func(t *testing.T) {
		nw := newNet(t)
		a := nw.open(t, 1)
		nw.open(t, 2)
		a.Close()
		a.Send(2, []byte("late")) // must not panic or block
		if err := a.Close(); err != nil {
			t.Fatalf("second Close: %v", err)
		}
	})
}

// memNet adapts MemNetwork to the suite.
type memNet struct{ n *MemNetwork }

func (m memNet) open(t *testing.T, id int64) Transport {
	tr := m.n.Endpoint(id)
	t.Cleanup(func() { tr.Close() })
	return tr
}

func (m memNet) pump() {
	m.n.Advance(1)
	time.Sleep(50 * time.Microsecond) // let the collector goroutines run
}

func TestConformanceMem(t *testing.T) {
	runConformance(t, func(t *testing.T) network {
		n := NewMemNetwork(1)
		n.Delay(1, 2, 1) // one link with latency, the rest immediate
		return memNet{n}
	})
}

// tcpNet runs real TCP transports on loopback with fixed ports, so a
// restarted server comes back at the same address.
type tcpNet struct {
	addrs map[int64]string
	lns   map[int64]net.Listener // reserved listeners for first starts
	log   *slog.Logger
}

func newTCPNet(t *testing.T, ids []int64, log *slog.Logger) *tcpNet {
	n := &tcpNet{addrs: map[int64]string{}, lns: map[int64]net.Listener{}, log: log}
	for _, id := range ids {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { ln.Close() })
		n.lns[id] = ln
		n.addrs[id] = ln.Addr().String()
	}
	return n
}

// freeAddr returns a loopback address that was free a moment ago.
func freeAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

func (n *tcpNet) open(t *testing.T, id int64) Transport {
	t.Helper()
	cfg := TCPConfig{MyID: id, ListenAddr: n.addrs[id], Peers: n.addrs, Listener: n.lns[id],
		Logger: n.log, MinBackoff: 5 * time.Millisecond, MaxBackoff: 100 * time.Millisecond, DialTimeout: 2 * time.Second}
	delete(n.lns, id)
	var tr *TCP
	var err error
	for range 50 { // on a restart the port may linger briefly
		if tr, err = NewTCP(context.Background(), cfg); err == nil {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	if err != nil {
		t.Fatalf("server %d: %v", id, err)
	}
	t.Cleanup(func() { tr.Close() })
	return tr
}

func (n *tcpNet) pump() { time.Sleep(time.Millisecond) }

func TestConformanceTCP(t *testing.T) {
	runConformance(t, func(t *testing.T) network {
		return newTCPNet(t, []int64{1, 2, 3}, testLogger(t, nil))
	})
}

// testLogger logs through t and, if buf is set, into buf as well.
func testLogger(t *testing.T, buf *syncBuffer) *slog.Logger {
	var w interface{ Write([]byte) (int, error) } = tWriter{t}
	if buf != nil {
		w = buf
	}
	return slog.New(slog.NewTextHandler(w, &slog.HandlerOptions{Level: slog.LevelDebug}))
}

type tWriter struct{ t *testing.T }

func (w tWriter) Write(b []byte) (int, error) {
	if testing.Verbose() {
		w.t.Log(string(bytes.TrimSpace(b)))
	}
	return len(b), nil
}

type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}
