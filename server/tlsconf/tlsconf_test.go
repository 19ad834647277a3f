package tlsconf

import (
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"errors"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/zkbench/zkbench/internal/certgen"
)

// props is a property set as config.Config holds it.
type props map[string]string

func (p props) Property(k string) (string, bool) { v, ok := p[k]; return v, ok }

// pki is a CA with a server and a client certificate, written as stores of
// one type.
type pki struct {
	dir             string
	ca              *certgen.CA
	server, client  *certgen.Leaf
	serverKS, trust string // store paths
	clientKS        string
	typ             string
}

func newPKI(t *testing.T, typ string) *pki {
	t.Helper()
	dir := t.TempDir()
	ca, err := certgen.NewCA(certgen.Options{Subject: pkix.Name{CommonName: "test CA"}})
	if err != nil {
		t.Fatal(err)
	}
	p := &pki{dir: dir, ca: ca, typ: typ}
	p.server = issue(t, ca, "server", certgen.Options{})
	p.client = issue(t, ca, "client", certgen.Options{})
	p.serverKS = p.writeKS(t, "server", p.server, "sekrit")
	p.clientKS = p.writeKS(t, "client", p.client, "sekrit")
	p.trust = filepath.Join(dir, "trust"+certgen.Ext(typ))
	if err := certgen.WriteTrustStore(p.trust, typ, []*x509.Certificate{ca.Cert}, "trustpw"); err != nil {
		t.Fatal(err)
	}
	return p
}

func issue(t *testing.T, ca *certgen.CA, cn string, o certgen.Options) *certgen.Leaf {
	t.Helper()
	o.Subject = pkix.Name{CommonName: cn, Organization: []string{"zkbench"}, OrganizationalUnit: []string{"bench"}}
	o.DNSNames = []string{"localhost"}
	o.IPs = []net.IP{net.IPv4(127, 0, 0, 1)}
	l, err := ca.Issue(o)
	if err != nil {
		t.Fatal(err)
	}
	return l
}

func (p *pki) writeKS(t *testing.T, name string, l *certgen.Leaf, pw string) string {
	t.Helper()
	path := filepath.Join(p.dir, name+certgen.Ext(p.typ))
	if err := certgen.WriteKeyStore(path, p.typ, l, pw); err != nil {
		t.Fatal(err)
	}
	return path
}

// props are the settings of scope s with key store ks.
func (p *pki) props(prefix, ks string) props {
	pw := "sekrit"
	tpw := "trustpw"
	if p.typ == certgen.PEM {
		pw, tpw = "", ""
	}
	return props{
		prefix + "keyStore.location":   ks,
		prefix + "keyStore.password":   pw,
		prefix + "trustStore.location": p.trust,
		prefix + "trustStore.password": tpw,
	}
}

// handshake runs a TLS handshake between srv and cli over loopback and
// returns the server's view of the connection, or the first error.
func handshake(t *testing.T, srv, cli *tls.Config) (tls.ConnectionState, error) {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	type res struct {
		cs  tls.ConnectionState
		err error
	}
	done := make(chan res, 1)
	go func() {
		c, err := l.Accept()
		if err != nil {
			done <- res{err: err}
			return
		}
		defer c.Close()
		tc := tls.Server(c, srv)
		tc.SetDeadline(time.Now().Add(5 * time.Second))
		err = tc.Handshake()
		if err == nil {
			_, err = tc.Write([]byte{1})
		}
		done <- res{tc.ConnectionState(), err}
	}()
	c, err := tls.Dial("tcp", l.Addr().String(), cli)
	if err == nil {
		// TLS 1.3 tells a client that the server refused its certificate
		// on the first read.
		c.SetDeadline(time.Now().Add(5 * time.Second))
		_, err = c.Read(make([]byte, 1))
		c.Close()
	}
	r := <-done
	if err != nil {
		return r.cs, err
	}
	return r.cs, r.err
}

