package agent

import (
	"archive/zip"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/go-zookeeper/zk"

	"github.com/zkbench/zkbench/harness"
	"github.com/zkbench/zkbench/internal/zkbin"
)

func TestRenderServerConfig(t *testing.T) {
	ens := Ensemble{Servers: []ServerAddr{
		{ID: 1, Host: "10.0.0.1", Client: 2181, Quorum: 2888, Election: 3888},
		{ID: 2, Host: "10.0.0.2", Client: 2182, Quorum: 2889, Election: 3889},
		{ID: 3, Host: "10.0.0.3", Client: 2183, Quorum: 2890, Election: 3890},
	}}
	text, err := RenderServerConfig(ServerAssignment{ID: 2, TickTime: 200, ExtraConfig: map[string]string{"maxClientCnxns": "10", "snapCount": "1000"}}, ens, "/d")
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{
		"tickTime=200\n", "initLimit=10\n", "dataDir=/d\n", "clientPort=2182\n", "clientPortAddress=10.0.0.2\n",
		"maxClientCnxns=10\n", "snapCount=1000\n", "leaderServes=no\n", "standaloneEnabled=false\n",
		"server.1=10.0.0.1:2888:3888\n", "server.3=10.0.0.3:2890:3890\n",
	} {
		if !strings.Contains(text, want) {
			t.Errorf("config lacks %q:\n%s", want, text)
		}
	}
	if _, err := RenderServerConfig(ServerAssignment{ID: 4}, ens, "/d"); err == nil {
		t.Error("server 4 of 3: no error")
	}
	one, _ := RenderServerConfig(ServerAssignment{ID: 1}, Ensemble{Servers: ens.Servers[:1]}, "/d")
	if strings.Contains(one, "server.1=") || !strings.Contains(one, "standaloneEnabled=true") {
		t.Errorf("standalone config:\n%s", one)
	}
}

func TestRenderServerConfigJava(t *testing.T) {
	ens := Ensemble{Servers: []ServerAddr{{ID: 1, Host: "10.0.0.1", Client: 2181, Quorum: 2888, Election: 3888}}}
	java, err := RenderServerConfig(ServerAssignment{ID: 1, Impl: harness.ImplJava}, ens, "/d")
	if err != nil {
		t.Fatal(err)
	}
	goCfg, _ := RenderServerConfig(ServerAssignment{ID: 1, Impl: harness.ImplGo}, ens, "/d")
	for impl, text := range map[string]string{"java": java, "go": goCfg} {
		if !strings.Contains(text, "admin.enableServer=false\n") {
			t.Errorf("a %s server's config keeps the AdminServer (port 8080, taken by the second server on a host):\n%s", impl, text)
		}
	}
}

// ProbeJava finds Debian's jars and runtime as the harness does, with their
// versions, and says why a ZooKeeper home without jars cannot serve.
func TestProbeJava(t *testing.T) {
	j := ProbeJava("")
	if !j.OK() {
		t.Fatalf("ProbeJava: %s (CI installs the zookeeper package)", j.Error)
	}
	if !regexp.MustCompile(`^\d+\.\d+\.\d+$`).MatchString(j.ZooKeeper) || j.Runtime == "" || j.Bin == "" {
		t.Fatalf("facts %+v: want ZooKeeper's version, the runtime's and its path", j)
	}
	empty := t.TempDir()
	bad := ProbeJava(empty)
	if bad.OK() || !strings.Contains(bad.Error, empty) {
		t.Fatalf("an empty home: %+v, want an error naming it", bad)
	}
	t.Logf("%s; empty home: %s", j, bad.Error)

	// A release's home: the version is in its server jar's pom.properties
	// (the jute jar's says another, which must not be taken).
	home := t.TempDir()
	os.MkdirAll(filepath.Join(home, "lib"), 0o755)
	writeJar(t, filepath.Join(home, "lib", "zookeeper-jute-3.9.1.jar"), "3.9.1")
	writeJar(t, filepath.Join(home, "lib", "zookeeper-3.9.2.jar"), "3.9.2")
	if rel := ProbeJava(home); !rel.OK() || rel.ZooKeeper != "3.9.2" || rel.Home != home {
		t.Fatalf("a release's home: %+v, want ZooKeeper 3.9.2", rel)
	}
}

