package fleet

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/go-zookeeper/zk"

	"github.com/zkbench/zkbench/agent"
	"github.com/zkbench/zkbench/harness"
)

// ServerOptions describe an ensemble under test hosted by server agents.
type ServerOptions struct {
	// Options say where the agents are, how many (Agents: one per server)
	// or which (Names, server i+1 on Names[i]), and how long to wait.
	Options
	// Exclude lists agents not to choose by count (the client agents).
	Exclude []string
	// Server is every server's settings; its ID is set per agent.
	Server agent.ServerAssignment
}

// prefer returns, for a Java ensemble, the agents to choose first by
// count: those that can run Java.
func (o ServerOptions) prefer() func(agent.Facts) bool {
	if o.Server.Impl != harness.ImplJava {
		return nil
	}
	return func(f agent.Facts) bool { return f.Java.OK() }
}

// HostedServer is one agent-hosted server: where it ran and what it cost.
type HostedServer struct {
	ID int `json:"id"`
	// Impl is the server's implementation, go or java; ImplVersion its
	// build as its agent announced it, in results.Ensemble.Version's form
	// ("zkbench <version>", "zookeeper 3.8.0"), and Runtime a Java
	// server's runtime ("Java 17.0.15").
	Impl        string  `json:"impl"`
	ImplVersion string  `json:"impl_version,omitempty"`
	Runtime     string  `json:"runtime,omitempty"`
	Agent       string  `json:"agent"`
	Hostname    string  `json:"hostname"`
	Addr        string  `json:"addr"` // client address, host:port
	Quorum      int     `json:"quorum_port"`
	Election    int     `json:"election_port"`
	PID         int     `json:"pid,omitempty"` // of its last launch
	Starts      int     `json:"starts"`
	CPUSeconds  float64 `json:"cpu_seconds"`
	PeakRSSKiB  int64   `json:"peak_rss_kib"`
	Error       string  `json:"error,omitempty"`
}

// Hosted is an ensemble whose servers agents run, from HostServers until
// Close. Its coordination session holds the run's /coordinator node: if
// this process dies, the agents kill their servers.
type Hosted struct {
	conn    *zk.Conn
	l       agent.Layout
	run     string
	connect string
	names   []string
	lost    context.Context
	stopSup context.CancelCauseFunc

	mu      sync.Mutex
	servers []HostedServer
	closed  bool
}

