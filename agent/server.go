package agent

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/go-zookeeper/zk"

	"github.com/zkbench/zkbench/harness"
)

// serverProc is the agent's server: one process at a time, restarted on
// request, frozen and thawed, killed (process group, SIGKILL) when the run
// ends.
type serverProc struct {
	mu      sync.Mutex
	opts    harness.Options // how to launch it (harness.Command)
	dir     string
	cfgPath string
	cmd     *exec.Cmd
	exited  chan struct{}
	st      ServerStatus
	deadCPU float64
	log     *slog.Logger
}

// newServerProc prepares server sa in dir: its data directory with myid
// and its zoo.cfg (cfg), to be launched as a Go server with goCmd or a
// Java one from zkHome ("" for Debian's jars), as sa.Impl says.
func newServerProc(sa ServerAssignment, goCmd []string, zkHome, dir, cfg string, log *slog.Logger) (*serverProc, error) {
	var o harness.Options
	switch sa.Impl {
	case harness.ImplGo, "":
		if len(goCmd) == 0 {
			return nil, fmt.Errorf("no command to run a Go server with (Config.GoCommand)")
		}
		o = harness.Options{Impl: harness.ImplGo, GoCommand: goCmd, ServerCPUs: -1}
	case harness.ImplJava:
		o = javaOptions(zkHome, sa.JavaHeap)
	default:
		return nil, fmt.Errorf("server implementation %q: want %q or %q", sa.Impl, harness.ImplGo, harness.ImplJava)
	}
	if err := os.MkdirAll(filepath.Join(dir, "data"), 0o755); err != nil {
		return nil, err
	}
	if err := os.WriteFile(filepath.Join(dir, "data", "myid"), []byte(strconv.Itoa(sa.ID)+"\n"), 0o644); err != nil {
		return nil, err
	}
	p := &serverProc{opts: o, dir: dir, cfgPath: filepath.Join(dir, "zoo.cfg"), log: log}
	p.st.ID, p.st.Dir = sa.ID, dir
	if err := os.WriteFile(p.cfgPath, []byte(cfg), 0o644); err != nil {
		return nil, err
	}
	return p, nil
}

// start launches the server from a goroutine locked to its own OS thread,
// which lives exactly as long as the process: the process is started with
// Pdeathsig=SIGKILL (harness.Command), so that if the agent dies, even by
// SIGKILL, the kernel kills its server.
func (p *serverProc) start() error {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.cmd != nil {
		return fmt.Errorf("server %d is running (pid %d)", p.st.ID, p.st.PID)
	}
	cmd, err := harness.Command(p.opts, p.dir, p.cfgPath)
	if err != nil {
		return err
	}
	out, err := os.OpenFile(filepath.Join(p.dir, "stdout.log"), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return err
	}
	cmd.Stdout, cmd.Stderr = out, out
	started := make(chan error, 1)
	exited := make(chan struct{})
	go func() {
		runtime.LockOSThread() // never unlocked: the thread ends with this goroutine
		if err := cmd.Start(); err != nil {
			out.Close()
			started <- err
			return
		}
		started <- nil
		cmd.Wait()
		out.Close()
		p.mu.Lock()
		if ps := cmd.ProcessState; ps != nil {
			if ru, ok := ps.SysUsage().(*syscall.Rusage); ok {
				p.deadCPU += time.Duration(ru.Utime.Nano() + ru.Stime.Nano()).Seconds()
			}
		}
		if p.cmd == cmd {
			p.cmd, p.st.PID, p.st.Running, p.st.Mode, p.st.Frozen = nil, 0, false, "", false
			p.st.CPUSeconds = p.deadCPU
		}
		p.mu.Unlock()
		close(exited)
	}()
	if err := <-started; err != nil {
		return fmt.Errorf("start server %d: %w", p.st.ID, err)
	}
	p.cmd, p.exited = cmd, exited
	p.st.PID, p.st.Running = cmd.Process.Pid, true
	p.st.Starts++
	p.log.Info("server started", "id", p.st.ID, "pid", p.st.PID)
	return nil
}

