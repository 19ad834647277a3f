package harness

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/zkbench/zkbench/harness/faultfs"
	"github.com/zkbench/zkbench/harness/netproxy"
)

// Sentinel errors callers branch on.
var (
	// ErrNotRunning: the fault needs a running server and it is down.
	ErrNotRunning = errors.New("harness: server is not running")
	// ErrRunning: Restart was asked of a server that is running.
	ErrRunning = errors.New("harness: server is already running")
	// ErrNotFrozen: Thaw was asked of a server that is not frozen.
	ErrNotFrozen = errors.New("harness: server is not frozen")
	// ErrFrozen: Freeze was asked of a server that is already frozen.
	ErrFrozen = errors.New("harness: server is already frozen")
	// ErrUnavailable: this ensemble cannot inject that fault (for example a
	// partition without Options.PeerProxy, or a kill on an external ensemble
	// without a kill command).
	ErrUnavailable = errors.New("harness: fault not available on this ensemble")
	// ErrNoServer: no server has that id, or no server has that role.
	ErrNoServer = errors.New("harness: no such server")
	// ErrClosed: the ensemble was closed.
	ErrClosed = errors.New("harness: ensemble is closed")
	// errBind: a server could not bind its ports; Start retries.
	errBind = errors.New("harness: server could not bind its ports")
)

// Role is a server's role as the harness last saw it.
type Role string

// Roles. The first four are what srvr reports; the others are the harness's
// own view of a server that does not report one.
const (
	RoleLeader      Role = "leader"
	RoleFollower    Role = "follower"
	RoleObserver    Role = "observer"
	RoleStandalone  Role = "standalone"
	RoleNotServing  Role = "not-serving" // answers srvr but is electing or syncing
	RoleUnreachable Role = "unreachable" // does not answer srvr
	RoleDown        Role = "down"        // process not running
	RoleUnknown     Role = ""            // not polled yet
)

// Serving reports whether a server in role r answers clients.
func (r Role) Serving() bool {
	switch r {
	case RoleLeader, RoleFollower, RoleObserver, RoleStandalone:
		return true
	}
	return false
}

// Member describes one server of the ensemble.
type Member struct {
	ID          int
	ClientAddr  string // host:port for clients and four-letter words
	Observer    bool   // configured as an observer
	Role        Role   // as last seen
	Epoch, Zxid int64  // as last seen
	PID         int    // 0 when not running or external
	Running     bool
	Frozen      bool
	Partitioned bool
	Delay       time.Duration // extra latency on its peer traffic
	Dir         string        // its directory (zoo.cfg, data, logs); empty if external
}

// RoleSample records a change of a server's role or epoch.
type RoleSample struct {
	Time  time.Time
	ID    int
	Role  Role
	Epoch int64
	Zxid  int64
}

// MntrSnapshot is one sample of one server: its mntr reply and what /proc
// says of its process.
type MntrSnapshot struct {
	Time   time.Time
	ID     int
	Values map[string]string // nil when it did not answer
	Role   Role              // as last seen
	PID    int               // 0 when down or external
	// CPUSeconds (user+system so far) and RSSKiB of the process, 0 when
	// unknown (down or external).
	CPUSeconds float64
	RSSKiB     int64
}

// Exit is a server process's end.
type Exit struct {
	Time   time.Time
	ID     int
	PID    int
	Status string // as os/exec says: "exit status 1", "signal: killed"
	// Killed is true when the harness killed it (a kill fault, a retried
	// start, Close); false when it ended on its own.
	Killed bool
}

// ServerStats are the resource figures of one server over the whole run,
// summed over every process that served as it.
type ServerStats struct {
	ID         int
	PIDs       []int   // every process started for this server
	CPUSeconds float64 // user + system CPU of all of them
	PeakRSSKiB int64   // the largest peak resident set of any of them
}

