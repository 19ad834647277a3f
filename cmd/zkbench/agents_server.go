package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/zkbench/zkbench/agent"
	"github.com/zkbench/zkbench/bench"
	"github.com/zkbench/zkbench/experiment"
	"github.com/zkbench/zkbench/fleet"
	"github.com/zkbench/zkbench/harness"
	"github.com/zkbench/zkbench/results"
)

// internalAgentFault is the hidden command through which a run whose
// servers agents host applies a fault: the harness treats the ensemble as
// external and runs this command line (its ExternalCommands), which asks
// the agent hosting the server, through the coordination znodes, and waits
// until it has.
const internalAgentFault = "internal-agent-fault"

func newInternalAgentFaultCmd() *cobra.Command {
	var coord, run string
	cmd := &cobra.Command{
		Use:    internalAgentFault + " --coord CONNECT --run RUN ACTION SERVER-ID",
		Hidden: true,
		Args:   cobra.ExactArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			id, err := strconv.Atoi(args[1])
			if err != nil {
				return fmt.Errorf("server id %q: %w", args[1], err)
			}
			ctx, cancel := context.WithTimeout(cmd.Context(), 50*time.Second)
			defer cancel()
			return fleet.RequestFault(ctx, coord, run, id, args[0])
		},
	}
	cmd.Flags().StringVar(&coord, "coord", "", "coordination ZooKeeper")
	cmd.Flags().StringVar(&run, "run", "", "the hosting run's id")
	return cmd
}

// shellQuote quotes s for sh -c.
func shellQuote(s string) string {
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}

// serverAgents parses --server-agents: a count or names.
func (a agentFlags) serverAgents() (n int, names []string, err error) {
	if c, err := strconv.Atoi(a.servers); err == nil {
		if c < 1 {
			return 0, nil, fmt.Errorf("--server-agents %d: want at least 1", c)
		}
		return c, nil, nil
	}
	names = splitNames(a.servers)
	if len(names) == 0 {
		return 0, nil, fmt.Errorf("--server-agents %q: want a count or agent names (s1,s2,...)", a.servers)
	}
	return len(names), names, nil
}

// splitNames splits a comma-separated list of agent names.
func splitNames(v string) []string {
	var names []string
	for _, s := range strings.Split(v, ",") {
		if s = strings.TrimSpace(s); s != "" {
			names = append(names, s)
		}
	}
	return names
}

// agentFaults are the schedule actions an agent applies to its server.
var agentFaults = map[harness.Action]bool{harness.Kill: true, harness.Restart: true, harness.Freeze: true, harness.Thaw: true,
	harness.Partition: true, harness.PartitionIn: true, harness.PartitionOut: true, harness.Heal: true}

