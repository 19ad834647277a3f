package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/zkbench/zkbench/agent"
	"github.com/zkbench/zkbench/experiment"
	"github.com/zkbench/zkbench/fleet"
	"github.com/zkbench/zkbench/server"
	zkconfig "github.com/zkbench/zkbench/server/config"
)

// agentFlags say which agents drive a run's load.
type agentFlags struct {
	coord   string
	clients string
	servers string // "" = the ensemble runs on this machine
	wait    time.Duration
}

func (a *agentFlags) addFlags(fs *pflag.FlagSet) {
	fs.StringVar(&a.coord, "agents", "", "drive the load from zkbench agents registered in this coordination ZooKeeper, host:port,...[/chroot] (see zkbench agent)")
	fs.StringVar(&a.clients, "client-agents", "1", "with --agents: how many client agents share the sessions, or their names (a1,a2,...)")
	fs.StringVar(&a.servers, "server-agents", "", "with --agents: run the ensemble under test on this many server agents, one server of --impl (go or java) each, or on these (s1,s2,...); server i runs on the i-th")
	fs.DurationVar(&a.wait, "agents-wait", 30*time.Second, "with --agents: how long to wait for the agents to register")
}

// coordinator returns the fleet coordinator for these flags, or nil when
// the load runs in this process.
func (a agentFlags) coordinator(changed func(string) bool, log *slog.Logger) (*fleet.Coordinator, error) {
	if a.coord == "" {
		for _, f := range []string{"client-agents", "server-agents"} {
			if changed(f) {
				return nil, fmt.Errorf("--%s needs --agents CONNECT (the coordination ZooKeeper the agents registered in)", f)
			}
		}
		return nil, nil
	}
	if changed("tls") {
		return nil, fmt.Errorf("--tls with --agents: the agents' drivers do not dial TLS yet; run TLS from this machine")
	}
	if changed("sasl") {
		return nil, fmt.Errorf("--sasl with --agents: the agents' drivers do not log in with SASL yet; run SASL from this machine")
	}
	o := fleet.Options{Connect: a.coord, Wait: a.wait, Logger: log}
	if n, err := strconv.Atoi(a.clients); err == nil {
		if n < 1 {
			return nil, fmt.Errorf("--client-agents %d: want at least 1", n)
		}
		o.Agents = n
	} else {
		o.Names = splitNames(a.clients)
	}
	return fleet.New(o)
}

// runWithAgents is agentRun for zkbench run, which needs only its error.
func runWithAgents(ctx context.Context, cfg experiment.Config, a agentFlags, changed func(string) bool, co *fleet.Coordinator, out string, stdout, stderr io.Writer) error {
	_, err := agentRun(ctx, cfg, a, changed, co, out, stdout, stderr)
	return err
}

// agentRun performs one run whose load the agents drive (and whose
// ensemble the server agents host, with --server-agents), and writes its
// directory under out, with agents.json, servers.json and their report
// sections. It returns the directory, also with the error of a run
// aborted after it started (the partial result is in it).
func agentRun(ctx context.Context, cfg experiment.Config, a agentFlags, changed func(string) bool, co *fleet.Coordinator, out string, stdout, stderr io.Writer) (string, error) {
	var hosted *fleet.Hosted
	if a.servers != "" {
		n, names, err := a.serverAgents()
		if err != nil {
			return "", err
		}
		if changed("servers") && cfg.Harness.Servers != n {
			return "", fmt.Errorf("--servers %d but --server-agents gives %d: each server runs on its own agent", cfg.Harness.Servers, n)
		}
		h, err := hostServers(ctx, &cfg, a, n, names, co, stderr)
		if err != nil {
			return "", err
		}
		defer h.Close()
		hosted = h
	}
	cfg.Driver = co.Drive
	ens := cfg.Harness.Impl + " ensemble"
	if hosted != nil {
		ens = hosted.Servers()[0].Impl + " ensemble on server agents"
	}
	fmt.Fprintf(stderr, "zkbench: %s of %d, %g%% writes, %d clients x %d outstanding from agents, %v (+%s)\n",
		ens, cfg.Harness.Servers, cfg.Spec.WritePercent(), cfg.Spec.Clients, cfg.Spec.Outstanding, cfg.Spec.Duration, warmupText(cfg.Spec))
	res, err := experiment.Run(ctx, cfg)
	if err != nil {
		return "", err
	}
	if hosted != nil {
		if err := hosted.Close(); err != nil {
			res.Warnings = append(res.Warnings, fmt.Sprintf("agent-hosted servers: %v", err))
		}
		recordHosted(cfg, hosted, &res.Ensemble)
	}
	dir, err := experiment.Save(out, res)
	if err != nil {
		return dir, err
	}
	if err := writeAgentRun(dir, co, hosted, stdout); err != nil {
		return dir, err
	}
	printLine(stdout, dir, res)
	warnWarmup(stderr, dir, res)
	printAgents(stdout, co.Agents())
	if err := co.Aborted(); err != nil {
		return dir, fmt.Errorf("%w (partial result in %s)", err, dir)
	}
	return dir, nil
}

