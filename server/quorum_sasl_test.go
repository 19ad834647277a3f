package server_test

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/go-zookeeper/zk"

	"github.com/zkbench/zkbench/harness"
	"github.com/zkbench/zkbench/internal/certgen"
	"github.com/zkbench/zkbench/internal/zktest"
	"github.com/zkbench/zkbench/server/config"
)

// quorumJAAS is upstream's documented quorum DIGEST-MD5 setup: the users
// a server accepts and the login it uses, with a learner password.
func quorumJAAS(learnerPassword string) string {
	return `QuorumServer {
  org.apache.zookeeper.server.auth.DigestLoginModule required
  user_zkpeer="peer-secret";
};
QuorumLearner {
  org.apache.zookeeper.server.auth.DigestLoginModule required
  username="zkpeer"
  password="` + learnerPassword + `";
};
`
}

var quorumSASLLines = []string{"quorum.auth.enableSasl=true", "quorum.auth.learnerRequireSasl=true", "quorum.auth.serverRequireSasl=true"}

// jaasEnv writes a JAAS file and returns the SERVER_JVMFLAGS naming it.
func jaasEnv(t *testing.T, text string) []string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "jaas.conf")
	if err := os.WriteFile(p, []byte(text), 0o600); err != nil {
		t.Fatal(err)
	}
	return []string{"SERVER_JVMFLAGS=-Djava.security.auth.login.config=" + p + " -Dzookeeper.admin.enableServer=false"}
}

// TestIntegration_QuorumSASL: a 3-server ensemble with quorum SASL
// (required both ways), alone and with sslQuorum, elects, replicates and
// survives a leader kill; the killed server restarted with a wrong
// QuorumLearner password is refused on every peer port and never joins,
// and joins once its password is right. The Go ensemble, and upstream
// Java 3.8 with the same JAAS file and zoo.cfg lines.
func TestIntegration_QuorumSASL(t *testing.T) {
	for _, impl := range []string{"go", "java"} {
		for _, withTLS := range []bool{false, true} {
			name := impl
			if withTLS {
				name += "+sslQuorum"
			}
			t.Run(name, func(t *testing.T) { testQuorumSASL(t, impl, withTLS) })
		}
	}
}

func testQuorumSASL(t *testing.T, impl string, withTLS bool) {
	lines := quorumSASLLines
	if withTLS {
		tl, err := harness.NewTLS(t.TempDir(), certgen.PKCS12)
		if err != nil {
			t.Fatal(err)
		}
		lines = append(append([]string(nil), lines...), tl.QuorumLines()...)
	}
	good := jaasEnv(t, quorumJAAS("peer-secret"))
	var e *zktest.Ensemble
	if impl == "java" {
		e = zktest.StartJavaEnsembleEnv(t, 3, good, lines...)
	} else {
		e = zktest.StartEnsembleEnv(t, 3, good, lines...)
	}
	leader, rest := replicatesAndSurvivesLeaderKill(t, e)

	// The killed server comes back with a wrong learner password.
	p := e.Servers[leader]
	p.Env = jaasEnv(t, quorumJAAS("not-the-password"))
	p.Launch()
	time.Sleep(3 * time.Second) // 15 ticks: far beyond an election on loopback
	if m := e.Mode(leader); m == "leader" || m == "follower" {
		t.Errorf("a server with a wrong quorum password joined the ensemble as %s", m)
	}
	readEach(t, e, rest, "/q2", "two")

	// With the right one it rejoins and catches up.
	p.Kill()
	p.Env = good
	p.Launch()
	waitModes(t, e, []int{leader})
	readEach(t, e, []int{leader}, "/q2", "two")
}

// Quorum SASL's bad input refuses to start naming the key, the file and
// the reason, before the data directory is touched.
func TestQuorumSASLBadInputRefusesToStart(t *testing.T) {
	dir := t.TempDir()
	write := func(name, text string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(text), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	serverOnly := write("server-only.conf", "QuorumServer { org.apache.zookeeper.server.auth.DigestLoginModule required user_zk=\"x\"; };")
	krb := write("krb.conf", "QuorumServer { com.sun.security.auth.module.Krb5LoginModule required useKeyTab=true keyTab=\"/k\" principal=\"zk/h@R\"; };\n"+
		"QuorumLearner { com.sun.security.auth.module.Krb5LoginModule required useKeyTab=true keyTab=\"/k\" principal=\"zk/h@R\"; };")
	for _, tc := range []struct {
		name string
		env  []string
		want []string
	}{
		{"no JAAS file", nil, []string{"quorum.auth.enableSasl", "no JAAS file"}},
		{"missing learner section", []string{"SERVER_JVMFLAGS=-Djava.security.auth.login.config=" + serverOnly},
			[]string{"quorum.auth.learner.saslLoginContext", serverOnly, "'QuorumLearner'"}},
		{"kerberos", []string{"SERVER_JVMFLAGS=-Djava.security.auth.login.config=" + krb}, []string{"quorum.auth.server.saslLoginContext", krb, "GSSAPI is not supported"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			d := t.TempDir()
			data := filepath.Join(d, "data")
			if err := os.MkdirAll(data, 0o755); err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(filepath.Join(data, "myid"), []byte("1\n"), 0o644); err != nil {
				t.Fatal(err)
			}
			text := fmt.Sprintf("tickTime=2000\ninitLimit=5\nsyncLimit=2\ndataDir=%s\nclientPort=%d\nadmin.enableServer=false\n", data, zktest.FreePort(t))
			for i := 1; i <= 3; i++ {
				text += fmt.Sprintf("server.%d=127.0.0.1:%d:%d\n", i, zktest.FreePort(t), zktest.FreePort(t))
			}
			text += strings.Join(quorumSASLLines, "\n") + "\n"
			cfgPath := filepath.Join(d, "zoo.cfg")
			if err := os.WriteFile(cfgPath, []byte(text), 0o644); err != nil {
				t.Fatal(err)
			}
			cfg, err := config.Load(cfgPath, tc.env)
			if err != nil {
				t.Fatal(err)
			}
			expectRefusal(t, cfg, data, tc.want...)
		})
	}
}

// Quorum SASL between Go and upstream Java servers in one ensemble: a Go
// leader authenticates Java learners and a Java leader Go ones, on the
// election and the quorum ports, and the ensemble replicates.
func TestIntegrationMixedQuorumSASL(t *testing.T) {
	extra := append(append([]string(nil), extraConfig...), quorumSASLLines...)
	env := jaasEnv(t, quorumJAAS("peer-secret"))
	for _, tc := range []struct {
		name string
		java []bool
	}{
		{"GoLeaderJavaFollowers", []bool{true, true, false}},
		{"JavaLeaderGoFollowers", []bool{false, false, true}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := startMixedConfig(t, tc.java, extra, env...)
			c, _, err := zk.Connect(e.Addrs(), 10*time.Second, zk.WithLogInfo(false))
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close()
			if _, err := c.Create("/m", []byte("x"), 0, zk.WorldACL(zk.PermAll)); err != nil {
				t.Fatal(err)
			}
			readEach(t, e, []int{0, 1, 2}, "/m", "x")
		})
	}
}