// kill kills the server's process group with SIGKILL and waits for it.
func (p *serverProc) kill() error {
	p.mu.Lock()
	cmd, exited, id := p.cmd, p.exited, p.st.ID
	if cmd != nil {
		p.sampleLocked()
	}
	p.mu.Unlock()
	if cmd == nil {
		return fmt.Errorf("server %d is not running", id)
	}
	pid := cmd.Process.Pid
	if err := syscall.Kill(-pid, syscall.SIGKILL); err != nil && !errors.Is(err, syscall.ESRCH) {
		return fmt.Errorf("kill server %d (pid %d): %w", id, pid, err)
	}
	select {
	case <-exited:
	case <-time.After(10 * time.Second):
		return fmt.Errorf("kill server %d (pid %d): still running 10s after SIGKILL", id, pid)
	}
	p.log.Info("server killed", "id", id, "pid", pid)
	return nil
}

// freeze stops the server's process group with SIGSTOP: it keeps its
// sockets and answers nothing, as in a long GC pause or on a hung disk.
func (p *serverProc) freeze() error { return p.signal(syscall.SIGSTOP, true) }

// thaw resumes a frozen server with SIGCONT.
func (p *serverProc) thaw() error { return p.signal(syscall.SIGCONT, false) }

func (p *serverProc) signal(sig syscall.Signal, freeze bool) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	what := map[bool]string{true: "freeze", false: "thaw"}[freeze]
	switch {
	case p.cmd == nil:
		return fmt.Errorf("%s server %d: it is not running", what, p.st.ID)
	case freeze && p.st.Frozen:
		return fmt.Errorf("freeze server %d: it is already frozen", p.st.ID)
	case !freeze && !p.st.Frozen:
		return fmt.Errorf("thaw server %d: it is not frozen", p.st.ID)
	}
	pid := p.cmd.Process.Pid
	if err := syscall.Kill(-pid, sig); err != nil {
		return fmt.Errorf("%s server %d (pid %d): %w", what, p.st.ID, pid, err)
	}
	p.st.Frozen = freeze
	if freeze {
		p.st.Mode = ""
	}
	p.log.Info("server "+what, "id", p.st.ID, "pid", pid)
	return nil
}

// sampleLocked reads the running process's CPU and peak RSS from /proc.
func (p *serverProc) sampleLocked() {
	if p.cmd == nil {
		return
	}
	pid := p.cmd.Process.Pid
	if cpu, err := harness.ProcessCPUSeconds(pid); err == nil {
		p.st.CPUSeconds = p.deadCPU + cpu
	}
	if b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid)); err == nil {
		for _, line := range strings.Split(string(b), "\n") {
			if v, ok := strings.CutPrefix(line, "VmHWM:"); ok {
				f := strings.Fields(v)
				if len(f) > 0 {
					if kib, err := strconv.ParseInt(f[0], 10, 64); err == nil {
						p.st.PeakRSSKiB = max(p.st.PeakRSSKiB, kib)
					}
				}
			}
		}
	}
}

// status samples the process and asks the server (srvr) for its mode.
func (p *serverProc) status(clientAddr string) ServerStatus {
	p.mu.Lock()
	p.sampleLocked()
	running := p.cmd != nil && !p.st.Frozen
	p.mu.Unlock()
	mode := ""
	if running {
		mode = srvrMode(clientAddr)
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.cmd != nil && !p.st.Frozen {
		p.st.Mode = mode
	}
	return p.st
}

// srvrMode returns the Mode line of the server's srvr reply ("" if it does
// not serve).
func srvrMode(addr string) string {
	c, err := net.DialTimeout("tcp", addr, 500*time.Millisecond)
	if err != nil {
		return ""
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(time.Second))
	if _, err := c.Write([]byte("srvr")); err != nil {
		return ""
	}
	sc := bufio.NewScanner(c)
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), "Mode: "); ok {
			return strings.TrimSpace(v)
		}
	}
	return ""
}