// writeAgentRun adds the agents' breakdown, and the hosted servers' when
// there are any, to run directory dir, and prints where the servers ran.
func writeAgentRun(dir string, co *fleet.Coordinator, hosted *fleet.Hosted, stdout io.Writer) error {
	if err := writeAgents(dir, co.Agents()); err != nil {
		return err
	}
	if hosted == nil {
		return nil
	}
	if err := writeServers(dir, hosted.Servers()); err != nil {
		return err
	}
	printServers(stdout, hosted.Servers())
	return nil
}

// printServers prints where each agent-hosted server ran and what it cost.
func printServers(w io.Writer, ss []fleet.HostedServer) {
	for _, s := range ss {
		fmt.Fprintf(w, "  %s server %d on agent %s (%s) at %s: %d launch(es), %.2f CPU s, peak RSS %.1f MiB\n",
			s.Impl, s.ID, s.Agent, s.Hostname, s.Addr, s.Starts, s.CPUSeconds, float64(s.PeakRSSKiB)/1024)
	}
}

// printAgents prints each client agent's share of a run.
func printAgents(w io.Writer, as []fleet.AgentSummary) {
	for _, a := range as {
		fmt.Fprintf(w, "  agent %s (%s): sessions %d-%d, %.0f ops/s, p99 %.2f ms, driver %.2f cores, skew %v\n",
			a.Name, a.Hostname, a.Sessions.First, a.Sessions.First+a.Sessions.Count-1, a.Throughput, ms(a.P99), a.Driver.CPUCores, a.Skew.Round(10*time.Microsecond))
	}
}

// agentsFile holds a run's per-agent breakdown, in its directory.
const agentsFile = "agents.json"

// writeAgents writes the breakdown to agents.json and appends it to the
// run's report.
func writeAgents(dir string, as []fleet.AgentSummary) error {
	return writeBreakdown(dir, agentsFile, as, func(w io.Writer) {
		fmt.Fprintf(w, "\n## Agents\n\n| agent | host | sessions | ops/s | p50 ms | p99 ms | p99.9 ms | driver cores | CPU s / 10k ops | sched p99 | skew | note |\n| --- | --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | --- |\n")
		for _, a := range as {
			note := a.Bottleneck
			if a.Lost || a.Error != "" {
				note = strings.TrimSpace("lost/failed: " + a.Error + " " + note)
			}
			fmt.Fprintf(w, "| %s | %s | %d-%d | %.0f | %.2f | %.2f | %.2f | %.2f | %.2f | %v | %v | %s |\n",
				a.Name, a.Hostname, a.Sessions.First, a.Sessions.First+a.Sessions.Count-1, a.Throughput, ms(a.P50), ms(a.P99), ms(a.P999),
				a.Driver.CPUCores, a.Driver.CPUPer10kOps, a.Driver.SchedP99.Round(time.Microsecond), a.Skew.Round(10*time.Microsecond), note)
		}
	})
}

// writeBreakdown writes v as indented JSON to dir/name and appends the
// Markdown that section writes to the run's report.
func writeBreakdown(dir, name string, v any, section func(w io.Writer)) error {
	b, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(dir, name), append(b, '\n'), 0o644); err != nil {
		return err
	}
	f, err := os.OpenFile(filepath.Join(dir, experiment.ReportFile), os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		return err
	}
	section(f)
	return f.Close()
}

