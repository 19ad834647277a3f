package clientconn

import (
	"bufio"
	"context"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"io"
	"net"
	"testing"
	"time"

	"github.com/zkbench/zkbench/internal/certgen"
	"github.com/zkbench/zkbench/server/proto"
	"github.com/zkbench/zkbench/server/tlsconf"
	"github.com/zkbench/zkbench/server/tree"
)

// tlsPKI is a CA and the TLS configurations of a server and two clients.
type tlsPKI struct {
	server     *tls.Config
	alice, bob *tls.Config // clients with certificates
	anonymous  *tls.Config // a client without one
	alicesID   string
}

func newTLSPKI(t *testing.T, auth tls.ClientAuthType) *tlsPKI {
	t.Helper()
	ca, err := certgen.NewCA(certgen.Options{Subject: pkix.Name{CommonName: "CA"}})
	if err != nil {
		t.Fatal(err)
	}
	roots := x509.NewCertPool()
	roots.AddCert(ca.Cert)
	leaf := func(cn string) tls.Certificate {
		l, err := ca.Issue(certgen.Options{Subject: pkix.Name{CommonName: cn, Organization: []string{"zkbench"}},
			IPs: []net.IP{net.IPv4(127, 0, 0, 1)}})
		if err != nil {
			t.Fatal(err)
		}
		return tls.Certificate{Certificate: [][]byte{l.Cert.Raw}, PrivateKey: l.Key, Leaf: l.Cert}
	}
	client := func(cn string) *tls.Config {
		c := &tls.Config{RootCAs: roots, ServerName: "127.0.0.1"}
		if cn != "" {
			c.Certificates = []tls.Certificate{leaf(cn)}
		}
		return c
	}
	return &tlsPKI{
		server:    &tls.Config{Certificates: []tls.Certificate{leaf("server")}, ClientCAs: roots, ClientAuth: auth},
		alice:     client("alice"),
		bob:       client("bob"),
		anonymous: client(""),
		alicesID:  "CN=alice,O=zkbench",
	}
}

// startTLSServer serves b over TLS with cfg until the test ends.
func startTLSServer(t *testing.T, b Backend, opts Options, cfg *tls.Config) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	opts.Backend = b
	s := New(opts)
	if f, ok := b.(*fakeBackend); ok {
		f.closer = s
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { s.Serve(ctx, tls.NewListener(l, cfg)); close(done) }()
	t.Cleanup(func() { cancel(); <-done })
	return l.Addr().String()
}

// dialTLS connects over TLS and opens a session; the error is the
// handshake's or the session's.
func dialTLS(t *testing.T, addr string, cfg *tls.Config) (*rawConn, error) {
	t.Helper()
	nc, err := tls.Dial("tcp", addr, cfg)
	if err != nil {
		return nil, err
	}
	t.Cleanup(func() { nc.Close() })
	c := &rawConn{t: t, nc: nc, br: bufio.NewReader(nc)}
	nc.SetDeadline(time.Now().Add(10 * time.Second))
	nc.Write(proto.AppendFrame(nil, &proto.ConnectRequest{TimeOut: 10000, Passwd: make([]byte, 16)}))
	if _, err := proto.ReadFrame(c.br, nil, proto.DefaultMaxBuffer); err != nil {
		return nil, err
	}
	return c, nil
}

func whoAmI(c *rawConn) []proto.ClientInfo {
	c.t.Helper()
	c.send(100, proto.OpWhoAmI, nil)
	h, d := c.reply()
	if h.Err != proto.ErrOK {
		c.t.Fatalf("whoAmI: %+v", h)
	}
	var who proto.WhoAmIResponse
	who.Decode(d)
	return who.ClientInfo
}

// A TLS client's certificate subject is its x509 id (upstream's
// X509AuthenticationProvider): whoAmI shows it and x509 ACLs grant by it.
func TestTLSClientCertificateIsAnX509ID(t *testing.T) {
	p := newTLSPKI(t, tls.RequireAndVerifyClientCert)
	f := newFake()
	addr := startTLSServer(t, f, Options{Providers: tree.Providers{X509: true}, X509SuperUser: "CN=root,O=zkbench"}, p.server)
	alice, err := dialTLS(t, addr, p.alice)
	if err != nil {
		t.Fatal(err)
	}
	found := false
	for _, ci := range whoAmI(alice) {
		found = found || ci.AuthScheme == "x509" && ci.User == p.alicesID
	}
	if !found {
		t.Fatalf("whoAmI %+v has no x509 %s", whoAmI(alice), p.alicesID)
	}
	acl := []proto.ACL{{Perms: proto.PermAll, ID: proto.ID{Scheme: "x509", ID: p.alicesID}}}
	alice.send(1, proto.OpCreate, &proto.CreateRequest{Path: "/alice", Data: []byte("hers"), ACL: acl})
	f.release <- struct{}{}
	if h, _ := alice.reply(); h.Err != proto.ErrOK {
		t.Fatalf("create: %+v", h)
	}
	alice.send(2, proto.OpGetData, &proto.GetDataRequest{Path: "/alice"})
	if h, _ := alice.reply(); h.Err != proto.ErrOK {
		t.Errorf("alice reads her node: %+v", h)
	}
	bob, err := dialTLS(t, addr, p.bob)
	if err != nil {
		t.Fatal(err)
	}
	bob.send(2, proto.OpGetData, &proto.GetDataRequest{Path: "/alice"})
	if h, _ := bob.reply(); h.Err != proto.ErrNoAuth {
		t.Errorf("bob reads alice's node: %+v, want NoAuth", h)
	}
}