// server is one member's state; every field is guarded by Ensemble.mu.
type server struct {
	id       int
	observer bool
	host     string
	dir      string
	cfgPath  string

	clientPort, quorumPort, electPort int
	metricsPort                       int // a Go server's Prometheus endpoint (0: none)

	cmd     *exec.Cmd
	pid     int
	exited  chan struct{}
	running bool
	frozen  bool

	disks []*faultfs.FS // fault-injecting mounts of its data directories (Options.DiskFaults)

	cut   cut // which of its peer traffic a partition holds (none: 0)
	delay time.Duration

	role        Role
	epoch, zxid int64

	pids    []int
	killing bool // the harness is killing the current process
	deadCPU float64
	peakKiB int64
	last    procSample
}

func (s *server) clientAddr() string {
	return fmt.Sprintf("%s:%d", s.host, s.clientPort)
}

// linkKey names the proxy carrying what server from sends to one port of to.
type linkKey struct {
	from, to int
	elect    bool
}

// Ensemble is a running ZooKeeper ensemble owned by the harness. Its methods
// are safe for concurrent use.
type Ensemble struct {
	opts     Options
	log      *slog.Logger
	launcher launcher
	spawn    *spawner
	runDir   string
	ownDir   bool
	external bool

	mu       sync.Mutex
	servers  []*server
	proxies  map[linkKey]*netproxy.Proxy
	timeline []RoleSample
	mntr     []MntrSnapshot
	exits    []Exit
	rng      *rand.Rand
	closed   bool
	socks    sockTable

	monCancel context.CancelFunc
	monWG     sync.WaitGroup
	stopCtx   func() bool
	closeOnce sync.Once
	closeErr  error
	done      chan struct{} // closed by Close
}

// Start starts the ensemble described by opts and waits until a quorum
// serves (see WaitServing). The ensemble lives until Close, or until ctx is
// cancelled, which closes it; on any error Start leaves nothing running.
func Start(ctx context.Context, opts Options) (*Ensemble, error) {
	if err := opts.withDefaults(); err != nil {
		return nil, err
	}
	e := &Ensemble{
		opts:    opts,
		log:     opts.Logger,
		proxies: map[linkKey]*netproxy.Proxy{},
		rng:     rand.New(rand.NewPCG(uint64(opts.Seed), 0x5eed)),
		done:    make(chan struct{}),
	}
	if opts.Impl == ImplExternal {
		if err := e.initExternal(); err != nil {
			return nil, err
		}
	} else {
		l, err := newLauncher(&e.opts)
		if err != nil {
			return nil, err
		}
		e.launcher = l
		if err := e.initDirs(); err != nil {
			if uerr := e.unmountDisks(); uerr != nil {
				err = errors.Join(err, uerr)
			}
			return nil, err
		}
		e.spawn = newSpawner()
	}
	e.stopCtx = context.AfterFunc(ctx, func() { e.Close() })
	var err error
	for attempt := 1; attempt <= 3; attempt++ {
		err = e.startOnce(ctx, attempt)
		if err == nil || !errors.Is(err, errBind) || ctx.Err() != nil {
			break
		}
		e.log.Warn("harness: a server could not bind; retrying with other ports", "attempt", attempt, "err", err)
		e.stopProcesses()
		e.closeProxies()
	}
	if err != nil {
		e.Close()
		if ctx.Err() != nil {
			return nil, fmt.Errorf("harness: start: %w", context.Cause(ctx))
		}
		return nil, err
	}
	e.log.Info("harness: ensemble serving", "impl", opts.Impl, "servers", opts.Servers, "observers", opts.Observers, "connect", e.ConnectString())
	return e, nil
}

func (e *Ensemble) initExternal() error {
	e.external = true
	hosts := strings.Split(e.opts.Connect, ",")
	for i, h := range hosts {
		h = strings.TrimSpace(h)
		host, port, err := splitHostPort(h)
		if err != nil {
			return fmt.Errorf("harness: connect string %q, entry %d: %w", e.opts.Connect, i+1, err)
		}
		e.servers = append(e.servers, &server{id: i + 1, host: host, clientPort: port, running: true})
	}
	e.opts.Servers, e.opts.Observers = len(hosts), 0
	return nil
}

