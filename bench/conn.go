package bench

import (
	"bufio"
	"errors"
	"net"
	"sync"
	"time"
)

// driverConn wraps each client connection to cut the system calls
// go-zookeeper makes, which are most of the driver's CPU:
//
//   - Reads go through a buffer. go-zookeeper reads every reply with two
//     unbuffered reads (length, then body); a burst of pipelined replies
//     now costs one.
//   - Writes are coalesced. go-zookeeper writes every request with its own
//     system call; here Write appends to a buffer and a flusher goroutine
//     writes whatever has accumulated, at once when idle, so a lone request
//     goes out immediately and requests issued while a write is in progress
//     share the next one.
//
// It also reports read timeouts (onTimeout), so that the driver can tell a
// hung server from a dead one.
type driverConn struct {
	net.Conn
	r            *bufio.Reader
	onTimeout    func()
	writeTimeout time.Duration

	mu      sync.Mutex
	pending []byte
	err     error // sticky write error
	kick    chan struct{}
	done    chan struct{}
	once    sync.Once
}

func newDriverConn(c net.Conn, writeTimeout time.Duration, onTimeout func()) *driverConn {
	d := &driverConn{
		Conn:         c,
		r:            bufio.NewReaderSize(c, 16<<10),
		onTimeout:    onTimeout,
		writeTimeout: writeTimeout,
		kick:         make(chan struct{}, 1),
		done:         make(chan struct{}),
	}
	go d.flush()
	return d
}

// Read reads through the buffer.
func (d *driverConn) Read(p []byte) (int, error) {
	n, err := d.r.Read(p)
	if err != nil && d.onTimeout != nil {
		var ne net.Error
		if errors.As(err, &ne) && ne.Timeout() {
			d.onTimeout()
		}
	}
	return n, err
}

// Write queues p for the flusher; it fails once a write has failed.
func (d *driverConn) Write(p []byte) (int, error) {
	d.mu.Lock()
	if d.err != nil {
		err := d.err
		d.mu.Unlock()
		return 0, err
	}
	d.pending = append(d.pending, p...)
	d.mu.Unlock()
	select {
	case d.kick <- struct{}{}:
	default:
	}
	return len(p), nil
}

// SetWriteDeadline is ignored: the flusher sets its own deadline on every
// write (go-zookeeper's would apply to a Write that only queues).
func (d *driverConn) SetWriteDeadline(time.Time) error { return nil }

// SetDeadline sets only the read deadline, for the same reason.
func (d *driverConn) SetDeadline(t time.Time) error { return d.Conn.SetReadDeadline(t) }

// Close stops the flusher and closes the connection.
func (d *driverConn) Close() error {
	d.once.Do(func() { close(d.done) })
	return d.Conn.Close()
}

func (d *driverConn) flush() {
	var out []byte
	for {
		select {
		case <-d.kick:
		case <-d.done:
			return
		}
		for {
			d.mu.Lock()
			if len(d.pending) == 0 {
				d.mu.Unlock()
				break
			}
			out, d.pending = d.pending, out[:0]
			d.mu.Unlock()
			if d.writeTimeout > 0 {
				d.Conn.SetWriteDeadline(time.Now().Add(d.writeTimeout))
			}
			if _, err := d.Conn.Write(out); err != nil {
				d.mu.Lock()
				d.err = err
				d.mu.Unlock()
				d.Conn.Close() // go-zookeeper's reader sees it and reconnects
				return
			}
		}
	}
}
