package main

import (
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/nftables"

	"github.com/zkbench/zkbench/agent"
	"github.com/zkbench/zkbench/fleet"
	"github.com/zkbench/zkbench/harness"
	"github.com/zkbench/zkbench/internal/netns"
	"github.com/zkbench/zkbench/internal/testenv"
	"github.com/zkbench/zkbench/results"
)

func TestCheckNetFaults(t *testing.T) {
	ok := func(host string) agent.Facts {
		return agent.Facts{Hostname: host, NetFaults: agent.NetFaults{OK: true}}
	}
	ss := []fleet.HostedServer{
		{ID: 1, Agent: "s1", Addr: "198.18.0.11:2181"},
		{ID: 2, Agent: "s2", Addr: "198.18.0.12:2181"},
		{ID: 3, Agent: "s3", Addr: "[2001:db8::3]:2181"},
	}
	facts := map[string]agent.Facts{"s1": ok("h1"), "s2": ok("h2"), "s3": ok("h3")}
	if err := checkNetFaults(ss, facts, []string{"198.18.0.1:2191"}); err != nil {
		t.Fatalf("every agent can: %v", err)
	}
	for _, c := range []struct {
		name  string
		ss    []fleet.HostedServer
		facts map[string]agent.Facts
		coord []string
		want  []string
	}{
		{"no nftables", ss, map[string]agent.Facts{"s1": ok("h1"), "s2": {Hostname: "h2", NetFaults: agent.NetFaults{Reason: "netfault: nftables unavailable: not root (uid 1000)"}}, "s3": {Hostname: "h3"}}, nil,
			[]string{"agent s2 (h2) cannot apply network faults: netfault: nftables unavailable: not root (uid 1000)", "agent s3 (h3) cannot apply network faults: it does not say that it can", "CAP_NET_ADMIN"}},
		{"gone", ss, map[string]agent.Facts{"s1": ok("h1"), "s2": ok("h2")}, nil, []string{"agent s3 has gone"}},
		{"one machine", []fleet.HostedServer{{ID: 1, Agent: "s1", Addr: "127.0.0.1:1"}, {ID: 2, Agent: "s2", Addr: "127.0.0.1:2"}}, facts, nil,
			[]string{"server 1 (agent s1) listens on the loopback address 127.0.0.1", "server 2 (agent s2) listens on the loopback"}},
		{"shared address", []fleet.HostedServer{{ID: 1, Agent: "s1", Addr: "198.18.0.11:1"}, {ID: 2, Agent: "s2", Addr: "198.18.0.11:2"}, {ID: 3, Agent: "s3", Addr: "198.18.0.13:2"}}, facts, nil,
			[]string{"servers 1 (agent s1), 2 (agent s2) share the address 198.18.0.11", "an address of its own"}},
		{"coordination on a server's host", ss, facts, []string{"198.18.0.1:2191", "198.18.0.12:2191"},
			[]string{"the coordination server 198.18.0.12:2191 is on the address of server 2 (agent s2)"}},
	} {
		err := checkNetFaults(c.ss, c.facts, c.coord)
		if err == nil {
			t.Errorf("%s: accepted", c.name)
			continue
		}
		for _, w := range c.want {
			if !strings.Contains(err.Error(), w) {
				t.Errorf("%s: %v\nwant it to say %q", c.name, err, w)
			}
		}
	}
}

// A schedule without network faults needs no look at the agents (the
// coordination server here does not exist), but the harness gets every
// network-fault command.
func TestAgentNetFaultsCommands(t *testing.T) {
	sched, err := harness.ParseSchedule("at 1s kill leader\nat 2s restart it")
	if err != nil {
		t.Fatal(err)
	}
	var ext harness.ExternalCommands
	cmd := func(a string) string { return "fault " + a + " {id}" }
	if err := agentNetFaults(context.Background(), sched, "127.0.0.1:1", nil, &ext, cmd); err != nil {
		t.Fatal(err)
	}
	want := harness.ExternalCommands{Partition: "fault partition {id}", PartitionIn: "fault partition-in {id}", PartitionOut: "fault partition-out {id}", Heal: "fault heal {id}"}
	if ext != want {
		t.Errorf("commands %+v, want %+v", ext, want)
	}
	for _, a := range agent.NetFaultActions {
		if !agentFaults[a] {
			t.Errorf("%s is not allowed for agent-hosted servers", a)
		}
	}
}

// agentTables returns, for each named lab host, the zkbench agents'
// nftables tables in its namespace and how many rules their chains hold.
func agentTables(t *testing.T, l *netns.Lab, hosts []string) map[string]int {
	t.Helper()
	out := map[string]int{}
	for _, n := range hosts {
		err := labHost(t, l, n).Do(func() error {
			c, err := nftables.New()
			if err != nil {
				return err
			}
			ts, err := c.ListTablesOfFamily(nftables.TableFamilyINet)
			if err != nil {
				return err
			}
			for _, tb := range ts {
				if !strings.HasPrefix(tb.Name, "zkbench-agent-") {
					continue
				}
				out[n] += 0
				for _, ch := range []string{"input", "output"} {
					rs, err := c.GetRules(tb, &nftables.Chain{Name: ch, Table: tb})
					if err != nil {
						return err
					}
					out[n] += len(rs)
				}
			}
			return nil
		})
		if err != nil {
			t.Fatalf("tables on %s: %v", n, err)
		}
	}
	return out
}