func splitHostPort(hp string) (string, int, error) {
	i := strings.LastIndexByte(hp, ':')
	if i < 0 {
		return hp, 2181, nil
	}
	p, err := strconv.Atoi(hp[i+1:])
	if err != nil || p <= 0 || p > 65535 {
		return "", 0, fmt.Errorf("bad port in %q", hp)
	}
	return hp[:i], p, nil
}

func (e *Ensemble) initDirs() error {
	e.runDir = e.opts.RunDir
	if e.runDir == "" {
		d, err := os.MkdirTemp("", "zkbench-ensemble-")
		if err != nil {
			return fmt.Errorf("harness: run dir: %w", err)
		}
		e.runDir, e.ownDir = d, true
	}
	if e.opts.DiskFaults {
		if err := faultfs.Available(); err != nil {
			return fmt.Errorf("harness: disk faults: %w", err)
		}
		swept, err := faultfs.Sweep()
		if len(swept) > 0 {
			e.log.Warn("harness: unmounted fault-injecting disks a killed process left behind", "mounts", swept)
		}
		if err != nil {
			return fmt.Errorf("harness: disk faults: %w", err)
		}
	}
	n := e.opts.Servers + e.opts.Observers
	for id := 1; id <= n; id++ {
		s := &server{id: id, observer: id > e.opts.Servers, host: "127.0.0.1"}
		s.dir = filepath.Join(e.runDir, fmt.Sprintf("server-%d", id))
		s.cfgPath = filepath.Join(s.dir, "zoo.cfg")
		e.servers = append(e.servers, s)
		dataDir := filepath.Join(s.dir, "data")
		if err := os.MkdirAll(dataDir, 0o755); err != nil {
			return fmt.Errorf("harness: server %d: %w", id, err)
		}
		myidDir := dataDir
		if e.opts.DiskFaults {
			// Written beneath the mount: the harness's files are not the
			// server's to lose in a power loss.
			myidDir = dataDir + diskBackingSuffix
			if err := os.MkdirAll(myidDir, 0o755); err != nil {
				return fmt.Errorf("harness: server %d: %w", id, err)
			}
		}
		if e.opts.quorumed() {
			if err := os.WriteFile(filepath.Join(myidDir, "myid"), []byte(fmt.Sprintf("%d\n", id)), 0o644); err != nil {
				return fmt.Errorf("harness: server %d: myid: %w", id, err)
			}
		}
		if d := dataLogDirFor(e.opts.LogDir, id); d != "" {
			if err := os.MkdirAll(d, 0o755); err != nil {
				return fmt.Errorf("harness: server %d: dataLogDir: %w", id, err)
			}
		}
		if e.opts.DiskFaults {
			if err := e.mountDisks(s, diskDirs(&e.opts, s)); err != nil {
				return err
			}
		}
	}
	return nil
}

// startOnce picks ports, writes configs, starts proxies and servers, and
// waits for a serving quorum, then for every member it started to serve:
// a benchmark that began while a follower was still syncing would measure
// a smaller ensemble than asked for.
func (e *Ensemble) startOnce(ctx context.Context, attempt int) error {
	if !e.external {
		if err := e.assignPorts(); err != nil {
			return err
		}
		if e.opts.afterPorts != nil {
			var ports []int
			for _, s := range e.servers {
				ports = append(ports, s.clientPort)
			}
			e.opts.afterPorts(attempt, ports)
		}
		if err := e.writeConfigs(); err != nil {
			return err
		}
		e.mu.Lock()
		for _, s := range e.servers {
			if err := e.launchLocked(s); err != nil {
				e.mu.Unlock()
				return err
			}
		}
		e.mu.Unlock()
	}
	e.startMonitor()
	wctx, cancel := context.WithTimeout(ctx, e.opts.StartTimeout)
	defer cancel()
	if err := e.waitServing(wctx, true); err != nil {
		return err
	}
	if e.external {
		// Someone else's ensemble may run with members down on purpose.
		return nil
	}
	return e.waitAllServing(wctx)
}

