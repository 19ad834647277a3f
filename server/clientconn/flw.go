package clientconn

import (
	"fmt"
	"os"
	"runtime"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/zkbench/zkbench/server/proto"
)

// fourLetterWords are the commands answered over the client port.
var fourLetterWords = map[string]bool{
	"ruok": true, "srvr": true, "stat": true, "mntr": true, "conf": true,
	"cons": true, "envi": true, "wchs": true, "wchc": true, "wchp": true,
	"dump": true, "isro": true, "crst": true, "srst": true, "dirs": true,
	"gtmk": true, "stmk": true,
}

func isFourLetterWord(s string) bool { return fourLetterWords[s] }

// SessionLister is implemented by Backends that can list their sessions
// (id -> timeout ms) for the dump four-letter word.
type SessionLister interface {
	Sessions() map[int64]int32
}

// DirSizer is implemented by Backends that can report data and log
// directory sizes for the dirs four-letter word.
type DirSizer interface {
	DirSizes() (dataBytes, logBytes int64)
}

func (s *Server) allowed(cmd string) bool {
	wl := s.opts.FourLetterWords
	return wl == nil || wl["*"] || wl[cmd]
}

// fourLetterWord answers cmd and closes the connection, as upstream does.
func (c *conn) fourLetterWord(cmd string) {
	defer c.closeAfterFlush("")
	s := c.srv
	if !s.allowed(cmd) {
		c.sendRaw(cmd + " is not executed because it is not in the whitelist.\n")
		return
	}
	c.sendRaw(s.FourLetterWord(cmd))
}

func (c *conn) sendRaw(text string) {
	c.outMu.Lock()
	c.out = append(c.out, text...)
	c.outMu.Unlock()
	c.signal()
}

