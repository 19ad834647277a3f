package experiment

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"sync"
	"time"

	"github.com/zkbench/zkbench/bench"
	"github.com/zkbench/zkbench/harness"
	"github.com/zkbench/zkbench/results"
	"github.com/zkbench/zkbench/workloads"
)

// ErrInvalid wraps every problem with a Config found before anything starts.
var ErrInvalid = errors.New("experiment: invalid configuration")

// Config is one run: which ensemble, which load, which faults.
type Config struct {
	// Spec is the workload.
	Spec workloads.Spec
	// Harness describes the ensemble (implementation, size, command, ...).
	Harness harness.Options
	// Schedule is the fault schedule; no steps means no faults. Its times
	// count from the start of the measured part.
	Schedule harness.Schedule
	// Placement is bench.RoundRobin or bench.Followers; empty chooses
	// Followers when the leader takes no clients (Harness.LeaderServes
	// false, more than one server) and RoundRobin otherwise.
	Placement string
	// Interval is the time-series resolution (bench's default when zero).
	Interval time.Duration
	// Progress and TTY are handed to bench for the live progress line.
	Progress io.Writer
	TTY      bool
	// Logger receives diagnostics from the harness, bench and Run itself;
	// nil discards them.
	Logger *slog.Logger
}

// Validate checks what can be checked before anything starts.
func (c Config) Validate() error {
	if err := c.Spec.Validate(); err != nil {
		return fmt.Errorf("%w: %w", ErrInvalid, err)
	}
	switch c.Harness.Impl {
	case harness.ImplGo:
		if len(c.Harness.GoCommand) == 0 {
			return fmt.Errorf("%w: the go implementation needs a server command", ErrInvalid)
		}
	case harness.ImplJava:
	case harness.ImplExternal:
		if c.Harness.Connect == "" {
			return fmt.Errorf("%w: the external implementation needs a connection string (host:port,...)", ErrInvalid)
		}
	default:
		return fmt.Errorf("%w: implementation %q: want go, java or external", ErrInvalid, c.Harness.Impl)
	}
	if c.Harness.Impl != harness.ImplExternal && c.Harness.Servers < 1 {
		return fmt.Errorf("%w: %d servers: want at least 1", ErrInvalid, c.Harness.Servers)
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

// Run performs one run and returns its result. The ensemble is closed before
// Run returns.
func Run(ctx context.Context, c Config) (*results.Result, error) {
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
	ens, err := harness.Start(ctx, ho)
	if err != nil {
		return nil, fmt.Errorf("experiment: start %s ensemble of %d: %w", ho.Impl, ho.Servers, err)
	}
	defer ens.Close()
	return Load(ctx, ens, c)
}

// Load applies c's load and schedule to a running ensemble (Run without
// starting or closing it), so that a sweep can reuse one ensemble for several
// read percentages.
func Load(ctx context.Context, ens *harness.Ensemble, c Config) (*results.Result, error) {
	if err := c.Spec.Validate(); err != nil {
		return nil, fmt.Errorf("%w: %w", ErrInvalid, err)
	}
	log := c.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	targets := Targets(ens)
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
		Launch:         harness.LaunchMethod,
		Config:         map[string]string{"leaderServes": yesNo(c.Harness.LeaderServes || len(targets) == 1)},
	}
	if ens.Impl() == harness.ImplExternal {
		ensemble.Launch = "external"
		delete(ensemble.Config, "leaderServes")
	}

	// The events channel is unbuffered: bench starts reading it when the
	// warm-up starts, so the first send (the "load" mark) tells us when
	// that is, and the schedule starts a warm-up later, with the measured
	// part.
	events := make(chan results.Event)
	schedCtx, stopSched := context.WithCancel(ctx)
	var wg sync.WaitGroup
	var schedErr error
	if len(c.Schedule.Steps) > 0 {
		wg.Go(func() {
			schedErr = play(schedCtx, ens, c, events, log)
		})
	}
	res, err := bench.Run(ctx, bench.Options{
		Spec:      c.Spec,
		Targets:   targets,
		Placement: placement,
		Interval:  c.Interval,
		Ensemble:  ensemble,
		Events:    events,
		Progress:  c.Progress,
		TTY:       c.TTY,
		Logger:    log,
	})
	stopSched()
	wg.Wait()
	if err != nil {
		return nil, fmt.Errorf("experiment: %s ensemble of %d: %w", ens.Impl(), len(targets), err)
	}
	if schedErr != nil && !errors.Is(schedErr, context.Canceled) {
		res.Warnings = append(res.Warnings, fmt.Sprintf("fault schedule: %v", schedErr))
	}
	if len(c.Schedule.Steps) > 0 {
		res.Ensemble.Config["faults"] = c.Schedule.Name
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
	for _, st := range ens.Stats() {
		if st.CPUSeconds > 0 {
			res.Ensemble.Config[fmt.Sprintf("server.%d.cpu_seconds", st.ID)] = fmt.Sprintf("%.2f", st.CPUSeconds)
		}
	}
	return res, nil
}

// play waits for the warm-up to end and plays the schedule, turning its
// events into result events.
func play(ctx context.Context, ens *harness.Ensemble, c Config, events chan<- results.Event, log *slog.Logger) error {
	send := func(ev results.Event) bool {
		select {
		case events <- ev:
			return true
		case <-ctx.Done():
			return false
		}
	}
	if !send(results.Event{Name: "load", Detail: "warm-up starts; fault schedule " + c.Schedule.Name + " follows it"}) {
		return ctx.Err()
	}
	t := time.NewTimer(c.Spec.Warmup)
	defer t.Stop()
	select {
	case <-t.C:
	case <-ctx.Done():
		return ctx.Err()
	}
	seen := map[int]bool{}
	_, err := ens.RunSchedule(ctx, c.Schedule, func(ev harness.Event) {
		log.Info("fault", "event", ev.String())
		for _, re := range ResultEvents(ev, !seen[ev.Seq]) {
			send(re)
		}
		seen[ev.Seq] = true
	})
	return err
}

// ResultEvents turns one harness schedule event (as RunSchedule reports it
// through onEvent; first is true on the first report of a step) into
// time-line marks: the fault itself when it is applied or skipped, and the
// election or recovery when its measurement ends.
func ResultEvents(ev harness.Event, first bool) []results.Event {
	prefix := ""
	if ev.Step.Note != "" {
		prefix = ev.Step.Note + ": "
	}
	act := string(ev.Step.Action)
	var out []results.Event
	if ev.Skipped {
		return []results.Event{{Name: "skipped", Detail: fmt.Sprintf("%s%s %s skipped: %s", prefix, act, ev.Step.Target, ev.Reason)}}
	}
	if first {
		d := fmt.Sprintf("%s%s server %d", prefix, act, ev.ID)
		if ev.Role != "" {
			d += " (" + string(ev.Role) + ")"
		}
		if ev.Err != "" {
			d += ": " + ev.Err
		}
		out = append(out, results.Event{Name: act, Detail: d})
	}
	if ev.Pending {
		return out
	}
	if ev.Elected {
		out = append(out, results.Event{Name: "elected", Detail: fmt.Sprintf("%sserver %d leads after %v", prefix, ev.NewLeader, ev.Election.Round(time.Millisecond))})
	}
	if ev.Recovered {
		if f, ok := harness.FaultByName(act); ok && f.Repairs() {
			out = append(out, results.Event{Name: "serving", Detail: fmt.Sprintf("%sserver %d serves again after %v", prefix, ev.ID, ev.Recovery.Round(time.Millisecond))})
		} else {
			out = append(out, results.Event{Name: "recovered", Detail: fmt.Sprintf("%swrites served again after %v", prefix, ev.Recovery.Round(time.Millisecond))})
		}
	}
	return out
}

// Targets lists the ensemble's running members for the load driver.
func Targets(ens *harness.Ensemble) []bench.Target {
	var ts []bench.Target
	for _, m := range ens.Members() {
		ts = append(ts, bench.Target{Addr: m.ClientAddr, Role: string(m.Role), ID: int64(m.ID)})
	}
	return ts
}

func yesNo(b bool) string {
	if b {
		return "yes"
	}
	return "no"
}
