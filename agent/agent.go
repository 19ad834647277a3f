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
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"time"

	hdr "github.com/HdrHistogram/hdrhistogram-go"
	"github.com/go-zookeeper/zk"

	"github.com/zkbench/zkbench/bench"
	"github.com/zkbench/zkbench/workloads"
)

// Config configures an agent.
type Config struct {
	// Connect is the coordination ZooKeeper: host:port,...[/chroot].
	Connect string
	// Name is the agent's name, unique among the agents (default the host
	// name).
	Name string
	// SessionTimeout is the coordination session's timeout (default 4 s):
	// how long after the agent dies the coordinator notices, and how long
	// a disconnected agent goes on before it stops its load.
	SessionTimeout time.Duration
	// Version overrides the version the agent announces (tests of the
	// coordinator's refusal); empty means Version().
	Version string
	// ClockSkew is added to the agent's clock readings sent to the
	// coordinator and taken from it, as if its clock were that far ahead
	// (tests of the coordinator's refusal).
	ClockSkew time.Duration
	// TraceDir, if not empty, receives one file per run,
	// <run>-<name>.trace, listing every operation issued: "session seq
	// type key" per line.
	TraceDir string
	// GoCommand is the command line that runs a Go server, without the
	// config path (as harness.Options.GoCommand); with it the agent takes
	// the server role.
	GoCommand []string
	// ZKHome is the ZooKeeper installation Java servers run from (its
	// *.jar and lib/*.jar); empty means Debian's jars, as the harness
	// finds them. An agent with the server role announces in its Facts
	// whether it can run Java servers from it.
	ZKHome string
	// Address is where the servers this agent runs listen and are reached
	// (default its first non-loopback address).
	Address string
	// Logger receives diagnostics; nil discards them.
	Logger *slog.Logger
}

// ErrSessionLost is the cause of an agent's stop when its coordination
// session expired or stayed disconnected for a session timeout.
var ErrSessionLost = errors.New("agent: coordination session lost; load stopped")

// Run registers the agent and carries out its assignments until ctx ends
// or its coordination session is lost (ErrSessionLost, the load stopped).
func Run(ctx context.Context, cfg Config) error {
	if cfg.SessionTimeout == 0 {
		cfg.SessionTimeout = 4 * time.Second
	}
	if cfg.Version == "" {
		cfg.Version = Version()
	}
	log := cfg.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	facts := HostFacts(cfg.Version)
	if cfg.Name == "" {
		cfg.Name = facts.Hostname
	}
	facts.Name = cfg.Name
	if facts.NetFaults = CheckNetFaults(cfg.Name); !facts.NetFaults.OK && len(cfg.GoCommand) > 0 {
		log.Warn("network faults (partitions) cannot be applied on this host: runs that schedule them will be refused", "reason", facts.NetFaults.Reason)
	}
	if len(cfg.GoCommand) > 0 {
		facts.Roles = append(facts.Roles, RoleServer)
		facts.Java = ProbeJava(cfg.ZKHome)
	}
	if cfg.Address != "" {
		facts.Addresses = append([]string{cfg.Address}, slices.DeleteFunc(facts.Addresses, func(s string) bool { return s == cfg.Address })...)
	}
	servers, root, err := ParseConnect(cfg.Connect)
	if err != nil {
		return err
	}
	l := Layout{Root: root}

	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	conn, err := supervise(ctx, servers, cfg.SessionTimeout, cancel, log)
	if err != nil {
		return err
	}
	defer conn.Close()
	if err := Ensure(conn, l); err != nil {
		return err
	}
	fb, _ := json.Marshal(facts)
	if _, err := conn.Create(l.Agent(cfg.Name), fb, zk.FlagEphemeral, zk.WorldACL(zk.PermAll)); err != nil {
		if errors.Is(err, zk.ErrNodeExists) {
			return fmt.Errorf("agent: an agent named %q is already registered at %s (another agent with this name, or this one's previous session, which lasts up to %v after it died): give another --name", cfg.Name, l.Agent(cfg.Name), cfg.SessionTimeout)
		}
		return fmt.Errorf("agent: register %s: %w", l.Agent(cfg.Name), err)
	}
	log.Info("registered", "name", cfg.Name, "at", l.Agent(cfg.Name), "version", cfg.Version)

	a := &agent{cfg: cfg, conn: conn, l: l, facts: facts, log: log}
	var last string
	for {
		data, _, ch, err := conn.GetW(l.Assign(cfg.Name))
		if errors.Is(err, zk.ErrNoNode) {
			var ok bool
			ok, _, ch, err = conn.ExistsW(l.Assign(cfg.Name))
			if err == nil && ok {
				continue
			}
		}
		if err != nil {
			if ctx.Err() != nil {
				return context.Cause(ctx)
			}
			return fmt.Errorf("agent: watch %s: %w", l.Assign(cfg.Name), err)
		}
		if data != nil {
			var as Assignment
			if err := json.Unmarshal(data, &as); err != nil {
				log.Warn("unreadable assignment", "err", err)
			} else if as.Run != last {
				last = as.Run
				a.carryOut(ctx, as)
			}
		}
		select {
		case <-ch:
		case <-ctx.Done():
			return context.Cause(ctx)
		}
	}
}

