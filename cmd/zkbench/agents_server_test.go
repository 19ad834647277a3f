package main

import (
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/zkbench/zkbench/experiment"
	"github.com/zkbench/zkbench/fleet"
	"github.com/zkbench/zkbench/harness"
	"github.com/zkbench/zkbench/results"
)

// agentServers returns the PIDs of the servers, Go or Java, that agents
// of these names run (their config lives in a directory named after the
// agent).
func agentServers(names []string) []int {
	return processesWhere(func(dir string) bool {
		b, err := os.ReadFile(filepath.Join(dir, "cmdline"))
		if err != nil || !strings.Contains(string(b), internalServer) && !strings.Contains(string(b), "QuorumPeerMain") {
			return false
		}
		return slices.ContainsFunc(names, func(n string) bool {
			return strings.Contains(string(b), "zkbench-agent-"+n+"-server-")
		})
	})
}

// uniq returns names with a random suffix, so that the servers of this
// test's agents are told apart from any other's.
func uniq(names ...string) []string {
	var b [3]byte
	rand.Read(b[:])
	out := make([]string, len(names))
	for i, n := range names {
		out[i] = n + "-" + hex.EncodeToString(b[:])
	}
	return out
}

// waitNoServers fails unless every server of these agents is gone within
// limit.
func waitNoServers(t *testing.T, names []string, limit time.Duration) {
	t.Helper()
	deadline := time.Now().Add(limit)
	for {
		left := agentServers(names)
		if len(left) == 0 {
			return
		}
		if time.Now().After(deadline) {
			for _, pid := range left {
				syscall.Kill(pid, syscall.SIGKILL)
			}
			t.Fatalf("server processes left behind: %v", left)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// Three server agents host a 3-server Go ensemble, a client agent drives
// it, and the schedule kills the leader and restarts it through the agent
// hosting it: the result records where each server ran and the failover.
func TestServerAgentsEndToEnd(t *testing.T) {
	bin := zkbenchBin(t)
	dir := t.TempDir()
	coord := startServer(t, dir, "coord", bin) + "/hosted"
	srv := uniq("s1", "s2", "s3")
	cli := uniq("c1")
	startAgents(t, dir, bin, coord, srv, "--addr", "127.0.0.1")
	startAgents(t, dir, bin, coord, cli, "--no-server")
	t.Cleanup(func() { waitNoServers(t, srv, 10*time.Second) })
	sched := filepath.Join(dir, "failover.sched")
	os.WriteFile(sched, []byte("at 1s kill leader\nat 2s restart it\n"), 0o644)
	out := filepath.Join(dir, "runs")
	run := start(t, dir, "run", bin, "run", "--agents", coord, "--server-agents", strings.Join(srv, ","), "--client-agents", cli[0],
		"--tick-time", "200", "--clients", "4", "--outstanding", "1", "--keys", "50", "--value-size", "16",
		"--warmup", "300ms", "--duration", "3s", "--faults", sched, "--out", out)
	if err := run.wait(t, 90*time.Second); err != nil {
		t.Fatalf("run: %v\n%s", err, run.output())
	}
	rd := runDir(t, out)
	res, err := results.Read(rd)
	if err != nil {
		t.Fatal(err)
	}
	cfg := res.Ensemble.Config
	if res.Ensemble.Implementation != "go" || cfg["hosted_by"] != "agents" || res.Ensemble.Size != 3 {
		t.Fatalf("ensemble %+v", res.Ensemble)
	}
	if !strings.HasPrefix(res.Ensemble.Version, "zkbench ") {
		t.Errorf("ensemble version %q, want zkbench's (the agents run the coordinator's build)", res.Ensemble.Version)
	}
	for i, n := range srv {
		if got := cfg["server."+strconv.Itoa(i+1)+".agent"]; got != n {
			t.Errorf("server %d on %q, want %s", i+1, got, n)
		}
	}
	var names []string
	for _, e := range res.Events {
		names = append(names, e.Name)
	}
	if !slices.Contains(names, "kill") || !slices.Contains(names, "restart") {
		t.Fatalf("events %v: want the kill and the restart", res.Events)
	}
	b, err := os.ReadFile(filepath.Join(rd, serversFile))
	if err != nil {
		t.Fatal(err)
	}
	var ss []fleet.HostedServer
	if err := json.Unmarshal(b, &ss); err != nil {
		t.Fatal(err)
	}
	restarted := 0
	for _, s := range ss {
		if s.Starts == 2 {
			restarted++
		}
		if s.CPUSeconds <= 0 || s.PeakRSSKiB <= 0 || s.Error != "" {
			t.Errorf("server %+v: want its CPU and RSS, no error", s)
		}
	}
	if len(ss) != 3 || restarted != 1 {
		t.Fatalf("servers %+v: want three, one of them launched twice", ss)
	}
	s := results.Summarize(res)
	if s.Ops == 0 {
		t.Fatalf("no operations measured")
	}
	for _, e := range res.Events {
		t.Logf("event %v %s: %s", e.At.Round(time.Millisecond), e.Name, e.Detail)
	}
	t.Logf("%d ops, %d errors; servers %+v", s.Ops, s.Errors, ss)
	waitNoServers(t, srv, 10*time.Second)
}

// A run aborted by a killed server agent, then one whose coordinator is
// killed, leaves no server process behind; a killed agent takes its Java
// server (a JVM) with it too.
func TestServerAgentsAbortLeavesNoServer(t *testing.T) {
	bin := zkbenchBin(t)
	dir := t.TempDir()
	coord := startServer(t, dir, "coord", bin) + "/abort"
	for _, tc := range []struct{ victim, impl string }{{"agent", "go"}, {"coordinator", "go"}, {"agent", "java"}} {
		victim := tc.victim
		srv := uniq("s1", "s2", "s3")
		cli := uniq("c1")
		agents := startAgents(t, dir, bin, coord, srv, "--addr", "127.0.0.1")
		startAgents(t, dir, bin, coord, cli, "--no-server")
		out := filepath.Join(dir, "runs-"+victim+"-"+tc.impl)
		run := start(t, dir, "run-"+victim+"-"+tc.impl, bin, "run", "-v", "--impl", tc.impl, "--java-heap", "128m", "--agents", coord, "--server-agents", strings.Join(srv, ","), "--client-agents", cli[0],
			"--tick-time", "200", "--clients", "2", "--outstanding", "1", "--keys", "20", "--value-size", "16",
			"--warmup", "300ms", "--duration", "20s", "--out", out)
		for deadline := time.Now().Add(60 * time.Second); !strings.Contains(run.output(), "msg=started"); {
			if time.Now().After(deadline) {
				t.Fatalf("the run did not start:\n%s", run.output())
			}
			time.Sleep(50 * time.Millisecond)
		}
		pids := agentServers(srv)
		if len(pids) != 3 {
			t.Fatalf("want 3 servers of %v running, have %v", srv, pids)
		}
		switch victim {
		case "agent":
			agents[srv[1]].cmd.Process.Signal(syscall.SIGKILL)
			err := run.wait(t, 40*time.Second)
			if err == nil || !strings.Contains(run.output(), "server agent "+srv[1]) {
				t.Fatalf("run: %v, want an abort naming server agent %s\n%s", err, srv[1], run.output())
			}
		case "coordinator":
			run.cmd.Process.Signal(syscall.SIGKILL)
			run.wait(t, 10*time.Second)
		}
		waitNoServers(t, srv, 15*time.Second)
		// A process tearing down its memory no longer shows its command
		// line, so waitNoServers may pass while it still exits.
		for _, pid := range pids {
			for deadline := time.Now().Add(5 * time.Second); alive(pid); time.Sleep(20 * time.Millisecond) {
				if time.Now().After(deadline) {
					t.Fatalf("server pid %d still alive 5 s after its command line went, the %s being killed", pid, victim)
				}
			}
		}
		t.Logf("%s killed: %s servers %v gone", victim, tc.impl, pids)
	}
}

// alive reports whether pid runs (a zombie does not).
func alive(pid int) bool {
	b, err := os.ReadFile(filepath.Join("/proc", strconv.Itoa(pid), "stat"))
	if err != nil {
		return false
	}
	i := strings.LastIndexByte(string(b), ')')
	return i < 0 || i+2 >= len(b) || b[i+2] != 'Z'
}

// Three server agents host a 3-server Java ensemble (upstream
// QuorumPeerMain from Debian's jars): a run with an agent that cannot run
// Java is refused before anything starts, naming it; chosen by count, the
// agents that can run Java are preferred; then the schedule
// freezes the leader and thaws it through its agent, the ensemble elects
// another, and servers.json says each server ran Java.
func TestServerAgentsJava(t *testing.T) {
	bin := zkbenchBin(t)
	dir := t.TempDir()
	coord := startServer(t, dir, "coord", bin) + "/java"
	srv := uniq("j1", "j2", "j3")
	nojava := uniq("a-nojava") // first by name: chosen by count unless Java is preferred
	cli := uniq("c1")
	startAgents(t, dir, bin, coord, srv, "--addr", "127.0.0.1")
	startAgents(t, dir, bin, coord, nojava, "--addr", "127.0.0.1", "--zk-home", t.TempDir())
	startAgents(t, dir, bin, coord, cli, "--no-server")
	t.Cleanup(func() { waitNoServers(t, append(srv, nojava...), 10*time.Second) })
	load := []string{"--tick-time", "200", "--clients", "4", "--outstanding", "1", "--keys", "50", "--value-size", "16", "--java-heap", "128m"}

	refused := start(t, dir, "refused", bin, append([]string{"run", "--impl", "java", "--agents", coord, "--server-agents", strings.Join([]string{srv[0], nojava[0], srv[2]}, ","),
		"--client-agents", cli[0], "--warmup", "0s", "--duration", "2s", "--out", filepath.Join(dir, "refused")}, load...)...)
	if err := refused.wait(t, 60*time.Second); err == nil || !strings.Contains(refused.output(), "agent "+nojava[0]) || !strings.Contains(refused.output(), "cannot run Java servers") {
		t.Fatalf("a run on an agent without Java: %v, want a refusal naming %s\n%s", err, nojava[0], refused.output())
	}
	if left := agentServers(append(srv, nojava...)); len(left) != 0 {
		t.Fatalf("the refused run started servers %v", left)
	}
	t.Logf("refused: %s", lastLine(refused.output()))
	// compare checks every implementation's servers before the first runs.
	cmpOut := filepath.Join(dir, "compare-refused")
	cmp := start(t, dir, "compare-refused", bin, append([]string{"compare", "--impl", "go,java", "--agents", coord, "--server-agents", strings.Join([]string{srv[0], nojava[0], srv[2]}, ","),
		"--client-agents", cli[0], "--warmup", "0s", "--duration", "2s", "--out", cmpOut}, load...)...)
	if err := cmp.wait(t, 60*time.Second); err == nil || !strings.Contains(cmp.output(), "--impl java") || !strings.Contains(cmp.output(), "agent "+nojava[0]+" ") || strings.Contains(cmp.output(), "placing") {
		t.Fatalf("compare go,java with an agent without Java: %v, want a refusal before the Go run\n%s", err, cmp.output())
	}
	if runs, _ := filepath.Glob(filepath.Join(cmpOut, "*", "*")); len(runs) != 0 {
		t.Fatalf("the refused comparison wrote %v", runs)
	}

	sched := filepath.Join(dir, "freeze.sched")
	os.WriteFile(sched, []byte("at 1s freeze leader\nat 2500ms thaw it\n"), 0o644)
	out := filepath.Join(dir, "runs")
	run := start(t, dir, "run", bin, append([]string{"run", "--impl", "java", "--agents", coord, "--server-agents", "3", "--client-agents", cli[0],
		"--warmup", "300ms", "--duration", "4s", "--faults", sched, "--out", out}, load...)...)
	if err := run.wait(t, 90*time.Second); err != nil {
		t.Fatalf("run: %v\n%s", err, run.output())
	}
	rd := runDir(t, out)
	res, err := results.Read(rd)
	if err != nil {
		t.Fatal(err)
	}
	if res.Ensemble.Implementation != "java" || res.Ensemble.Config["hosted_by"] != "agents" || res.Ensemble.Size != 3 {
		t.Fatalf("ensemble %+v", res.Ensemble)
	}
	// The same build as a one-machine run would record.
	if want := experiment.ServerVersion(harness.Options{Impl: harness.ImplJava}); res.Ensemble.Version != want || want == "" {
		t.Errorf("ensemble version %q, want %q", res.Ensemble.Version, want)
	}
	// The Java leaders serve (so that srvr names them), but the load
	// places no client on the first one, as leaderServes=no would.
	if res.Ensemble.Config["leaderServes"] != "yes" || !strings.Contains(res.Ensemble.Config["leader_clients"], "followers only") {
		t.Errorf("config %v: want leaderServes=yes and the note on the leader's clients", res.Ensemble.Config)
	}
	leaders := 0
	for _, m := range res.Ensemble.Members {
		if m.Role == "leader" {
			leaders++
			if m.Clients != 0 {
				t.Errorf("leader %d was given %d clients", m.ID, m.Clients)
			}
		}
	}
	if leaders != 1 {
		t.Errorf("members %+v: want one leader", res.Ensemble.Members)
	}
	var names []string
	for _, e := range res.Events {
		names = append(names, e.Name)
		t.Logf("event %v %s: %s", e.At.Round(time.Millisecond), e.Name, e.Detail)
	}
	if !slices.Contains(names, "freeze") || !slices.Contains(names, "thaw") || !slices.Contains(names, "elected") {
		t.Fatalf("events %v: want the freeze, the thaw and an election", names)
	}
	b, err := os.ReadFile(filepath.Join(rd, serversFile))
	if err != nil {
		t.Fatal(err)
	}
	var ss []fleet.HostedServer
	if err := json.Unmarshal(b, &ss); err != nil {
		t.Fatal(err)
	}
	if len(ss) != 3 {
		t.Fatalf("servers %+v", ss)
	}
	for _, s := range ss {
		if !slices.Contains(srv, s.Agent) {
			t.Errorf("server %d on %s: chosen by count, want the agents that can run Java (%v)", s.ID, s.Agent, srv)
		}
		if s.Impl != "java" || s.ImplVersion != res.Ensemble.Version || !strings.HasPrefix(s.Runtime, "Java ") || s.Starts != 1 || s.CPUSeconds <= 0 || s.PeakRSSKiB <= 0 || s.Error != "" {
			t.Errorf("server %+v: want java with its version, one launch, its CPU and RSS, no error", s)
		}
	}
	if s := results.Summarize(res); s.Ops == 0 {
		t.Fatalf("no operations measured")
	}
	waitNoServers(t, srv, 10*time.Second)
}
