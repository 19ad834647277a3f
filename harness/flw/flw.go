package flw

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// ErrNotServing is returned by Srvr and Stat when the server answers but says
// it is not currently serving requests (it is electing a leader or syncing).
var ErrNotServing = errors.New("flw: server is not currently serving requests")

// ErrNotWhitelisted is returned when the server refuses the word because it
// is not in 4lw.commands.whitelist.
var ErrNotWhitelisted = errors.New("flw: command is not in the server's 4lw.commands.whitelist")

// ErrEmptyReply is returned when the server accepts the connection but
// closes (or resets) it without a word, as a server refusing clients may do.
var ErrEmptyReply = errors.New("flw: server closed the connection without replying")

// maxReply bounds how much of a reply is read; mntr on Java 3.8 is ~20 KiB.
const maxReply = 4 << 20

// Mode is a server's role as srvr reports it.
type Mode string

// The roles a ZooKeeper server reports.
const (
	ModeLeader     Mode = "leader"
	ModeFollower   Mode = "follower"
	ModeObserver   Mode = "observer"
	ModeStandalone Mode = "standalone"
	// ModeReadOnly is reported by servers started in read-only mode.
	ModeReadOnly Mode = "read-only"
)

// Serving reports whether the mode is one in which the server answers clients
// as part of a working ensemble.
func (m Mode) Serving() bool {
	switch m {
	case ModeLeader, ModeFollower, ModeObserver, ModeStandalone:
		return true
	}
	return false
}

// ServerStats is a parsed srvr (or stat) reply.
type ServerStats struct {
	Version     string // as reported, e.g. "3.8.0-${mvngit.commit.id}"
	BuildDate   string // as reported, may be empty
	MinLatency  float64
	AvgLatency  float64
	MaxLatency  float64
	Received    int64
	Sent        int64
	Connections int64
	Outstanding int64
	Zxid        int64
	Mode        Mode
	NodeCount   int64
	// Clients holds the raw client lines of a stat reply (empty for srvr).
	Clients []string
}

// Epoch is the epoch part (high 32 bits) of the last zxid.
func (s ServerStats) Epoch() int64 { return s.Zxid >> 32 }

// Counter is the counter part (low 32 bits) of the last zxid.
func (s ServerStats) Counter() int64 { return s.Zxid & 0xffffffff }

