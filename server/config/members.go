package config

import (
	"fmt"
	"maps"
	"slices"
	"strings"

	"github.com/zkbench/zkbench/server/quorum"
)

// Members returns the configuration zoo.cfg (or its dynamic file) gave.
func (c *Config) Members() quorum.Members {
	return quorum.Members{Servers: maps.Clone(c.Servers), Version: c.ConfigVersion}
}

// WithMembers returns a copy of c whose servers and configuration version
// are m's; the rest is shared with c and must not be changed.
func (c *Config) WithMembers(m quorum.Members) *Config {
	cp := *c
	cp.Servers = maps.Clone(m.Servers)
	cp.ConfigVersion = m.Version
	return &cp
}

// duplicateAddress finds, in id order, the first server whose quorum or
// election address an earlier server already uses.
func duplicateAddress(servers map[int64]quorum.Server) (int64, string) {
	type addr struct {
		host string
		port int
	}
	used := map[addr]string{}
	for _, id := range slices.Sorted(maps.Keys(servers)) {
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
