package quorum

import (
	"errors"
	"fmt"
	"maps"
	"net/netip"
	"slices"
	"strconv"
	"strings"
)

// Roles of a server in the ensemble (Server.Role).
const (
	Participant = "participant"
	Observer    = "observer"
)

// Server is one server.N line.
type Server struct {
	ID           int64
	Host         string // without the [] of an IPv6 literal
	QuorumPort   int
	ElectionPort int
	Role         string // Participant or Observer
	ClientHost   string // from ";host:port" ("0.0.0.0" for ";port"); "" when absent
	ClientPort   int    // 0 when absent
}

// Members is one configuration of an ensemble: its servers and the
// configuration's version (upstream's QuorumVerifier). It is what the
// /zookeeper/config znode holds, what a dynamic configuration file stores,
// and what a reconfig operation replaces.
type Members struct {
	Servers map[int64]Server
	// Version is the zxid of the reconfig txn that made this
	// configuration, the NEWLEADER zxid of the first epoch that
	// established an initial one, or 0 for an initial configuration not yet
	// established.
	Version int64
}

// Voters returns the participants' ids, sorted.
func (m Members) Voters() []int64 { return m.ids(Participant) }

// Observers returns the observers' ids, sorted.
func (m Members) Observers() []int64 { return m.ids(Observer) }

func (m Members) ids(role string) []int64 {
	var out []int64
	for _, id := range slices.Sorted(maps.Keys(m.Servers)) {
		if m.Servers[id].Role == role {
			out = append(out, id)
		}
	}
	return out
}

// IsVoter reports whether id is a participant of m.
func (m Members) IsVoter(id int64) bool {
	s, ok := m.Servers[id]
	return ok && s.Role == Participant
}

// String renders m as upstream's QuorumVerifier.toString: the content of
// /zookeeper/config, one
// "server.N=host:quorumPort:electionPort:role[;clientHost:clientPort]"
// line per server in id order, then "version=<hex>".
func (m Members) String() string {
	var b strings.Builder
	for _, id := range slices.Sorted(maps.Keys(m.Servers)) {
		s := m.Servers[id]
		fmt.Fprintf(&b, "server.%d=%s\n", id, s.Spec())
	}
	fmt.Fprintf(&b, "version=%x", m.Version)
	return b.String()
}

// Spec renders the value of the server's server.N line as upstream's
// QuorumServer.toString does: host:quorumPort:electionPort:role, then
// ;clientHost:clientPort when it has a client address.
func (s Server) Spec() string {
	v := fmt.Sprintf("%s:%d:%d:%s", s.Host, s.QuorumPort, s.ElectionPort, s.Role)
	if s.ClientPort != 0 {
		v += fmt.Sprintf(";%s:%d", s.ClientHost, s.ClientPort)
	}
	return v
}

// ParseMembers parses a configuration in the form /zookeeper/config and
// reconfig's new-members list hold it: "server.N=spec" lines (or
// comma-separated entries) and an optional "version=<hex>". Addresses are
// not checked for duplicates: upstream accepts a reconfig that repeats a
// loopback address, and every member must then read the result.
func ParseMembers(text string) (Members, error) {
	m := Members{Servers: map[int64]Server{}}
	text = strings.ReplaceAll(text, ",", "\n")
	for n, line := range strings.Split(text, "\n") {
		line = strings.TrimSpace(line)
		if line == "" || line[0] == '#' || line[0] == '!' {
			continue
		}
		key, value, ok := strings.Cut(line, "=")
		if !ok {
			return Members{}, fmt.Errorf("quorum: members line %d: %q is not key=value", n+1, line)
		}
		key, value = strings.TrimSpace(key), strings.TrimSpace(value)
		if key == "version" {
			v, err := strconv.ParseInt(value, 16, 64)
			if err != nil {
				return Members{}, fmt.Errorf("quorum: members line %d: version %q is not a hex number", n+1, value)
			}
			m.Version = v
			continue
		}
		s, err := ParseServerLine(key, value)
		if err != nil {
			return Members{}, fmt.Errorf("quorum: members line %d: %w", n+1, err)
		}
		if _, dup := m.Servers[s.ID]; dup {
			return Members{}, fmt.Errorf("quorum: members line %d: server id %d is listed twice", n+1, s.ID)
		}
		m.Servers[s.ID] = s
	}
	return m, nil
}

// ParseServerLine parses one "server.N" key and its value.
func ParseServerLine(key, value string) (Server, error) {
	idText, ok := strings.CutPrefix(key, "server.")
	if !ok {
		return Server{}, fmt.Errorf("quorum: %q: only server.N entries are allowed", key)
	}
	id, err := strconv.ParseInt(idText, 10, 64)
	if err != nil {
		return Server{}, fmt.Errorf("quorum: %q: server id %q is not a number", key, idText)
	}
	s, err := ParseServer(id, value)
	if err != nil {
		return Server{}, fmt.Errorf("quorum: %s: %w", key, err)
	}
	return s, nil
}

// ConflictsWith reports whether s and o share an address: any of their
// quorum, election and client addresses, except wildcard and loopback ones,
// as upstream's QuorumServer.checkAddressDuplicate checks a joining server
// against each member.
func (s Server) ConflictsWith(o Server) bool {
	for _, a := range s.specificAddrs() {
		for _, b := range o.specificAddrs() {
			if a == b {
				return true
			}
		}
	}
	return false
}