// writeJar writes a jar holding only the pom.properties of upstream's
// server at version v.
func writeJar(t *testing.T, path, v string) {
	t.Helper()
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	zw := zip.NewWriter(f)
	w, err := zw.Create("META-INF/maven/org.apache.zookeeper/zookeeper/pom.properties")
	if err != nil {
		t.Fatal(err)
	}
	fmt.Fprintf(w, "groupId=org.apache.zookeeper\nartifactId=zookeeper\nversion=%s\n", v)
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
}

// procState returns the state letter of pid in /proc (R, S, T, ...).
func procState(t *testing.T, pid int) byte {
	t.Helper()
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		t.Fatal(err)
	}
	i := bytes.LastIndexByte(b, ')')
	return b[i+2]
}

// An agent's server, Go and Java, starts from a generated config, serves,
// is frozen (SIGSTOP: stopped, srvr unanswered, reported frozen) and thawed
// (serving again), and is killed with its process group.
func TestServerProcFreezeThaw(t *testing.T) {
	zkserver, err := zkbin.BuildZkserver()
	if err != nil {
		t.Fatal(err)
	}
	for _, impl := range []string{harness.ImplGo, harness.ImplJava} {
		t.Run(impl, func(t *testing.T) {
			ports, err := pickPorts("127.0.0.1")
			if err != nil {
				t.Fatal(err)
			}
			dir := t.TempDir()
			ens := Ensemble{Servers: []ServerAddr{{ID: 1, Host: "127.0.0.1", Client: ports[0], Quorum: ports[1], Election: ports[2]}}}
			sa := ServerAssignment{ID: 1, Impl: impl, TickTime: 200, JavaHeap: "128m"}
			text, err := RenderServerConfig(sa, ens, filepath.Join(dir, "data"))
			if err != nil {
				t.Fatal(err)
			}
			p, err := newServerProc(sa, []string{zkserver, "start-foreground"}, "", dir, text, slog.New(slog.DiscardHandler))
			if err != nil {
				t.Fatal(err)
			}
			if err := p.start(); err != nil {
				t.Fatal(err)
			}
			defer p.kill()
			addr := fmt.Sprintf("127.0.0.1:%d", ports[0])
			waitMode := func(want string) ServerStatus {
				t.Helper()
				deadline := time.Now().Add(30 * time.Second)
				for {
					st := p.status(addr)
					if st.Mode == want {
						return st
					}
					if time.Now().After(deadline) {
						out, _ := os.ReadFile(filepath.Join(dir, "stdout.log"))
						t.Fatalf("status %+v, want mode %q\n%s", st, want, out)
					}
					time.Sleep(100 * time.Millisecond)
				}
			}
			st := waitMode("standalone")
			pid := st.PID
			if err := p.freeze(); err != nil {
				t.Fatal(err)
			}
			if err := p.freeze(); err == nil {
				t.Error("a second freeze: no error")
			}
			for deadline := time.Now().Add(2 * time.Second); procState(t, pid) != 'T'; time.Sleep(10 * time.Millisecond) {
				if time.Now().After(deadline) {
					t.Fatalf("frozen server's state %c, want T (stopped)", procState(t, pid))
				}
			}
			if st := p.status(addr); !st.Frozen || st.Mode != "" || !st.Running {
				t.Fatalf("frozen status %+v", st)
			}
			if m := srvrMode(addr); m != "" {
				t.Fatalf("a frozen server answered srvr: %q", m)
			}
			if err := p.thaw(); err != nil {
				t.Fatal(err)
			}
			if err := p.thaw(); err == nil {
				t.Error("thawing a running server: no error")
			}
			if st := waitMode("standalone"); st.Frozen || st.PID != pid {
				t.Fatalf("thawed status %+v, want pid %d serving", st, pid)
			}
			if err := p.freeze(); err != nil {
				t.Fatal(err)
			}
			if err := p.kill(); err != nil {
				t.Fatalf("kill a frozen server: %v", err)
			}
			if _, err := os.Stat(fmt.Sprintf("/proc/%d", pid)); err == nil {
				t.Fatalf("pid %d still exists after kill", pid)
			}
			if err := p.thaw(); err == nil {
				t.Error("thawing a killed server: no error")
			}
		})
	}
}

// silentServerEnv makes the test binary a server that accepts clients on
// the client port of the zoo.cfg it is given and never answers them.
const silentServerEnv = "ZKBENCH_AGENT_TEST_SILENT_SERVER"

func TestMain(m *testing.M) {
	if os.Getenv(silentServerEnv) != "" {
		silentServer(os.Args[len(os.Args)-1])
		return
	}
	os.Exit(m.Run())
}