// hostServers places the ensemble under test, n servers, on server
// agents (names, if given, server i+1 on names[i]; else n chosen by count)
// and points cfg at it: the harness sees an external ensemble (it polls
// the servers' roles and plays the schedule as for any), whose kill,
// restart, freeze and thaw commands ask the hosting agents. It returns the
// hosted ensemble, which the caller closes.
func hostServers(ctx context.Context, cfg *experiment.Config, a agentFlags, n int, names []string, co *fleet.Coordinator, stderr io.Writer) (*fleet.Hosted, error) {
	impl := cfg.Harness.Impl
	switch impl {
	case harness.ImplGo, harness.ImplJava:
	default:
		return nil, fmt.Errorf("--server-agents with --impl %s: agents run the servers, so want --impl go or java", impl)
	}
	for _, st := range cfg.Schedule.Steps {
		if !agentFaults[st.Action] {
			return nil, fmt.Errorf("--faults %s: %q (line %d) is not built for agent-hosted servers: only kill, restart, freeze, thaw, partition, partition-in, partition-out and heal", cfg.Schedule.Name, st.Action, st.Line)
		}
	}
	// A schedule with partitions turns the local peer proxies on (config);
	// on agents, partitions are nftables rules on the hosts instead.
	if (cfg.Harness.PeerProxy && !hasPartition(cfg.Schedule)) || cfg.PeerDelay > 0 || cfg.Harness.LogDir != "" {
		return nil, fmt.Errorf("--server-agents: --peer-proxy, --peer-delay and --log-dir are not built for agent-hosted servers")
	}
	o := serverOptions(*cfg, a, n, names)
	fmt.Fprintf(stderr, "zkbench: placing %d %s servers on server agents\n", n, impl)
	h, err := fleet.HostServers(ctx, o)
	if err != nil {
		return nil, err
	}
	var placed []string
	for _, s := range h.Servers() {
		placed = append(placed, s.Agent)
	}
	co.Exclude(placed)
	co.Watch(placed)
	exe, err := os.Executable()
	if err != nil {
		h.Close()
		return nil, err
	}
	faultCmd := func(action string) string {
		return strings.Join([]string{shellQuote(exe), internalAgentFault, "--coord", shellQuote(a.coord), "--run", shellQuote(h.Run()), action, "{id}"}, " ")
	}
	ho := cfg.Harness
	ho.Impl, ho.Connect, ho.GoCommand = harness.ImplExternal, h.Connect(), nil
	ho.PeerProxy = false
	ho.Servers = n
	ho.External = harness.ExternalCommands{
		Kill: faultCmd(string(harness.Kill)), Restart: faultCmd(string(harness.Restart)),
		Freeze: faultCmd(string(harness.Freeze)), Thaw: faultCmd(string(harness.Thaw)),
	}
	if err := agentNetFaults(ctx, cfg.Schedule, a.coord, h, &ho.External, faultCmd); err != nil {
		h.Close()
		return nil, err
	}
	cfg.Harness = ho
	if cfg.Placement == "" && !ho.LeaderServes && n > 1 {
		cfg.Placement = bench.Followers
	}
	return h, nil
}

// serverOptions are the fleet's options for placing cfg's ensemble, n
// servers, on server agents (names, or chosen by count).
func serverOptions(cfg experiment.Config, a agentFlags, n int, names []string) fleet.ServerOptions {
	var clients []string
	if _, err := strconv.Atoi(a.clients); err != nil {
		clients = splitNames(a.clients)
	}
	o := fleet.ServerOptions{
		Options: fleet.Options{Connect: a.coord, Agents: n, Names: names, Wait: a.wait, Logger: cfg.Logger},
		Exclude: clients,
		Server: agent.ServerAssignment{
			Impl: cfg.Harness.Impl, JavaHeap: cfg.Harness.JavaHeap, TickTime: cfg.Harness.TickTime, InitLimit: cfg.Harness.InitLimit, SyncLimit: cfg.Harness.SyncLimit,
			LeaderServes: cfg.Harness.LeaderServes, ExtraConfig: cfg.Harness.ExtraConfig,
		},
	}
	if javaLeaderServes(cfg.Harness.Impl, cfg.Harness.LeaderServes, n) {
		o.Server.LeaderServes = true
	}
	return o
}

// checkServerAgents checks, before anything runs, that the server agents
// --server-agents names (or chooses) can host cfg's ensemble.
func checkServerAgents(ctx context.Context, cfg experiment.Config, a agentFlags) error {
	n, names, err := a.serverAgents()
	if err != nil {
		return err
	}
	return fleet.CheckServers(ctx, serverOptions(cfg, a, n, names))
}

// javaLeaderServes reports whether an agent-hosted Java ensemble must run
// with leaderServes=yes although leaderServes=no was asked for. A Java
// leader that does not serve answers every four-letter word with "not
// currently serving requests"; the harness tells it from an electing
// server by the learners' connections to its quorum port, which it can see
// only on its own host. So agent-hosted Java leaders serve, srvr names
// them, and the load keeps the leader free of clients by placing them on
// the followers only (bench.Followers), as leaderServes=no would.
func javaLeaderServes(impl string, asked bool, servers int) bool {
	return impl == harness.ImplJava && !asked && servers > 1
}

