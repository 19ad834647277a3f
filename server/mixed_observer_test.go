package server_test

import (
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/go-zookeeper/zk"

	"github.com/zkbench/zkbench/internal/zktest"
)

// Observers in mixed ensembles: a Java observer of a Go leader and a Go
// observer of a Java leader (issue 24).

// mixedServer is one member of a mixed ensemble started by
// startMixedMembers: its id, implementation, role and ports.
type mixedServer struct {
	id                       int
	java, observer           bool
	client, quorum, election int
	cfg                      string // its zoo.cfg, once written
}

// newMixedServers gives ids 1..len(java) free ports; server i+1 is Java
// when java[i], and an observer when its id is in observers.
func newMixedServers(t *testing.T, java []bool, observers ...int) []*mixedServer {
	t.Helper()
	var out []*mixedServer
	for i, j := range java {
		s := &mixedServer{id: i + 1, java: j, client: zktest.FreePort(t), quorum: zktest.FreePort(t), election: zktest.FreePort(t)}
		for _, o := range observers {
			s.observer = s.observer || o == s.id
		}
		out = append(out, s)
	}
	return out
}

// spec is the server's line in a dynamic configuration, as reconfig takes
// it and /zookeeper/config shows it.
func (s *mixedServer) spec() string {
	return s.specAs(map[bool]string{false: "participant", true: "observer"}[s.observer])
}

// specAs is spec with the given role.
func (s *mixedServer) specAs(role string) string {
	return fmt.Sprintf("server.%d=127.0.0.1:%d:%d:%s;127.0.0.1:%d", s.id, s.quorum, s.election, role, s.client)
}

func (s *mixedServer) addr() string { return fmt.Sprintf("127.0.0.1:%d", s.client) }

