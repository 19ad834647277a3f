package server_test

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/zkbench/zkbench/internal/zkbin"
	"github.com/zkbench/zkbench/internal/zktest"
	"github.com/zkbench/zkbench/server"
	"github.com/zkbench/zkbench/server/config"
	"github.com/zkbench/zkbench/server/proto"
	"github.com/zkbench/zkbench/server/sasl"
)

// saslJAAS is upstream's documented DIGEST-MD5 setup: the server's users
// and the client's login.
const saslJAAS = `Server {
  org.apache.zookeeper.server.auth.DigestLoginModule required
  user_super="supersecret"
  user_bob="bobsecret";
};
Client {
  org.apache.zookeeper.server.auth.DigestLoginModule required
  username="bob"
  password="bobsecret";
};
`

const saslProviderLine = "authProvider.1=org.apache.zookeeper.server.auth.SASLAuthenticationProvider"

// startSASL starts a standalone server, Go or upstream Java, on a zoo.cfg
// with extra lines and SERVER_JVMFLAGS naming jaasText written to a file
// (as zkServer.sh users give it); it returns the process and the JAAS
// file.
func startSASL(t *testing.T, java bool, jaasText string, extra ...string) (*zktest.Process, string) {
	t.Helper()
	dir := t.TempDir()
	jaas := filepath.Join(dir, "jaas.conf")
	if err := os.WriteFile(jaas, []byte(jaasText), 0o600); err != nil {
		t.Fatal(err)
	}
	port := zktest.FreePort(t)
	text := fmt.Sprintf("tickTime=2000\ndataDir=%s\nclientPort=%d\nclientPortAddress=127.0.0.1\n4lw.commands.whitelist=*\nadmin.enableServer=false\n%s\n",
		filepath.Join(dir, "data"), port, strings.Join(extra, "\n"))
	cfg := filepath.Join(dir, "zoo.cfg")
	if err := os.WriteFile(cfg, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
	p := zktest.NewProcess(t, java, cfg, fmt.Sprintf("127.0.0.1:%d", port))
	p.Env = []string{"SERVER_JVMFLAGS=-Djava.security.auth.login.config=" + jaas + " -Dzookeeper.admin.enableServer=false"}
	p.Start()
	return p, jaas
}

func implName(java bool) string {
	if java {
		return "java"
	}
	return "go"
}

// kazoo's SASL digest login against the Go server and Java 3.8 on the same
// JAAS file and zoo.cfg, with and without sessionRequireClientSASLAuth:
// the transcripts must be equal, and say what upstream does (login, the
// sasl ACL, a wrong password refused, an anonymous session refused when
// SASL is required).
func TestIntegration_SASLKazooMatchesJava(t *testing.T) {
	requireTool(t, "/usr/lib/python3/dist-packages/kazoo", "python3-kazoo")
	requireTool(t, "/usr/lib/python3/dist-packages/puresasl", "python3-puresasl")
	zktest.RequireJava(t)
	for _, tc := range []struct {
		name  string
		extra []string
		want  []string
	}{
		{"optional", []string{saslProviderLine}, []string{
			"login: ok", "create: ok '/kazoo-sasl'", "get: ok b'mine'", "acl: ok [('sasl', 'bob', 31)]",
			"wrong password connected: True", "wrong password exists: error AuthFailedError", "anonymous connect: ok",
			"anonymous get: error NoAuthError", "delete: ok True"}},
		{"required", []string{saslProviderLine, "sessionRequireClientSASLAuth=true"}, []string{
			"login: ok", "get: ok b'mine'", "wrong password exists: error ConnectionLoss", "anonymous connect: ok",
			"anonymous get: error KazooTimeoutError", "delete: ok True"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var transcripts [2][]string
			for i, java := range []bool{true, false} {
				p, _ := startSASL(t, java, saslJAAS, tc.extra...)
				ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
				var stderr strings.Builder
				cmd := exec.CommandContext(ctx, "/usr/bin/python3", "testdata/kazoo_sasl.py", p.Addr, "bob", "bobsecret")
				cmd.Stderr = &stderr // kazoo's threads' tracebacks
				out, err := cmd.Output()
				cancel()
				if err != nil {
					t.Fatalf("%s: kazoo: %v\n%s\n%s", implName(java), err, out, stderr.String())
				}
				for _, l := range strings.Split(string(out), "\n") {
					if step, ok := strings.CutPrefix(l, "> "); ok {
						transcripts[i] = append(transcripts[i], step)
					}
				}
				p.Kill()
			}
			compareTranscripts(t, transcripts[0], transcripts[1])
			requireOutput(t, "kazoo on go", strings.Join(transcripts[1], "\n"), tc.want...)
		})
	}
}

// zkCli (Java's client, a JAAS Client section in JVMFLAGS) logs in to the
// Go server with DIGEST-MD5 and acts as sasl:bob.
func TestIntegration_SASLZkCli(t *testing.T) {
	zktest.RequireJava(t)
	p, jaas := startSASL(t, false, saslJAAS, saslProviderLine, "superUser=super")
	java, err := zkbin.FindJava(zkbin.LogNone)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, java.Bin, "-Djava.security.auth.login.config="+jaas, "-cp", java.ClasspathString(),
		"org.apache.zookeeper.ZooKeeperMain", "-server", p.Addr)
	cmd.Stdin = strings.NewReader(strings.Join([]string{
		"whoami",
		"create /cli-sasl hello sasl:bob:cdrwa",
		"get /cli-sasl",
		"getAcl /cli-sasl",
		"delete /cli-sasl",
		"quit",
	}, "\n") + "\n")
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("zkCli: %v\n%s", err, out)
	}
	requireOutput(t, "zkCli", string(out), "sasl: bob", "Created /cli-sasl", "hello", "'sasl,'bob")

	// A wrong password in the Client section: zkCli's session is told
	// AuthFailed, and the sasl ACL keeps it out.
	bad := filepath.Join(t.TempDir(), "bad.conf")
	if err := os.WriteFile(bad, []byte(strings.ReplaceAll(saslJAAS, `password="bobsecret"`, `password="wrong"`)), 0o600); err != nil {
		t.Fatal(err)
	}
	cmd = exec.CommandContext(ctx, java.Bin, "-Djava.security.auth.login.config="+bad, "-cp", java.ClasspathString(),
		"org.apache.zookeeper.ZooKeeperMain", "-server", p.Addr)
	cmd.Stdin = strings.NewReader("whoami\nquit\n")
	out, _ = cmd.CombinedOutput()
	requireOutput(t, "zkCli with a wrong password", string(out), "AuthFailed")
	if strings.Contains(string(out), "sasl: bob") {
		t.Errorf("zkCli with a wrong password is sasl:bob:\n%s", out)
	}
}