func newAgentCmd() *cobra.Command {
	var cfg agent.Config
	var verbose, noServer bool
	cmd := &cobra.Command{
		Use:   "agent",
		Short: "Register in a coordination ZooKeeper and drive the load runs assign to this machine",
		Long: `agent runs on each machine that drives load. It registers itself (an
ephemeral znode with the host's name, addresses, cores, memory and zkbench
version) under the coordination ZooKeeper given by --coord, waits for a run
(zkbench run --agents ...) to assign it a share of the simulated sessions,
drives them against the ensemble under test and writes its report back.
Unless --no-server, it also takes the server role (zkbench run
--server-agents): it runs one server of the ensemble under test on
--addr, a Go server from this binary or (--impl java) upstream Java
ZooKeeper from --zk-home (default Debian's jars under /usr/share/java),
kills, restarts, freezes or thaws it as the run's fault schedule asks,
and kills it when the run ends or aborts. It announces whether it can run
Java servers, and which versions, when it registers, and whether it can
cut its server off from the others (partition, partition-in,
partition-out and heal drop packets with nftables rules on this host:
root or CAP_NET_ADMIN, and an --addr of its own).
If its coordination session expires (or it stays disconnected for a session
timeout) it stops its load and its server at once and exits.`,
		Example: `  zkbench coordinator --port 2191 &                  # on one machine
  zkbench agent --coord coord-host:2191 --name a1     # on each load machine
  zkbench run --agents coord-host:2191 --client-agents 2`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			level := slog.LevelWarn
			if verbose {
				level = slog.LevelInfo
			}
			cfg.Logger = slog.New(slog.NewTextHandler(cmd.ErrOrStderr(), &slog.HandlerOptions{Level: level}))
			if cfg.Connect == "" {
				return fmt.Errorf("--coord is required: the coordination ZooKeeper, host:port[,host:port...][/chroot]")
			}
			if !noServer {
				gc, err := selfCommand(internalServer, "start-foreground")
				if err != nil {
					return err
				}
				cfg.GoCommand = gc
			}
			fmt.Fprintf(cmd.ErrOrStderr(), "zkbench agent: registering in %s, zkbench %s\n", cfg.Connect, agent.Version())
			if !noServer {
				fmt.Fprintf(cmd.ErrOrStderr(), "zkbench agent: servers: Go from this binary; Java: %s\n", agent.ProbeJava(cfg.ZKHome))
			}
			err := agent.Run(cmd.Context(), cfg)
			if errors.Is(err, context.Canceled) {
				return nil
			}
			return err
		},
	}
	fs := cmd.Flags()
	fs.StringVar(&cfg.Connect, "coord", "", "coordination ZooKeeper, host:port[,host:port...][/chroot]")
	fs.StringVar(&cfg.Name, "name", "", "this agent's name, unique among the agents (default the host name)")
	fs.DurationVar(&cfg.SessionTimeout, "session-timeout", 4*time.Second, "coordination session timeout: how soon a dead agent is noticed")
	fs.StringVar(&cfg.TraceDir, "trace-dir", "", "write every operation issued to DIR/<run>-<name>.trace (for reproducibility checks)")
	fs.StringVar(&cfg.Version, "announce-version", "", "announce this version instead of the binary's (tests)")
	fs.MarkHidden("announce-version")
	fs.DurationVar(&cfg.ClockSkew, "skew-clock", 0, "report clock readings this far ahead (tests)")
	fs.MarkHidden("skew-clock")
	fs.StringVar(&cfg.Address, "addr", "", "address the servers this agent runs listen on and are reached at (default its first non-loopback address)")
	fs.StringVar(&cfg.ZKHome, "zk-home", "", "ZooKeeper installation to run Java servers from (its *.jar and lib/*.jar; default Debian's jars under /usr/share/java)")
	fs.BoolVar(&noServer, "no-server", false, "take only the client role (never run a server of the ensemble under test)")
	fs.BoolVarP(&verbose, "verbose", "v", false, "log assignments and the load's diagnostics")
	return cmd
}

func newCoordinatorCmd() *cobra.Command {
	var (
		addr     string
		port     int
		dir      string
		tickTime int
	)
	cmd := &cobra.Command{
		Use:   "coordinator",
		Short: "Run a standalone Go ZooKeeper server for agents to coordinate through",
		Long: `coordinator runs the embedded Go ZooKeeper server standalone, for zkbench
agents and runs to coordinate through (any ZooKeeper will also do). Keep it
apart from the ensemble under test: a fault schedule kills those servers.`,
		Example: `  zkbench coordinator --port 2191 --dir /var/lib/zkbench-coord
  zkbench agent --coord coord-host:2191`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if dir == "" {
				d, err := os.MkdirTemp("", "zkbench-coordinator-")
				if err != nil {
					return err
				}
				defer os.RemoveAll(d)
				dir = d
			}
			if err := os.MkdirAll(filepath.Join(dir, "data"), 0o755); err != nil {
				return err
			}
			cfgPath := filepath.Join(dir, "zoo.cfg")
			text := fmt.Sprintf("tickTime=%d\ndataDir=%s\nclientPort=%d\nclientPortAddress=%s\nmaxClientCnxns=0\n4lw.commands.whitelist=*\n",
				tickTime, filepath.Join(dir, "data"), port, addr)
			if err := os.WriteFile(cfgPath, []byte(text), 0o644); err != nil {
				return err
			}
			c, err := zkconfig.Load(cfgPath, nil)
			if err != nil {
				return err
			}
			log := slog.New(slog.NewTextHandler(cmd.ErrOrStderr(), &slog.HandlerOptions{Level: slog.LevelWarn}))
			fmt.Fprintf(cmd.ErrOrStderr(), "zkbench coordinator: serving on %s:%d (data in %s); start agents with: zkbench agent --coord HOST:%d\n", addr, port, dir, port)
			return server.Run(cmd.Context(), c, server.Options{Logger: log})
		},
	}
	fs := cmd.Flags()
	fs.StringVar(&addr, "addr", "0.0.0.0", "address to listen on")
	fs.IntVar(&port, "port", 2191, "client port")
	fs.StringVar(&dir, "dir", "", "directory for zoo.cfg and data (default a temporary directory, removed at exit)")
	fs.IntVar(&tickTime, "tick-time", 500, "tickTime in milliseconds (sessions may be as short as two ticks)")
	return cmd
}