// One-way partitions through the agents, with nftables rules on the
// server hosts of a lab: a follower cut off from what it sends, then the
// leader cut off from what it receives, each healed. The rules exist
// while a partition holds and are gone after the run. Then a server agent
// without CAP_NET_ADMIN makes the same schedule fail before the run
// starts, naming it and why.
func TestNetFaultsOnNamespaceHosts(t *testing.T) {
	bin := zkbenchBin(t)
	setpriv, err := exec.LookPath("setpriv")
	if err != nil {
		testenv.Missing(t, "util-linux's setpriv: %v", err)
	}
	servers := []string{"s1", "s2", "s3"}
	l := newTestLab(t, "coord", "s1", "s2", "s3", "s4", "c1")
	dir := t.TempDir()
	coordHost := labHost(t, l, "coord")
	coord := startLabCoordinator(t, coordHost, dir, bin) + "/netfaults"
	labAgents(t, l, dir, bin, coord, servers, []string{"c1"})
	s4 := labHost(t, l, "s4")
	startOn(t, s4, dir, "agent-s4", setpriv, "--bounding-set", "-net_admin", "--inh-caps", "-net_admin",
		bin, "agent", "--coord", coord, "--name", "s4", "--session-timeout", "2s", "--addr", addr(s4))

	sched := filepath.Join(dir, "oneway.sched")
	os.WriteFile(sched, []byte("at 1s partition-out follower as f\nat 2s heal f\nat 3s partition-in leader as l\nat 4500ms heal l\n"), 0o644)
	out := filepath.Join(dir, "runs")
	args := []string{"run", "-v", "--faults", sched, "--agents", coord, "--server-agents", strings.Join(servers, ","), "--client-agents", "c1",
		"--tick-time", "200", "--clients", "8", "--outstanding", "2", "--keys", "100", "--value-size", "16",
		"--warmup", "500ms", "--duration", "7s", "--out", out}
	run := startOn(t, coordHost, dir, "run", bin, args...)
	waitStarted(t, run, 60*time.Second)
	// Watch the hosts' rules while the schedule plays.
	most := map[string]int{}
	for end := time.Now().Add(6 * time.Second); time.Now().Before(end); time.Sleep(100 * time.Millisecond) {
		for h, n := range agentTables(t, l, servers) {
			most[h] = max(most[h], n)
		}
	}
	if err := run.wait(t, 60*time.Second); err != nil {
		t.Fatalf("run: %v\n%s", err, run.output())
	}
	res, err := results.Read(runDir(t, out))
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, e := range res.Events {
		names = append(names, e.Name)
		t.Logf("event %7v %-13s %s", e.At.Round(time.Millisecond), e.Name, e.Detail)
	}
	for _, want := range []string{"partition-out", "partition-in", "heal"} {
		if !slices.Contains(names, want) {
			t.Errorf("no %s event in %v", want, names)
		}
	}
	// Each partition dropped the traffic with two peers: two rules on the
	// host of the server it hit (the follower's output chain, then the
	// leader's input chain).
	t.Logf("most rules seen on each server host: %v", most)
	cut := 0
	for _, n := range most {
		if n == 2 {
			cut++
		}
	}
	if cut < 1 {
		t.Errorf("rules seen on the server hosts during the run: %v, want two on a host", most)
	}
	in := slices.Index(names, "partition-in")
	if in < 0 || !slices.Contains(names[in:], "elected") {
		t.Errorf("no election after the leader was cut off: %v", names)
	}
	if left := agentTables(t, l, servers); len(left) != 0 {
		t.Errorf("agents' tables left after the run: %v", left)
	}

	// An agent that cannot use nftables: refused before the run.
	args = []string{"run", "--faults", sched, "--agents", coord, "--server-agents", "s1,s2,s4", "--client-agents", "c1",
		"--tick-time", "200", "--clients", "4", "--duration", "5s", "--out", filepath.Join(dir, "refused")}
	run = startOn(t, coordHost, dir, "refused", bin, args...)
	err = run.wait(t, 60*time.Second)
	var exit *exec.ExitError
	if !errors.As(err, &exit) || exit.ExitCode() != exitCannotRun {
		t.Fatalf("run with s4: %v, want exit %d\n%s", err, exitCannotRun, run.output())
	}
	for _, want := range []string{"refused before the run", "agent s4", "cannot apply network faults", "CAP_NET_ADMIN", "partition-out at line 1"} {
		if !strings.Contains(run.output(), want) {
			t.Errorf("refusal does not say %q:\n%s", want, run.output())
		}
	}
	if _, err := os.Stat(filepath.Join(dir, "refused")); err == nil {
		t.Error("the refused run wrote a result directory")
	}
	// The servers placed for it are stopped (only this lab's processes
	// are looked at).
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(100 * time.Millisecond) {
		left := labProcesses(t, l, internalServer)
		if len(left) == 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("servers left on the hosts after the refusal: %v", left)
		}
	}
}