// pickPorts chooses three free TCP ports on host, held open together so
// that they differ.
func pickPorts(host string) ([3]int, error) {
	var out [3]int
	var lns []net.Listener
	defer func() {
		for _, l := range lns {
			l.Close()
		}
	}()
	for i := range out {
		ln, err := net.Listen("tcp", net.JoinHostPort(host, "0"))
		if err != nil {
			return out, fmt.Errorf("choose a port on %s: %w", host, err)
		}
		lns = append(lns, ln)
		out[i] = ln.Addr().(*net.TCPAddr).Port
	}
	return out, nil
}

// RenderServerConfig is the zoo.cfg of server sa.ID of ens, its data in
// dataDir.
func RenderServerConfig(sa ServerAssignment, ens Ensemble, dataDir string) (string, error) {
	var self *ServerAddr
	for i := range ens.Servers {
		if ens.Servers[i].ID == sa.ID {
			self = &ens.Servers[i]
		}
	}
	if self == nil {
		return "", fmt.Errorf("server %d is not in the ensemble", sa.ID)
	}
	type kv struct{ k, v string }
	yesNo := map[bool]string{true: "yes", false: "no"}
	kvs := []kv{
		{"tickTime", strconv.Itoa(cmp0(sa.TickTime, 2000))},
		{"initLimit", strconv.Itoa(cmp0(sa.InitLimit, 10))},
		{"syncLimit", strconv.Itoa(cmp0(sa.SyncLimit, 5))},
		{"dataDir", dataDir},
		{"clientPort", strconv.Itoa(self.Client)},
		{"clientPortAddress", self.Host},
		{"maxClientCnxns", "0"},
		{"4lw.commands.whitelist", "*"},
		{"standaloneEnabled", fmt.Sprint(len(ens.Servers) == 1)},
		{"leaderServes", yesNo[sa.LeaderServes || len(ens.Servers) == 1]},
	}
	// The AdminServer (Go's and Java's alike) would take port 8080 of every
	// host, and bind every interface; a run's ExtraConfig can turn it on.
	kvs = append(kvs, kv{"admin.enableServer", "false"})
	keys := make([]string, 0, len(sa.ExtraConfig))
	for k := range sa.ExtraConfig {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	for _, k := range keys {
		i := slices.IndexFunc(kvs, func(e kv) bool { return e.k == k })
		if i >= 0 {
			kvs[i].v = sa.ExtraConfig[k]
		} else {
			kvs = append(kvs, kv{k, sa.ExtraConfig[k]})
		}
	}
	var b strings.Builder
	fmt.Fprintf(&b, "# Generated by a zkbench agent for server %d.\n", sa.ID)
	for _, e := range kvs {
		fmt.Fprintf(&b, "%s=%s\n", e.k, e.v)
	}
	if len(ens.Servers) > 1 {
		for _, s := range ens.Servers {
			fmt.Fprintf(&b, "server.%d=%s:%d:%d\n", s.ID, s.Host, s.Quorum, s.Election)
		}
	}
	return b.String(), nil
}

func cmp0(v, def int) int {
	if v == 0 {
		return def
	}
	return v
}

// host is the address this agent's servers listen on and are reached at.
func (a *agent) host() string {
	if a.cfg.Address != "" {
		return a.cfg.Address
	}
	if len(a.facts.Addresses) > 0 {
		return a.facts.Addresses[0]
	}
	return "127.0.0.1"
}

// runServer carries out a server assignment: it reports its ports, waits
// for the ensemble, runs the server, applies the faults asked of it, and
// kills the server when the run stops, aborts, loses its coordinator, or
// this agent loses its coordination session (ctx).
func (a *agent) runServer(ctx context.Context, as Assignment, rep *Report, readied *bool, log *slog.Logger) error {
	sa := as.Server
	if sa == nil {
		return fmt.Errorf("agent %s: server assignment without a server", a.cfg.Name)
	}
	switch sa.Impl {
	case harness.ImplGo, "":
		if len(a.cfg.GoCommand) == 0 {
			return fmt.Errorf("agent %s: no command to run a Go server with (Config.GoCommand)", a.cfg.Name)
		}
	case harness.ImplJava:
		if !a.facts.Java.OK() {
			return fmt.Errorf("agent %s cannot run Java servers: %s", a.cfg.Name, a.facts.Java)
		}
	default:
		return fmt.Errorf("agent %s: server implementation %q: want %q or %q", a.cfg.Name, sa.Impl, harness.ImplGo, harness.ImplJava)
	}
	ctx, stop := context.WithCancelCause(ctx)
	defer stop(nil)
	go a.watchRun(ctx, as.Run, stop)
	go func() {
		if err := a.waitNode(ctx, a.l.Stop(as.Run)); err == nil {
			stop(errRunOver)
		}
	}()

	host := a.host()
	ports, err := pickPorts(host)
	if err != nil {
		return fmt.Errorf("agent %s: %w", a.cfg.Name, err)
	}
	me := ServerAddr{ID: sa.ID, Agent: a.cfg.Name, Host: host, Client: ports[0], Quorum: ports[1], Election: ports[2]}
	if err := a.put(a.l.Ready(as.Run, a.cfg.Name), Ready{Server: &me}); err != nil {
		return err
	}
	*readied = true
	if err := a.waitNode(ctx, a.l.Ensemble(as.Run)); err != nil {
		return fmt.Errorf("agent %s: waiting for the ensemble: %w", a.cfg.Name, err)
	}
	b, _, err := a.conn.Get(a.l.Ensemble(as.Run))
	if err != nil {
		return fmt.Errorf("agent %s: ensemble: %w", a.cfg.Name, err)
	}
	var ens Ensemble
	if err := json.Unmarshal(b, &ens); err != nil {
		return fmt.Errorf("agent %s: ensemble: %w", a.cfg.Name, err)
	}
	dir, err := os.MkdirTemp("", fmt.Sprintf("zkbench-agent-%s-server-%d-", a.cfg.Name, sa.ID))
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	text, err := RenderServerConfig(*sa, ens, filepath.Join(dir, "data"))
	if err != nil {
		return fmt.Errorf("agent %s: %w", a.cfg.Name, err)
	}
	p, err := newServerProc(*sa, a.cfg.GoCommand, a.cfg.ZKHome, dir, text, log)
	if err != nil {
		return fmt.Errorf("agent %s: %w", a.cfg.Name, err)
	}
	if err := p.start(); err != nil {
		return fmt.Errorf("agent %s: %w", a.cfg.Name, err)
	}
	defer func() {
		p.mu.Lock()
		last := p.st.PID
		p.mu.Unlock()
		p.kill() // an error means it is already down
		p.mu.Lock()
		rep.Server = new(ServerStatus)
		*rep.Server = p.st
		p.mu.Unlock()
		if rep.Server.PID == 0 {
			rep.Server.PID = last
		}
	}()
	nf := newNetFaults(a.cfg.Name, sa.ID, ens)
	defer nf.close() // the run ended or aborted, or the session is lost
	clientAddr := net.JoinHostPort(host, strconv.Itoa(me.Client))
	faults := a.l.Faults(as.Run, a.cfg.Name)
	if err := ensure(a.conn, faults); err != nil {
		return err
	}
	// The status goes out from its own goroutine: srvr may take up to its
	// timeout on a busy server, and a fault must not wait for it.
	statusCtx, stopStatus := context.WithCancel(ctx)
	kick := make(chan struct{}, 1)
	statusDone := make(chan struct{})
	go func() {
		defer close(statusDone)
		a.reportStatus(statusCtx, a.l.Status(as.Run, a.cfg.Name), p, clientAddr, kick)
	}()
	defer func() {
		stopStatus()
		<-statusDone
	}()
	tick := time.NewTicker(500 * time.Millisecond)
	defer tick.Stop()
	done := map[string]bool{}
	var ch <-chan zk.Event
	for {
		var reqs []string
		var err error
		if ch == nil {
			reqs, _, ch, err = a.conn.ChildrenW(faults)
		} else {
			reqs, _, err = a.conn.Children(faults)
		}
		if err != nil {
			if ctx.Err() != nil {
				break
			}
			return fmt.Errorf("agent %s: watch %s: %w", a.cfg.Name, faults, err)
		}
		slices.Sort(reqs)
		for _, r := range reqs {
			if done[r] {
				continue
			}
			done[r] = true
			rp := faults + "/" + r
			b, _, err := a.conn.Get(rp)
			if err != nil {
				continue
			}
			var fr FaultRequest
			if err := json.Unmarshal(b, &fr); err != nil || fr.Done {
				continue
			}
			switch harness.Action(fr.Action) {
			case harness.Kill:
				err = p.kill()
			case harness.Restart:
				err = p.start()
			case harness.Partition, harness.PartitionIn, harness.PartitionOut, harness.Heal:
				err = nf.apply(ctx, harness.Action(fr.Action))
			case harness.Freeze:
				err = p.freeze()
			case harness.Thaw:
				err = p.thaw()
			default:
				err = fmt.Errorf("fault %q is not built for agent-hosted servers (kill, restart, freeze, thaw)", fr.Action)
			}
			fr.Done, fr.At = true, time.Now().UnixNano()
			if err != nil {
				fr.Error = fmt.Sprintf("agent %s: %v", a.cfg.Name, err)
			}
			log.Info("fault", "action", fr.Action, "server", sa.ID, "err", err)
			a.put(rp, fr)
			select {
			case kick <- struct{}{}:
			default:
			}
		}
		select {
		case <-ch:
			ch = nil
		case <-tick.C:
		case <-ctx.Done():
		}
		if ctx.Err() != nil {
			break
		}
	}
	if c := context.Cause(ctx); c != nil && !errors.Is(c, errRunOver) {
		p.kill()
		p.mu.Lock()
		p.st.Error = fmt.Sprintf("agent %s: server stopped: %v", a.cfg.Name, c)
		p.mu.Unlock()
	}
	return nil
}

// reportStatus writes p's status to path every half second, and at once
// when kicked, until ctx ends.
func (a *agent) reportStatus(ctx context.Context, path string, p *serverProc, clientAddr string, kick <-chan struct{}) {
	tick := time.NewTicker(500 * time.Millisecond)
	defer tick.Stop()
	for {
		a.put(path, p.status(clientAddr))
		select {
		case <-tick.C:
		case <-kick:
		case <-ctx.Done():
			return
		}
	}
}

// errRunOver is the cause of a server stopped because its run ended.
var errRunOver = errors.New("the run is over")

// waitNode waits until p exists.
func (a *agent) waitNode(ctx context.Context, p string) error {
	return awaitNode(ctx, a.conn, p, true)
}

// existsWatcher is the part of *zk.Conn that awaitNode uses.
type existsWatcher interface {
	ExistsW(path string) (bool, *zk.Stat, <-chan zk.Event, error)
}

// reconnectPause is how long awaitNode waits before asking again after
// the coordination connection was lost.
const reconnectPause = 100 * time.Millisecond

// awaitNode returns nil once the znode p exists (exists true) or does not
// (exists false), watching it in between. A lost connection is ridden
// out: go-zookeeper reconnects, and the session's supervisor ends ctx if
// the session itself is lost; giving up on the first lost connection left
// an agent deaf to its run's end, its abort and its coordinator's exit.
// Other errors (the session expired, the connection closed) are returned,
// as is ctx's cause once it ends.
func awaitNode(ctx context.Context, c existsWatcher, p string, exists bool) error {
	for {
		ok, _, ch, err := c.ExistsW(p)
		switch {
		case errors.Is(err, zk.ErrConnectionClosed) || errors.Is(err, zk.ErrNoServer):
			select {
			case <-time.After(reconnectPause):
				continue
			case <-ctx.Done():
				return context.Cause(ctx)
			}
		case err != nil:
			return err
		case ok == exists:
			return nil
		}
		select {
		case <-ch:
		case <-ctx.Done():
			return context.Cause(ctx)
		}
	}
}
