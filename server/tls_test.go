package server_test

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"

	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/go-zookeeper/zk"

	"github.com/zkbench/zkbench/harness"
	"github.com/zkbench/zkbench/internal/certgen"
	"github.com/zkbench/zkbench/internal/zkbin"
	"github.com/zkbench/zkbench/internal/zktest"
	"github.com/zkbench/zkbench/server"
	"github.com/zkbench/zkbench/server/config"
	"github.com/zkbench/zkbench/server/tlsconf"
)

// tlsLines are the zoo.cfg lines of a secure client port on 127.0.0.1
// beside the plain one, configured from tl; it returns the port's address.
func tlsLines(t *testing.T, tl *harness.TLS, extra ...string) ([]string, string) {
	port := zktest.FreePort(t)
	lines := append([]string{fmt.Sprintf("secureClientPort=%d", port), "secureClientPortAddress=127.0.0.1"}, tl.ServerLines()...)
	return append(lines, extra...), fmt.Sprintf("127.0.0.1:%d", port)
}

// connectTLS opens a go-zookeeper session over TLS with cfg, waiting up
// to wait for it.
func connectTLS(t *testing.T, addr string, cfg *tls.Config, wait time.Duration) (*zk.Conn, error) {
	t.Helper()
	dialer := func(network, address string, timeout time.Duration) (net.Conn, error) {
		return tls.DialWithDialer(&net.Dialer{Timeout: timeout}, network, address, cfg)
	}
	c, events, err := zk.Connect([]string{addr}, 10*time.Second, zk.WithDialer(dialer), zk.WithLogInfo(false))
	if err != nil {
		return nil, err
	}
	t.Cleanup(c.Close)
	deadline := time.After(wait)
	for {
		select {
		case ev := <-events:
			if ev.State == zk.StateHasSession {
				return c, nil
			}
		case <-deadline:
			c.Close()
			return nil, fmt.Errorf("no session within %v", wait)
		}
	}
}

// checkTLSClients is what a TLS client port must do, on either server:
// a client with the run's certificate gets a session and its x509 id, an
// x509 ACL grants it and refuses a plaintext client, and a client
// without a certificate is refused (ssl.clientAuth defaults to need).
func checkTLSClients(t *testing.T, plainAddr, secureAddr string, tl *harness.TLS) {
	t.Helper()
	c, err := connectTLS(t, secureAddr, tl.ClientConfig(), 30*time.Second)
	if err != nil {
		t.Fatalf("TLS client: %v", err)
	}
	acl := []zk.ACL{{Perms: zk.PermAll, Scheme: "x509", ID: tl.ClientID}}
	if _, err := c.Create("/tls", []byte("secret"), 0, acl); err != nil {
		t.Fatalf("create with an x509 ACL: %v", err)
	}
	if data, _, err := c.Get("/tls"); err != nil || string(data) != "secret" {
		t.Errorf("the certificate's holder reads its node: %q, %v", data, err)
	}
	got, _, err := c.GetACL("/tls")
	if err != nil || len(got) != 1 || got[0] != acl[0] {
		t.Errorf("getACL: %+v, %v", got, err)
	}
	plain, _, err := zk.Connect([]string{plainAddr}, 10*time.Second, zk.WithLogInfo(false))
	if err != nil {
		t.Fatal(err)
	}
	defer plain.Close()
	if _, _, err := plain.Get("/tls"); !errors.Is(err, zk.ErrNoAuth) {
		t.Errorf("a plaintext client reads the x509-protected node: %v, want no auth", err)
	}
	anon := tl.ClientConfig()
	anon.Certificates = nil
	if _, err := connectTLS(t, secureAddr, anon, 5*time.Second); err == nil {
		t.Error("a client without a certificate got a session under ssl.clientAuth=need")
	}
	// Another CA's client is refused too.
	other, err := harness.NewTLS(t.TempDir(), certgen.PKCS12)
	if err != nil {
		t.Fatal(err)
	}
	stranger := other.ClientConfig()
	stranger.RootCAs = tl.ClientConfig().RootCAs
	if _, err := connectTLS(t, secureAddr, stranger, 5*time.Second); err == nil {
		t.Error("a client with an untrusted certificate got a session")
	}
	// The good session survived the failed handshakes.
	if _, _, err := c.Get("/tls"); err != nil {
		t.Errorf("the TLS session after others' failed handshakes: %v", err)
	}
}

// TestIntegration_TLSClientPort: the same stores and zoo.cfg lines, of
// each store type, serve TLS clients alike on the Go server and on
// upstream Java 3.8.
func TestIntegration_TLSClientPort(t *testing.T) {
	for _, typ := range []string{certgen.PKCS12, certgen.JKS, certgen.PEM} {
		for _, impl := range []string{"go", "java"} {
			t.Run(typ+"/"+impl, func(t *testing.T) {
				tl, err := harness.NewTLS(t.TempDir(), typ)
				if err != nil {
					t.Fatal(err)
				}
				lines, secure := tlsLines(t, tl)
				var srv *zktest.Server
				if impl == "java" {
					srv = zktest.StartJava(t, lines...)
				} else {
					srv = zktest.StartGo(t, lines...)
				}
				checkTLSClients(t, srv.Addr, secure, tl)
			})
		}
	}
}