// silentServer listens where zoo.cfg at cfgPath says and holds every
// connection unanswered, as a server too busy to answer srvr.
func silentServer(cfgPath string) {
	b, err := os.ReadFile(cfgPath)
	if err != nil {
		os.Exit(2)
	}
	var host, port string
	for _, line := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, "clientPort="); ok {
			port = v
		}
		if v, ok := strings.CutPrefix(line, "clientPortAddress="); ok {
			host = v
		}
	}
	ln, err := net.Listen("tcp", net.JoinHostPort(host, port))
	if err != nil {
		os.Exit(2)
	}
	var held []net.Conn
	for {
		c, err := ln.Accept()
		if err != nil {
			os.Exit(2)
		}
		held = append(held, c)
	}
}

// A fault request is carried out at once, even while the server is too
// busy to answer the agent's srvr (which takes up to its timeout): the
// status reports must not hold up the faults.
func TestServerFaultNotDelayedBySlowStatus(t *testing.T) {
	conn := startServer(t)
	t.Setenv(silentServerEnv, "1")
	l := Layout{Root: "/t/slow"}
	addr := conn.Server()
	for deadline := time.Now().Add(5 * time.Second); addr == "" && time.Now().Before(deadline); addr = conn.Server() {
		time.Sleep(10 * time.Millisecond)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		done <- Run(ctx, Config{Connect: addr + l.Root, Name: "slow", Address: "127.0.0.1", GoCommand: []string{os.Args[0]}, SessionTimeout: 2 * time.Second})
	}()
	defer func() {
		cancel()
		<-done
	}()
	waitFor := func(p string) []byte {
		t.Helper()
		for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(20 * time.Millisecond) {
			if b, _, err := conn.Get(p); err == nil {
				return b
			}
			select {
			case err := <-done:
				done <- err
				t.Fatalf("the agent stopped: %v", err)
			default:
			}
			if time.Now().After(deadline) {
				t.Fatalf("%s did not appear", p)
			}
		}
	}
	waitFor(l.Agent("slow"))
	run := "r-slow"
	if err := EnsureRun(conn, l, run); err != nil {
		t.Fatal(err)
	}
	if _, err := conn.Create(l.Coordinator(run), nil, zk.FlagEphemeral, zk.WorldACL(zk.PermAll)); err != nil {
		t.Fatal(err)
	}
	as, _ := json.Marshal(Assignment{Run: run, Role: RoleServer, Version: Version(), Server: &ServerAssignment{ID: 1, Impl: harness.ImplGo}})
	if err := Put(conn, l.Assign("slow"), as); err != nil {
		t.Fatal(err)
	}
	var rd Ready
	if err := json.Unmarshal(waitFor(l.Ready(run, "slow")), &rd); err != nil || rd.Server == nil {
		t.Fatalf("ready %+v (%v)", rd, err)
	}
	ens, _ := json.Marshal(Ensemble{Servers: []ServerAddr{*rd.Server}})
	if err := Put(conn, l.Ensemble(run), ens); err != nil {
		t.Fatal(err)
	}
	waitFor(l.Status(run, "slow"))
	time.Sleep(700 * time.Millisecond) // the agent is now inside a slow srvr
	var worst time.Duration
	for i, action := range []string{"freeze", "thaw", "kill", "restart", "kill"} {
		req, _ := json.Marshal(FaultRequest{Action: action})
		asked := time.Now()
		p, err := conn.Create(l.Faults(run, "slow")+"/f-", req, zk.FlagSequence, zk.WorldACL(zk.PermAll))
		if err != nil {
			t.Fatal(err)
		}
		for {
			b, _, err := conn.Get(p)
			if err != nil {
				t.Fatal(err)
			}
			var fr FaultRequest
			json.Unmarshal(b, &fr)
			if fr.Done {
				if fr.Error != "" {
					t.Fatalf("%s: %s", action, fr.Error)
				}
				break
			}
			time.Sleep(5 * time.Millisecond)
		}
		took := time.Since(asked)
		worst = max(worst, took)
		t.Logf("%d %s: done after %v", i, action, took.Round(time.Millisecond))
		time.Sleep(300 * time.Millisecond)
	}
	if worst > 400*time.Millisecond {
		t.Fatalf("a fault took %v to carry out while srvr was slow: want well under srvr's timeout", worst)
	}
	Put(conn, l.Stop(run), nil)
}
