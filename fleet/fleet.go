package fleet

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/go-zookeeper/zk"

	"github.com/zkbench/zkbench/agent"
	"github.com/zkbench/zkbench/bench"
	"github.com/zkbench/zkbench/results"
)

// ErrAborted wraps the reason of a run that was aborted after it started
// (a lost agent); its partial result is still returned.
var ErrAborted = errors.New("fleet: run aborted")

// Options configure a coordinator.
type Options struct {
	// Connect is the coordination ZooKeeper: host:port,...[/chroot].
	Connect string
	// Agents is how many client agents to use; Names, if not empty, names
	// them instead.
	Agents int
	Names  []string
	// Wait bounds the wait for the agents to register (default 30 s) and
	// then for them to be ready (default 30 s more).
	Wait time.Duration
	// Version is the coordinator's zkbench version (default
	// agent.Version()); agents of another version are refused.
	Version string
	// SessionTimeout is the coordinator's coordination session timeout
	// (default 4 s).
	SessionTimeout time.Duration
	// Logger receives diagnostics; nil discards them.
	Logger *slog.Logger
}

// AgentSummary is one agent's share of a run.
type AgentSummary struct {
	Name      string             `json:"name"`
	Hostname  string             `json:"hostname"`
	Addresses []string           `json:"addresses,omitempty"`
	Cores     int                `json:"cores"`
	Sessions  bench.SessionRange `json:"sessions"`
	// Skew is the agent's clock minus the coordinator's, within
	// SkewUncertainty.
	Skew            time.Duration `json:"skew_ns"`
	SkewUncertainty time.Duration `json:"skew_uncertainty_ns"`
	Ops             int64         `json:"ops"`
	Errors          int64         `json:"errors"`
	Throughput      float64       `json:"throughput"`
	P50             time.Duration `json:"p50_ns"`
	P99             time.Duration `json:"p99_ns"`
	P999            time.Duration `json:"p999_ns"`
	// Driver is what the agent's driver cost (CPU, scheduling latency).
	Driver results.Driver `json:"driver"`
	// Bottleneck says why this agent may have set the pace ("" if not).
	Bottleneck string `json:"bottleneck,omitempty"`
	Lost       bool   `json:"lost,omitempty"`
	Error      string `json:"error,omitempty"`
}

// Coordinator drives runs through agents. Its Drive has bench.Run's
// signature, so that experiment.Config.Driver can use it.
type Coordinator struct {
	opts Options

	mu      sync.Mutex
	agents  []AgentSummary
	aborted error
	exclude []string // not to be chosen by count (the server agents)
	watch   []string // also abort the run when one of these goes
	role    string   // chosen by count: only agents announcing this role
	// prefer, if set, puts the agents it accepts first when choosing by
	// count (server agents that can run Java, for a Java ensemble).
	prefer func(agent.Facts) bool
}

// Watch makes the loss of any of these agents (an ensemble's server
// agents) abort the run, as the loss of a client agent does.
func (c *Coordinator) Watch(names []string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.watch = slices.Clone(names)
}

// Exclude keeps these agents out of the ones chosen by count (an ensemble's
// server agents, when the client agents are counted).
func (c *Coordinator) Exclude(names []string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.exclude = slices.Clone(names)
}

// New returns a coordinator.
func New(o Options) (*Coordinator, error) {
	if o.Wait == 0 {
		o.Wait = 30 * time.Second
	}
	if o.Version == "" {
		o.Version = agent.Version()
	}
	if o.SessionTimeout == 0 {
		o.SessionTimeout = 4 * time.Second
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	if o.Agents < 1 && len(o.Names) == 0 {
		return nil, fmt.Errorf("fleet: no client agents asked for: want a count or names")
	}
	if len(o.Names) > 0 {
		o.Agents = len(o.Names)
	}
	if _, _, err := agent.ParseConnect(o.Connect); err != nil {
		return nil, err
	}
	return &Coordinator{opts: o}, nil
}

// Agents returns the per-agent breakdown of the last run.
func (c *Coordinator) Agents() []AgentSummary {
	c.mu.Lock()
	defer c.mu.Unlock()
	return slices.Clone(c.agents)
}

// Aborted returns why the last run was aborted after it started (wrapping
// ErrAborted), or nil.
func (c *Coordinator) Aborted() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.aborted
}

