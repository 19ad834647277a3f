package experiment

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"sort"
	"strconv"
	"sync"
	"time"

	"github.com/zkbench/zkbench/bench"
	"github.com/zkbench/zkbench/harness"
	"github.com/zkbench/zkbench/harness/netproxy"
	"github.com/zkbench/zkbench/results"
	"github.com/zkbench/zkbench/workloads"
)

// ErrInvalid wraps every problem with a Config found before anything starts.
var ErrInvalid = errors.New("experiment: invalid configuration")

// Config is one run: which ensemble, which load, which faults.
type Config struct {
	// Spec is the workload.
	Spec workloads.Spec
	// TLS, if set, is the run's certificates: Harness.ExtraConfig
	// carries the servers' TLS settings (harness.TLS), the driver's
	// clients connect over TLS with its client certificate, and the
	// result's ensemble config records tls.
	TLS *harness.TLS
	// SASL, if set, is the run's SASL setup: Harness.ExtraConfig and
	// Harness.JVMFlags carry the servers' (harness.SASL), every driver
	// session logs in with DIGEST-MD5 as its user, and the result's
	// ensemble config records sasl.
	SASL *harness.SASL
	// Run removes TLS.Dir and SASL.Dir when it returns: they hold one
	// run's keys and passwords.
	// Harness describes the ensemble (implementation, size, command, ...).
	Harness harness.Options
	// Schedule is the fault schedule; no steps means no faults. Its times
	// count from the start of the measured part.
	Schedule harness.Schedule
	// Placement is bench.RoundRobin or bench.Followers; empty chooses
	// Followers when the leader takes no clients (Harness.LeaderServes
	// false, more than one server) and RoundRobin otherwise.
	Placement string
	// PeerDelay, if positive, is added to the leader's peer traffic in
	// both directions (harness Delay; needs Harness.PeerProxy) once the
	// ensemble serves, so that every quorum round trip gains twice it: an
	// injected slowdown of writes.
	PeerDelay time.Duration
	// ClientProxy routes every client connection through a loopback proxy
	// (harness/netproxy); ClientDelay, if positive, makes the proxy hold
	// every request that long before passing it on (implies ClientProxy):
	// an injected slowdown of every operation, on any implementation. A
	// baseline for a delayed run should use the proxy too, so that the
	// delay is the only difference.
	ClientProxy bool
	ClientDelay time.Duration
	// Interval is the time-series resolution (bench's default when zero).
	Interval time.Duration
	// Progress and TTY are handed to bench for the live progress line.
	Progress io.Writer
	TTY      bool
	// Logger receives diagnostics from the harness, bench and Run itself;
	// nil discards them.
	Logger *slog.Logger
	// Check is the history check of the load (bench.Options.Check): the
	// verdict lands in the result's Safety.
	Check bench.CheckOptions
	// Driver applies the load; nil means bench.Run, in this process.
	// fleet.Coordinator.Drive drives it from agents on other machines.
	Driver func(context.Context, bench.Options) (*results.Result, error)
}

// Validate checks what can be checked before anything starts.
func (c Config) Validate() error {
	if err := c.Spec.Validate(); err != nil {
		return fmt.Errorf("%w: %w", ErrInvalid, err)
	}
	switch c.Harness.Impl {
	case harness.ImplGo, harness.ImplMixed:
		if len(c.Harness.GoCommand) == 0 {
			return fmt.Errorf("%w: the go implementation needs a server command", ErrInvalid)
		}
	case harness.ImplJava:
	case harness.ImplExternal:
		if c.Harness.Connect == "" {
			return fmt.Errorf("%w: the external implementation needs a connection string (host:port,...)", ErrInvalid)
		}
	default:
		return fmt.Errorf("%w: implementation %q: want go, java, mixed or external", ErrInvalid, c.Harness.Impl)
	}
	if c.Harness.Impl != harness.ImplExternal && c.Harness.Servers < 1 {
		return fmt.Errorf("%w: %d servers: want at least 1", ErrInvalid, c.Harness.Servers)
	}
	if c.PeerDelay > 0 && !c.Harness.PeerProxy {
		return fmt.Errorf("%w: a peer delay needs the peer proxies (Harness.PeerProxy)", ErrInvalid)
	}
	if len(c.Schedule.Steps) > 0 {
		n := c.Harness.Servers
		if err := c.Schedule.Validate(n); err != nil {
			return fmt.Errorf("%w: fault schedule %q: %w", ErrInvalid, c.Schedule.Name, err)
		}
		if last := c.Schedule.Duration(); last >= c.Spec.Duration {
			return fmt.Errorf("%w: fault schedule %q ends at %v, after the %v run: lengthen the run", ErrInvalid, c.Schedule.Name, last, c.Spec.Duration)
		}
	}
	return nil
}

