package main

import (
	"bytes"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/zkbench/zkbench/internal/zktest"
)

// syncBuffer is a bytes.Buffer a process writes while the test reads it.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// zkserver is one zkserver start-foreground process; cleanup kills it by
// its PID if it is still running.
type zkserver struct {
	cmd    *exec.Cmd
	stderr *syncBuffer
	done   chan error
}

func startZkserver(t *testing.T, cfgText string, env ...string) (*zkserver, string) {
	t.Helper()
	bin := zktest.BuildZkserver(t)
	dir := t.TempDir()
	data := filepath.Join(dir, "data")
	cfgPath := filepath.Join(dir, "zoo.cfg")
	if err := os.WriteFile(cfgPath, []byte(strings.ReplaceAll(cfgText, "DATA", data)), 0o644); err != nil {
		t.Fatal(err)
	}
	z := &zkserver{stderr: &syncBuffer{}, done: make(chan error, 1)}
	z.cmd = exec.Command(bin, "start-foreground", cfgPath)
	z.cmd.Env = append(os.Environ(), env...)
	z.cmd.Stderr = z.stderr
	if err := z.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() { z.done <- z.cmd.Wait() }()
	t.Cleanup(func() {
		select {
		case <-z.done:
		default:
			z.cmd.Process.Kill()
			<-z.done
		}
	})
	return z, data
}

// exit waits for the process to end by itself.
func (z *zkserver) exit(t *testing.T, within time.Duration) error {
	t.Helper()
	select {
	case err := <-z.done:
		z.done <- err
		return err
	case <-time.After(within):
		t.Fatalf("zkserver still running after %v; it should have refused to start. stderr:\n%s", within, z.stderr)
		return nil
	}
}

// A configuration that asks for TLS it cannot serve, SASL it cannot check
// or local sessions makes the real binary refuse to start, saying which line or
// flag asked, and bind nothing. A TLS-only
// zoo.cfg used to start a plaintext server on a random port of every
// interface.
func TestIntegrationRefusesUnsupportedSecurity(t *testing.T) {
	secure := zktest.FreePort(t)
	cases := []struct {
		name, cfg string
		env       []string
		want      string
	}{
		// TLS without a key store: no listener could serve it.
		{"tls only", fmt.Sprintf("tickTime=2000\ndataDir=DATA\nsecureClientPort=%d\n", secure), nil,
			"zookeeper.ssl.keyStore.location: not set: a TLS listener needs a certificate"},
		{"tls and plaintext", fmt.Sprintf("tickTime=2000\ndataDir=DATA\nclientPort=%d\nsecureClientPort=%d\n", zktest.FreePort(t), secure), nil,
			"zookeeper.ssl.keyStore.location: not set"},
		{"tls keystore missing", fmt.Sprintf("tickTime=2000\ndataDir=DATA\nclientPort=%d\nsecureClientPort=%d\n", zktest.FreePort(t), secure),
			[]string{"SERVER_JVMFLAGS=-Dzookeeper.ssl.keyStore.location=/etc/zk/keystore.jks"},
			"zookeeper.ssl.keyStore.location (/etc/zk/keystore.jks): open /etc/zk/keystore.jks: no such file or directory"},
		{"tls auth provider flag", fmt.Sprintf("tickTime=2000\ndataDir=DATA\nclientPort=%d\n", zktest.FreePort(t)),
			[]string{"SERVER_JVMFLAGS=-Dzookeeper.ssl.authProvider=sasl"},
			"SERVER_JVMFLAGS: -Dzookeeper.ssl.authProvider: this server does not support authentication providers for TLS clients other than x509"},
		{"local sessions in an ensemble", fmt.Sprintf("tickTime=2000\ndataDir=DATA\nclientPort=%d\ninitLimit=5\nsyncLimit=2\nlocalSessionsEnabled=true\n"+
			"server.1=127.0.0.1:%d:%d\nserver.2=127.0.0.1:%d:%d\nserver.3=127.0.0.1:%d:%d\n", zktest.FreePort(t),
			zktest.FreePort(t), zktest.FreePort(t), zktest.FreePort(t), zktest.FreePort(t), zktest.FreePort(t), zktest.FreePort(t)), nil,
			"zoo.cfg:6: localSessionsEnabled: this server does not support local sessions"},
		// SASL required of every client, but no SASL provider to
		// authenticate them: upstream refuses the same way.
		{"client sasl without its provider", fmt.Sprintf("tickTime=2000\ndataDir=DATA\nclientPort=%d\nsessionRequireClientSASLAuth=true\n", zktest.FreePort(t)), nil,
			"zookeeper.enforce.auth.schemes: Authentication scheme sasl is not available"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			z, data := startZkserver(t, tc.cfg, tc.env...)
			err := z.exit(t, 10*time.Second)
			stderr := z.stderr.String()
			if err == nil {
				t.Errorf("exit status 0, want a failure; stderr:\n%s", stderr)
			}
			if !strings.Contains(stderr, "zkserver: ") || !strings.Contains(stderr, tc.want) {
				t.Errorf("stderr does not say %q:\n%s", tc.want, stderr)
			}
			if strings.Contains(stderr, "serving clients") || strings.Contains(stderr, "client port bound") {
				t.Errorf("it bound a client port:\n%s", stderr)
			}
			if _, err := os.Stat(data); err == nil {
				t.Errorf("the data dir was created before the refusal")
			}
			l, err := net.Listen("tcp", fmt.Sprintf("127.0.0.1:%d", secure))
			if err != nil {
				t.Errorf("the secure port is taken: %v", err)
			} else {
				l.Close()
			}
		})
	}
}

// Keys the server ignores are logged once each, by name, and the server
// starts.
func TestIntegrationIgnoredKeysWarnOnce(t *testing.T) {
	port := zktest.FreePort(t)
	z, _ := startZkserver(t, fmt.Sprintf("tickTime=2000\ndataDir=DATA\nclientPort=%d\nclientPortAddress=127.0.0.1\n"+
		"4lw.commands.whitelist=*\nadmin.enableServer=false\nadmin.idleTimeout=9999\nquorum.cnxn.threads.size=20\nmetricsProvider.httpsPort=7443\n", port),
		"SERVER_JVMFLAGS=-Dzookeeper.admin.idleTimeout=9999 -Dzookeeper.serverCnxnFactory=org.apache.zookeeper.server.NettyServerCnxnFactory")
	addr := fmt.Sprintf("127.0.0.1:%d", port)
	if err := zktest.WaitServing(addr, 15*time.Second); err != nil {
		t.Fatalf("%v; stderr:\n%s", err, z.stderr)
	}
	stderr := z.stderr.String()
	for _, key := range []string{"admin.idleTimeout", "quorum.cnxn.threads.size", "metricsProvider.httpsPort", "zookeeper.serverCnxnFactory"} {
		n := 0
		for _, line := range strings.Split(stderr, "\n") {
			if strings.Contains(line, "level=WARN") && strings.Contains(line, key+" ") {
				n++
			}
		}
		if n != 1 {
			t.Errorf("%d WARN lines name %s, want 1:\n%s", n, key, stderr)
		}
	}
}