// run is one run's state.
type run struct {
	c      *Coordinator
	conn   *zk.Conn
	l      agent.Layout
	id     string
	facts  map[string]agent.Facts
	names  []string
	ranges []bench.SessionRange
	log    *slog.Logger
	lost   bool // the coordination session is lost: leave the znodes
}

// Drive runs bo's load from the agents and returns the merged result. A
// run aborted after it started (a lost agent) returns its partial result
// and a nil error; Aborted says why.
func (c *Coordinator) Drive(ctx context.Context, bo bench.Options) (*results.Result, error) {
	o := c.opts
	c.mu.Lock()
	c.agents, c.aborted = nil, nil
	c.mu.Unlock()
	servers, root, _ := agent.ParseConnect(o.Connect)
	conn, events, err := zk.Connect(servers, o.SessionTimeout, zk.WithLogger(quiet{}))
	if err != nil {
		return nil, fmt.Errorf("fleet: coordination %v: %w", servers, err)
	}
	defer conn.Close()
	if err := waitSession(ctx, events, 15*time.Second); err != nil {
		return nil, fmt.Errorf("fleet: coordination %v: %w", servers, err)
	}
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	go supervise(events, o.SessionTimeout, cancel)
	r := &run{c: c, conn: conn, l: agent.Layout{Root: root}, log: o.Logger}
	if err := agent.Ensure(conn, r.l); err != nil {
		return nil, err
	}
	if err := r.choose(ctx); err != nil {
		return nil, err
	}
	if bo.Spec.Clients < len(r.names) {
		return nil, fmt.Errorf("fleet: %d clients cannot be shared among %d agents: give at least one client per agent", bo.Spec.Clients, len(r.names))
	}
	r.ranges = Plan(bo.Spec.Clients, len(r.names))
	var rnd [3]byte
	rand.Read(rnd[:])
	r.id = time.Now().UTC().Format("20060102T150405") + "-" + hex.EncodeToString(rnd[:])
	r.log = r.log.With("run", r.id)
	defer r.cleanup()
	return r.drive(ctx, bo)
}

// Plan shares clients sessions among n agents in contiguous ranges whose
// sizes differ by at most one.
func Plan(clients, n int) []bench.SessionRange {
	out := make([]bench.SessionRange, n)
	for k := range n {
		first, end := k*clients/n, (k+1)*clients/n
		out[k] = bench.SessionRange{First: first, Count: end - first}
	}
	return out
}

// ErrCoordinationLost is the cause of a run stopped because the
// coordinator's own coordination session expired or stayed disconnected
// for a session timeout; the agents stop their load on their own.
var ErrCoordinationLost = errors.New("fleet: coordination session lost")

// supervise cancels with ErrCoordinationLost when the session expires or
// stays disconnected for timeout.
func supervise(events <-chan zk.Event, timeout time.Duration, cancel context.CancelCauseFunc) {
	var lost *time.Timer
	for ev := range events {
		if ev.Type != zk.EventSession {
			continue
		}
		switch ev.State {
		case zk.StateHasSession:
			if lost != nil {
				lost.Stop()
				lost = nil
			}
		case zk.StateDisconnected:
			if lost == nil {
				lost = time.AfterFunc(timeout, func() { cancel(ErrCoordinationLost) })
			}
		case zk.StateExpired:
			cancel(ErrCoordinationLost)
		}
	}
}

func waitSession(ctx context.Context, events <-chan zk.Event, limit time.Duration) error {
	t := time.NewTimer(limit)
	defer t.Stop()
	for {
		select {
		case ev := <-events:
			if ev.State == zk.StateHasSession {
				return nil
			}
		case <-ctx.Done():
			return ctx.Err()
		case <-t.C:
			return fmt.Errorf("no session within %v", limit)
		}
	}
}

type quiet struct{}

func (quiet) Printf(string, ...any) {}

