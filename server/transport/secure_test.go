package transport

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"net"
	"testing"
	"time"

	"github.com/zkbench/zkbench/internal/certgen"
	"github.com/zkbench/zkbench/server/proto"
)

// testSecure is a Secure from a fresh CA: peers present a certificate
// naming 127.0.0.1 and check each other's.
func testSecure(t *testing.T) *Secure {
	t.Helper()
	ca, err := certgen.NewCA(certgen.Options{Subject: pkix.Name{CommonName: "CA"}})
	if err != nil {
		t.Fatal(err)
	}
	l, err := ca.Issue(certgen.Options{Subject: pkix.Name{CommonName: "peer"}, IPs: []net.IP{net.IPv4(127, 0, 0, 1)}})
	if err != nil {
		t.Fatal(err)
	}
	roots := x509.NewCertPool()
	roots.AddCert(ca.Cert)
	cert := tls.Certificate{Certificate: [][]byte{l.Cert.Raw}, PrivateKey: l.Key, Leaf: l.Cert}
	return &Secure{
		Server: &tls.Config{Certificates: []tls.Certificate{cert}, ClientCAs: roots, ClientAuth: tls.RequireAndVerifyClientCert},
		Client: func(host string) *tls.Config {
			return &tls.Config{Certificates: []tls.Certificate{cert}, RootCAs: roots, ServerName: host}
		},
	}
}

func newSecureTCP(t *testing.T, id int64, sec *Secure, peers map[int64]string, ln net.Listener) *TCP {
	t.Helper()
	tr, err := NewTCP(context.Background(), TCPConfig{MyID: id, Listener: ln, Peers: peers, Secure: sec,
		MinBackoff: 5 * time.Millisecond, MaxBackoff: 50 * time.Millisecond, DialTimeout: time.Second})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { tr.Close() })
	return tr
}

func listen(t *testing.T) net.Listener {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	return ln
}

func gotMessage(tr *TCP, within time.Duration) bool {
	select {
	case <-tr.Recv():
		return true
	case <-time.After(within):
		return false
	}
}

// sslQuorum on the election port: two servers with the certificate talk;
// a server without it (plaintext, or another CA's) is not heard.
func TestSecureElection(t *testing.T) {
	sec := testSecure(t)
	l1, l2, l3 := listen(t), listen(t), listen(t)
	peers := map[int64]string{1: l1.Addr().String(), 2: l2.Addr().String(), 3: l3.Addr().String()}
	t1 := newSecureTCP(t, 1, sec, peers, l1)
	t2 := newSecureTCP(t, 2, sec, peers, l2)
	t2.Send(1, []byte("hello"))
	if !gotMessage(t1, 5*time.Second) {
		t.Fatal("TLS peers exchanged nothing")
	}
	for _, tc := range []struct {
		name string
		sec  *Secure
	}{{"plaintext", nil}, {"another CA", testSecure(t)}} {
		t.Run(tc.name, func(t *testing.T) {
			l := listen(t)
			p := map[int64]string{1: l1.Addr().String(), 3: l.Addr().String()}
			t3 := newSecureTCP(t, 3, tc.sec, p, l)
			for range 5 {
				t3.Send(1, []byte("let me in"))
				time.Sleep(20 * time.Millisecond)
			}
			if gotMessage(t1, 500*time.Millisecond) {
				t.Error("a server without the certificate was heard")
			}
			t1.Send(3, []byte("to 3"))
			if gotMessage(t3, 500*time.Millisecond) {
				t.Error("a server without the certificate heard us")
			}
			t3.Close()
		})
	}
}

// sslQuorum on the quorum port; portUnification accepts plaintext too.
func TestSecureQuorum(t *testing.T) {
	sec := testSecure(t)
	for _, tc := range []struct {
		name         string
		listen, dial *Secure
		wantRecv     bool
	}{
		{"tls", sec, sec, true},
		{"plaintext learner refused", sec, nil, false},
		{"another CA refused", sec, testSecure(t), false},
		{"unified takes plaintext", &Secure{Server: sec.Server, AcceptPlain: true}, nil, true},
		{"unified takes tls", &Secure{Server: sec.Server, AcceptPlain: true}, sec, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ql := NewQuorumListener(listen(t), nil).Secured(tc.listen)
			defer ql.Close()
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			defer cancel()
			done := make(chan error, 1)
			go func() {
				qc, err := DialQuorumSecure(ctx, ql.Addr().String(), time.Second, tc.dial)
				if err == nil {
					err = qc.Send(&proto.QuorumPacket{Type: 11, Zxid: 7})
					if err == nil {
						err = qc.Flush()
					}
					defer qc.Close()
					time.Sleep(200 * time.Millisecond)
				}
				done <- err
			}()
			qc, err := ql.Accept(ctx)
			if err != nil {
				t.Fatal(err)
			}
			defer qc.Close()
			qc.SetReadDeadline(time.Now().Add(2 * time.Second))
			p, err := qc.Recv()
			if got := err == nil && p.Zxid == 7; got != tc.wantRecv {
				t.Errorf("leader received %v (err %v), want %v", p, err, tc.wantRecv)
			}
			<-done
		})
	}
}