// supervise connects to the coordination servers and waits for a session;
// afterwards it cancels ctx with ErrSessionLost when the session expires
// or stays disconnected for a session timeout.
func supervise(ctx context.Context, servers []string, timeout time.Duration, cancel context.CancelCauseFunc, log *slog.Logger) (*zk.Conn, error) {
	conn, events, err := zk.Connect(servers, timeout, zk.WithLogger(quiet{}))
	if err != nil {
		return nil, fmt.Errorf("agent: coordination %v: %w", servers, err)
	}
	first := make(chan struct{})
	go func() {
		var lost *time.Timer
		var once sync.Once
		for ev := range events {
			if ev.Type != zk.EventSession {
				continue
			}
			switch ev.State {
			case zk.StateHasSession:
				once.Do(func() { close(first) })
				if lost != nil {
					lost.Stop()
					lost = nil
				}
			case zk.StateDisconnected:
				if lost == nil {
					lost = time.AfterFunc(timeout, func() {
						log.Error("coordination disconnected for a session timeout; stopping", "timeout", timeout)
						cancel(ErrSessionLost)
						conn.Close() // fail the report's writes at once
					})
				}
			case zk.StateExpired:
				log.Error("coordination session expired; stopping")
				cancel(ErrSessionLost)
				conn.Close()
			}
		}
	}()
	t := time.NewTimer(30 * time.Second)
	defer t.Stop()
	select {
	case <-first:
		return conn, nil
	case <-ctx.Done():
		conn.Close()
		return nil, context.Cause(ctx)
	case <-t.C:
		conn.Close()
		return nil, fmt.Errorf("agent: no session from the coordination servers %v within 30s", servers)
	}
}

// quiet discards go-zookeeper's log lines.
type quiet struct{}

func (quiet) Printf(string, ...any) {}

// HostFacts describes this host.
func HostFacts(version string) Facts {
	m := bench.MachineInfo()
	f := Facts{
		Hostname: m.Hostname,
		Cores:    m.Cores,
		Memory:   m.Memory,
		Version:  version,
		PID:      os.Getpid(),
		Roles:    []string{RoleClient},
	}
	if addrs, err := net.InterfaceAddrs(); err == nil {
		for _, a := range addrs {
			if ip, ok := a.(*net.IPNet); ok && !ip.IP.IsLoopback() && !ip.IP.IsLinkLocalUnicast() {
				f.Addresses = append(f.Addresses, ip.IP.String())
			}
		}
	}
	return f
}

type agent struct {
	cfg   Config
	conn  *zk.Conn
	l     Layout
	facts Facts
	log   *slog.Logger
}

// carryOut runs one assignment and writes its report; problems go into the
// Ready or the report, where the coordinator reads them.
func (a *agent) carryOut(ctx context.Context, as Assignment) {
	log := a.log.With("run", as.Run)
	log.Info("assignment", "role", as.Role, "sessions", as.Sessions)
	rep := &Report{Agent: a.cfg.Name, Facts: a.facts, Sessions: as.Sessions}
	readied := false
	fail := func(err error) {
		log.Warn("assignment failed", "err", err)
		rep.Error = err.Error()
		if !readied {
			a.put(a.l.Ready(as.Run, a.cfg.Name), Ready{Error: rep.Error})
		}
	}
	switch {
	case !slices.Contains(a.facts.Roles, as.Role):
		fail(fmt.Errorf("agent %s: role %q is not one this agent takes (%s)", a.cfg.Name, as.Role, strings.Join(a.facts.Roles, ", ")))
	case as.Version != a.cfg.Version:
		fail(fmt.Errorf("agent %s runs zkbench %s, the coordinator %s", a.cfg.Name, a.cfg.Version, as.Version))
	case as.Role == RoleServer:
		if err := a.runServer(ctx, as, rep, &readied, log); err != nil {
			fail(err)
		}
	default:
		err := a.runClient(ctx, as, rep, &readied, log)
		if err != nil {
			fail(err)
		}
	}
	if err := WriteReport(a.conn, a.l, as.Run, rep); err != nil {
		log.Warn("report not written", "err", err)
	}
}