// choose waits for the agents and checks their versions.
func (r *run) choose(ctx context.Context) error {
	o := r.c.opts
	deadline := time.Now().Add(o.Wait)
	for {
		names, _, ch, err := r.conn.ChildrenW(r.l.Agents())
		if err != nil {
			return fmt.Errorf("fleet: list agents: %w", err)
		}
		slices.Sort(names)
		r.facts = map[string]agent.Facts{}
		for _, n := range names {
			b, _, err := r.conn.Get(r.l.Agent(n))
			if err != nil {
				continue // gone meanwhile
			}
			var f agent.Facts
			if json.Unmarshal(b, &f) == nil {
				r.facts[n] = f
			}
		}
		var chosen, missing []string
		if len(o.Names) > 0 {
			for _, n := range o.Names {
				if _, ok := r.facts[n]; ok {
					chosen = append(chosen, n)
				} else {
					missing = append(missing, n)
				}
			}
		} else {
			r.c.mu.Lock()
			exclude := r.c.exclude
			r.c.mu.Unlock()
			if r.c.prefer != nil {
				names = slices.Clone(names)
				slices.SortStableFunc(names, func(a, b string) int {
					pa, pb := r.c.prefer(r.facts[a]), r.c.prefer(r.facts[b])
					switch {
					case pa && !pb:
						return -1
					case pb && !pa:
						return 1
					}
					return 0
				})
			}
			for _, n := range names {
				f, ok := r.facts[n]
				if ok && len(chosen) < o.Agents && !slices.Contains(exclude, n) && (r.c.role == "" || slices.Contains(f.Roles, r.c.role)) {
					chosen = append(chosen, n)
				}
			}
		}
		if len(missing) == 0 && len(chosen) == o.Agents {
			r.names = chosen
			break
		}
		if time.Now().After(deadline) {
			registered := "none"
			if len(names) > 0 {
				registered = strings.Join(names, ", ")
			}
			if len(o.Names) > 0 {
				return fmt.Errorf("fleet: waited %v for client agents %s under %s: missing %s (registered: %s); start them with: zkbench agent --coord %s --name NAME",
					o.Wait, strings.Join(o.Names, ", "), r.l.Agents(), strings.Join(missing, ", "), registered, o.Connect)
			}
			return fmt.Errorf("fleet: waited %v for %d client agents under %s: %d registered (%s), %d missing; start them with: zkbench agent --coord %s",
				o.Wait, o.Agents, r.l.Agents(), len(names), registered, o.Agents-len(chosen), o.Connect)
		}
		r.log.Info("waiting for agents", "want", o.Agents, "registered", names)
		t := time.NewTimer(time.Until(deadline))
		select {
		case <-ch:
		case <-t.C:
		case <-ctx.Done():
			t.Stop()
			return ctx.Err()
		}
		t.Stop()
	}
	var wrong []string
	for _, n := range r.names {
		if v := r.facts[n].Version; v != o.Version {
			wrong = append(wrong, fmt.Sprintf("agent %s (%s) runs zkbench %s", n, r.facts[n].Hostname, v))
		}
	}
	if len(wrong) > 0 {
		return fmt.Errorf("fleet: refusing agents of another version: %s; this coordinator is zkbench %s: run the same build everywhere", strings.Join(wrong, "; "), o.Version)
	}
	return nil
}

// cleanup removes the run's assignments and znodes.
func (r *run) cleanup() {
	if r.lost {
		return
	}
	for _, n := range r.names {
		r.conn.Delete(r.l.Assign(n), -1)
	}
	if r.id != "" {
		if err := agent.DeleteTree(r.conn, r.l.Run(r.id)); err != nil {
			r.log.Warn("run znodes left", "at", r.l.Run(r.id), "err", err)
		}
	}
}

func (r *run) abort(reason string) {
	if err := agent.Put(r.conn, r.l.Abort(r.id), []byte(reason)); err != nil {
		r.log.Warn("abort not written", "err", err)
	}
}

// watchLost reports every chosen agent whose /agents node goes, once.
func (r *run) watchLost(ctx context.Context) <-chan string {
	r.c.mu.Lock()
	watched := append(slices.Clone(r.names), r.c.watch...)
	r.c.mu.Unlock()
	out := make(chan string, len(watched))
	go func() {
		gone := map[string]bool{}
		for ctx.Err() == nil {
			names, _, ch, err := r.conn.ChildrenW(r.l.Agents())
			if err != nil {
				return
			}
			for _, n := range watched {
				if !gone[n] && !slices.Contains(names, n) {
					gone[n] = true
					out <- n
				}
			}
			select {
			case <-ch:
			case <-ctx.Done():
				return
			}
		}
	}()
	return out
}