// specificAddrs lists the server's addresses that name one host.
func (s Server) specificAddrs() []string {
	var out []string
	add := func(host string, port int) {
		if port == 0 || host == "" || strings.EqualFold(host, "localhost") {
			return
		}
		if ip, err := netip.ParseAddr(host); err == nil && ip.Zone() == "" {
			// Unmapped, as net.IP compares an IPv4-mapped address.
			if ip = ip.Unmap(); ip.IsLoopback() || ip.IsUnspecified() {
				return
			}
		}
		out = append(out, fmt.Sprintf("%s:%d", strings.ToLower(host), port))
	}
	add(s.Host, s.QuorumPort)
	add(s.Host, s.ElectionPort)
	add(s.ClientHost, s.ClientPort)
	return out
}

const wrongFormat = "does not have the form host:port:port[:role][;[clientHost:]clientPort]"

// ParseServer parses the value of server id's server.N line as upstream's
// QuorumServer does. The error is the bare reason, without a package
// prefix, for the caller to put in its own context (config names the
// file, line and key).
func ParseServer(id int64, value string) (Server, error) {
	s, msg := parseServer(id, value)
	if msg != "" {
		return s, errors.New(msg)
	}
	return s, nil
}

func parseServer(id int64, value string) (Server, string) {
	s := Server{ID: id, Role: Participant}
	parts := javaSplit(value, ';')
	if len(parts) > 2 || len(parts) == 0 {
		return s, fmt.Sprintf("%q %s", value, wrongFormat)
	}
	addrs := javaSplit(parts[0], '|')
	if len(addrs) == 0 {
		return s, fmt.Sprintf("%q %s", value, wrongFormat)
	}
	if len(parts) == 2 {
		cp, msg := hostAndPort(parts[1])
		if msg != "" {
			return s, msg
		}
		if len(cp) > 2 || len(cp) == 0 {
			return s, fmt.Sprintf("%q %s", value, wrongFormat)
		}
		s.ClientHost = "0.0.0.0"
		if len(cp) == 2 {
			s.ClientHost = cp[0]
		}
		port, msg := parsePort("client", cp[len(cp)-1])
		if msg != "" {
			return s, msg
		}
		s.ClientPort = port
	}
	if len(addrs) > 1 {
		return s, "multiple addresses (|) are not supported (upstream needs multiAddress.enabled)"
	}
	sp, msg := hostAndPort(addrs[0])
	if msg != "" {
		return s, msg
	}
	if len(sp) < 3 || len(sp) > 4 {
		return s, fmt.Sprintf("%q %s", value, wrongFormat)
	}
	s.Host = sp[0]
	if s.QuorumPort, msg = parsePort("quorum", sp[1]); msg != "" {
		return s, msg
	}
	if s.ElectionPort, msg = parsePort("election", sp[2]); msg != "" {
		return s, msg
	}
	if s.QuorumPort == s.ElectionPort {
		return s, fmt.Sprintf("quorum and election port must be different (both %d)", s.QuorumPort)
	}
	if len(sp) == 4 {
		switch r := strings.ToLower(javaTrim(sp[3])); r {
		case Observer, Participant:
			s.Role = r
		default:
			return s, fmt.Sprintf("unrecognised peer type %q (participant or observer)", sp[3])
		}
	}
	return s, ""
}

func parsePort(what, s string) (int, string) {
	n, err := strconv.ParseInt(s, 10, 32)
	if err != nil {
		hint := ""
		if strings.TrimSpace(s) != s {
			hint = " (blanks are not allowed here; upstream rejects them too)"
		}
		return 0, fmt.Sprintf("%s port %q is not a number%s", what, s, hint)
	}
	if n < 0 || n > 65535 {
		return 0, fmt.Sprintf("%s port out of range: %d", what, n)
	}
	return int(n), ""
}

// hostAndPort is ConfigUtils.getHostAndPort: it splits on ':' after an
// optional [IPv6 literal].
func hostAndPort(s string) ([]string, string) {
	if strings.HasPrefix(s, "[") {
		i := strings.IndexByte(s, ']')
		if i < 0 {
			return nil, fmt.Sprintf("%q starts with '[' but has no matching ']:'", s)
		}
		if i+2 == len(s) {
			return nil, fmt.Sprintf("%q doesn't have a port after colon", s)
		}
		if i+2 < len(s) {
			return append([]string{s[1:i]}, javaSplit(s[i+2:], ':')...), ""
		}
		return []string{strings.NewReplacer("[", "", "]", "").Replace(s)}, ""
	}
	return javaSplit(s, ':'), ""
}

// javaSplit is String.split with a one-character pattern: trailing empty
// strings are dropped (but "" splits to [""]).
func javaSplit(s string, sep byte) []string {
	parts := strings.Split(s, string(sep))
	n := len(parts)
	for n > 0 && parts[n-1] == "" {
		n--
	}
	if n == 0 {
		if s == "" {
			return []string{""}
		}
		return []string{}
	}
	return parts[:n]
}

// javaTrim is String.trim: it drops every char <= ' ' from both ends.
func javaTrim(s string) string {
	return strings.TrimFunc(s, func(r rune) bool { return r <= ' ' })
}
