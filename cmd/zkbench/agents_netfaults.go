package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"strings"
	"time"

	"github.com/go-zookeeper/zk"

	"github.com/zkbench/zkbench/agent"
	"github.com/zkbench/zkbench/fleet"
	"github.com/zkbench/zkbench/harness"
)

// agentNetFaults gives the harness of an agent-hosted ensemble its
// network-fault commands (partition, partition-in, partition-out, heal:
// the hosting agent drops packets with nftables) and, when the schedule
// has any of them, refuses the run before it starts unless every server
// agent can apply them: its host must have said so in its Facts, and every
// server must listen on an address of its own.
func agentNetFaults(ctx context.Context, sched harness.Schedule, coord string, h *fleet.Hosted, ext *harness.ExternalCommands, faultCmd func(string) string) error {
	ext.Partition = faultCmd(string(harness.Partition))
	ext.PartitionIn = faultCmd(string(harness.PartitionIn))
	ext.PartitionOut = faultCmd(string(harness.PartitionOut))
	ext.Heal = faultCmd(string(harness.Heal))
	var lines []string
	for _, st := range sched.Steps {
		if agent.IsNetFault(st.Action) && st.Action != harness.Heal {
			lines = append(lines, fmt.Sprintf("%s at line %d", st.Action, st.Line))
		}
	}
	if len(lines) == 0 {
		return nil
	}
	ss := h.Servers()
	names := make([]string, len(ss))
	for i, s := range ss {
		names[i] = s.Agent
	}
	facts, err := agentFacts(ctx, coord, names)
	if err != nil {
		return fmt.Errorf("--faults %s has network faults (%s): %w", sched.Name, strings.Join(lines, ", "), err)
	}
	coordHosts, _, _ := agent.ParseConnect(coord)
	if err := checkNetFaults(ss, facts, coordHosts); err != nil {
		return fmt.Errorf("--faults %s has network faults (%s), refused before the run: %w", sched.Name, strings.Join(lines, ", "), err)
	}
	return nil
}

// checkNetFaults says why the server agents of ss cannot partition their
// servers (nil if they all can): an agent whose host cannot use nftables
// (facts[agent].NetFaults); servers on a loopback address or on one
// address together, which rules by address cannot separate; a server on
// the address of the coordination server (coord, host:port), whose agents
// a partition of another server would cut off from it.
func checkNetFaults(ss []fleet.HostedServer, facts map[string]agent.Facts, coord []string) error {
	var why []string
	byAddr := map[netip.Addr][]string{}
	var order []netip.Addr
	for _, s := range ss {
		f, ok := facts[s.Agent]
		switch {
		case !ok:
			why = append(why, fmt.Sprintf("agent %s has gone", s.Agent))
		case !f.NetFaults.OK:
			reason := f.NetFaults.Reason
			if reason == "" {
				reason = "it does not say that it can"
			}
			why = append(why, fmt.Sprintf("agent %s (%s) cannot apply network faults: %s", s.Agent, f.Hostname, reason))
		}
		host, _, err := net.SplitHostPort(s.Addr)
		if err != nil {
			why = append(why, fmt.Sprintf("server %d (agent %s): address %q: %v", s.ID, s.Agent, s.Addr, err))
			continue
		}
		a, err := netip.ParseAddr(host)
		if err != nil {
			continue // a name: the agent resolves it and refuses its own address
		}
		a = a.Unmap()
		if a.IsLoopback() {
			why = append(why, fmt.Sprintf("server %d (agent %s) listens on the loopback address %s", s.ID, s.Agent, a))
			continue
		}
		if byAddr[a] == nil {
			order = append(order, a)
		}
		byAddr[a] = append(byAddr[a], fmt.Sprintf("%d (agent %s)", s.ID, s.Agent))
	}
	for _, a := range order {
		if on := byAddr[a]; len(on) > 1 {
			why = append(why, fmt.Sprintf("servers %s share the address %s", strings.Join(on, ", "), a))
		}
	}
	for _, hp := range coord {
		host, _, err := net.SplitHostPort(hp)
		if err != nil {
			continue
		}
		if a, err := netip.ParseAddr(host); err == nil && byAddr[a.Unmap()] != nil {
			why = append(why, fmt.Sprintf("the coordination server %s is on the address of server %s: a partition of another server would cut that server's agent off from it", hp, strings.Join(byAddr[a.Unmap()], ", ")))
		}
	}
	if len(why) == 0 {
		return nil
	}
	return fmt.Errorf("%s; partitions drop packets by address with nftables, so every server agent needs root (or CAP_NET_ADMIN) and nf_tables, and an address of its own (zkbench agent --addr), apart from the coordination server's; on one machine use zkbench lab hosts, or run without --server-agents and with --peer-proxy", strings.Join(why, "; "))
}

// agentFacts reads the Facts of the named agents from the coordination
// ZooKeeper (an agent that has gone is left out).
func agentFacts(ctx context.Context, coord string, names []string) (map[string]agent.Facts, error) {
	servers, root, err := agent.ParseConnect(coord)
	if err != nil {
		return nil, err
	}
	conn, events, err := zk.Connect(servers, 4*time.Second, zk.WithLogger(silent{}))
	if err != nil {
		return nil, fmt.Errorf("coordination %v: %w", servers, err)
	}
	defer conn.Close()
	wait, cancel := context.WithTimeout(ctx, 15*time.Second)
	defer cancel()
	for session := false; !session; {
		select {
		case ev := <-events:
			session = ev.State == zk.StateHasSession
		case <-wait.Done():
			return nil, fmt.Errorf("coordination %v: no session: %w", servers, wait.Err())
		}
	}
	l := agent.Layout{Root: root}
	out := map[string]agent.Facts{}
	for _, n := range names {
		b, _, err := conn.Get(l.Agent(n))
		if errors.Is(err, zk.ErrNoNode) {
			continue
		}
		if err != nil {
			return nil, fmt.Errorf("agent %s: %w", n, err)
		}
		var f agent.Facts
		if err := json.Unmarshal(b, &f); err != nil {
			return nil, fmt.Errorf("agent %s: facts: %w", n, err)
		}
		out[n] = f
	}
	return out, nil
}

// silent discards go-zookeeper's log.
type silent struct{}

func (silent) Printf(string, ...any) {}