// writeMixedConfig writes s's zoo.cfg and myid under root, listing members
// (and s, if it is not among them) with extra zoo.cfg lines, and returns a
// process for it, not started.
func writeMixedConfig(t *testing.T, root string, s *mixedServer, members []*mixedServer, extra []string) *zktest.Process {
	t.Helper()
	dir := filepath.Join(root, fmt.Sprintf("s%d", s.id))
	data := filepath.Join(dir, "data")
	if err := os.MkdirAll(data, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(data, "myid"), []byte(fmt.Sprintf("%d\n", s.id)), 0o644); err != nil {
		t.Fatal(err)
	}
	lines := []string{"tickTime=200", "initLimit=10", "syncLimit=5", "dataDir=" + data,
		"4lw.commands.whitelist=*", "maxClientCnxns=0", "admin.enableServer=false"}
	if s.observer {
		lines = append(lines, "peerType=observer")
	}
	lines = append(lines, extra...)
	listed := false
	for _, m := range members {
		lines = append(lines, m.spec())
		listed = listed || m.id == s.id
	}
	if !listed {
		lines = append(lines, s.spec())
	}
	s.cfg = filepath.Join(dir, "zoo.cfg")
	if err := os.WriteFile(s.cfg, []byte(strings.Join(lines, "\n")+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	return zktest.NewProcess(t, s.java, s.cfg, s.addr())
}

// startMixedMembers starts servers (each listing all of them) with extra
// zoo.cfg lines and env (every server's extra environment). The voter
// with the highest id starts first and the lowest id next, so that the
// first leads (Fast Leader Election prefers the highest id among equal
// histories); the rest start once those two have elected. It returns the
// processes in the order of servers. Every process is killed in t.Cleanup.
func startMixedMembers(t *testing.T, servers []*mixedServer, extra []string, env ...string) *zktest.Ensemble {
	t.Helper()
	root := t.TempDir()
	e := &zktest.Ensemble{}
	lead := -1
	for i, s := range servers {
		p := writeMixedConfig(t, root, s, servers, extra)
		p.Env = env
		e.Servers = append(e.Servers, p)
		if !s.observer {
			lead = i
		}
	}
	e.Servers[lead].Launch()
	if err := waitListening(fmt.Sprintf("127.0.0.1:%d", servers[lead].election), 30*time.Second); err != nil {
		t.Fatalf("server %d's election port: %v", servers[lead].id, err)
	}
	e.Servers[0].Launch()
	pair := &zktest.Ensemble{Servers: []*zktest.Process{e.Servers[0], e.Servers[lead]}}
	pair.WaitRoles(t, 30*time.Second)
	for i, p := range e.Servers {
		if i != 0 && i != lead {
			p.Launch()
		}
	}
	e.WaitRoles(t, 30*time.Second)
	if m := e.Mode(lead); m != "leader" {
		t.Fatalf("server %d, started first, is %q, want leader", servers[lead].id, m)
	}
	return e
}

// TestIntegrationMixedObserver runs an observer of the other
// implementation than the leader's: it serves reads of writes made
// elsewhere (INFORM), forwards writes (REQUEST), holds a session created
// on it, and after a restart catches up by DIFF when a few txns behind and
// by SNAP when past the leader's committed log.
func TestIntegrationMixedObserver(t *testing.T) {
	for _, tc := range []struct {
		name string
		java []bool // servers 1-3 vote, 3 leads; 4 observes
		// javaLog is the index of the Java server whose log names each sync.
		javaLog    int
		says       map[string]string
		snapWrites int
	}{
		{"GoLeaderJavaObserver", []bool{false, false, false, true}, 3,
			map[string]string{"DIFF": "Getting a diff from the leader", "SNAP": "Getting a snapshot from leader"}, 120},
		{"JavaLeaderGoObserver", []bool{true, true, true, false}, 2,
			map[string]string{"DIFF": "Sending DIFF zxid", "SNAP": "Sending snapshot last zxid of peer"}, 600},
	} {
		t.Run(tc.name, func(t *testing.T) {
			servers := newMixedServers(t, tc.java, 4)
			e := startMixedMembers(t, servers, extraConfig, "SERVER_JVMFLAGS=-Dzookeeper.snapshotSizeFactor=-1 -Dzookeeper.commitLogCount=50")
			obs := e.Servers[3]
			if m := e.Mode(3); m != "observer" {
				t.Fatalf("server 4 is %q, want observer", m)
			}
			c := connect(t, e.Servers[0].Addr)
			if _, err := c.Create("/obs", []byte("leader's"), 0, zk.WorldACL(zk.PermAll)); err != nil {
				t.Fatal(err)
			}
			// A session created on the observer: an ephemeral node through
			// it (a forwarded write) that the others see, and that goes
			// when the session is closed.
			o := connect(t, obs.Addr)
			if _, err := o.Sync("/obs"); err != nil {
				t.Fatalf("sync on the observer: %v", err)
			}
			if data, _, err := o.Get("/obs"); err != nil || string(data) != "leader's" {
				t.Fatalf("the observer reads /obs as %q %v", data, err)
			}
			if _, err := o.Create("/obs/eph", []byte("o"), zk.FlagEphemeral, zk.WorldACL(zk.PermAll)); err != nil {
				t.Fatalf("ephemeral create through the observer: %v", err)
			}
			if _, err := c.Sync("/obs"); err != nil {
				t.Fatal(err)
			}
			_, st, err := c.Get("/obs/eph")
			if err != nil || st.EphemeralOwner != o.SessionID() {
				t.Fatalf("server 1 reads /obs/eph: %+v %v, want owner %#x", st, err, o.SessionID())
			}
			o.Close()
			// Close need not wait for the closeSession to commit.
			for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(50 * time.Millisecond) {
				if _, err := c.Sync("/obs"); err != nil {
					t.Fatal(err)
				}
				ok, _, err := c.Exists("/obs/eph")
				if !ok && err == nil {
					break
				}
				if time.Now().After(deadline) {
					t.Fatalf("/obs/eph 10 s after its session closed: exists=%v %v", ok, err)
				}
			}
			javaLog := filepath.Join(e.Servers[tc.javaLog].Dir, "server.log")
			for _, step := range []struct {
				mode   string
				writes int
			}{{"DIFF", 5}, {"SNAP", tc.snapWrites}} {
				since := fileSize(javaLog)
				obs.Kill()
				last := setConcurrently(t, c, "/obs", step.writes)
				obs.Launch()
				if err := zktest.WaitMode(obs.Addr, 30*time.Second); err != nil {
					t.Fatalf("%s: the observer after its restart: %v", step.mode, err)
				}
				o := connect(t, obs.Addr)
				if _, err := o.Sync("/obs"); err != nil {
					t.Fatalf("%s: sync on the observer: %v", step.mode, err)
				}
				if _, st, err := o.Get("/obs"); err != nil || st.Mzxid != last.Mzxid || st.Version != last.Version {
					t.Fatalf("%s: the observer reads /obs at %+v %v, want version %d mzxid %#x", step.mode, st, err, last.Version, last.Mzxid)
				}
				if !logSays(t, javaLog, since, tc.says[step.mode]) {
					t.Fatalf("%s: %s does not say %q after the restart", step.mode, javaLog, tc.says[step.mode])
				}
				if m := e.Mode(3); m != "observer" {
					t.Fatalf("%s: server 4 is %q after its restart, want observer", step.mode, m)
				}
			}
			writeThroughEach(t, e)
			requireSameTrees(t, e)
		})
	}
}

// waitListening waits until addr accepts a TCP connection.
func waitListening(addr string, timeout time.Duration) error {
	deadline := time.Now().Add(timeout)
	for {
		c, err := net.DialTimeout("tcp", addr, time.Second)
		if err == nil {
			c.Close()
			return nil
		}
		if time.Now().After(deadline) {
			return err
		}
		time.Sleep(20 * time.Millisecond)
	}
}