// serversFile holds which agent hosted which server, in the run directory.
const serversFile = "servers.json"

// recordHosted notes the agent-hosted ensemble in the result before it is
// saved: its implementation and build (for Go, this binary's, which every
// agent runs; for Java, what the agents announced), and where each server
// ran.
func recordHosted(cfg experiment.Config, h *fleet.Hosted, ens *results.Ensemble) {
	ss := h.Servers()
	if len(ss) > 0 {
		ens.Implementation = ss[0].Impl
		ens.Version = ss[0].ImplVersion
		for _, s := range ss {
			if s.ImplVersion != ens.Version {
				ens.Version = "" // the servers differ: each has its own below
			}
		}
		if ens.Implementation == harness.ImplGo {
			if exe, err := os.Executable(); err == nil {
				ens.Version = experiment.ServerVersion(harness.Options{Impl: harness.ImplGo, GoCommand: []string{exe}})
			}
		}
	}
	ens.Launch = "by zkbench agents, one server per agent: a child of its agent, own process group, Pdeathsig=SIGKILL"
	if ens.Config == nil {
		ens.Config = map[string]string{}
	}
	m := ens.Config
	m["hosted_by"] = "agents"
	m["hosting_run"] = h.Run()
	m["leaderServes"] = yesNoStr(cfg.Harness.LeaderServes || len(ss) == 1)
	if javaLeaderServes(ens.Implementation, cfg.Harness.LeaderServes, len(ss)) {
		m["leaderServes"] = "yes"
		m["leader_clients"] = "none: clients on the followers only (agent-hosted Java leaders serve, so that srvr finds them)"
	}
	for _, s := range ss {
		m[fmt.Sprintf("server.%d.agent", s.ID)] = s.Agent
		m[fmt.Sprintf("server.%d.host", s.ID)] = s.Hostname
		if v := strings.TrimSpace(s.ImplVersion + " " + s.Runtime); v != "" {
			m[fmt.Sprintf("server.%d.version", s.ID)] = v
		}
		if s.CPUSeconds > 0 {
			m[fmt.Sprintf("server.%d.cpu_seconds", s.ID)] = fmt.Sprintf("%.2f", s.CPUSeconds)
		}
		if s.PeakRSSKiB > 0 {
			m[fmt.Sprintf("server.%d.peak_rss_kib", s.ID)] = strconv.FormatInt(s.PeakRSSKiB, 10)
		}
	}
}

func yesNoStr(b bool) string {
	if b {
		return "yes"
	}
	return "no"
}

// writeServers writes servers.json and a servers section of the report.
func writeServers(dir string, ss []fleet.HostedServer) error {
	return writeBreakdown(dir, serversFile, ss, func(w io.Writer) {
		fmt.Fprintf(w, "\n## Servers (hosted by agents)\n\n| server | impl | agent | host | address | launches | CPU s | peak RSS MiB | note |\n| ---: | --- | --- | --- | --- | ---: | ---: | ---: | --- |\n")
		for _, s := range ss {
			impl := s.Impl
			if v := strings.TrimSpace(s.ImplVersion + " " + s.Runtime); v != "" {
				impl += " (" + v + ")"
			}
			fmt.Fprintf(w, "| %d | %s | %s | %s | %s | %d | %.2f | %.1f | %s |\n", s.ID, impl, s.Agent, s.Hostname, s.Addr, s.Starts, s.CPUSeconds, float64(s.PeakRSSKiB)/1024, s.Error)
		}
	})
}

// hasPartition reports whether s partitions a server, either way.
func hasPartition(s harness.Schedule) bool {
	for _, st := range s.Steps {
		switch st.Action {
		case harness.Partition, harness.PartitionIn, harness.PartitionOut:
			return true
		}
	}
	return false
}