// FourLetterWord returns the output of a four-letter word.
func (s *Server) FourLetterWord(cmd string) string {
	b := s.opts.Backend
	st := b.ServerStats()
	var sb strings.Builder
	switch cmd {
	case "ruok":
		return "imok"
	case "isro":
		if st.Mode == "read-only" {
			return "ro"
		}
		return "rw"
	case "srvr", "stat":
		if st.Mode == "looking" {
			return "This ZooKeeper instance is not currently serving requests\n"
		}
	}
	switch cmd {
	case "srvr":
		fmt.Fprintf(&sb, "Zookeeper version: %s\n", s.opts.Version)
		s.writeStats(&sb, st)
	case "stat":
		fmt.Fprintf(&sb, "Zookeeper version: %s\n", s.opts.Version)
		sb.WriteString("Clients:\n")
		for _, c := range s.sortedConns() {
			fmt.Fprintf(&sb, " /%s[1](queued=%d,recved=%d,sent=%d)\n", c.nc.RemoteAddr(), c.queued(), c.stats.received.Load(), c.stats.sent.Load())
		}
		sb.WriteString("\n")
		s.writeStats(&sb, st)
	case "mntr":
		s.writeMntr(&sb, st)
	case "conf":
		for _, kv := range s.opts.Config {
			fmt.Fprintf(&sb, "%s=%s\n", kv[0], kv[1])
		}
		if s.opts.ConfigTail != nil {
			sb.WriteString(s.opts.ConfigTail())
		}
	case "envi":
		sb.WriteString("Environment:\n")
		host, _ := os.Hostname()
		fmt.Fprintf(&sb, "zookeeper.version=%s\n", s.opts.Version)
		fmt.Fprintf(&sb, "host.name=%s\n", host)
		fmt.Fprintf(&sb, "go.version=%s\n", runtime.Version())
		fmt.Fprintf(&sb, "os.name=%s\nos.arch=%s\n", runtime.GOOS, runtime.GOARCH)
		wd, _ := os.Getwd()
		fmt.Fprintf(&sb, "user.dir=%s\n", wd)
		for _, kv := range s.opts.Env {
			fmt.Fprintf(&sb, "%s=%s\n", kv[0], kv[1])
		}
	case "cons":
		for _, c := range s.sortedConns() {
			sb.WriteString(c.describe())
		}
		sb.WriteString("\n")
	case "crst":
		for _, c := range s.sortedConns() {
			c.resetStats()
		}
		return "Connection stats reset.\n"
	case "srst":
		s.stats.reset()
		return "Server stats reset.\n"
	case "wchs":
		byWatcher := b.Tree().WatchesByWatcher()
		paths, total := 0, 0
		for _, ps := range b.Tree().WatchesByPath() {
			paths++
			total += len(ps)
		}
		fmt.Fprintf(&sb, "%d connections watching %d paths\nTotal watches:%d\n", len(byWatcher), paths, total)
	case "wchc":
		byWatcher := b.Tree().WatchesByWatcher()
		type entry struct {
			sid   int64
			paths []string
		}
		var entries []entry
		for w, paths := range byWatcher {
			var sid int64
			if c, ok := w.(*conn); ok {
				sid = c.session.Load()
			}
			entries = append(entries, entry{sid, paths})
		}
		sort.Slice(entries, func(i, j int) bool { return entries[i].sid < entries[j].sid })
		for _, e := range entries {
			fmt.Fprintf(&sb, "0x%x\n", e.sid)
			sort.Strings(e.paths)
			for _, p := range e.paths {
				fmt.Fprintf(&sb, "\t%s\n", p)
			}
		}
	case "wchp":
		byPath := b.Tree().WatchesByPath()
		paths := make([]string, 0, len(byPath))
		for p := range byPath {
			paths = append(paths, p)
		}
		sort.Strings(paths)
		for _, p := range paths {
			fmt.Fprintf(&sb, "%s\n", p)
			for _, w := range byPath[p] {
				if c, ok := w.(*conn); ok {
					fmt.Fprintf(&sb, "\t0x%x\n", c.session.Load())
				}
			}
		}
	case "dump":
		sb.WriteString("SessionTracker dump:\n")
		var sessions map[int64]int32
		if l, ok := b.(SessionLister); ok {
			sessions = l.Sessions()
		}
		ids := make([]int64, 0, len(sessions))
		for id := range sessions {
			ids = append(ids, id)
		}
		sort.Slice(ids, func(i, j int) bool { return ids[i] < ids[j] })
		fmt.Fprintf(&sb, "Global Sessions(%d):\n", len(ids))
		for _, id := range ids {
			fmt.Fprintf(&sb, "0x%x\t%dms\n", id, sessions[id])
		}
		sb.WriteString("ephemeral nodes dump:\n")
		var withEph []int64
		for _, id := range ids {
			if len(b.Tree().Ephemerals(id, "")) > 0 {
				withEph = append(withEph, id)
			}
		}
		fmt.Fprintf(&sb, "Sessions with Ephemerals (%d):\n", len(withEph))
		for _, id := range withEph {
			fmt.Fprintf(&sb, "0x%x:\n", id)
			eph := b.Tree().Ephemerals(id, "")
			sort.Strings(eph)
			for _, p := range eph {
				fmt.Fprintf(&sb, "\t%s\n", p)
			}
		}
	case "dirs":
		var data, logs int64
		if d, ok := b.(DirSizer); ok {
			data, logs = d.DirSizes()
		}
		fmt.Fprintf(&sb, "datadir_size: %d\nlogdir_size: %d\n", data, logs)
	case "gtmk", "stmk":
		return "0\n"
	}
	return sb.String()
}

func (s *Server) writeStats(sb *strings.Builder, st Stats) {
	minL, avgL, maxL := s.latencies()
	fmt.Fprintf(sb, "Latency min/avg/max: %d/%s/%d\n", minL, javaDouble(avgL), maxL)
	fmt.Fprintf(sb, "Received: %d\n", s.stats.received.Load())
	fmt.Fprintf(sb, "Sent: %d\n", s.stats.sent.Load())
	fmt.Fprintf(sb, "Connections: %d\n", s.NumConnections())
	fmt.Fprintf(sb, "Outstanding: %d\n", st.Outstanding)
	fmt.Fprintf(sb, "Zxid: 0x%x\n", st.LastZxid)
	fmt.Fprintf(sb, "Mode: %s\n", st.Mode)
	fmt.Fprintf(sb, "Node count: %d\n", s.opts.Backend.Tree().NodeCount())
	if st.Mode == "leader" {
		sb.WriteString("Proposal sizes last/min/max: -1/-1/-1\n")
	}
}