// HostServers chooses the server agents, assigns server i+1 to the i-th,
// collects the ports they chose, writes the ensemble, and returns once
// every agent has started its server (not once they serve: the caller
// waits for that, as for any external ensemble).
func HostServers(ctx context.Context, o ServerOptions) (h *Hosted, err error) {
	c, err := New(o.Options)
	if err != nil {
		return nil, err
	}
	c.exclude, c.role, c.prefer = o.Exclude, agent.RoleServer, o.prefer()
	o.Options = c.opts
	servers, root, _ := agent.ParseConnect(o.Connect)
	conn, events, err := zk.Connect(servers, o.SessionTimeout, zk.WithLogger(quiet{}))
	if err != nil {
		return nil, fmt.Errorf("fleet: coordination %v: %w", servers, err)
	}
	if err := waitSession(ctx, events, 15*time.Second); err != nil {
		conn.Close()
		return nil, fmt.Errorf("fleet: coordination %v: %w", servers, err)
	}
	lost, cancel := context.WithCancelCause(context.Background())
	go supervise(events, o.SessionTimeout, cancel)
	r := &run{c: c, conn: conn, l: agent.Layout{Root: root}, log: o.Logger}
	h = &Hosted{conn: conn, l: r.l, lost: lost, stopSup: cancel}
	defer func() {
		if err != nil {
			h.Close()
		}
	}()
	if err := agent.Ensure(conn, r.l); err != nil {
		return h, err
	}
	if err := r.choose(ctx); err != nil {
		return h, err
	}
	if err := r.checkServers(o.Server.Impl); err != nil {
		return h, err
	}
	h.names = r.names
	var rnd [3]byte
	rand.Read(rnd[:])
	h.run = time.Now().UTC().Format("20060102T150405") + "-servers-" + hex.EncodeToString(rnd[:])
	plan, _ := json.Marshal(agent.Plan{Run: h.run, Version: o.Version, Agents: r.names})
	if err := agent.Put(conn, r.l.Run(h.run), plan); err != nil {
		return h, err
	}
	if err := agent.EnsureRun(conn, r.l, h.run); err != nil {
		return h, err
	}
	if _, err := conn.Create(r.l.Coordinator(h.run), nil, zk.FlagEphemeral, zk.WorldACL(zk.PermAll)); err != nil {
		return h, fmt.Errorf("fleet: %w", err)
	}
	lostAgent := r.watchLost(lost)
	for k, n := range r.names {
		sa := o.Server
		sa.ID = k + 1
		if sa.Impl == "" {
			sa.Impl = harness.ImplGo
		}
		as := agent.Assignment{Run: h.run, Role: agent.RoleServer, Version: o.Version, Server: &sa}
		b, _ := json.Marshal(as)
		if err := agent.Put(conn, r.l.Assign(n), b); err != nil {
			return h, err
		}
		hs := HostedServer{ID: k + 1, Impl: sa.Impl, ImplVersion: "zkbench " + r.facts[n].Version, Agent: n, Hostname: r.facts[n].Hostname}
		if j := r.facts[n].Java; sa.Impl == harness.ImplJava {
			hs.ImplVersion = ""
			if j.ZooKeeper != "" {
				hs.ImplVersion = "zookeeper " + j.ZooKeeper
			}
			if j.Runtime != "" {
				hs.Runtime = "Java " + j.Runtime
			}
		}
		h.servers = append(h.servers, hs)
	}
	r.log.Info("servers assigned", "run", h.run, "agents", r.names)

	// Every agent's ports.
	addrs := make([]agent.ServerAddr, len(r.names))
	got := 0
	deadline := time.NewTimer(o.Wait)
	defer deadline.Stop()
	for got < len(r.names) {
		names, ch, err := r.children(r.l.ReadyDir(h.run))
		if err != nil {
			return h, err
		}
		got = 0
		var failed []string
		for k, n := range r.names {
			if !slices.Contains(names, n) {
				continue
			}
			b, _, err := conn.Get(r.l.Ready(h.run, n))
			if err != nil {
				continue
			}
			var rd agent.Ready
			if err := json.Unmarshal(b, &rd); err != nil {
				rd.Error = fmt.Sprintf("agent %s: unreadable ready: %v", n, err)
			}
			if rd.Error == "" && rd.Server == nil {
				rd.Error = fmt.Sprintf("agent %s: ready without its server's address", n)
			}
			if rd.Error != "" {
				failed = append(failed, rd.Error)
				continue
			}
			addrs[k] = *rd.Server
			got++
		}
		if len(failed) > 0 {
			return h, fmt.Errorf("fleet: server agents failed: %s", strings.Join(failed, "; "))
		}
		if got == len(r.names) {
			break
		}
		select {
		case <-ch:
		case n := <-lostAgent:
			return h, fmt.Errorf("fleet: server agent %s lost its coordination session before its server started", n)
		case <-deadline.C:
			return h, fmt.Errorf("fleet: server agents did not report their ports within %v", o.Wait)
		case <-ctx.Done():
			return h, ctx.Err()
		}
	}
	ens, _ := json.Marshal(agent.Ensemble{Servers: addrs})
	if err := agent.Put(conn, r.l.Ensemble(h.run), ens); err != nil {
		return h, err
	}
	var hosts []string
	for k, a := range addrs {
		hp := net.JoinHostPort(a.Host, strconv.Itoa(a.Client))
		hosts = append(hosts, hp)
		h.servers[k].Addr, h.servers[k].Quorum, h.servers[k].Election = hp, a.Quorum, a.Election
	}
	h.connect = strings.Join(hosts, ",")
	// Every server started (or failed to).
	for {
		started := 0
		var failed []string
		for k, n := range r.names {
			b, _, err := conn.Get(r.l.Status(h.run, n))
			if err != nil {
				continue
			}
			var st agent.ServerStatus
			if json.Unmarshal(b, &st) == nil && st.Starts > 0 {
				started++
				h.servers[k].PID = st.PID
			}
		}
		// A failed start shows as the agent's report.
		if rs, _, err := conn.Children(r.l.Reports(h.run)); err == nil {
			for _, n := range rs {
				if rep, err := agent.ReadReport(conn, r.l, h.run, n); err == nil && rep.Error != "" {
					failed = append(failed, rep.Error)
				}
			}
		}
		if len(failed) > 0 {
			return h, fmt.Errorf("fleet: server agents failed: %s", strings.Join(failed, "; "))
		}
		if started == len(r.names) {
			break
		}
		select {
		case n := <-lostAgent:
			return h, fmt.Errorf("fleet: server agent %s lost its coordination session before its server started", n)
		case <-deadline.C:
			return h, fmt.Errorf("fleet: server agents did not start their servers within %v", o.Wait)
		case <-ctx.Done():
			return h, ctx.Err()
		case <-time.After(100 * time.Millisecond):
		}
	}
	r.log.Info("servers started", "run", h.run, "connect", h.connect)
	return h, nil
}

