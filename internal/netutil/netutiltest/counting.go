package netutiltest

import (
	"net"
	"sync/atomic"
)

// CountingListener counts the Write calls (system calls, for a TCP
// connection) made on the connections it accepts, in Writes.
type CountingListener struct {
	net.Listener
	Writes *atomic.Int64
}

// Accept accepts a connection whose writes are counted.
func (l CountingListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err != nil {
		return nil, err
	}
	return countingConn{c, l.Writes}, nil
}

type countingConn struct {
	net.Conn
	writes *atomic.Int64
}

func (c countingConn) Write(b []byte) (int, error) {
	c.writes.Add(1)
	return c.Conn.Write(b)
}