// X509AuthenticationProvider.superUser: that subject is super.
func TestTLSSuperUser(t *testing.T) {
	p := newTLSPKI(t, tls.RequireAndVerifyClientCert)
	f := newFake()
	addr := startTLSServer(t, f, Options{Providers: tree.Providers{X509: true}, X509SuperUser: "CN=bob,O=zkbench"}, p.server)
	alice, err := dialTLS(t, addr, p.alice)
	if err != nil {
		t.Fatal(err)
	}
	acl := []proto.ACL{{Perms: proto.PermAll, ID: proto.ID{Scheme: "x509", ID: p.alicesID}}}
	alice.send(1, proto.OpCreate, &proto.CreateRequest{Path: "/alice", ACL: acl})
	f.release <- struct{}{}
	alice.reply()
	bob, err := dialTLS(t, addr, p.bob)
	if err != nil {
		t.Fatal(err)
	}
	bob.send(2, proto.OpGetData, &proto.GetDataRequest{Path: "/alice"})
	if h, _ := bob.reply(); h.Err != proto.ErrOK {
		t.Errorf("the x509 super user reads alice's node: %+v", h)
	}
}

// A failed handshake (no certificate under clientAuth=need, plaintext on
// the TLS port) closes that connection only.
func TestTLSHandshakeFailureClosesOnlyThatConnection(t *testing.T) {
	p := newTLSPKI(t, tls.RequireAndVerifyClientCert)
	f := newFake()
	addr := startTLSServer(t, f, Options{Providers: tree.Providers{X509: true}}, p.server)
	alice, err := dialTLS(t, addr, p.alice)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := dialTLS(t, addr, p.anonymous); err == nil {
		t.Error("a client without a certificate got a session under clientAuth=need")
	}
	plain := dialRaw(t, addr)
	plain.Write(proto.AppendFrame(nil, &proto.ConnectRequest{TimeOut: 10000, Passwd: make([]byte, 16)}))
	plain.SetReadDeadline(time.Now().Add(5 * time.Second))
	if n, err := plain.Read(make([]byte, 64)); err == nil && n > 0 {
		// The server answers a plaintext hello with a TLS alert at most.
		if n2, err := plain.Read(make([]byte, 64)); err == nil {
			t.Errorf("a plaintext client on the TLS port kept its connection (read %d+%d bytes)", n, n2)
		}
	}
	if got := whoAmI(alice); len(got) == 0 {
		t.Error("the good connection lost its session")
	}
}

func dialRaw(t *testing.T, addr string) net.Conn {
	t.Helper()
	nc, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { nc.Close() })
	return nc
}

// Upstream closes a TLS client that presents a certificate when no x509
// provider is registered (authProvider.x509 unset): "X509 Auth provider
// not found". Under clientAuth=none nothing is asked and all is well.
func TestTLSWithoutX509Provider(t *testing.T) {
	p := newTLSPKI(t, tls.VerifyClientCertIfGiven)
	addr := startTLSServer(t, newFake(), Options{}, p.server)
	if _, err := dialTLS(t, addr, p.alice); err == nil {
		t.Error("a client certificate was accepted without an x509 provider")
	}
	if _, err := dialTLS(t, addr, p.anonymous); err != nil {
		t.Errorf("clientAuth=want, no certificate: %v", err)
	}
	q := newTLSPKI(t, tls.NoClientCert)
	addr = startTLSServer(t, newFake(), Options{}, q.server)
	c, err := dialTLS(t, addr, q.alice)
	if err != nil {
		t.Fatalf("clientAuth=none: %v", err)
	}
	for _, ci := range whoAmI(c) {
		if ci.AuthScheme == "x509" {
			t.Errorf("clientAuth=none gave an x509 id: %+v", ci)
		}
	}
}

// unifiedListener serves each connection as tlsconf.Unify does.
type unifiedListener struct {
	net.Listener
	cfg *tls.Config
}

func (l unifiedListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err != nil {
		return nil, err
	}
	return tlsconf.Unify(c, l.cfg), nil
}

// client.portUnification: one port serves TLS clients (with their x509
// ids) and plaintext ones.
func TestUnifiedClientPort(t *testing.T) {
	p := newTLSPKI(t, tls.RequireAndVerifyClientCert)
	f := newFake()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s := New(Options{Backend: f, Providers: tree.Providers{X509: true}})
	f.closer = s
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { s.Serve(ctx, unifiedListener{l, p.server}); close(done) }()
	t.Cleanup(func() { cancel(); <-done })
	addr := l.Addr().String()

	alice, err := dialTLS(t, addr, p.alice)
	if err != nil {
		t.Fatal(err)
	}
	found := false
	for _, ci := range whoAmI(alice) {
		found = found || ci.AuthScheme == "x509" && ci.User == p.alicesID
	}
	if !found {
		t.Errorf("TLS client on the unified port has no x509 id: %+v", whoAmI(alice))
	}
	plain := dial(t, addr)
	for _, ci := range whoAmI(plain) {
		if ci.AuthScheme == "x509" {
			t.Errorf("plaintext client has an x509 id: %+v", ci)
		}
	}
	if _, err := dialTLS(t, addr, p.anonymous); err == nil {
		t.Error("a TLS client without a certificate got a session under clientAuth=need")
	}
	if out := flw(t, addr, "ruok"); out != "imok" {
		t.Errorf("ruok on the unified port: %q", out)
	}
}

func flw(t *testing.T, addr, cmd string) string {
	t.Helper()
	nc := dialRaw(t, addr)
	nc.SetDeadline(time.Now().Add(5 * time.Second))
	nc.Write([]byte(cmd))
	b, _ := io.ReadAll(nc)
	return string(b)
}
