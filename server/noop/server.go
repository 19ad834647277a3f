package noop

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"sync"
	"sync/atomic"
	"time"

	"github.com/zkbench/zkbench/internal/netutil"
	"github.com/zkbench/zkbench/server/proto"
)

// DefaultValueSize is the size of the value getData returns when
// Server.ValueSize is zero: the 1 KiB of the published experiments.
const DefaultValueSize = 1024

// Version is reported by the srvr and stat four-letter words.
const Version = "zknoop-1.0"

// handshakeTimeout bounds how long a new connection may take to send its
// connect request (or four-letter word).
const handshakeTimeout = 10 * time.Second

// Server is a no-op ZooKeeper server. Set the fields, then call Serve or
// ListenAndServe; the fields must not change afterwards.
type Server struct {
	// Addr is the address ListenAndServe listens on, e.g. "127.0.0.1:2181".
	Addr string
	// ValueSize is the size of the value getData returns (0: 1024).
	ValueSize int
	// MaxBuffer is the largest request frame accepted, in bytes, like
	// upstream's jute.maxbuffer (0: proto.DefaultMaxBuffer).
	MaxBuffer int
	// Logger receives connection-level events (nil: discard).
	Logger *slog.Logger

	once      sync.Once
	maxBuffer int
	log       *slog.Logger
	value     []byte
	startMs   int64
	nextSID   atomic.Int64
	seq       atomic.Int32
	zxid      atomic.Int64
	received  atomic.Int64
	sent      atomic.Int64
	mu        sync.Mutex
	conns     map[net.Conn]struct{}
	connCount atomic.Int64
}

func (s *Server) init() {
	s.once.Do(func() {
		n := s.ValueSize
		if n <= 0 {
			n = DefaultValueSize
		}
		s.value = make([]byte, n)
		for i := range s.value {
			s.value[i] = 'a' + byte(i%26)
		}
		s.maxBuffer = s.MaxBuffer
		if s.maxBuffer <= 0 {
			s.maxBuffer = proto.DefaultMaxBuffer
		}
		s.log = s.Logger
		if s.log == nil {
			s.log = slog.New(slog.DiscardHandler)
		}
		now := time.Now()
		s.startMs = now.UnixMilli()
		// Session ids look like upstream's: a server id in the top byte
		// (here 0x4e, "N") and a time-derived base, then a counter.
		s.nextSID.Store(0x4e<<56 | (now.UnixMilli()<<24)&0x00ffffffff000000)
		s.zxid.Store(1)
		s.conns = make(map[net.Conn]struct{})
	})
}

// ListenAndServe listens on s.Addr and serves until ctx is done.
func (s *Server) ListenAndServe(ctx context.Context) error {
	ln, err := net.Listen("tcp", s.Addr)
	if err != nil {
		return fmt.Errorf("noop: %w", err)
	}
	return s.Serve(ctx, ln)
}

// Serve accepts connections on ln and serves them until ctx is done, then
// closes ln and every connection, waits for their goroutines and returns
// nil. Transient accept errors, such as running out of file descriptors,
// are logged and retried; it returns an error if ln is closed otherwise.
func (s *Server) Serve(ctx context.Context, ln net.Listener) error {
	s.init()
	var wg sync.WaitGroup
	stop := context.AfterFunc(ctx, func() {
		ln.Close()
		s.mu.Lock()
		for c := range s.conns {
			c.Close()
		}
		s.mu.Unlock()
	})
	defer func() {
		stop()
		ln.Close()
		s.mu.Lock()
		for c := range s.conns {
			c.Close()
		}
		s.mu.Unlock()
		wg.Wait()
	}()
	s.log.Info("noop: serving", "addr", ln.Addr().String(), "valueSize", len(s.value))
	for {
		nc, err := netutil.AcceptRetrying(ctx, ln, s.log)
		if err != nil {
			if ctx.Err() != nil {
				return nil
			}
			return fmt.Errorf("noop: %w", err)
		}
		s.mu.Lock()
		if ctx.Err() != nil {
			s.mu.Unlock()
			nc.Close()
			return nil
		}
		s.conns[nc] = struct{}{}
		s.mu.Unlock()
		s.connCount.Add(1)
		wg.Add(1)
		go func() {
			defer wg.Done()
			s.serveConn(nc)
			nc.Close()
			s.mu.Lock()
			delete(s.conns, nc)
			s.mu.Unlock()
			s.connCount.Add(-1)
		}()
	}
}

// stat returns the Stat reported for every node.
func (s *Server) stat(zxid int64) proto.Stat {
	return proto.Stat{
		Czxid: 1, Mzxid: zxid, Ctime: s.startMs, Mtime: s.startMs,
		DataLength: int32(len(s.value)), Pzxid: 1,
	}
}

// newSession returns a session id and its password.
func (s *Server) newSession() (int64, []byte) {
	id := s.nextSID.Add(1)
	return id, passwordFor(id)
}

// passwordFor derives a 16-byte password from a session id, so that a
// client re-attaching with the id and password it was given gets the same
// password back.
func passwordFor(id int64) []byte {
	p := make([]byte, 16)
	x := uint64(id) ^ 0x9e3779b97f4a7c15
	for i := range p {
		x ^= x << 13
		x ^= x >> 7
		x ^= x << 17
		p[i] = byte(x)
	}
	return p
}