func TestStoresOfEveryTypeServeTLS(t *testing.T) {
	for _, typ := range []string{certgen.PKCS12, certgen.JKS, certgen.PEM} {
		t.Run(typ, func(t *testing.T) {
			p := newPKI(t, typ)
			srv, err := Load(p.props("zookeeper.ssl.", p.serverKS), Client, time.Now())
			if err != nil {
				t.Fatalf("server: %v", err)
			}
			cli, err := Load(p.props("zookeeper.ssl.", p.clientKS), Client, time.Now())
			if err != nil {
				t.Fatalf("client: %v", err)
			}
			cs, err := handshake(t, srv.Server(), cli.Client("localhost"))
			if err != nil {
				t.Fatalf("handshake: %v", err)
			}
			if len(cs.PeerCertificates) == 0 {
				t.Fatal("the server saw no client certificate (clientAuth defaults to need)")
			}
			if got, want := ClientID(cs.PeerCertificates[0]), "CN=client,OU=bench,O=zkbench"; got != want {
				t.Errorf("ClientID = %q, want %q", got, want)
			}
			if cs.Version != tls.VersionTLS12 {
				t.Errorf("version %x, want TLS 1.2 (upstream 3.8's default ssl.protocol)", cs.Version)
			}
		})
	}
}

func TestClientAuth(t *testing.T) {
	p := newPKI(t, certgen.PKCS12)
	noCert := props{"zookeeper.ssl.trustStore.location": p.trust, "zookeeper.ssl.trustStore.password": "trustpw"}
	cli, err := Load(noCert, Client, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		auth    string
		refused bool
	}{{"", true}, {"need", true}, {"NEED", true}, {"want", false}, {"none", false}} {
		t.Run("clientAuth="+tc.auth, func(t *testing.T) {
			sp := p.props("zookeeper.ssl.", p.serverKS)
			if tc.auth != "" {
				sp["zookeeper.ssl.clientAuth"] = tc.auth
			}
			srv, err := Load(sp, Client, time.Now())
			if err != nil {
				t.Fatal(err)
			}
			_, err = handshake(t, srv.Server(), cli.Client("localhost"))
			if tc.refused != (err != nil) {
				t.Errorf("handshake without a client certificate: err = %v, want refused %v", err, tc.refused)
			}
		})
	}
}