// A secure client port alone: no plaintext listener is bound.
func TestSecureClientPortAlone(t *testing.T) {
	tl, err := harness.NewTLS(t.TempDir(), certgen.PKCS12)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	port := zktest.FreePort(t)
	text := fmt.Sprintf("tickTime=2000\ndataDir=%s\nsecureClientPort=%d\nsecureClientPortAddress=127.0.0.1\n%s\n", dir, port, strings.Join(tl.ServerLines(), "\n"))
	cfg, err := config.Parse(strings.NewReader(text), "zoo.cfg", nil)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	ready := make(chan string, 1)
	go func() { done <- server.Run(ctx, cfg, server.Options{Ready: func(a string) { ready <- a }}) }()
	defer func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Run: %v", err)
		}
	}()
	select {
	case addr := <-ready:
		if want := fmt.Sprintf("127.0.0.1:%d", port); addr != want {
			t.Errorf("serving on %s, want the secure port %s", addr, want)
		}
	case err := <-done:
		t.Fatalf("Run: %v", err)
	}
	c, err := connectTLS(t, fmt.Sprintf("127.0.0.1:%d", port), tl.ClientConfig(), 30*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.Create("/x", nil, 0, zk.WorldACL(zk.PermAll)); err != nil {
		t.Errorf("create: %v", err)
	}
}

// Bad stores: the server refuses to start, naming the key, the file and
// the reason, before it touches its data directory.
func TestTLSBadStoresRefuseToStart(t *testing.T) {
	tl, err := harness.NewTLS(t.TempDir(), certgen.PKCS12)
	if err != nil {
		t.Fatal(err)
	}
	missing := filepath.Join(t.TempDir(), "gone.p12")
	for _, tc := range []struct {
		name   string
		change string
		want   []string
	}{
		{"wrong password", "ssl.keyStore.password=wrong", []string{"zookeeper.ssl.keyStore.password", tl.ServerKeyStore, "wrong password"}},
		{"missing file", "ssl.trustStore.location=" + missing, []string{"zookeeper.ssl.trustStore.location", missing, "no such file"}},
		{"no key store", "ssl.keyStore.location=", []string{"zookeeper.ssl.keyStore.location: not set"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			text := fmt.Sprintf("tickTime=2000\ndataDir=%s\nclientPort=%d\nsecureClientPort=%d\n%s\n%s\n", dir,
				zktest.FreePort(t), zktest.FreePort(t), strings.Join(tl.ServerLines(), "\n"), tc.change)
			cfg, err := config.Parse(strings.NewReader(text), "zoo.cfg", nil)
			if err != nil {
				t.Fatal(err)
			}
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			err = server.Run(ctx, cfg, server.Options{})
			var te *tlsconf.Error
			if !errors.As(err, &te) {
				t.Fatalf("Run = %v, want a tlsconf error", err)
			}
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not say %q", err, w)
				}
			}
			if _, err := os.Stat(filepath.Join(dir, "version-2")); err == nil {
				t.Error("the data directory was touched before the refusal")
			}
		})
	}
}

// Real clients over TLS against the Go server: kazoo (use_ssl, PEM files)
// and Java's zkCli (ZooKeeperMain with zookeeper.client.secure and the
// Netty socket, the run's PKCS12 stores).
func TestIntegration_TLSRealClients(t *testing.T) {
	requireTool(t, "/usr/lib/python3/dist-packages/kazoo", "python3-kazoo")
	zktest.RequireJava(t)
	tl, err := harness.NewTLS(t.TempDir(), certgen.PKCS12)
	if err != nil {
		t.Fatal(err)
	}
	lines, secure := tlsLines(t, tl)
	zktest.StartGo(t, lines...)

	t.Run("kazoo", func(t *testing.T) {
		ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
		defer cancel()
		out, err := exec.CommandContext(ctx, "/usr/bin/python3", "testdata/kazoo_tls.py", secure,
			tl.CAFile, tl.ClientCertFile, tl.ClientKeyFile, tl.ClientID).CombinedOutput()
		if err != nil || !strings.Contains(string(out), "all kazoo tls checks passed") {
			t.Fatalf("kazoo over TLS: %v\n%s", err, out)
		}
	})

	t.Run("zkCli", func(t *testing.T) {
		java, err := zkbin.FindJava(zkbin.LogNone)
		if err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
		defer cancel()
		args := append(strings.Fields(tl.JavaClientFlags()), "-cp", java.ClasspathString(),
			"org.apache.zookeeper.ZooKeeperMain", "-server", secure)
		cmd := exec.CommandContext(ctx, java.Bin, args...)
		cmd.Stdin = strings.NewReader(strings.Join([]string{
			"whoami",
			// zkCli splits ACLs at commas, which a DN has: the auth
			// scheme stands for the session's x509 id.
			"create /cli-tls hello auth::cdrwa",
			"get /cli-tls",
			"getAcl /cli-tls",
			"delete /cli-tls",
			"quit",
		}, "\n") + "\n")
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("zkCli over TLS: %v\n%s", err, out)
		}
		requireOutput(t, "zkCli", string(out),
			"x509: "+tl.ClientID,
			"Created /cli-tls",
			"hello",
			"'x509,'"+strings.ReplaceAll(tl.ClientID, ",", "%2C"), // zkCli escapes the comma
		)
	})
}

// client.portUnification: the plain client port takes TLS clients too, on
// the Go server as on Java 3.8 (the harness's --tls runs use this, so
// that monitoring stays plaintext).
func TestIntegration_ClientPortUnification(t *testing.T) {
	for _, impl := range []string{"go", "java"} {
		t.Run(impl, func(t *testing.T) {
			tl, err := harness.NewTLS(t.TempDir(), certgen.PKCS12)
			if err != nil {
				t.Fatal(err)
			}
			lines := append(tl.ServerLines(), "client.portUnification=true")
			var srv *zktest.Server
			if impl == "java" {
				srv = zktest.StartJava(t, lines...)
			} else {
				srv = zktest.StartGo(t, lines...)
			}
			checkTLSClients(t, srv.Addr, srv.Addr, tl)
		})
	}
}