func (e *Ensemble) assignPorts() error {
	pp := NewPortPicker()
	for _, s := range e.servers {
		var err error
		for _, p := range []*int{&s.clientPort, &s.quorumPort, &s.electPort} {
			if *p, err = pp.Pick(); err != nil {
				return err
			}
		}
		if !e.launcher.isJava(s) { // Debian's Java has no Prometheus provider
			if s.metricsPort, err = pp.Pick(); err != nil {
				return err
			}
		}
	}
	if !e.opts.PeerProxy || !e.opts.quorumed() {
		return nil
	}
	for _, a := range e.servers {
		for _, b := range e.servers {
			if a == b {
				continue
			}
			for _, elect := range []bool{false, true} {
				target := b.quorumPort
				if elect {
					target = b.electPort
				}
				p, err := netproxy.Listen("127.0.0.1:0", fmt.Sprintf("127.0.0.1:%d", target))
				if err != nil {
					return fmt.Errorf("harness: peer proxy %d->%d: %w", a.id, b.id, err)
				}
				e.proxies[linkKey{a.id, b.id, elect}] = p
			}
		}
	}
	for k, p := range e.proxies {
		if k.elect {
			p.SetRewriter(electionRewriter(e.proxies[linkKey{k.to, k.from, true}].Addr()))
		}
	}
	return nil
}

func proxyPort(p *netproxy.Proxy) int {
	_, port, _ := splitHostPort(p.Addr())
	return port
}

func (e *Ensemble) writeConfigs() error {
	for _, s := range e.servers {
		if err := e.writeConfig(s); err != nil {
			return err
		}
	}
	return nil
}

// writeConfig writes server s's zoo.cfg for the implementation that runs
// it (Replace rewrites it when that changes).
func (e *Ensemble) writeConfig(s *server) error {
	p := configParams{
		self:       s.id,
		observer:   s.observer,
		clientPort: s.clientPort,
		dataDir:    filepath.Join(s.dir, "data"),
		dataLogDir: dataLogDirFor(e.opts.LogDir, s.id),
		java:       e.launcher.isJava(s),
		metrics:    s.metricsPort,
	}
	if e.opts.quorumed() {
		for _, o := range e.servers {
			pe := peerEntry{id: o.id, quorumPort: o.quorumPort, electPort: o.electPort, observer: o.observer}
			if o != s && e.opts.PeerProxy {
				pe.quorumPort = proxyPort(e.proxies[linkKey{s.id, o.id, false}])
				pe.electPort = proxyPort(e.proxies[linkKey{s.id, o.id, true}])
			}
			p.peers = append(p.peers, pe)
		}
	}
	if err := os.WriteFile(s.cfgPath, []byte(renderConfig(&e.opts, p)), 0o644); err != nil {
		return fmt.Errorf("harness: server %d: zoo.cfg: %w", s.id, err)
	}
	return nil
}

// launchLocked starts server s. e.mu must be held.
func (e *Ensemble) launchLocked(s *server) error {
	if e.closed {
		return ErrClosed
	}
	cmd, err := command(e.launcher, s)
	if err != nil {
		return err
	}
	out, err := os.OpenFile(filepath.Join(s.dir, "stdout.log"), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return fmt.Errorf("harness: server %d: %w", s.id, err)
	}
	fmt.Fprintf(out, "==== %s harness: starting %q, environment adds %q\n", time.Now().Format(time.RFC3339Nano), cmd.Args, e.launcher.env(s))
	cmd.Stdout, cmd.Stderr = out, out
	if err := e.spawn.start(cmd); err != nil {
		out.Close()
		return fmt.Errorf("harness: server %d: start %s: %w", s.id, cmd.Path, err)
	}
	exited := make(chan struct{})
	s.cmd, s.pid, s.exited, s.running, s.frozen = cmd, cmd.Process.Pid, exited, true, false
	s.role, s.last, s.killing = RoleUnknown, procSample{}, false
	s.pids = append(s.pids, s.pid)
	e.log.Info("harness: server started", "id", s.id, "pid", s.pid)
	go func() {
		err := cmd.Wait()
		out.Close()
		e.mu.Lock()
		// CPU from wait4 is exact. Its ru_maxrss is not usable: it includes
		// the driver's own RSS, which the child shared between fork and
		// exec, so the peak comes from the last VmHWM sample (taken at
		// every poll and just before Kill).
		if s.cmd == cmd {
			s.peakKiB = max(s.peakKiB, s.last.hwmKiB)
		}
		if ps := cmd.ProcessState; ps != nil {
			if ru, ok := ps.SysUsage().(*syscall.Rusage); ok {
				s.deadCPU += time.Duration(ru.Utime.Nano() + ru.Stime.Nano()).Seconds()
			}
		}
		if s.cmd == cmd {
			e.exits = append(e.exits, Exit{Time: time.Now(), ID: s.id, PID: cmd.Process.Pid, Status: exitStatus(err), Killed: s.killing})
			s.running, s.frozen, s.pid, s.role = false, false, 0, RoleDown
			s.last = procSample{}
			e.recordLocked(s, time.Now())
		}
		e.mu.Unlock()
		e.log.Info("harness: server exited", "id", s.id, "pid", cmd.Process.Pid, "err", err)
		close(exited)
	}()
	return nil
}

