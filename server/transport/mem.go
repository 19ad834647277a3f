package transport

import (
	"cmp"
	"math/rand"
	"slices"
	"sync"
)

// MemNetwork is an in-memory network of Transport endpoints with injectable
// faults. Time is logical: a message with a delay of d ticks is delivered by
// the Advance call that moves the clock d ticks past its sending; a message
// without delay is delivered during Send. Given the same seed and the same
// sequence of calls, delivery is the same (random loss, if enabled, draws
// from the seeded source).
type MemNetwork struct {
	mu         sync.Mutex
	rng        *rand.Rand
	now        int64
	seq        uint64
	eps        map[int64]*memEndpoint
	dropped    map[memLink]bool
	cut        map[int64]bool
	delay      map[memLink]int
	loss       float64
	queue      []memMsg
	maxMessage int
}

type memLink struct{ from, to int64 }

type memMsg struct {
	at  int64
	seq uint64
	m   Message
	to  *memEndpoint // the incarnation it was sent to
}

// NewMemNetwork returns an empty network whose random choices come from seed.
func NewMemNetwork(seed int64) *MemNetwork {
	return &MemNetwork{
		rng:        rand.New(rand.NewSource(seed)),
		eps:        map[int64]*memEndpoint{},
		dropped:    map[memLink]bool{},
		cut:        map[int64]bool{},
		delay:      map[memLink]int{},
		maxMessage: DefaultMaxMessage,
	}
}

// Endpoint returns the transport of server id, creating it if needed. After
// the endpoint is closed, Endpoint returns a fresh one, as for a restarted
// server; messages in flight to the old one are lost.
func (n *MemNetwork) Endpoint(id int64) Transport {
	n.mu.Lock()
	defer n.mu.Unlock()
	if ep := n.eps[id]; ep != nil {
		return ep
	}
	ep := &memEndpoint{net: n, id: id, in: newInbox(DefaultRecvQueue)}
	n.eps[id] = ep
	return ep
}

// Drop loses every message from one server to another until Heal.
func (n *MemNetwork) Drop(from, to int64) {
	n.mu.Lock()
	defer n.mu.Unlock()
	n.dropped[memLink{from, to}] = true
}

// Cut isolates a server: its messages in both directions are lost until Heal.
func (n *MemNetwork) Cut(id int64) {
	n.mu.Lock()
	defer n.mu.Unlock()
	n.cut[id] = true
}

// Heal removes every Drop and Cut, and random loss. Delays stay.
func (n *MemNetwork) Heal() {
	n.mu.Lock()
	defer n.mu.Unlock()
	clear(n.dropped)
	clear(n.cut)
	n.loss = 0
}

// Delay makes messages from one server to another take ticks ticks
// (0 restores immediate delivery). Messages already in flight keep theirs.
func (n *MemNetwork) Delay(from, to int64, ticks int) {
	n.mu.Lock()
	defer n.mu.Unlock()
	if ticks <= 0 {
		delete(n.delay, memLink{from, to})
		return
	}
	n.delay[memLink{from, to}] = ticks
}

// SetLoss makes every message sent from now on lost with probability p,
// drawn from the network's seeded source.
func (n *MemNetwork) SetLoss(p float64) {
	n.mu.Lock()
	defer n.mu.Unlock()
	n.loss = p
}

// Advance moves the logical clock forward and delivers the messages that
// are due, in order of due time and then of sending.
func (n *MemNetwork) Advance(ticks int) {
	n.mu.Lock()
	defer n.mu.Unlock()
	n.now += int64(ticks)
	slices.SortFunc(n.queue, func(a, b memMsg) int {
		return cmp.Or(cmp.Compare(a.at, b.at), cmp.Compare(a.seq, b.seq))
	})
	i := 0
	for ; i < len(n.queue) && n.queue[i].at <= n.now; i++ {
		n.deliver(n.queue[i].m, n.queue[i].to)
	}
	n.queue = append(n.queue[:0], n.queue[i:]...)
}

// Pending returns the number of messages in flight.
func (n *MemNetwork) Pending() int {
	n.mu.Lock()
	defer n.mu.Unlock()
	return len(n.queue)
}

func (n *MemNetwork) send(m Message) {
	n.mu.Lock()
	defer n.mu.Unlock()
	if len(m.Payload) == 0 || len(m.Payload) > n.maxMessage {
		return // as the TCP transport: bad sizes never leave the sender
	}
	if n.cut[m.From] || n.cut[m.To] || n.dropped[memLink{m.From, m.To}] {
		return
	}
	if n.loss > 0 && n.rng.Float64() < n.loss {
		return
	}
	to := n.eps[m.To]
	if to == nil {
		return // nobody there
	}
	d := n.delay[memLink{m.From, m.To}]
	if d == 0 {
		n.deliver(m, to)
		return
	}
	n.seq++
	n.queue = append(n.queue, memMsg{at: n.now + int64(d), seq: n.seq, m: m, to: to})
}

// deliver hands m to the endpoint it was sent to, unless that endpoint has
// been closed (a message in flight to a crashed server is lost) or a cut
// separates the two servers.
func (n *MemNetwork) deliver(m Message, to *memEndpoint) {
	if n.cut[m.From] || n.cut[m.To] || n.eps[m.To] != to {
		return
	}
	to.in.put(m)
}

type memEndpoint struct {
	net *MemNetwork
	id  int64
	in  *inbox
}

func (e *memEndpoint) Send(to int64, payload []byte) {
	e.net.mu.Lock()
	live := e.net.eps[e.id] == e
	e.net.mu.Unlock()
	if live {
		e.net.send(Message{From: e.id, To: to, Payload: payload})
	}
}

func (e *memEndpoint) Recv() <-chan Message { return e.in.ch }

func (e *memEndpoint) Close() error {
	e.net.mu.Lock()
	if e.net.eps[e.id] == e {
		delete(e.net.eps, e.id)
	}
	e.net.mu.Unlock()
	e.in.close()
	return nil
}
