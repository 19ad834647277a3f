package quorum

import (
	"strings"
	"testing"
)

// The /zookeeper/config text parses back to what String rendered, and a
// joining server's addresses conflict only on a specific host.
func TestMembersParseAndConflicts(t *testing.T) {
	text := "server.1=10.0.0.1:2888:3888:participant;10.0.0.1:2181\n" +
		"server.2=127.0.0.1:2889:3889:observer\nversion=10000002a"
	m, err := ParseMembers(text)
	if err != nil {
		t.Fatal(err)
	}
	if m.String() != text || m.Version != 0x10000002a {
		t.Fatalf("round trip:\n%s\nversion %x", m.String(), m.Version)
	}
	if v, o := m.Voters(), m.Observers(); len(v) != 1 || v[0] != 1 || len(o) != 1 || o[0] != 2 {
		t.Fatalf("voters %v observers %v", v, o)
	}
	// Comma-separated, as reconfig's new-members list may be.
	if c, err := ParseMembers(strings.ReplaceAll(text, "\n", ",")); err != nil || c.String() != text {
		t.Fatalf("comma form: %v\n%s", err, c.String())
	}
	for _, bad := range []string{"server.x=h:1:2", "server.1=h:1:1", "nonsense", "server.1=h:1:2\nserver.1=h:3:4", "version=zz"} {
		if _, err := ParseMembers(bad); err == nil {
			t.Errorf("ParseMembers(%q) accepted", bad)
		}
	}

	s := func(spec string) Server {
		t.Helper()
		k, v, _ := strings.Cut(spec, "=")
		srv, err := ParseServerLine(k, v)
		if err != nil {
			t.Fatal(err)
		}
		return srv
	}
	joiner := s("server.5=10.0.0.1:2888:4000:participant;10.0.0.5:2181")
	if !joiner.ConflictsWith(m.Servers[1]) {
		t.Error("same quorum address on 10.0.0.1: no conflict")
	}
	if s("server.5=127.0.0.1:2889:4000;127.0.0.1:2181").ConflictsWith(m.Servers[2]) {
		t.Error("a loopback address counted as a conflict (upstream skips them)")
	}
	if s("server.5=10.0.0.9:2888:3888;2181").ConflictsWith(m.Servers[1]) {
		t.Error("different hosts, same ports: no conflict")
	}
}

// Loopback and wildcard addresses, also IPv4-mapped, never conflict;
// other literal addresses do, whatever their spelling's case.
func TestConflictsSkipLoopbackAndWildcard(t *testing.T) {
	at := func(host string) Server {
		return Server{Host: host, QuorumPort: 2888, ElectionPort: 3888}
	}
	for _, host := range []string{"127.0.0.1", "127.0.0.2", "::1", "0.0.0.0", "::", "::ffff:127.0.0.1", "::ffff:0.0.0.0", "localhost", "LocalHost"} {
		if at(host).ConflictsWith(at(host)) {
			t.Errorf("%s: counted as a conflict", host)
		}
	}
	for _, host := range []string{"10.0.0.1", "2001:db8::1", "fe80::1%eth0", "Example.org"} {
		if !at(host).ConflictsWith(at(strings.ToLower(host))) {
			t.Errorf("%s: no conflict with itself", host)
		}
	}
}
