package zktest

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// Ensemble is a set of zkserver processes forming one ensemble on loopback.
type Ensemble struct {
	Servers []*Process // Servers[i] has myid i+1
}

// StartEnsemble starts n zkserver processes as one ensemble (myid 1..n)
// with extra zoo.cfg lines, and waits until each serves or the deadline
// passes. Every process is killed in t.Cleanup.
func StartEnsemble(t testing.TB, n int, extra ...string) *Ensemble {
	t.Helper()
	return startEnsemble(t, "go", n, nil, extra)
}

// StartEnsembleEnv is StartEnsemble with extra environment variables for
// every process (e.g. SERVER_JVMFLAGS=-Dreadonlymode.enabled=true).
func StartEnsembleEnv(t testing.TB, n int, env []string, extra ...string) *Ensemble {
	t.Helper()
	return startEnsemble(t, "go", n, env, extra)
}

// StartJavaEnsemble is StartEnsemble for upstream Java ZooKeeper.
func StartJavaEnsemble(t testing.TB, n int, extra ...string) *Ensemble {
	t.Helper()
	RequireJava(t)
	return startEnsemble(t, "java", n, nil, extra)
}

// StartJavaEnsembleEnv is StartJavaEnsemble with extra environment
// variables for every process (SERVER_JVMFLAGS reaches java as zkServer.sh
// passes it).
func StartJavaEnsembleEnv(t testing.TB, n int, env []string, extra ...string) *Ensemble {
	t.Helper()
	RequireJava(t)
	return startEnsemble(t, "java", n, env, extra)
}

func startEnsemble(t testing.TB, impl string, n int, env, extra []string) *Ensemble {
	t.Helper()
	root := t.TempDir()
	type ports struct{ client, quorum, election int }
	ps := make([]ports, n)
	for i := range ps {
		ps[i] = ports{FreePort(t), FreePort(t), FreePort(t)}
	}
	var lines []string
	for i, p := range ps {
		lines = append(lines, fmt.Sprintf("server.%d=127.0.0.1:%d:%d", i+1, p.quorum, p.election))
	}
	e := &Ensemble{}
	for i, p := range ps {
		dir := filepath.Join(root, fmt.Sprintf("s%d", i+1))
		data := filepath.Join(dir, "data")
		must(t, os.MkdirAll(data, 0o755))
		must(t, os.WriteFile(filepath.Join(data, "myid"), []byte(fmt.Sprintf("%d\n", i+1)), 0o644))
		text := fmt.Sprintf("tickTime=200\ninitLimit=10\nsyncLimit=5\ndataDir=%s\nclientPort=%d\nclientPortAddress=127.0.0.1\n"+
			"4lw.commands.whitelist=*\nmaxClientCnxns=0\nadmin.enableServer=false\n%s\n%s\n",
			data, p.client, strings.Join(lines, "\n"), strings.Join(extra, "\n"))
		cfgPath := filepath.Join(dir, "zoo.cfg")
		must(t, os.WriteFile(cfgPath, []byte(text), 0o644))
		proc := NewProcess(t, impl == "java", cfgPath, fmt.Sprintf("127.0.0.1:%d", p.client))
		proc.Env = env
		proc.launch()
		e.Servers = append(e.Servers, proc)
	}
	e.WaitRoles(t, startWait)
	return e
}

// startWait bounds how long a starting ensemble may take to give every
// member a role. Generous on purpose: a healthy ensemble elects in about a
// second, but Java's election backs its notifications off while peers
// start, and on a loaded machine a JVM alone can take seconds to start.
const startWait = 60 * time.Second

// WaitRoles waits until every member reports a role (leader, follower or
// observer) in srvr: the ensemble has elected and synced.
func (e *Ensemble) WaitRoles(t testing.TB, timeout time.Duration) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for i, s := range e.Servers {
		for {
			m := e.Mode(i)
			if m == "leader" || m == "follower" || m == "observer" {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("zktest: ensemble member %s has no role after %v (mode %q)\n%s", s.Dir, timeout, m, tail([]byte(s.LogText(s.Starts())), 3000))
			}
			time.Sleep(10 * time.Millisecond)
		}
	}
}

// Addrs lists the client addresses.
func (e *Ensemble) Addrs() []string {
	var out []string
	for _, s := range e.Servers {
		out = append(out, s.Addr)
	}
	return out
}

// Mode asks server i (0-based) for its mode with srvr; "" if it does not
// answer.
func (e *Ensemble) Mode(i int) string {
	out, err := FourLetterWord(e.Servers[i].Addr, "srvr", time.Second)
	if err != nil {
		return ""
	}
	for _, line := range strings.Split(out, "\n") {
		if m, ok := strings.CutPrefix(line, "Mode: "); ok {
			return m
		}
	}
	return ""
}

// Leader returns the index of the server that says it leads, waiting up
// to timeout; -1 if none does.
func (e *Ensemble) Leader(timeout time.Duration) int {
	deadline := time.Now().Add(timeout)
	for time.Now().Before(deadline) {
		for i := range e.Servers {
			if e.Mode(i) == "leader" {
				return i
			}
		}
		time.Sleep(10 * time.Millisecond)
	}
	return -1
}

// StartFromConfigs launches one zkserver per config file (each with its
// myid already in place) and waits until every one serves. addrs are the
// client addresses, in the same order. It is StartConfigs for zkserver.
func StartFromConfigs(t testing.TB, cfgPaths, addrs []string) *Ensemble {
	t.Helper()
	return StartConfigs(t, false, cfgPaths, addrs)
}
