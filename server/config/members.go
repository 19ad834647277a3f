package config

import (
	"fmt"
	"maps"
	"net"
	"strconv"
	"strings"
)

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

// Members returns the configuration zoo.cfg (or its dynamic file) gave.
func (c *Config) Members() Members {
	return Members{Servers: maps.Clone(c.Servers), Version: c.ConfigVersion}
}

// WithMembers returns a copy of c whose servers and configuration version
// are m's; the rest is shared with c and must not be changed.
func (c *Config) WithMembers(m Members) *Config {
	cp := *c
	cp.Servers = maps.Clone(m.Servers)
	cp.ConfigVersion = m.Version
	return &cp
}

// Voters returns the participants' ids, sorted.
func (m Members) Voters() []int64 { return m.ids(Participant) }

// Observers returns the observers' ids, sorted.
func (m Members) Observers() []int64 { return m.ids(Observer) }

func (m Members) ids(role string) []int64 {
	var out []int64
	for _, id := range sortedIDs(m.Servers) {
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
	for _, id := range sortedIDs(m.Servers) {
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
			return Members{}, fmt.Errorf("config: members line %d: %q is not key=value", n+1, line)
		}
		key, value = strings.TrimSpace(key), strings.TrimSpace(value)
		if key == "version" {
			v, err := strconv.ParseInt(value, 16, 64)
			if err != nil {
				return Members{}, fmt.Errorf("config: members line %d: version %q is not a hex number", n+1, value)
			}
			m.Version = v
			continue
		}
		s, err := ParseServerLine(key, value)
		if err != nil {
			return Members{}, fmt.Errorf("config: members line %d: %w", n+1, err)
		}
		if _, dup := m.Servers[s.ID]; dup {
			return Members{}, fmt.Errorf("config: members line %d: server id %d is listed twice", n+1, s.ID)
		}
		m.Servers[s.ID] = s
	}
	return m, nil
}

// ParseServerLine parses one "server.N" key and its value.
func ParseServerLine(key, value string) (Server, error) {
	idText, ok := strings.CutPrefix(key, "server.")
	if !ok {
		return Server{}, fmt.Errorf("config: %q: only server.N entries are allowed", key)
	}
	id, err := strconv.ParseInt(idText, 10, 64)
	if err != nil {
		return Server{}, fmt.Errorf("config: %q: server id %q is not a number", key, idText)
	}
	s, msg := parseServer(id, value)
	if msg != "" {
		return Server{}, fmt.Errorf("config: %s: %s", key, msg)
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
		if ip := net.ParseIP(host); ip != nil && (ip.IsLoopback() || ip.IsUnspecified()) {
			return
		}
		out = append(out, fmt.Sprintf("%s:%d", strings.ToLower(host), port))
	}
	add(s.Host, s.QuorumPort)
	add(s.Host, s.ElectionPort)
	add(s.ClientHost, s.ClientPort)
	return out
}

// duplicateAddress finds, in id order, the first server whose quorum or
// election address an earlier server already uses.
func duplicateAddress(servers map[int64]Server) (int64, string) {
	type addr struct {
		host string
		port int
	}
	used := map[addr]string{}
	for _, id := range sortedIDs(servers) {
		s := servers[id]
		for _, a := range []struct {
			what string
			port int
		}{{"quorum", s.QuorumPort}, {"election", s.ElectionPort}} {
			k := addr{strings.ToLower(s.Host), a.port}
			if other, dup := used[k]; dup {
				return id, fmt.Sprintf("%s address %s is already used as the %s", a.what, joinHostPort(s.Host, a.port), other)
			}
			used[k] = fmt.Sprintf("%s address of server.%d", a.what, id)
		}
	}
	return 0, ""
}