// A raw client's DIGEST-MD5 exchange (the package's client side, as the
// driver uses it): the super user is super, a wrong password is
// AUTHFAILED and closes the connection.
func TestIntegration_SASLSuperAndWrongPassword(t *testing.T) {
	p, _ := startSASL(t, false, saslJAAS, saslProviderLine, "superUser=super")
	login := func(user, pw string) (*zktest.RawClient, proto.ErrCode) {
		raw, err := zktest.DialRaw(p.Addr, 10*time.Second)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { raw.Close() })
		cl := sasl.NewClient(user, pw, user, sasl.Protocol, sasl.ServerName)
		tok := cl.Start()
		for !cl.Complete() {
			var r proto.SetSASLResponse
			h, err := raw.Do(proto.OpSASL, &proto.GetSASLRequest{Token: tok}, &r)
			if err != nil || h.Err != proto.ErrOK {
				return raw, h.Err
			}
			if tok, err = cl.Next(r.Token); err != nil {
				t.Fatalf("client: %v", err)
			}
		}
		return raw, proto.ErrOK
	}
	raw, code := login("super", "supersecret")
	if code != proto.ErrOK {
		t.Fatalf("super login: %v", code)
	}
	var who proto.WhoAmIResponse
	if h, err := raw.Do(proto.OpWhoAmI, nil, &who); err != nil || h.Err != proto.ErrOK {
		t.Fatalf("whoAmI: %v %v", h, err)
	}
	if got := clientInfos(who.ClientInfo); !strings.Contains(got, "super") || !strings.Contains(got, "sasl") {
		t.Fatalf("super's ids %s", got)
	}
	raw, code = login("bob", "nope")
	if code != proto.ErrAuthFailed {
		t.Fatalf("wrong password: %v, want AUTHFAILED", code)
	}
	if _, err := raw.Do(proto.OpExists, &proto.ExistsRequest{Path: "/"}, nil); err == nil {
		t.Fatal("the connection stayed open after a failed login")
	}
}