// children lists p's children and a watch on them.
func (r *run) children(p string) ([]string, <-chan zk.Event, error) {
	names, _, ch, err := r.conn.ChildrenW(p)
	if err != nil {
		return nil, nil, fmt.Errorf("fleet: list %s: %w", p, err)
	}
	return names, ch, nil
}

func (r *run) drive(ctx context.Context, bo bench.Options) (*results.Result, error) {
	o := r.c.opts
	interval := bo.Interval
	if interval == 0 {
		interval = 100 * time.Millisecond
	}
	plan, _ := json.Marshal(agent.Plan{Run: r.id, Version: o.Version, Agents: r.names, Ranges: r.ranges})
	if err := agent.Put(r.conn, r.l.Run(r.id), plan); err != nil {
		return nil, err
	}
	if err := agent.EnsureRun(r.conn, r.l, r.id); err != nil {
		return nil, err
	}
	if _, err := r.conn.Create(r.l.Coordinator(r.id), nil, zk.FlagEphemeral, zk.WorldACL(zk.PermAll)); err != nil {
		return nil, fmt.Errorf("fleet: %w", err)
	}
	watchCtx, stopWatch := context.WithCancel(ctx)
	defer stopWatch()
	lost := r.watchLost(watchCtx)
	summaries := make([]AgentSummary, len(r.names))
	for k, n := range r.names {
		f := r.facts[n]
		summaries[k] = AgentSummary{Name: n, Hostname: f.Hostname, Addresses: f.Addresses, Cores: f.Cores, Sessions: r.ranges[k]}
		as := agent.Assignment{
			Run: r.id, Role: agent.RoleClient, Version: o.Version,
			Spec: bo.Spec, Sessions: r.ranges[k], Targets: bo.Targets,
			Placement: bo.Placement, Interval: interval, Setup: k == 0,
		}
		b, _ := json.Marshal(as)
		if err := agent.Put(r.conn, r.l.Assign(n), b); err != nil {
			return nil, err
		}
	}
	r.log.Info("assigned", "agents", r.names, "ranges", r.ranges)

	// The barrier: every agent ready.
	ready := map[string]agent.Ready{}
	deadline := time.NewTimer(o.Wait + 30*time.Second)
	defer deadline.Stop()
	for len(ready) < len(r.names) {
		names, ch, err := r.children(r.l.ReadyDir(r.id))
		if err != nil {
			return nil, err
		}
		var failed []string
		for _, n := range names {
			if _, ok := ready[n]; ok || !slices.Contains(r.names, n) {
				continue
			}
			b, _, err := r.conn.Get(r.l.Ready(r.id, n))
			if err != nil {
				continue
			}
			var rd agent.Ready
			if err := json.Unmarshal(b, &rd); err != nil {
				rd.Error = fmt.Sprintf("unreadable ready: %v", err)
			}
			if rd.Error != "" {
				failed = append(failed, rd.Error)
			}
			ready[n] = rd
		}
		if len(failed) > 0 {
			r.abort("an agent could not get ready")
			return nil, fmt.Errorf("fleet: %s", strings.Join(failed, "; "))
		}
		if len(ready) == len(r.names) {
			break
		}
		select {
		case <-ch:
		case n := <-lost:
			r.abort("agent " + n + " lost before the start")
			return nil, fmt.Errorf("fleet: agent %s lost its coordination session before the start", n)
		case <-deadline.C:
			var missing []string
			for _, n := range r.names {
				if _, ok := ready[n]; !ok {
					missing = append(missing, n)
				}
			}
			r.abort("not every agent got ready")
			return nil, fmt.Errorf("fleet: agents %s not ready after %v (sessions not established?)", strings.Join(missing, ", "), o.Wait+30*time.Second)
		case <-ctx.Done():
			if err := context.Cause(ctx); errors.Is(err, ErrCoordinationLost) {
				return nil, err
			}
			r.abort("cancelled")
			return nil, ctx.Err()
		}
	}

	// Clocks.
	off, unc, err := agent.MeasureOffset(r.conn, r.l.Run(r.id), 5)
	if err != nil {
		r.abort("clock measurement failed")
		return nil, err
	}
	limit := interval / 10
	var skewed []string
	for k, n := range r.names {
		rd := ready[n]
		summaries[k].Skew = rd.Offset - off
		summaries[k].SkewUncertainty = rd.Uncertainty + unc
		if s := summaries[k].Skew; s > limit || s < -limit {
			skewed = append(skewed, fmt.Sprintf("agent %s's clock is %v off this coordinator's (±%v)", n, s.Round(10*time.Microsecond), summaries[k].SkewUncertainty.Round(10*time.Microsecond)))
		}
	}
	if len(skewed) > 0 {
		r.abort("clock skew")
		return nil, fmt.Errorf("fleet: %s: more than a tenth of the %v interval (%v); synchronise the clocks (NTP, chrony)", strings.Join(skewed, "; "), interval, limit)
	}

	// Start.
	localStart := time.Now().Add(500 * time.Millisecond)
	st, _ := json.Marshal(agent.Start{At: localStart.Add(-off).UnixNano()})
	if err := agent.Put(r.conn, r.l.Start(r.id), st); err != nil {
		r.abort("start not written")
		return nil, err
	}
	mStart := localStart.Add(bo.Spec.Warmup)
	auto := bo.Spec.WarmupMax > 0
	// An automatic warm-up is decided meanwhile, from the agents' counts.
	var decided chan warmupDecision
	var wu *results.Warmup
	if auto {
		decided = make(chan warmupDecision, 1)
		decideCtx, stopDeciding := context.WithCancel(ctx)
		defer stopDeciding()
		go func() {
			var d warmupDecision
			d.start, d.w, d.err = r.decideWarmup(decideCtx, bo.Spec, localStart, off, interval)
			decided <- d
		}()
		// Until it is decided, the latest start the agents allow.
		mStart = localStart.Add(bo.Spec.WarmupMax + 30*time.Second)
		r.log.Info("started", "warmup_at", localStart, "measure", "when steady", "at_most", bo.Spec.WarmupMax)
	} else {
		r.log.Info("started", "warmup_at", localStart, "measure_at", mStart)
		if bo.OnMeasure != nil {
			bo.OnMeasure(mStart)
		}
	}

	// Reports.
	var evs []results.Event
	var arrived []time.Time // each event's arrival, stamped once mStart is known
	reports := map[string]*agent.Report{}
	var lostNames []string
	var abortReason string
	// Marks (faults) are taken once the agents' warm-up starts, as bench
	// takes them: a fault schedule counts from its first mark.
	var evc <-chan results.Event
	warm := time.NewTimer(time.Until(localStart))
	defer warm.Stop()
	end := time.NewTimer(time.Until(mStart.Add(bo.Spec.Duration + 45*time.Second)))
	defer end.Stop()
	for len(reports)+len(lostNames) < len(r.names) {
		names, ch, err := r.children(r.l.Reports(r.id))
		if err != nil {
			return nil, err
		}
		for _, n := range names {
			if _, ok := reports[n]; ok || !slices.Contains(r.names, n) || slices.Contains(lostNames, n) {
				continue
			}
			rep, err := agent.ReadReport(r.conn, r.l, r.id, n)
			if err == nil {
				err = Restore(rep)
			}
			if err != nil {
				rep = &agent.Report{Agent: n, Error: err.Error()}
			}
			reports[n] = rep
			if decided != nil && rep.Result == nil && abortReason == "" {
				// The warm-up is judged on every agent's counts: it
				// cannot end without this one's.
				abortReason = "agent " + n + " failed during the warm-up: " + rep.Error
				r.abort(abortReason)
			}
		}
		if len(reports)+len(lostNames) == len(r.names) {
			break
		}
		select {
		case <-ch:
		case <-warm.C:
			evc = bo.Events
		case d := <-decided:
			decided = nil
			if d.err != nil {
				if abortReason == "" {
					abortReason = "the warm-up was not decided: " + d.err.Error()
					r.abort(abortReason)
				}
				continue
			}
			mStart, wu = d.start, d.w
			end.Reset(time.Until(mStart.Add(bo.Spec.Duration + 45*time.Second)))
			if bo.OnMeasure != nil {
				bo.OnMeasure(mStart)
			}
		case ev, ok := <-evc:
			if !ok {
				evc = nil
				continue
			}
			evs, arrived = append(evs, ev), append(arrived, time.Now())
		case n := <-lost:
			if _, ok := reports[n]; ok {
				continue // it finished before it went
			}
			what := "agent"
			if slices.Contains(r.names, n) {
				lostNames = append(lostNames, n)
			} else {
				what = "server agent" // it hosted a server of the ensemble
			}
			f := r.facts[n]
			detail := fmt.Sprintf("%s %s (%s) lost its coordination session; the run is aborted", what, n, f.Hostname)
			evs, arrived = append(evs, results.Event{Name: "agent-lost", Detail: detail}), append(arrived, time.Now())
			r.log.Warn(detail)
			if abortReason == "" {
				abortReason = detail
				r.abort(detail)
			}
		case <-end.C:
			var missing []string
			for _, n := range r.names {
				if _, ok := reports[n]; !ok && !slices.Contains(lostNames, n) {
					missing = append(missing, n)
					lostNames = append(lostNames, n)
				}
			}
			abortReason = "no report from " + strings.Join(missing, ", ") + " in time"
			r.abort(abortReason)
		case <-ctx.Done():
			if err := context.Cause(ctx); errors.Is(err, ErrCoordinationLost) {
				r.lost = true
				return nil, fmt.Errorf("%w: the agents stop their load on their own; no result", err)
			}
			if abortReason == "" {
				abortReason = "cancelled"
				r.abort("the coordinator was cancelled")
			}
			// Give the agents their drain time to report.
			end.Reset(10 * time.Second)
			ctx = context.Background()
		}
	}

	for i := range evs {
		evs[i].At = arrived[i].Sub(mStart)
	}
	var reps []*agent.Report
	for k, n := range r.names {
		if slices.Contains(lostNames, n) {
			summaries[k].Lost = true
			summaries[k].Error = "lost"
			continue
		}
		rep := reports[n]
		summaries[k].Error = rep.Error
		if rep.Result == nil {
			if abortReason == "" {
				abortReason = "agent " + n + " failed: " + rep.Error
				r.abort(abortReason)
			}
			continue
		}
		reps = append(reps, rep)
		summarize(&summaries[k], rep.Result)
	}
	r.c.mu.Lock()
	r.c.agents = summaries
	if abortReason != "" {
		r.c.aborted = fmt.Errorf("%w: %s", ErrAborted, abortReason)
	}
	r.c.mu.Unlock()
	if len(reps) == 0 {
		return nil, fmt.Errorf("fleet: no agent reported a result: %s", abortReason)
	}
	res, err := Merge(reps, Meta{Start: mStart, Warmup: wu, Interval: interval, LogInterval: bo.LogInterval, Ensemble: bo.Ensemble, Revision: bo.Revision})
	if err != nil {
		return nil, err
	}
	res.Events = append(res.Events, evs...)
	slices.SortStableFunc(res.Events, func(a, b results.Event) int { return int(a.At - b.At) })
	if abortReason != "" {
		res.Stop = results.StopCancelled
		res.Warnings = append(res.Warnings, "run aborted: "+abortReason+"; the result holds what the remaining agents measured")
	}
	return res, nil
}

// warmupDecision is the outcome of decideWarmup.
type warmupDecision struct {
	start time.Time
	w     *results.Warmup
	err   error
}

// summarize fills an agent's numbers from its slice.
func summarize(s *AgentSummary, r *results.Result) {
	sum := results.Summarize(r)
	s.Ops = sum.Ops
	s.Errors = sum.Errors
	if r.Measured > 0 {
		s.Throughput = float64(sum.Ops) / r.Measured.Seconds()
	}
	s.P50, s.P99, s.P999 = sum.All.P50, sum.All.P99, sum.All.P999
	s.Driver = r.Driver
	if len(r.Warnings) > 0 {
		s.Bottleneck = strings.Join(r.Warnings, "; ")
	}
}