// removeSecrets removes the run's certificates and JAAS file.
func (c Config) removeSecrets() {
	if c.TLS != nil && c.TLS.Dir != "" {
		os.RemoveAll(c.TLS.Dir)
	}
	if c.SASL != nil && c.SASL.Dir != "" {
		os.RemoveAll(c.SASL.Dir)
	}
}

// Run performs one run and returns its result. The ensemble is closed before
// Run returns.
func Run(ctx context.Context, c Config) (*results.Result, error) {
	defer c.removeSecrets()
	if err := c.Validate(); err != nil {
		return nil, err
	}
	log := c.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	ho := c.Harness
	if ho.Logger == nil {
		ho.Logger = log
	}
	ens, closeEns, err := StartEnsemble(ctx, ho)
	if err != nil {
		return nil, err
	}
	defer closeEns()
	if c.PeerDelay > 0 {
		id, ok := ens.Leader()
		if !ok {
			return nil, fmt.Errorf("experiment: peer delay: the ensemble has no leader")
		}
		if err := ens.Delay(id, c.PeerDelay); err != nil {
			return nil, fmt.Errorf("experiment: peer delay on server %d: %w", id, err)
		}
	}
	return Load(ctx, ens, c)
}

// StartEnsemble starts an ensemble for runs and waits (up to 15 s) until
// every member serves, not just a quorum. Cancelling ctx interrupts the
// start; once the ensemble serves, ctx no longer reaches it, so that a
// cancelled load can drain its requests before the caller's Close kills
// the servers. The returned function closes the ensemble.
func StartEnsemble(ctx context.Context, ho harness.Options) (*harness.Ensemble, func(), error) {
	ensCtx, cancelEns := context.WithCancel(context.WithoutCancel(ctx))
	stopPropagating := context.AfterFunc(ctx, cancelEns)
	ens, err := harness.Start(ensCtx, ho)
	stopPropagating()
	if err != nil {
		cancelEns()
		return nil, nil, fmt.Errorf("experiment: start %s ensemble of %d: %w", ho.Impl, ho.Servers, err)
	}
	closeEns := func() {
		ens.Close()
		cancelEns()
	}
	if err := waitAllServing(ctx, ens, 15*time.Second); err != nil && ho.Logger != nil {
		ho.Logger.Warn("not every server serves; starting anyway", "err", err)
	}
	return ens, closeEns, nil
}