// stopProcesses kills every server process and waits for it.
func (e *Ensemble) stopProcesses() {
	e.mu.Lock()
	var waits []chan struct{}
	for _, s := range e.servers {
		if s.running && s.pid > 0 {
			s.killing = true
			_ = killGroup(s.pid, syscall.SIGKILL)
			_ = killGroup(s.pid, syscall.SIGCONT)
			waits = append(waits, s.exited)
		}
	}
	e.mu.Unlock()
	for _, w := range waits {
		select {
		case <-w:
		case <-time.After(10 * time.Second):
			e.log.Error("harness: a server process did not exit 10s after SIGKILL")
		}
	}
}

func (e *Ensemble) closeProxies() {
	e.mu.Lock()
	ps := e.proxies
	e.proxies = map[linkKey]*netproxy.Proxy{}
	e.mu.Unlock()
	for _, p := range ps {
		p.Close()
	}
}

// Close kills every server process (process group, SIGKILL), stops the
// proxies and monitors, and removes the run directory if Start created it.
// It is idempotent and safe to call at any time.
func (e *Ensemble) Close() error {
	e.closeOnce.Do(func() {
		if e.stopCtx != nil {
			e.stopCtx()
		}
		e.mu.Lock()
		cancel := e.monCancel
		e.mu.Unlock()
		if cancel != nil {
			cancel()
		}
		// Closed before the processes stop: a fault or restart racing
		// with Close (or with the cancelled context) gets ErrClosed rather
		// than acting on a process that is being stopped.
		e.mu.Lock()
		e.closed = true
		e.mu.Unlock()
		if !e.external {
			e.stopProcesses()
		}
		e.monWG.Wait()
		e.closeProxies()
		if e.spawn != nil {
			e.spawn.stop()
		}
		// Unmounted before the run directory goes, which would otherwise
		// remove the backing files through the mounts and leave them.
		if err := e.unmountDisks(); err != nil {
			e.closeErr = err
		} else if e.ownDir {
			e.closeErr = os.RemoveAll(e.runDir)
		}
		close(e.done)
	})
	return e.closeErr
}

// Members returns every server, voters first, ordered by id.
func (e *Ensemble) Members() []Member {
	e.mu.Lock()
	defer e.mu.Unlock()
	ms := make([]Member, 0, len(e.servers))
	for _, s := range e.servers {
		ms = append(ms, Member{
			ID: s.id, ClientAddr: s.clientAddr(), Observer: s.observer,
			Role: s.role, Epoch: s.epoch, Zxid: s.zxid, PID: s.pid,
			Running: s.running, Frozen: s.frozen, Partitioned: s.partitioned(),
			Delay: s.delay, Dir: s.dir,
		})
	}
	return ms
}

// ConnectString lists every server's client address, comma separated.
func (e *Ensemble) ConnectString() string {
	return strings.Join(e.clientAddrs(), ",")
}

