package main

import (
	"context"
	"strings"
	"testing"

	"github.com/zkbench/zkbench/agent"
	"github.com/zkbench/zkbench/fleet"
	"github.com/zkbench/zkbench/harness"
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