// Load applies c's load and schedule to a running ensemble (Run without
// starting or closing it), so that a sweep can reuse one ensemble for several
// read percentages.
func Load(ctx context.Context, ens *harness.Ensemble, c Config) (*results.Result, error) {
	if err := c.Spec.Validate(); err != nil {
		return nil, fmt.Errorf("%w: %w", ErrInvalid, err)
	}
	if c.TLS != nil && c.Driver != nil {
		// Another driver (the agents') would connect in plaintext to
		// ports that take both, and the result would say TLS.
		return nil, fmt.Errorf("%w: a TLS run's load is driven from this machine only", ErrInvalid)
	}
	if c.SASL != nil && c.Driver != nil {
		return nil, fmt.Errorf("%w: a SASL run's load is driven from this machine only", ErrInvalid)
	}
	log := c.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	targets := Targets(ens)
	if c.ClientProxy || c.ClientDelay > 0 {
		closeProxies, err := proxyTargets(targets, c.ClientDelay)
		if err != nil {
			return nil, err
		}
		defer closeProxies()
	}
	placement := c.Placement
	if placement == "" {
		placement = bench.RoundRobin
		if !c.Harness.LeaderServes && len(targets) > 1 && ens.Impl() != harness.ImplExternal {
			placement = bench.Followers
		}
	}
	ensemble := results.Ensemble{
		Implementation: ens.Impl(),
		Size:           len(targets),
		Version:        ServerVersion(c.Harness),
		Launch:         harness.LaunchMethod,
		Config:         map[string]string{"leaderServes": yesNo(c.Harness.LeaderServes || len(targets) == 1)},
	}
	if ens.Impl() == harness.ImplExternal {
		ensemble.Launch = "external"
		delete(ensemble.Config, "leaderServes")
	}
	if ens.Impl() == harness.ImplMixed {
		ensemble.Placement = map[int64]string{}
		for id, impl := range ens.Placement() {
			ensemble.Placement[int64(id)] = impl
		}
	}
	var clientTLS *tls.Config
	if c.TLS != nil {
		clientTLS = c.TLS.ClientConfig()
		ensemble.Config["tls"] = "clients"
		if len(targets) > 1 {
			ensemble.Config["tls"] = "clients+quorum"
		}
	}
	var login *bench.SASLLogin
	if c.SASL != nil {
		login = &bench.SASLLogin{User: c.SASL.User, Password: c.SASL.Password}
		ensemble.Config["sasl"] = "clients"
		if len(targets) > 1 {
			ensemble.Config["sasl"] = "clients+quorum"
		}
	}

	// The events channel is unbuffered: bench starts reading it when the
	// warm-up starts, so the first send (the "load" mark) tells us when
	// that is, and the schedule starts a warm-up later, with the measured
	// part. The schedule's own events are stamped from the harness's
	// clock readings afterwards, not when bench would receive them.
	events := make(chan results.Event)
	// An automatic warm-up (Spec.WarmupMax) ends when bench says; the
	// schedule then starts with the measured part.
	measureAt := make(chan time.Time, 1)
	schedCtx, stopSched := context.WithCancel(ctx)
	var wg sync.WaitGroup
	var schedErr error
	var played *playLog
	if len(c.Schedule.Steps) > 0 {
		played = &playLog{last: map[int]harness.Event{}}
		wg.Go(func() {
			schedErr = play(schedCtx, ens, c, events, measureAt, played, log)
		})
	}
	drive := c.Driver
	if drive == nil {
		drive = bench.Run
	}
	loadStart := time.Now()
	res, err := drive(ctx, bench.Options{
		Spec:      c.Spec,
		Targets:   targets,
		Placement: placement,
		Interval:  c.Interval,
		Ensemble:  ensemble,
		Events:    events,
		Progress:  c.Progress,
		TTY:       c.TTY,
		Logger:    log,
		Check:     c.Check,
		TLS:       clientTLS,
		SASL:      login,
		OnMeasure: func(at time.Time) {
			select {
			case measureAt <- at:
			default:
			}
		},
	})
	stopSched()
	wg.Wait()
	if err != nil {
		return nil, fmt.Errorf("experiment: %s ensemble of %d: %w", ens.Impl(), len(targets), err)
	}
	res.Servers = ServerRecord(ens, loadStart, res.Start)
	for _, p := range res.Servers.Problems {
		res.Warnings = append(res.Warnings, p.String())
	}
	if schedErr != nil && !errors.Is(schedErr, context.Canceled) {
		res.Warnings = append(res.Warnings, fmt.Sprintf("fault schedule: %v", schedErr))
	}
	if played != nil {
		res.Events = append(res.Events, played.events(res.Start)...)
		sort.SliceStable(res.Events, func(i, j int) bool { return res.Events[i].At < res.Events[j].At })
	}
	if len(c.Schedule.Steps) > 0 {
		res.Ensemble.Config["faults"] = c.Schedule.Name
	}
	if c.Harness.PeerProxy {
		res.Ensemble.Config["peer_proxy"] = "yes"
	}
	if c.PeerDelay > 0 {
		res.Ensemble.Config["peer_delay"] = c.PeerDelay.String()
	}
	if c.ClientProxy || c.ClientDelay > 0 {
		res.Ensemble.Config["client_proxy"] = "yes"
	}
	if c.ClientDelay > 0 {
		res.Ensemble.Config["client_delay"] = c.ClientDelay.String()
	}
	// Roles as they were at the end; the time line has the changes.
	byID := map[int64]string{}
	for _, m := range ens.Members() {
		byID[int64(m.ID)] = string(m.Role)
	}
	for i, m := range res.Ensemble.Members {
		if r, ok := byID[m.ID]; ok && m.Role == "" {
			res.Ensemble.Members[i].Role = r
		}
	}
	if n := ens.ServerCPUs(); n > 0 {
		res.Ensemble.Config["server_cpus"] = strconv.Itoa(n)
	}
	for _, st := range ens.Stats() {
		if st.CPUSeconds > 0 {
			res.Ensemble.Config[fmt.Sprintf("server.%d.cpu_seconds", st.ID)] = fmt.Sprintf("%.2f", st.CPUSeconds)
		}
	}
	return res, nil
}

