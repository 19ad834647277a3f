package server_test

import (
	"strings"
	"testing"
	"time"

	"github.com/go-zookeeper/zk"

	"github.com/zkbench/zkbench/harness"
	"github.com/zkbench/zkbench/internal/certgen"
	"github.com/zkbench/zkbench/internal/zktest"
	"github.com/zkbench/zkbench/server/proto"
)

// An ACL id's scheme is accepted (create, setACL) only when its
// authentication provider is registered, as upstream's fixupACL asks
// ProviderRegistry: ip and digest always; sasl only with authProvider.N
// naming SASLAuthenticationProvider (a JAAS file does not register it);
// x509 with authProvider.x509, or implicitly with a secureClientPort
// (QuorumPeerConfig.configureSSLAuth). Each configuration runs the same
// script on Java 3.8 and on the Go server, standalone and in an ensemble.
func TestIntegrationCrossCheckAuthProviders(t *testing.T) {
	tl, err := harness.NewTLS(t.TempDir(), certgen.PEM)
	if err != nil {
		t.Fatal(err)
	}
	var secure []string // a secure client port without authProvider.x509
	lines, _ := tlsLines(t, tl)
	for _, l := range lines {
		if !strings.HasPrefix(l, "authProvider.") {
			secure = append(secure, l)
		}
	}
	for _, tc := range []struct {
		name  string
		extra []string
	}{
		{"none", nil},
		{"sasl", []string{saslProviderLine}},
		{"x509", []string{"authProvider.x509=org.apache.zookeeper.server.auth.X509AuthenticationProvider"}},
		{"securePort", secure},
	} {
		t.Run(tc.name, func(t *testing.T) {
			extra := append(append([]string(nil), extraConfig...), tc.extra...)
			java := zktest.StartJava(t, extra...)
			want := runProvidersScript(t, java.Addr)
			java.Kill() // frees the secure port for the Go server
			gosrv := zktest.StartGo(t, extra...)
			got := runProvidersScript(t, gosrv.Addr)
			compareTranscripts(t, want, got)
			if tc.name == "securePort" {
				return // one secure port: no ensemble on one host
			}
			// An ensemble's prep stage is given the same providers.
			e := zktest.StartEnsemble(t, 3, extra...)
			got = runProvidersScript(t, e.Addrs()[0])
			compareTranscripts(t, want, got)
		})
	}
}

func runProvidersScript(t *testing.T, addr string) []string {
	s := &script{t: t, sessions: map[int64]string{}}
	c := connect(t, addr)
	defer c.Close()
	ids := []struct{ scheme, id string }{
		{"sasl", "alice"},
		{"x509", "CN=alice,O=zkbench"},
		{"ip", "127.0.0.1"},
		{"digest", "alice:" + "Z7z2wd0ZTB3KOmZ5q2xN3NXRr5o="},
		{"nosuch", "x"},
	}
	for _, id := range ids {
		path := "/" + id.scheme
		acl := []zk.ACL{{Perms: zk.PermAll, Scheme: id.scheme, ID: id.id}}
		p, err := c.Create(path, nil, 0, acl)
		s.log("create %s (%s acl) -> %q %s", path, id.scheme, p, errName(err))
		_, err = c.Create(path+"-open", nil, 0, zk.WorldACL(zk.PermAll))
		s.log("create %s-open -> %s", path, errName(err))
		_, err = c.SetACL(path+"-open", acl, -1)
		s.log("setACL %s-open (%s acl) -> %s", path, id.scheme, errName(err))
		got, _, err := c.GetACL(path + "-open")
		s.log("getACL %s-open -> %v %s", path, got, errName(err))
	}
	// addauth with each scheme on a plain connection of its own: the code,
	// then whether the session still answers and who it is. digest takes
	// the credentials; ip ignores them (the id is the peer's address);
	// x509 wants the connection's certificate chain and sasl its own
	// handshake, so either fails here even when registered, as world,
	// super and an unregistered scheme do. A failed addauth ends the
	// session.
	for _, a := range []struct{ scheme, cred string }{
		{"ip", "127.0.0.1"}, {"digest", "alice:secret"}, {"x509", "CN=alice"},
		{"sasl", "alice"}, {"world", "anyone"}, {"super", "x"}, {"nosuch", "x"},
	} {
		raw, err := zktest.DialRaw(addr, 10*time.Second)
		if err != nil {
			t.Fatalf("raw client: %v", err)
		}
		code, err := raw.AddAuth(a.scheme, []byte(a.cred))
		s.log("addauth %s %q -> err=%v %s", a.scheme, a.cred, code, ioOutcome(err))
		var who proto.WhoAmIResponse
		h, err := raw.Do(proto.OpWhoAmI, nil, &who)
		s.log("  then whoAmI -> err=%v %s %s", h.Err, clientInfos(who.ClientInfo), ioOutcome(err))
		raw.Close()
	}
	return s.lines
}

// ioOutcome normalizes a raw client's transport error for a transcript:
// the two servers word a closed connection differently.
func ioOutcome(err error) string {
	if err == nil {
		return "ok"
	}
	return "connection closed"
}