func (s *Server) writeMntr(sb *strings.Builder, st Stats) {
	for _, kv := range s.mntr(st) {
		fmt.Fprintf(sb, "%s\t%s\n", kv[0], kv[1])
	}
}

// Mntr returns what the mntr four-letter word prints, key and value, in
// its order: the figures the AdminServer's monitor command and the
// Prometheus gauges report too.
func (s *Server) Mntr() [][2]string { return s.mntr(s.opts.Backend.ServerStats()) }

func (s *Server) mntr(st Stats) [][2]string {
	t := s.opts.Backend.Tree()
	minL, avgL, maxL := s.latencies()
	var kvs [][2]string
	kv := func(k string, v any) { kvs = append(kvs, [2]string{k, fmt.Sprint(v)}) }
	kv("zk_version", s.opts.Version)
	kv("zk_server_state", st.Mode)
	kv("zk_avg_latency", javaDouble(avgL))
	kv("zk_max_latency", maxL)
	kv("zk_min_latency", minL)
	kv("zk_packets_received", s.stats.received.Load())
	kv("zk_packets_sent", s.stats.sent.Load())
	kv("zk_num_alive_connections", s.NumConnections())
	kv("zk_outstanding_requests", st.Outstanding)
	kv("zk_znode_count", t.NodeCount())
	kv("zk_watch_count", t.WatchCount())
	kv("zk_ephemerals_count", t.EphemeralCount())
	if l, ok := s.opts.Backend.(SessionLister); ok {
		kv("zk_global_sessions", len(l.Sessions()))
	}
	kv("zk_approximate_data_size", t.ApproximateDataSize())
	kv("zk_last_zxid", fmt.Sprintf("0x%x", st.LastZxid))
	kv("zk_epoch", st.Epoch)
	kv("zk_uptime", time.Since(s.started).Milliseconds())
	if fds, err := os.ReadDir("/proc/self/fd"); err == nil {
		kv("zk_open_file_descriptor_count", len(fds))
	}
	if st.Mode == "leader" {
		kv("zk_learners", st.Followers)
		kv("zk_followers", st.Followers)
		kv("zk_synced_followers", st.SyncedFollowers)
		kv("zk_pending_syncs", st.PendingSyncs)
	}
	for _, e := range st.Extra {
		kv(e[0], e[1])
	}
	return kvs
}

// latencies returns min, average and max request latency in ms.
func (s *Server) latencies() (int64, float64, int64) {
	n := s.stats.latencyCnt.Load()
	if n == 0 {
		return 0, 0, 0
	}
	avg := float64(s.stats.latencyTotal.Load()) / float64(n) / 1000
	return s.stats.latencyMin.Load() / 1000, avg, s.stats.latencyMax.Load() / 1000
}

// javaDouble formats f as Java's Double.toString would for these values.
func javaDouble(f float64) string {
	s := strconv.FormatFloat(f, 'f', -1, 64)
	if !strings.Contains(s, ".") {
		s += ".0"
	}
	return s
}

func (s *Server) sortedConns() []*conn {
	conns := s.snapshotConns()
	sort.Slice(conns, func(i, j int) bool { return conns[i].est.Before(conns[j].est) })
	return conns
}

func (c *conn) queued() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.pending)
}

func (c *conn) resetStats() { c.stats.reset() }

// describe is the connection's line in cons.
func (c *conn) describe() string {
	var avg int64
	if n := c.stats.latencyCnt.Load(); n > 0 {
		avg = c.stats.latencyTotal.Load() / n / 1000
	}
	lop := "NA"
	if op := c.lastOp.Load(); op != -100 {
		lop = proto.OpCode(op).String()
	}
	return fmt.Sprintf(" /%s[1](queued=%d,recved=%d,sent=%d,sid=0x%x,lop=%s,est=%d,to=%d,lcxid=0x%x,lzxid=0x%x,llat=%d,minlat=%d,avglat=%d,maxlat=%d)\n",
		c.nc.RemoteAddr(), c.queued(), c.stats.received.Load(), c.stats.sent.Load(), c.session.Load(), lop,
		c.est.UnixMilli(), c.timeoutMs.Load(), c.lastCxid.Load(), c.lastZxid.Load(),
		c.lastLatencyMicros.Load()/1000, c.stats.latencyMin.Load()/1000, avg, c.stats.latencyMax.Load()/1000)
}