// CheckServers waits for the server agents o asks for and checks them as
// HostServers does (the server role, Java when o.Server.Impl is java),
// without assigning anything: a command that will host several ensembles
// in turn (zkbench compare --impl go,java) checks every one before the
// first.
func CheckServers(ctx context.Context, o ServerOptions) error {
	c, err := New(o.Options)
	if err != nil {
		return err
	}
	c.exclude, c.role, c.prefer = o.Exclude, agent.RoleServer, o.prefer()
	servers, root, _ := agent.ParseConnect(c.opts.Connect)
	conn, events, err := zk.Connect(servers, c.opts.SessionTimeout, zk.WithLogger(quiet{}))
	if err != nil {
		return fmt.Errorf("fleet: coordination %v: %w", servers, err)
	}
	defer conn.Close()
	if err := waitSession(ctx, events, 15*time.Second); err != nil {
		return fmt.Errorf("fleet: coordination %v: %w", servers, err)
	}
	r := &run{c: c, conn: conn, l: agent.Layout{Root: root}, log: c.opts.Logger}
	if err := agent.Ensure(conn, r.l); err != nil {
		return err
	}
	if err := r.choose(ctx); err != nil {
		return err
	}
	return r.checkServers(o.Server.Impl)
}

// checkServers checks that the chosen agents take the server role and can
// run impl.
func (r *run) checkServers(impl string) error {
	for _, n := range r.names {
		if !slices.Contains(r.facts[n].Roles, agent.RoleServer) {
			return fmt.Errorf("fleet: agent %s (%s) does not take the server role (it announces %s): start it with a Go server command (zkbench agent does by default)", n, r.facts[n].Hostname, strings.Join(r.facts[n].Roles, ", "))
		}
	}
	if impl == harness.ImplJava {
		var cannot []string
		for _, n := range r.names {
			if j := r.facts[n].Java; !j.OK() {
				why := "it announces no Java (an agent of an older build?)"
				if j != nil {
					why = j.Error
				}
				cannot = append(cannot, fmt.Sprintf("agent %s (%s) cannot run Java servers: %s", n, r.facts[n].Hostname, why))
			}
		}
		if len(cannot) > 0 {
			return fmt.Errorf("fleet: %s; start it with --zk-home DIR naming a ZooKeeper installation (or install Debian's zookeeper package there), or choose other server agents", strings.Join(cannot, "; "))
		}
	}
	return nil
}

// Run is the id of the hosting run (the znodes under /runs/<run>).
func (h *Hosted) Run() string { return h.run }

// Connect is the ensemble's connection string, server 1 first.
func (h *Hosted) Connect() string { return h.connect }

// Servers returns each server's placement and, after Close, its figures.
func (h *Hosted) Servers() []HostedServer {
	h.mu.Lock()
	defer h.mu.Unlock()
	return slices.Clone(h.servers)
}