// runClient drives the assignment's sessions.
func (a *agent) runClient(ctx context.Context, as Assignment, rep *Report, readied *bool, log *slog.Logger) error {
	ctx, stop := context.WithCancelCause(ctx)
	defer stop(nil)
	go a.watchRun(ctx, as.Run, stop)

	var mu sync.Mutex
	ivs := map[int64][]byte{}
	var encErr error
	var measure chan time.Time // an automatic warm-up's measured start
	opts := bench.Options{
		Spec:      as.Spec,
		Targets:   as.Targets,
		Placement: as.Placement,
		Interval:  as.Interval,
		SkipSetup: !as.Setup,
		Sessions:  as.Sessions,
		Logger:    log,
		OnInterval: func(idx int64, h *hdr.Histogram) {
			b, err := EncodeHist(h)
			mu.Lock()
			defer mu.Unlock()
			if err != nil {
				encErr = err
				return
			}
			ivs[idx] = b
		},
		Barrier: func(ctx context.Context) (time.Time, error) {
			off, unc, err := MeasureOffset(a.conn, a.l.Agent(a.cfg.Name), 5)
			if err != nil {
				return time.Time{}, err
			}
			off += a.cfg.ClockSkew
			if err := a.put(a.l.Ready(as.Run, a.cfg.Name), Ready{Offset: off, Uncertainty: unc}); err != nil {
				return time.Time{}, err
			}
			*readied = true
			var st Start
			if err := a.waitFor(ctx, a.l.Start(as.Run), &st); err != nil {
				return time.Time{}, err
			}
			if measure != nil {
				go func() {
					var m Measure
					if err := a.waitFor(ctx, a.l.Measure(as.Run), &m); err != nil {
						log.Warn("no measured start", "err", err)
						return // the driver's warm-up ends by ctx or its own bound
					}
					measure <- time.Unix(0, m.At).Add(off - a.cfg.ClockSkew)
				}()
			}
			return time.Unix(0, st.At).Add(off - a.cfg.ClockSkew), nil
		},
	}
	// An automatic warm-up is decided by the coordinator from every
	// agent's buckets; the measured part's start comes back by /measure.
	if as.Spec.WarmupMax > 0 {
		pub := &warmupPublisher{conn: a.conn, path: a.l.Warmup(as.Run, a.cfg.Name), kick: make(chan struct{}, 1), log: log}
		go pub.run(ctx)
		measure = make(chan time.Time, 1)
		opts.SharedWarmup = &bench.SharedWarmup{Publish: pub.publish, Measure: measure}
	}
	if a.cfg.TraceDir != "" {
		f, err := os.Create(filepath.Join(a.cfg.TraceDir, as.Run+"-"+a.cfg.Name+".trace"))
		if err != nil {
			return fmt.Errorf("agent %s: trace: %w", a.cfg.Name, err)
		}
		w := bufio.NewWriter(f)
		defer func() {
			w.Flush()
			f.Close()
		}()
		var tmu sync.Mutex
		opts.Trace = func(session int, op workloads.Op) {
			tmu.Lock()
			fmt.Fprintf(w, "%d %d %s %d\n", session, op.Seq, op.Type, op.Key)
			tmu.Unlock()
		}
	}
	res, err := bench.Run(ctx, opts)
	if err != nil {
		if c := context.Cause(ctx); c != nil && !errors.Is(c, context.Canceled) {
			err = fmt.Errorf("%w (%v)", err, c)
		}
		return fmt.Errorf("agent %s: %w", a.cfg.Name, err)
	}
	if c := context.Cause(ctx); c != nil {
		rep.Error = fmt.Sprintf("agent %s: load stopped early: %v", a.cfg.Name, c)
	}
	mu.Lock()
	defer mu.Unlock()
	if encErr != nil {
		return fmt.Errorf("agent %s: %w", a.cfg.Name, encErr)
	}
	rep.Result = res
	rep.Intervals = ivs
	if rep.Latency, err = EncodeHists(res.Latency); err != nil {
		return err
	}
	if rep.Service, err = EncodeHists(res.Service); err != nil {
		return err
	}
	log.Info("load done", "ops", len(ivs), "stop", res.Stop)
	return nil
}