// Command sends word to the server at addr and returns the whole reply.
func Command(ctx context.Context, addr, word string, timeout time.Duration) ([]byte, error) {
	if timeout <= 0 {
		timeout = 2 * time.Second
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	var d net.Dialer
	conn, err := d.DialContext(ctx, "tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("flw: %s %s: %w", word, addr, err)
	}
	defer conn.Close()
	if dl, ok := ctx.Deadline(); ok {
		_ = conn.SetDeadline(dl)
	}
	stop := context.AfterFunc(ctx, func() { _ = conn.SetDeadline(time.Unix(1, 0)) })
	defer stop()
	if _, err := io.WriteString(conn, word); err != nil {
		if refused(err) {
			return nil, fmt.Errorf("flw: %s %s: %w (%v)", word, addr, ErrEmptyReply, err)
		}
		return nil, fmt.Errorf("flw: %s %s: write: %w", word, addr, err)
	}
	b, err := io.ReadAll(io.LimitReader(conn, maxReply))
	if err != nil {
		if len(b) == 0 && refused(err) {
			return nil, fmt.Errorf("flw: %s %s: %w (%v)", word, addr, ErrEmptyReply, err)
		}
		return nil, fmt.Errorf("flw: %s %s: read: %w", word, addr, err)
	}
	if len(b) == 0 {
		return nil, fmt.Errorf("flw: %s %s: %w", word, addr, ErrEmptyReply)
	}
	if strings.Contains(string(b), "is not executed because it is not in the whitelist") {
		return nil, fmt.Errorf("flw: %s %s: %w", word, addr, ErrNotWhitelisted)
	}
	return b, nil
}

// refused reports whether err means the server, once connected, dropped
// the connection (a reset or broken pipe) rather than timing out.
func refused(err error) bool {
	return errors.Is(err, syscall.ECONNRESET) || errors.Is(err, syscall.EPIPE)
}

// Srvr asks the server at addr for srvr and parses the reply.
func Srvr(ctx context.Context, addr string, timeout time.Duration) (ServerStats, error) {
	b, err := Command(ctx, addr, "srvr", timeout)
	if err != nil {
		return ServerStats{}, err
	}
	s, err := ParseSrvr(b)
	if err != nil {
		return s, fmt.Errorf("flw: srvr %s: %w", addr, err)
	}
	return s, nil
}

// Stat asks the server at addr for stat (srvr plus the client list).
func Stat(ctx context.Context, addr string, timeout time.Duration) (ServerStats, error) {
	b, err := Command(ctx, addr, "stat", timeout)
	if err != nil {
		return ServerStats{}, err
	}
	s, err := ParseSrvr(b)
	if err != nil {
		return s, fmt.Errorf("flw: stat %s: %w", addr, err)
	}
	return s, nil
}

// Mntr asks the server at addr for mntr and returns its key/value pairs.
func Mntr(ctx context.Context, addr string, timeout time.Duration) (map[string]string, error) {
	b, err := Command(ctx, addr, "mntr", timeout)
	if err != nil {
		return nil, err
	}
	m, err := ParseMntr(b)
	if err != nil {
		return nil, fmt.Errorf("flw: mntr %s: %w", addr, err)
	}
	return m, nil
}

// Ruok asks the server at addr whether it is running in a non-error state;
// it returns nil only on the answer "imok".
func Ruok(ctx context.Context, addr string, timeout time.Duration) error {
	b, err := Command(ctx, addr, "ruok", timeout)
	if err != nil {
		return err
	}
	if got := strings.TrimSpace(string(b)); got != "imok" {
		return fmt.Errorf("flw: ruok %s: answer %q, want \"imok\"", addr, got)
	}
	return nil
}

// ParseSrvr parses a srvr or stat reply.
func ParseSrvr(b []byte) (ServerStats, error) {
	var s ServerStats
	text := string(b)
	if strings.Contains(text, "not currently serving requests") {
		return s, ErrNotServing
	}
	seen := map[string]bool{}
	inClients := false
	sc := bufio.NewScanner(strings.NewReader(text))
	sc.Buffer(make([]byte, 64<<10), maxReply)
	for n := 1; sc.Scan(); n++ {
		line := strings.TrimRight(sc.Text(), "\r")
		if line == "" {
			inClients = false
			continue
		}
		if line == "Clients:" {
			inClients = true
			continue
		}
		if inClients {
			s.Clients = append(s.Clients, strings.TrimSpace(line))
			continue
		}
		key, val, ok := strings.Cut(line, ":")
		if !ok {
			return s, fmt.Errorf("line %d: %q is not \"key: value\"", n, line)
		}
		val = strings.TrimSpace(val)
		var err error
		switch key {
		case "Zookeeper version":
			s.Version, s.BuildDate = val, ""
			if v, d, ok := strings.Cut(val, ", built on "); ok {
				s.Version, s.BuildDate = v, d
			}
		case "Latency min/avg/max":
			parts := strings.Split(val, "/")
			if len(parts) != 3 {
				return s, fmt.Errorf("line %d: latency %q is not min/avg/max", n, val)
			}
			var f [3]float64
			for i, p := range parts {
				if f[i], err = strconv.ParseFloat(strings.TrimSpace(p), 64); err != nil {
					return s, fmt.Errorf("line %d: latency %q: %w", n, val, err)
				}
			}
			s.MinLatency, s.AvgLatency, s.MaxLatency = f[0], f[1], f[2]
		case "Received":
			s.Received, err = strconv.ParseInt(val, 10, 64)
		case "Sent":
			s.Sent, err = strconv.ParseInt(val, 10, 64)
		case "Connections":
			s.Connections, err = strconv.ParseInt(val, 10, 64)
		case "Outstanding":
			s.Outstanding, err = strconv.ParseInt(val, 10, 64)
		case "Zxid":
			s.Zxid, err = strconv.ParseInt(strings.TrimPrefix(strings.TrimPrefix(val, "0x"), "0X"), 16, 64)
		case "Mode":
			s.Mode = Mode(val)
		case "Node count":
			s.NodeCount, err = strconv.ParseInt(val, 10, 64)
		default:
			// Newer servers add lines (e.g. "Proposal sizes last/min/max");
			// unknown keys are ignored.
		}
		if err != nil {
			return s, fmt.Errorf("line %d: %s: %w", n, key, err)
		}
		seen[key] = true
	}
	if err := sc.Err(); err != nil {
		return s, err
	}
	for _, k := range []string{"Zookeeper version", "Zxid", "Mode"} {
		if !seen[k] {
			return s, fmt.Errorf("reply has no %q line", k)
		}
	}
	return s, nil
}

// ParseMntr parses a mntr reply: one "key<TAB>value" pair per line.
func ParseMntr(b []byte) (map[string]string, error) {
	text := string(b)
	if strings.Contains(text, "not currently serving requests") {
		return nil, ErrNotServing
	}
	m := make(map[string]string)
	for n, line := range strings.Split(text, "\n") {
		line = strings.TrimRight(line, "\r")
		if line == "" {
			continue
		}
		k, v, ok := strings.Cut(line, "\t")
		if !ok {
			return m, fmt.Errorf("line %d: %q has no tab", n+1, line)
		}
		m[k] = v
	}
	if len(m) == 0 {
		return m, errors.New("empty reply")
	}
	return m, nil
}