// Close stops every server (the agents kill them), collects the agents'
// final reports (CPU, peak RSS, launches; up to 10 s), and removes the
// run's znodes. It is idempotent.
func (h *Hosted) Close() error {
	h.mu.Lock()
	if h.closed {
		h.mu.Unlock()
		return nil
	}
	h.closed = true
	h.mu.Unlock()
	defer h.conn.Close()
	defer h.stopSup(nil)
	if h.run == "" {
		return nil
	}
	var errs []error
	if err := agent.Put(h.conn, h.l.Stop(h.run), nil); err != nil {
		errs = append(errs, err)
	}
	deadline := time.Now().Add(10 * time.Second)
	for k, n := range h.names {
		for {
			if ok, _, err := h.conn.Exists(h.l.Agent(n)); err == nil && !ok {
				if _, err := agent.ReadReport(h.conn, h.l, h.run, n); errors.Is(err, agent.ErrNotFound) {
					h.mu.Lock()
					h.servers[k].Error = "agent lost (its coordination session ended); its server was killed with it"
					h.mu.Unlock()
					break
				}
			}
			rep, err := agent.ReadReport(h.conn, h.l, h.run, n)
			if err == nil {
				h.mu.Lock()
				s := &h.servers[k]
				if rep.Server != nil {
					s.PID, s.Starts, s.CPUSeconds, s.PeakRSSKiB, s.Error = rep.Server.PID, rep.Server.Starts, rep.Server.CPUSeconds, rep.Server.PeakRSSKiB, rep.Server.Error
				}
				if rep.Error != "" {
					s.Error = strings.TrimSpace(s.Error + " " + rep.Error)
				}
				h.mu.Unlock()
				break
			}
			if !errors.Is(err, agent.ErrNotFound) || time.Now().After(deadline) {
				errs = append(errs, fmt.Errorf("fleet: server agent %s: no final report: %w", n, err))
				break
			}
			time.Sleep(50 * time.Millisecond)
		}
	}
	for _, n := range h.names {
		h.conn.Delete(h.l.Assign(n), -1)
	}
	if err := agent.DeleteTree(h.conn, h.l.Run(h.run)); err != nil {
		errs = append(errs, err)
	}
	return errors.Join(errs...)
}

// Fault asks the agent hosting server id to apply action (kill, restart,
// freeze, thaw) to it and waits until it has.
func (h *Hosted) Fault(ctx context.Context, id int, action string) error {
	return requestFault(ctx, h.conn, h.l, h.run, id, action)
}

// RequestFault is Fault from another process: it connects to the
// coordination ZooKeeper, finds the agent hosting server id in the run's
// plan, and waits until that agent has applied action.
func RequestFault(ctx context.Context, connect, run string, id int, action string) error {
	servers, root, err := agent.ParseConnect(connect)
	if err != nil {
		return err
	}
	conn, events, err := zk.Connect(servers, 4*time.Second, zk.WithLogger(quiet{}))
	if err != nil {
		return err
	}
	defer conn.Close()
	if err := waitSession(ctx, events, 15*time.Second); err != nil {
		return fmt.Errorf("fleet: coordination %v: %w", servers, err)
	}
	return requestFault(ctx, conn, agent.Layout{Root: root}, run, id, action)
}

func requestFault(ctx context.Context, conn *zk.Conn, l agent.Layout, run string, id int, action string) error {
	b, _, err := conn.Get(l.Run(run))
	if err != nil {
		return fmt.Errorf("fleet: run %s: %w", run, err)
	}
	var plan agent.Plan
	if err := json.Unmarshal(b, &plan); err != nil {
		return fmt.Errorf("fleet: run %s: %w", run, err)
	}
	if id < 1 || id > len(plan.Agents) {
		return fmt.Errorf("fleet: run %s has servers 1-%d, not %d", run, len(plan.Agents), id)
	}
	name := plan.Agents[id-1]
	req, _ := json.Marshal(agent.FaultRequest{Action: action})
	p, err := conn.Create(l.Faults(run, name)+"/f-", req, zk.FlagSequence, zk.WorldACL(zk.PermAll))
	if err != nil {
		return fmt.Errorf("fleet: ask agent %s to %s server %d: %w", name, action, id, err)
	}
	for {
		b, _, ch, err := conn.GetW(p)
		if err != nil {
			return fmt.Errorf("fleet: %s server %d on agent %s: %w", action, id, name, err)
		}
		var fr agent.FaultRequest
		if json.Unmarshal(b, &fr) == nil && fr.Done {
			if fr.Error != "" {
				return errors.New(fr.Error)
			}
			return nil
		}
		select {
		case <-ch:
		case <-ctx.Done():
			return fmt.Errorf("fleet: %s server %d on agent %s: %w", action, id, name, ctx.Err())
		}
	}
}