func TestHostnameVerification(t *testing.T) {
	p := newPKI(t, certgen.PKCS12)
	srv, err := Load(p.props("zookeeper.ssl.", p.serverKS), Client, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	cp := p.props("zookeeper.ssl.", p.clientKS)
	cli, err := Load(cp, Client, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	if _, err := handshake(t, srv.Server(), cli.Client("other.example")); err == nil {
		t.Error("a server certificate without the name dialled was accepted with hostname verification on")
	}
	cp["zookeeper.ssl.hostnameVerification"] = "false"
	cli, err = Load(cp, Client, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	if _, err := handshake(t, srv.Server(), cli.Client("other.example")); err != nil {
		t.Errorf("hostnameVerification=false: %v", err)
	}
	// The chain is still checked: another CA's server is refused.
	q := newPKI(t, certgen.PKCS12)
	other, err := Load(q.props("zookeeper.ssl.", q.serverKS), Client, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	if _, err := handshake(t, other.Server(), cli.Client("localhost")); err == nil {
		t.Error("a server certificate of an untrusted CA was accepted with hostname verification off")
	}
}

func TestProtocolsAndCiphers(t *testing.T) {
	p := newPKI(t, certgen.PKCS12)
	sp := p.props("zookeeper.ssl.", p.serverKS)
	sp["zookeeper.ssl.enabledProtocols"] = "TLSv1.3"
	srv, err := Load(sp, Client, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	cli, err := Load(p.props("zookeeper.ssl.", p.clientKS), Client, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	if _, err := handshake(t, srv.Server(), cli.Client("localhost")); err == nil {
		t.Error("a TLSv1.2-only client was accepted by a server with enabledProtocols=TLSv1.3")
	}
	cp := p.props("zookeeper.ssl.", p.clientKS)
	cp["zookeeper.ssl.protocol"] = "TLSv1.3"
	cli, err = Load(cp, Client, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	cs, err := handshake(t, srv.Server(), cli.Client("localhost"))
	if err != nil || cs.Version != tls.VersionTLS13 {
		t.Errorf("TLSv1.3 on both sides: version %x, err %v", cs.Version, err)
	}

	sp = p.props("zookeeper.ssl.", p.serverKS)
	sp["zookeeper.ssl.ciphersuites"] = "TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384, TLS_ECDHE_RSA_WITH_AES_256_CBC_SHA384"
	srv, err = Load(sp, Client, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	if len(srv.Warnings) != 1 || !strings.Contains(srv.Warnings[0], "TLS_ECDHE_RSA_WITH_AES_256_CBC_SHA384") {
		t.Errorf("warnings %q, want one naming the cipher suite Go lacks", srv.Warnings)
	}
	cli, err = Load(p.props("zookeeper.ssl.", p.clientKS), Client, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	cs, err = handshake(t, srv.Server(), cli.Client("localhost"))
	if err != nil || cs.CipherSuite != tls.TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384 {
		t.Errorf("cipher %s, err %v", tls.CipherSuiteName(cs.CipherSuite), err)
	}
}

func TestPasswordPath(t *testing.T) {
	p := newPKI(t, certgen.JKS)
	pwFile := filepath.Join(p.dir, "pw")
	if err := os.WriteFile(pwFile, []byte("sekrit\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	sp := p.props("zookeeper.ssl.quorum.", p.serverKS)
	delete(sp, "zookeeper.ssl.quorum.keyStore.password")
	sp["zookeeper.ssl.quorum.keyStore.passwordPath"] = pwFile
	if _, err := Load(sp, Quorum, time.Now()); err != nil {
		t.Fatal(err)
	}
}

// TestBadInput: every refusal names the key, the file and the reason.
func TestBadInput(t *testing.T) {
	p := newPKI(t, certgen.PKCS12)
	expired := p.writeKS(t, "expired", issue(t, p.ca, "old", certgen.Options{
		NotBefore: time.Now().Add(-48 * time.Hour), NotAfter: time.Now().Add(-24 * time.Hour)}), "sekrit")
	future := p.writeKS(t, "future", issue(t, p.ca, "new", certgen.Options{
		NotBefore: time.Now().Add(24 * time.Hour), NotAfter: time.Now().Add(48 * time.Hour)}), "sekrit")
	stranger := newPKI(t, certgen.PKCS12)
	jks := newPKI(t, certgen.JKS)
	pem := newPKI(t, certgen.PEM)
	missing := filepath.Join(p.dir, "nope.p12")
	garbage := filepath.Join(p.dir, "garbage.p12")
	os.WriteFile(garbage, []byte("not a key store"), 0o600)
	noExt := filepath.Join(p.dir, "store")
	os.WriteFile(noExt, []byte("x"), 0o600)

	const c = "zookeeper.ssl."
	const q = "zookeeper.ssl.quorum."
	for _, tc := range []struct {
		name   string
		scope  Scope
		props  props
		change map[string]string
		// want are the parts of the error.
		want []string
	}{
		{"wrong key store password", Client, p.props(c, p.serverKS), map[string]string{c + "keyStore.password": "nope"},
			[]string{c + "keyStore.password", p.serverKS, "wrong password"}},
		{"wrong trust store password", Client, p.props(c, p.serverKS), map[string]string{c + "trustStore.password": "nope"},
			[]string{c + "trustStore.password", p.trust, "wrong password"}},
		{"wrong JKS password", Quorum, jks.props(q, jks.serverKS), map[string]string{q + "keyStore.password": "nope"},
			[]string{q + "keyStore.password", jks.serverKS, "wrong password"}},
		{"wrong JKS trust password", Quorum, jks.props(q, jks.serverKS), map[string]string{q + "trustStore.password": "nope"},
			[]string{q + "trustStore.password", jks.trust, "wrong password"}},
		{"missing key store", Client, p.props(c, missing), nil,
			[]string{c + "keyStore.location", missing, "no such file"}},
		{"missing trust store", Client, p.props(c, p.serverKS), map[string]string{c + "trustStore.location": missing},
			[]string{c + "trustStore.location", missing, "no such file"}},
		{"garbage", Client, p.props(c, garbage), nil,
			[]string{c + "keyStore.location", garbage, "PKCS12"}},
		{"no type", Client, p.props(c, noExt), nil,
			[]string{c + "keyStore.type", noExt, "cannot tell the store's type"}},
		{"unknown type", Client, p.props(c, p.serverKS), map[string]string{c + "keyStore.type": "BKS"},
			[]string{c + "keyStore.type", "BKS", "PKCS12, JKS or PEM"}},
		{"PEM without a key", Client, pem.props(c, pem.trust), nil,
			[]string{c + "keyStore.location", pem.trust, "no private key"}},
		{"expired", Client, p.props(c, expired), nil,
			[]string{c + "keyStore.location", expired, `"CN=old,OU=bench,O=zkbench"`, "expired"}},
		{"not yet valid", Quorum, p.props(q, future), nil,
			[]string{q + "keyStore.location", future, "not valid before"}},
		{"untrusted in a quorum", Quorum, p.props(q, stranger.serverKS), map[string]string{q + "keyStore.password": "sekrit"},
			[]string{q + "keyStore.location", stranger.serverKS, "not trusted by " + q + "trustStore.location", p.trust}},
		{"clientAuth", Client, p.props(c, p.serverKS), map[string]string{c + "clientAuth": "maybe"},
			[]string{c + "clientAuth", "maybe", "none, want or need"}},
		{"protocol", Client, p.props(c, p.serverKS), map[string]string{c + "protocol": "SSLv3"},
			[]string{c + "protocol", "SSLv3"}},
		{"enabledProtocols", Client, p.props(c, p.serverKS), map[string]string{c + "enabledProtocols": "TLSv1.2,TLSv9"},
			[]string{c + "enabledProtocols", "TLSv9"}},
		{"ciphers", Client, p.props(c, p.serverKS), map[string]string{c + "ciphersuites": "NOPE"},
			[]string{c + "ciphersuites", "NOPE"}},
		{"crl", Client, p.props(c, p.serverKS), map[string]string{c + "crl": "true"},
			[]string{c + "crl", "not supported"}},
		{"context supplier", Quorum, p.props(q, p.serverKS), map[string]string{q + "context.supplier.class": "a.B"},
			[]string{q + "context.supplier.class", "not supported"}},
		{"hostnameVerification", Client, p.props(c, p.serverKS), map[string]string{c + "hostnameVerification": "yes"},
			[]string{c + "hostnameVerification", "yes", "true or false"}},
		{"password file", Client, p.props(c, p.serverKS), map[string]string{c + "keyStore.passwordPath": missing},
			[]string{c + "keyStore.passwordPath", missing, "no such file"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			for k, v := range tc.change {
				tc.props[k] = v
			}
			_, err := Load(tc.props, tc.scope, time.Now())
			if err == nil {
				t.Fatal("loaded")
			}
			var e *Error
			if !errors.As(err, &e) {
				t.Errorf("error %T, want *Error", err)
			}
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not say %q", err, w)
				}
			}
		})
	}
}

// TestServerNeedsAKeyStore: a TLS listener without a certificate would
// fail every handshake; the server refuses to start instead.
func TestServerNeedsAKeyStore(t *testing.T) {
	p := newPKI(t, certgen.PKCS12)
	m, err := Load(props{"zookeeper.ssl.trustStore.location": p.trust, "zookeeper.ssl.trustStore.password": "trustpw"}, Client, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	if err := m.CanServe(); err == nil || !strings.Contains(err.Error(), "zookeeper.ssl.keyStore.location: not set") {
		t.Errorf("CanServe() = %v, want the key named", err)
	}
}

// Quorum peers' certificates must name the address they connect from
// (upstream's QuorumX509Util verifies client host names); client-port
// clients' need not, and ssl.quorum.hostnameVerification=false turns it
// off.
func TestCheckPeerHost(t *testing.T) {
	p := newPKI(t, certgen.PKCS12)
	elsewhere, err := p.ca.Issue(certgen.Options{Subject: pkix.Name{CommonName: "elsewhere"}, IPs: []net.IP{net.IPv4(10, 9, 8, 7)}})
	if err != nil {
		t.Fatal(err)
	}
	from := &net.TCPAddr{IP: net.IPv4(127, 0, 0, 1), Port: 4242}
	named := tls.ConnectionState{PeerCertificates: []*x509.Certificate{p.client.Cert}}
	other := tls.ConnectionState{PeerCertificates: []*x509.Certificate{elsewhere.Cert}}
	q, err := Load(p.props("zookeeper.ssl.quorum.", p.serverKS), Quorum, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	if err := q.CheckPeerHost(named, from); err != nil {
		t.Errorf("a peer named by its certificate: %v", err)
	}
	if err := q.CheckPeerHost(other, from); err == nil || !strings.Contains(err.Error(), "127.0.0.1") {
		t.Errorf("a peer its certificate does not name: %v", err)
	}
	c, err := Load(p.props("zookeeper.ssl.", p.serverKS), Client, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	if err := c.CheckPeerHost(other, from); err != nil {
		t.Errorf("client port: %v", err)
	}
	off := p.props("zookeeper.ssl.quorum.", p.serverKS)
	off["zookeeper.ssl.quorum.hostnameVerification"] = "false"
	q, err = Load(off, Quorum, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	if err := q.CheckPeerHost(other, from); err != nil {
		t.Errorf("hostnameVerification=false: %v", err)
	}
}
