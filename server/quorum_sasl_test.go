package server_test

import (
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/go-zookeeper/zk"

	"github.com/zkbench/zkbench/harness"
	"github.com/zkbench/zkbench/internal/certgen"
	"github.com/zkbench/zkbench/internal/zktest"
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
	c, _, err := zk.Connect(e.Addrs(), 10*time.Second, zk.WithLogInfo(false))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if _, err := c.Create("/q", []byte("one"), 0, zk.WorldACL(zk.PermAll)); err != nil {
		t.Fatal(err)
	}
	readEach(t, e, []int{0, 1, 2}, "/q", "one")

	leader := e.Leader(10 * time.Second)
	if leader < 0 {
		t.Fatal("no leader")
	}
	e.Servers[leader].Kill()
	var rest []int
	for i := range e.Servers {
		if i != leader {
			rest = append(rest, i)
		}
	}
	waitModes(t, e, rest, 30*time.Second)
	w, _, err := zk.Connect([]string{e.Servers[rest[0]].Addr}, 10*time.Second, zk.WithLogInfo(false))
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	if _, err := w.Create("/q2", []byte("two"), 0, zk.WorldACL(zk.PermAll)); err != nil {
		t.Fatalf("write after the leader's kill: %v", err)
	}
	readEach(t, e, rest, "/q2", "two")

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
	waitModes(t, e, []int{leader}, 30*time.Second)
	readEach(t, e, []int{leader}, "/q2", "two")
}