// playLog keeps the latest report of every schedule step.
type playLog struct {
	mu   sync.Mutex
	last map[int]harness.Event
}

func (l *playLog) events(start time.Time) []results.Event {
	l.mu.Lock()
	defer l.mu.Unlock()
	var out []results.Event
	for _, ev := range l.last {
		out = append(out, ResultEvents(ev, start)...)
	}
	return out
}

// play waits for the warm-up to end and plays the schedule: a fixed
// warm-up after the "load" mark, an automatic one when measureAt says.
func play(ctx context.Context, ens *harness.Ensemble, c Config, events chan<- results.Event, measureAt <-chan time.Time, l *playLog, log *slog.Logger) error {
	select {
	case events <- results.Event{Name: "load", Detail: "warm-up starts; fault schedule " + c.Schedule.Name + " follows it"}:
	case <-ctx.Done():
		return ctx.Err()
	}
	if c.Spec.WarmupMax > 0 {
		select {
		case at := <-measureAt:
			if err := sleepUntil(ctx, at); err != nil {
				return err
			}
		case <-ctx.Done():
			return ctx.Err()
		}
	} else if err := sleepUntil(ctx, time.Now().Add(c.Spec.Warmup)); err != nil {
		return err
	}
	_, err := ens.RunSchedule(ctx, c.Schedule, func(ev harness.Event) {
		log.Info("fault", "event", ev.String())
		l.mu.Lock()
		l.last[ev.Seq] = ev
		l.mu.Unlock()
	})
	return err
}