// Bad SASL input refuses to start, naming the key, the file and the
// reason, before the data directory is touched.
func TestSASLBadInputRefusesToStart(t *testing.T) {
	dir := t.TempDir()
	write := func(name, text string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(text), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	good := write("good.conf", saslJAAS)
	missing := filepath.Join(dir, "gone.conf")
	clientOnly := write("client.conf", "Client { org.apache.zookeeper.server.auth.DigestLoginModule required username=a password=b; };")
	krb := write("krb.conf", "Server { com.sun.security.auth.module.Krb5LoginModule required useKeyTab=true keyTab=\"/k\" principal=\"zk/h@R\"; };")
	broken := write("broken.conf", "Server {\n  org.apache.zookeeper.server.auth.DigestLoginModule required user_a=\"x;\n};")
	for _, tc := range []struct {
		name, jaas string
		extra      []string
		want       []string
	}{
		{"missing file", missing, nil, []string{"java.security.auth.login.config", missing, "no such file"}},
		{"missing section", clientOnly, nil, []string{"java.security.auth.login.config", clientOnly, "No JAAS configuration section named 'Server'"}},
		{"named section missing", good, []string{"sasl.serverconfig=ZKServer"}, []string{good, "'ZKServer'"}},
		{"kerberos", krb, nil, []string{krb + ":1", "GSSAPI is not supported"}},
		{"malformed", broken, nil, []string{broken + ":2", "quoted string"}},
		{"sasl required without the provider", good, []string{"sessionRequireClientSASLAuth=true"}, []string{"Authentication scheme sasl is not available", "authProvider"}},
		{"enforce without schemes", good, []string{"enforce.auth.enabled=true"}, []string{"zookeeper.enforce.auth.schemes must be configured"}},
		{"enforce unknown scheme", good, []string{"enforce.auth.enabled=true", "enforce.auth.schemes=digest,kerberos"}, []string{"Authentication scheme kerberos is not available"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			data := t.TempDir()
			text := fmt.Sprintf("tickTime=2000\ndataDir=%s\nclientPort=%d\nadmin.enableServer=false\n%s\n", data, zktest.FreePort(t), strings.Join(tc.extra, "\n"))
			cfg, err := config.Parse(strings.NewReader(text), "zoo.cfg", []string{"SERVER_JVMFLAGS=-Djava.security.auth.login.config=" + tc.jaas})
			if err != nil {
				t.Fatal(err)
			}
			expectRefusal(t, cfg, data, tc.want...)
		})
	}
}

// expectRefusal checks that a server on cfg refuses to start with an error
// naming every one of want, before it touches the data directory data.
func expectRefusal(t *testing.T, cfg *config.Config, data string, want ...string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	err := server.Run(ctx, cfg, server.Options{})
	if err == nil {
		t.Fatal("Run started")
	}
	for _, w := range want {
		if !strings.Contains(err.Error(), w) {
			t.Errorf("error %q does not say %q", err, w)
		}
	}
	if _, err := os.Stat(filepath.Join(data, "version-2")); err == nil {
		t.Error("the data directory was touched before the refusal")
	}
}
