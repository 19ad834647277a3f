package clientconn

import (
	"strings"
	"time"

	"github.com/zkbench/zkbench/server/proto"
)

// ConnInfo is one client connection's figures, as cons prints them (the
// AdminServer's connections command).
type ConnInfo struct {
	Remote             string // host:port
	Queued             int
	Received, Sent     int64
	SessionID          int64
	LastOp             string // upstream's short name (GETD, SETD, ...), NA before any
	EstablishedMs      int64  // Unix ms
	TimeoutMs          int32
	LastCxid           int32
	LastZxid           int64
	LastLatencyMs      int64
	MinLatencyMs       int64
	AvgLatencyMs       int64
	MaxLatencyMs       int64
	LastResponseTimeMs int64 // Unix ms of the last reply sent, as far as known (the last request's)
}

// Connections describes the client connections, oldest first.
func (s *Server) Connections() []ConnInfo {
	var out []ConnInfo
	for _, c := range s.sortedConns() {
		var avg int64
		if n := c.stats.latencyCnt.Load(); n > 0 {
			avg = c.stats.latencyTotal.Load() / n / 1000
		}
		lop := "NA"
		if op := c.lastOp.Load(); op != -100 {
			lop = proto.OpCode(op).String()
		}
		out = append(out, ConnInfo{
			Remote: c.nc.RemoteAddr().String(), Queued: c.queued(),
			Received: c.stats.received.Load(), Sent: c.stats.sent.Load(),
			SessionID: c.session.Load(), LastOp: lop, EstablishedMs: c.est.UnixMilli(),
			TimeoutMs: c.timeoutMs.Load(), LastCxid: c.lastCxid.Load(), LastZxid: c.lastZxid.Load(),
			LastLatencyMs: c.lastLatencyMicros.Load() / 1000, MinLatencyMs: c.stats.latencyMin.Load() / 1000,
			AvgLatencyMs: avg, MaxLatencyMs: c.stats.latencyMax.Load() / 1000,
		})
	}
	return out
}

// ServerInfo is what srvr and stat report, as figures.
type ServerInfo struct {
	Version                 string
	Stats                   Stats
	Received, Sent          int64
	Connections             int
	MinLatencyMs            int64
	AvgLatencyMs            float64
	MaxLatencyMs            int64
	NodeCount               int
	Uptime                  time.Duration
	DataDirSize, LogDirSize int64
}

// Info returns the server's figures.
func (s *Server) Info() ServerInfo {
	minL, avgL, maxL := s.latencies()
	in := ServerInfo{
		Version: s.opts.Version, Stats: s.opts.Backend.ServerStats(),
		Received: s.stats.received.Load(), Sent: s.stats.sent.Load(), Connections: s.NumConnections(),
		MinLatencyMs: minL, AvgLatencyMs: avgL, MaxLatencyMs: maxL,
		NodeCount: s.opts.Backend.Tree().NodeCount(), Uptime: time.Since(s.started),
	}
	if d, ok := s.opts.Backend.(DirSizer); ok {
		in.DataDirSize, in.LogDirSize = d.DirSizes()
	}
	return in
}

// WatchSummary is what wchs reports: connections watching, paths watched,
// and watches.
func (s *Server) WatchSummary() (conns, paths, total int) {
	t := s.opts.Backend.Tree()
	for _, ps := range t.WatchesByPath() {
		paths++
		total += len(ps)
	}
	return len(t.WatchesByWatcher()), paths, total
}

// Environment is what envi reports after its first line, key and value.
func (s *Server) Environment() [][2]string {
	var kvs [][2]string
	for _, line := range strings.Split(s.FourLetterWord("envi"), "\n") {
		if k, v, ok := strings.Cut(line, "="); ok {
			kvs = append(kvs, [2]string{k, v})
		}
	}
	return kvs
}