// ResultEvents turns the last report of one schedule step into time-line
// marks relative to start: the fault (or its skipping), and, when measured,
// the election of a new leader and the recovery.
func ResultEvents(ev harness.Event, start time.Time) []results.Event {
	prefix := ""
	if ev.Step.Note != "" {
		prefix = ev.Step.Note + ": "
	}
	act := string(ev.Step.Action)
	at := ev.Time.Sub(start)
	if ev.Skipped {
		return []results.Event{{At: at, Name: "skipped", Detail: fmt.Sprintf("%s%s %s skipped: %s", prefix, act, ev.Step.Target, ev.Reason)}}
	}
	d := fmt.Sprintf("%s%s server %d", prefix, act, ev.ID)
	if ev.Role != "" {
		d += " (" + string(ev.Role) + ")"
	}
	if ev.Err != "" {
		d += ": " + ev.Err
	}
	if rep := ev.Replaced; rep != nil {
		d = fmt.Sprintf("%sreplace server %d %s->%s", prefix, ev.ID, rep.From, rep.To)
		if ev.Role != "" {
			d += " (" + string(ev.Role) + ")"
		}
		if ev.Err != "" {
			d += ": " + ev.Err
		}
	}
	out := []results.Event{{At: at, Name: act, Detail: d}}
	if ev.Pending {
		return out
	}
	if rep := ev.Replaced; rep != nil {
		// Election and recovery count from the old process's exit.
		stopped := at + rep.Stopped
		if rep.Serving > 0 {
			out = append(out, results.Event{At: at + rep.Serving, Name: "serving", Detail: fmt.Sprintf("%sserver %d serves as %s %v after the step began (old process gone after %v), caught up to zxid %#x; placement %s",
				prefix, ev.ID, rep.To, rep.Serving.Round(time.Millisecond), rep.Stopped.Round(time.Millisecond), rep.Zxid, harness.FormatPlacement(rep.Placement))})
		}
		if ev.Elected {
			out = append(out, results.Event{At: stopped + ev.Election, Name: "elected", Detail: fmt.Sprintf("%sserver %d leads %v after the old leader's exit", prefix, ev.NewLeader, ev.Election.Round(time.Millisecond))})
		}
		if ev.Recovered {
			out = append(out, results.Event{At: stopped + ev.Recovery, Name: "recovered", Detail: fmt.Sprintf("%swrites served %v after server %d's old process exited", prefix, ev.Recovery.Round(time.Millisecond), ev.ID)})
		}
		return out
	}
	if ev.Elected {
		out = append(out, results.Event{At: at + ev.Election, Name: "elected", Detail: fmt.Sprintf("%sserver %d leads after %v", prefix, ev.NewLeader, ev.Election.Round(time.Millisecond))})
	}
	if ev.Recovered {
		if f, ok := harness.FaultByName(act); ok && f.Repairs() {
			out = append(out, results.Event{At: at + ev.Recovery, Name: "serving", Detail: fmt.Sprintf("%sserver %d serves again after %v", prefix, ev.ID, ev.Recovery.Round(time.Millisecond))})
		} else {
			out = append(out, results.Event{At: at + ev.Recovery, Name: "recovered", Detail: fmt.Sprintf("%swrites served again after %v", prefix, ev.Recovery.Round(time.Millisecond))})
		}
	}
	return out
}

// Targets lists the ensemble's members for the load driver, with their
// roles when they serve (a member not serving has an unknown role).
func Targets(ens *harness.Ensemble) []bench.Target {
	var ts []bench.Target
	for _, m := range ens.Members() {
		t := bench.Target{Addr: m.ClientAddr, ID: int64(m.ID)}
		if m.Role.Serving() {
			t.Role = string(m.Role)
		}
		ts = append(ts, t)
	}
	return ts
}

// proxyTargets points every target at a new loopback proxy to it, which
// delays client-to-server traffic by delay, and returns a function that
// closes the proxies.
func proxyTargets(targets []bench.Target, delay time.Duration) (func(), error) {
	var proxies []*netproxy.Proxy
	closeAll := func() {
		for _, p := range proxies {
			p.Close()
		}
	}
	for i, t := range targets {
		p, err := netproxy.Listen("127.0.0.1:0", t.Addr)
		if err != nil {
			closeAll()
			return nil, fmt.Errorf("experiment: client proxy to %s: %w", t.Addr, err)
		}
		p.SetDelay(netproxy.Forward, delay)
		proxies = append(proxies, p)
		targets[i].Addr = p.Addr()
	}
	return closeAll, nil
}

// waitAllServing waits until every member reports a serving role: Start
// returns once a quorum serves, but the driver places clients on every
// member (or every follower), so a member still syncing would take none.
func waitAllServing(ctx context.Context, ens *harness.Ensemble, limit time.Duration) error {
	deadline := time.Now().Add(limit)
	for {
		var waiting []string
		for _, m := range ens.Members() {
			if !m.Role.Serving() {
				waiting = append(waiting, fmt.Sprintf("server %d (%s)", m.ID, m.Role))
			}
		}
		if len(waiting) == 0 {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("experiment: after %v, not serving: %v", limit, waiting)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(50 * time.Millisecond):
		}
	}
}

func yesNo(b bool) string {
	if b {
		return "yes"
	}
	return "no"
}

// sleepUntil waits until t or ctx's end.
func sleepUntil(ctx context.Context, t time.Time) error {
	tm := time.NewTimer(time.Until(t))
	defer tm.Stop()
	select {
	case <-tm.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}