// errAborted is the cause of a load stopped by the coordinator.
var errAborted = errors.New("the coordinator aborted the run")

// watchRun stops the load (stop) when the run's /abort appears or its
// coordinator's ephemeral node goes, until ctx ends.
func (a *agent) watchRun(ctx context.Context, run string, stop context.CancelCauseFunc) {
	abort := make(chan error, 2)
	go func() {
		if awaitNode(ctx, a.conn, a.l.Abort(run), true) == nil {
			why, _, _ := a.conn.Get(a.l.Abort(run))
			abort <- fmt.Errorf("%w: %s", errAborted, why)
		}
	}()
	go func() {
		if awaitNode(ctx, a.conn, a.l.Coordinator(run), false) == nil {
			abort <- errors.New("the coordinator is gone (its session ended)")
		}
	}()
	select {
	case err := <-abort:
		a.log.Warn("stopping the load", "run", run, "why", err)
		stop(err)
	case <-ctx.Done():
	}
}

// waitFor waits until the znode p exists (awaitNode) and decodes its JSON
// into v.
func (a *agent) waitFor(ctx context.Context, p string, v any) error {
	for {
		if err := awaitNode(ctx, a.conn, p, true); err != nil {
			return fmt.Errorf("agent: %s: %w", p, err)
		}
		data, _, err := a.conn.Get(p)
		if errors.Is(err, zk.ErrNoNode) {
			continue // deleted again in between
		}
		if err != nil {
			return fmt.Errorf("agent: %s: %w", p, err)
		}
		if err := json.Unmarshal(data, v); err != nil {
			return fmt.Errorf("agent: %s: %w", p, err)
		}
		return nil
	}
}

// warmupPublisher keeps /runs/<run>/warmup/<name> holding the agent's last
// WarmupKeep buckets of an automatic warm-up. The driver's publish does
// not block: one writer writes the latest window, skipping any it was too
// slow to write (the next holds them).
type warmupPublisher struct {
	conn *zk.Conn
	path string
	log  *slog.Logger
	kick chan struct{} // capacity 1: a newer window waits

	mu     sync.Mutex
	counts WarmupCounts
}

func (p *warmupPublisher) publish(b bench.WarmupBucket) {
	p.mu.Lock()
	p.counts.Buckets = append(p.counts.Buckets, b)
	if n := len(p.counts.Buckets); n > WarmupKeep {
		p.counts.Buckets = slices.Clone(p.counts.Buckets[n-WarmupKeep:])
	}
	p.mu.Unlock()
	select {
	case p.kick <- struct{}{}:
	default:
	}
}

// run writes the window whenever it changed, until ctx ends.
func (p *warmupPublisher) run(ctx context.Context) {
	for {
		select {
		case <-p.kick:
		case <-ctx.Done():
			return
		}
		p.mu.Lock()
		b, err := json.Marshal(p.counts)
		p.mu.Unlock()
		if err == nil {
			err = Put(p.conn, p.path, b)
		}
		if err != nil {
			p.log.Warn("warm-up counts not published", "err", err)
		}
	}
}

// put writes v as JSON at p, creating it if needed.
func (a *agent) put(p string, v any) error {
	b, err := json.Marshal(v)
	if err != nil {
		return err
	}
	return Put(a.conn, p, b)
}

// Put sets p's data, creating p when it does not exist.
func Put(conn *zk.Conn, p string, data []byte) error {
	_, err := conn.Create(p, data, 0, zk.WorldACL(zk.PermAll))
	if errors.Is(err, zk.ErrNodeExists) {
		_, err = conn.Set(p, data, -1)
	}
	if err != nil {
		return fmt.Errorf("agent: write %s: %w", p, err)
	}
	return nil
}
