package transport

import (
	"errors"
	"sync"
)

// Message is one election message between servers.
type Message struct {
	From, To int64  // server ids
	Payload  []byte // opaque bytes (an encoded election notification)
}

// Transport moves messages between server ids. Implementations are safe for
// concurrent use.
type Transport interface {
	// Send queues payload for server to and returns at once. Delivery is
	// best effort: messages may be lost, duplicated or superseded, never
	// corrupted. Sending to oneself loops back. The caller must not modify
	// payload afterwards.
	Send(to int64, payload []byte)
	// Recv returns the channel of received messages. It is closed by Close.
	Recv() <-chan Message
	// Close stops the transport and releases its resources.
	Close() error
}

// Errors callers may branch on.
var (
	// ErrClosed is returned by operations on a closed transport or stream.
	ErrClosed = errors.New("transport: closed")
	// ErrBadHeader means a peer's initial message was not understood.
	ErrBadHeader = errors.New("transport: bad initial message")
	// ErrTooLarge means a frame or packet exceeds the configured maximum.
	ErrTooLarge = errors.New("transport: message too large")
)

// Defaults, from upstream's QuorumCnxManager.
const (
	// DefaultMaxMessage is the largest election message accepted
	// (upstream PACKETMAXSIZE, 512 KiB).
	DefaultMaxMessage = 512 * 1024
	// DefaultSendQueue is the per-peer send queue length (upstream SEND_CAPACITY).
	DefaultSendQueue = 1
	// DefaultRecvQueue is the receive queue length (upstream RECV_CAPACITY).
	DefaultRecvQueue = 100
)

// inbox is a bounded receive queue that drops its oldest message when full.
type inbox struct {
	mu     sync.Mutex // serialises put against close
	ch     chan Message
	closed bool
}

func newInbox(n int) *inbox {
	return &inbox{ch: make(chan Message, n)}
}

// put queues m, dropping the oldest message if the queue is full. It
// reports whether a message was dropped.
func (b *inbox) put(m Message) (dropped bool) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.closed {
		return true
	}
	for {
		select {
		case b.ch <- m:
			return dropped
		default:
		}
		select {
		case <-b.ch:
			dropped = true
		default:
		}
	}
}

func (b *inbox) close() {
	b.mu.Lock()
	defer b.mu.Unlock()
	if !b.closed {
		b.closed = true
		close(b.ch)
	}
}