func (e *Ensemble) clientAddrs() []string {
	e.mu.Lock()
	defer e.mu.Unlock()
	addrs := make([]string, len(e.servers))
	for i, s := range e.servers {
		addrs[i] = s.clientAddr()
	}
	return addrs
}

// RunDir is the directory holding the servers' directories ("" if external).
func (e *Ensemble) RunDir() string { return e.runDir }

// Impl is the implementation the ensemble was started as (Options.Impl):
// results record it as the run's, so a rolling replacement that starts as
// ImplMixed stays one. What each server runs now, after any Replace, is
// Placement's.
func (e *Ensemble) Impl() string { return e.opts.Impl }

// ServerCPUs returns how many CPUs each launched server was told it may
// use (Options.ServerCPUs, resolved), or 0 when the runtimes chose for
// themselves: a negative Options.ServerCPUs, or an external ensemble.
func (e *Ensemble) ServerCPUs() int {
	if e.external || e.opts.ServerCPUs < 0 {
		return 0
	}
	return e.opts.ServerCPUs
}

// Leader returns the id of the server last seen as leader (or standalone),
// preferring the highest epoch; ok is false if there is none.
func (e *Ensemble) Leader() (id int, ok bool) {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.leaderLocked()
}

func (e *Ensemble) leaderLocked() (int, bool) {
	best, bestEpoch := 0, int64(-1)
	for _, s := range e.servers {
		if !s.running || s.frozen || s.partitioned() {
			continue
		}
		if (s.role == RoleLeader || s.role == RoleStandalone) && s.epoch > bestEpoch {
			best, bestEpoch = s.id, s.epoch
		}
	}
	return best, best != 0
}

func (e *Ensemble) server(id int) (*server, error) {
	if id < 1 || id > len(e.servers) {
		return nil, fmt.Errorf("%w: id %d (ensemble has 1..%d)", ErrNoServer, id, len(e.servers))
	}
	return e.servers[id-1], nil
}

// Timeline returns every recorded change of a server's role or epoch.
func (e *Ensemble) Timeline() []RoleSample {
	e.mu.Lock()
	defer e.mu.Unlock()
	return append([]RoleSample(nil), e.timeline...)
}

// MntrSnapshots returns the periodic mntr snapshots taken so far.
func (e *Ensemble) MntrSnapshots() []MntrSnapshot {
	e.mu.Lock()
	defer e.mu.Unlock()
	return append([]MntrSnapshot(nil), e.mntr...)
}

// Stats returns each server's CPU seconds and peak RSS so far. CPU is exact
// for processes that exited (wait4) and sampled from /proc for running
// ones; the peak RSS is VmHWM from /proc, sampled at every role poll and
// just before a kill (a process that dies on its own may have grown after
// the last sample).
func (e *Ensemble) Stats() []ServerStats {
	e.mu.Lock()
	defer e.mu.Unlock()
	out := make([]ServerStats, 0, len(e.servers))
	for _, s := range e.servers {
		st := ServerStats{ID: s.id, PIDs: append([]int(nil), s.pids...), CPUSeconds: s.deadCPU, PeakRSSKiB: s.peakKiB}
		if s.running && s.pid > 0 {
			if ps, err := readProc(s.pid); err == nil {
				s.last = ps
			}
			st.CPUSeconds += s.last.cpuSeconds
			st.PeakRSSKiB = max(st.PeakRSSKiB, s.last.hwmKiB)
		}
		out = append(out, st)
	}
	return out
}

// Launch reports how the servers were started, checking each running
// server's session against the driver's.
func (e *Ensemble) Launch() LaunchInfo {
	sid := procSession(os.Getpid())
	li := LaunchInfo{Impl: e.opts.Impl, Method: LaunchMethod, DriverSession: sid, SameSession: !e.external}
	if e.external {
		li.Method = "external"
		return li
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	if len(e.servers) > 0 && e.launcher != nil {
		li.Command, _ = e.launcher.argv(e.servers[0])
		li.Env = e.launcher.env(e.servers[0])
	}
	for _, s := range e.servers {
		if !s.running {
			continue
		}
		if procSession(s.pid) != sid {
			li.SameSession = false
		}
	}
	return li
}
