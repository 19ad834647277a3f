package harness

import (
	"context"
	"fmt"
	"sort"
	"sync"
	"time"
)

// Event is what happened at one step of a schedule.
type Event struct {
	Seq  int  // index of the step
	Step Step // what the schedule asked for

	Time   time.Time     // when the fault was injected (or the step skipped)
	Offset time.Duration // Time minus the start of the schedule
	ID     int           // the server acted on (0 if none could be chosen)
	Role   Role          // its role at that moment

	Skipped bool   // the step could not apply (e.g. kill of a server already down)
	Reason  string // why it was skipped
	Err     string // injecting failed

	// Pending is true in the first onEvent call for a step whose recovery
	// is still being measured; the final call and the returned slice have
	// it false.
	Pending bool
	// Recovered and Recovery: for a fault, the ensemble took a probe write
	// again Recovery after the injection; for a repair (restart, thaw,
	// heal), the server reported a serving role again (not recovered if
	// another fault hit it first).
	Recovered   bool
	Recovery    time.Duration
	RecoveredBy int // for a fault: the server that took the probe write
	// LeaderLost is true when the fault hit the leader; Election is then
	// the time until another server (or the target, once repaired) was
	// seen leading, NewLeader: it reports leader in srvr, or, while it does
	// not answer as a leader (syncing, or leaderServes=no), learners have
	// connected to its quorum port. Serving writes may take longer
	// (Recovery).
	LeaderLost bool
	Elected    bool
	Election   time.Duration
	NewLeader  int

	// Replaced is what a replace-go or replace-java step did (nil for
	// other steps). Its Election and Recovery count from the moment the
	// old process had exited, Time plus Replaced.Stopped, and are
	// measured from then on: before it, the server was still stopping.
	Replaced *Replacement
}

// String is a one-line summary for logs.
func (ev Event) String() string {
	s := fmt.Sprintf("%8.3fs %s %s -> server %d (%s)", ev.Offset.Seconds(), ev.Step.Action, ev.Step.Target, ev.ID, ev.Role)
	switch {
	case ev.Skipped:
		return s + " skipped: " + ev.Reason
	case ev.Err != "":
		return s + " failed: " + ev.Err
	case ev.Pending:
		return s + " measuring"
	}
	if ev.Replaced != nil {
		s += " " + ev.Replaced.String() + ";"
	}
	if ev.Recovered {
		s += fmt.Sprintf(" recovered in %v", ev.Recovery.Round(time.Millisecond))
	} else {
		s += " not recovered"
	}
	if ev.LeaderLost {
		if ev.Elected {
			s += fmt.Sprintf(", new leader %d in %v", ev.NewLeader, ev.Election.Round(time.Millisecond))
		} else {
			s += ", no new leader seen"
		}
	}
	return s
}

// roleWait bounds how long a step aimed at a role waits for a server to
// have it.
const roleWait = 5 * time.Second

// tightTimeout is the srvr timeout while timing an election or a rejoin: a
// slow answer is asked again rather than waited for.
const tightTimeout = 300 * time.Millisecond

// recoveryTimeout bounds how long one step's recovery is measured.
const recoveryTimeout = 60 * time.Second

// RunSchedule plays sched against the ensemble, starting now. Each step
// waits for its time, picks its server, and applies its fault; a step that
// cannot apply is recorded as skipped. A step aimed at a role waits up to
// 5 s for a server to have it (say, during an election), and the steps
// after it move by as long, so that a repair still follows its fault by
// the scheduled time; Event.Offset is the real time since the start. A
// replacement (replace-go, replace-java) stops the clock the same way
// until the new process serves. After a fault the harness writes
// through its own clients every ~5 ms until a write succeeds (Recovery)
// and, if the leader was hit, polls srvr every 10 ms until another server
// is leader (Election). onEvent, if set, is called (serially) once when a
// step is applied, with Pending set if a measurement follows, and again
// when the measurement ends. RunSchedule returns after the last step's
// measurement, or when ctx ends or the ensemble is closed (with the events
// so far and the cause).
func (e *Ensemble) RunSchedule(ctx context.Context, sched Schedule, onEvent func(Event)) ([]Event, error) {
	if err := sched.Validate(len(e.Members())); err != nil {
		return nil, err
	}
	// Closing the ensemble ends the schedule too.
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	go func() {
		select {
		case <-e.done:
			cancel(ErrClosed)
		case <-ctx.Done():
		}
	}()
	for _, st := range sched.Steps {
		f, _ := FaultByName(string(st.Action))
		if f == nil {
			return nil, fmt.Errorf("harness: schedule line %d: unknown action %q", st.Line, st.Action)
		}
		if err := f.Available(e); err != nil {
			return nil, fmt.Errorf("harness: schedule line %d: %s: %w", st.Line, st.Action, err)
		}
	}
	p := newProber()
	defer p.close()
	// Connect the probe clients before the first fault, so that the first
	// recovery does not include session setup.
	wctx, wcancel := context.WithTimeout(ctx, 10*time.Second)
	_, _ = e.probeWrite(wctx, p)
	wcancel()
	var (
		mu     sync.Mutex // guards events and serialises onEvent
		events = make([]Event, len(sched.Steps))
		wg     sync.WaitGroup
	)
	emit := func(ev Event) {
		mu.Lock()
		defer mu.Unlock()
		events[ev.Seq] = ev
		if onEvent != nil {
			onEvent(ev)
		}
	}
	mctx, cancelMeasure := context.WithCancel(ctx)
	defer cancelMeasure()
	names := map[string]int{}
	lastTarget := map[int]time.Time{} // when each server was last targeted
	prev := 0
	origin := time.Now()
	start := origin
	for i, st := range sched.Steps {
		if d := time.Until(start.Add(st.At)); d > 0 {
			select {
			case <-ctx.Done():
				cancelMeasure()
				wg.Wait()
				return events[:i], context.Cause(ctx)
			case <-time.After(d):
			}
		}
		ev, waited := e.pickStep(ctx, st, names, prev, lastTarget)
		impl, replaces := st.Action.Replaces()
		if !ev.Skipped && !replaces {
			e.injectStep(ctx, st, &ev)
		}
		ev.Seq, ev.Offset = i, ev.Time.Sub(origin)
		// Waiting for a role pauses the schedule's clock, so that a repair
		// still comes as long after its fault as the schedule says.
		start = start.Add(waited)
		prev = ev.ID
		if st.As != "" {
			names[st.As] = ev.ID
		}
		if ev.ID != 0 {
			lastTarget[ev.ID] = ev.Time
		}
		if replaces && !ev.Skipped {
			// Blocks until the new process serves; the schedule's clock
			// stops meanwhile, so that the next step comes as long after
			// it serves as the schedule puts it after this step.
			began := time.Now()
			e.replaceStep(ctx, mctx, p, ev, impl, &wg, emit)
			start = start.Add(time.Since(began))
			continue
		}
		if ev.Skipped || ev.Err != "" || st.Action.slows() {
			emit(ev)
			continue
		}
		ev.Pending = true
		emit(ev)
		wg.Add(1)
		go func() {
			defer wg.Done()
			e.measure(mctx, p, &ev)
			ev.Pending = false
			emit(ev)
		}()
	}
	wg.Wait()
	e.log.Info("harness: schedule done", "name", sched.Name, "steps", len(sched.Steps))
	if ctx.Err() != nil {
		return events, context.Cause(ctx)
	}
	return events, nil
}

// pickStep resolves a step's target, or says why the step is skipped. It
// also returns how long it waited for a server to take the role the step
// aims at.
func (e *Ensemble) pickStep(ctx context.Context, st Step, names map[string]int, prev int, lastTarget map[int]time.Time) (Event, time.Duration) {
	ev := Event{Step: st}
	// Fresh roles for role targets and for the record. A role target with
	// no candidate (say "leader" during an election) waits a bounded time
	// for one; Offset then shows how late the step ran.
	began := time.Now()
	deadline := began.Add(roleWait)
	var (
		roles  []Role
		id     int
		reason string
	)
	for {
		roles = e.pollAll(ctx)
		replaceBy, _ := st.Action.Replaces()
		id, reason = e.resolve(st.Target, replaceBy, roles, names, prev, lastTarget)
		if id != 0 || st.Target.Kind == TargetID || st.Target.Kind == TargetRef || time.Now().After(deadline) || ctx.Err() != nil {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	ev.Time = time.Now()
	var waited time.Duration
	if st.Target.Kind != TargetID && st.Target.Kind != TargetRef {
		waited = ev.Time.Sub(began)
	}
	if id == 0 {
		ev.Skipped, ev.Reason = true, reason
		return ev, waited
	}
	ev.ID, ev.Role = id, roles[id-1]
	if reason := e.inapplicable(st.Action, id); reason != "" {
		ev.Skipped, ev.Reason = true, reason
		return ev, waited
	}
	f, _ := FaultByName(string(st.Action))
	ev.Time = time.Now()
	ev.LeaderLost = !f.Repairs() && !st.Action.slows() && (ev.Role == RoleLeader || ev.Role == RoleStandalone)
	return ev, waited
}

// injectStep applies a picked step's fault to its server.
func (e *Ensemble) injectStep(ctx context.Context, st Step, ev *Event) {
	f, _ := FaultByName(string(st.Action))
	ev.Time = time.Now()
	if err := f.Inject(ctx, e, ev.ID, st.Arg); err != nil {
		ev.Err = err.Error()
	}
	e.log.Info("harness: fault", "action", st.Action, "target", st.Target.String(), "id", ev.ID, "role", ev.Role, "err", ev.Err)
}

// replaceStep plays a picked replace step: it replaces the server by impl
// and returns once the new process serves (or the replacement failed).
// The outage is measured as for a kill, from the moment the old process
// had exited; the final report of the step follows when that ends.
func (e *Ensemble) replaceStep(ctx, mctx context.Context, p *prober, ev Event, impl string, wg *sync.WaitGroup, emit func(Event)) {
	ev.Time = time.Now()
	pending := ev
	pending.Pending = true
	emit(pending)
	measured := make(chan Event, 1)
	stopped := false
	rep, err := e.Replace(ctx, ev.ID, impl, ReplaceOptions{Kill: ev.Step.Action.crashes(), OnStopped: func(at time.Time) {
		stopped = true
		m := ev
		m.Time = at
		wg.Add(1)
		go func() {
			defer wg.Done()
			e.measure(mctx, p, &m)
			measured <- m
		}()
	}})
	e.log.Info("harness: fault", "action", ev.Step.Action, "target", ev.Step.Target.String(), "id", ev.ID, "role", ev.Role, "replacement", rep.String(), "err", err)
	final := ev
	final.Replaced = &rep
	if err != nil {
		final.Err = err.Error()
	}
	if !stopped {
		emit(final)
		return
	}
	wg.Add(1)
	go func() {
		defer wg.Done()
		m := <-measured
		final.Recovered, final.Recovery, final.RecoveredBy = m.Recovered, m.Recovery, m.RecoveredBy
		final.Elected, final.Election, final.NewLeader = m.Elected, m.Election, m.NewLeader
		emit(final)
	}()
}

// resolve picks the server for target t; for a replace step (replaceBy,
// the implementation it launches), a role target picks only among the
// servers not running replaceBy. It returns 0 and a reason when none fits.
func (e *Ensemble) resolve(t Target, replaceBy string, roles []Role, names map[string]int, prev int, lastTarget map[int]time.Time) (int, string) {
	switch t.Kind {
	case TargetID:
		return t.ID, ""
	case TargetRef:
		id := prev
		if t.Ref != "it" {
			id = names[t.Ref]
		}
		if id == 0 {
			return 0, fmt.Sprintf("%q names no server (its step was skipped)", t.Ref)
		}
		return id, ""
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	var placement map[int]string
	if replaceBy != "" {
		placement = e.placementLocked()
	}
	var cands []int
	for i, s := range e.servers {
		if !s.running || s.frozen || s.partitioned() || (replaceBy != "" && placement[s.id] == replaceBy) {
			continue
		}
		r := roles[i]
		switch t.Kind {
		case TargetLeader:
			if r == RoleLeader || r == RoleStandalone {
				cands = append(cands, s.id)
			}
		case TargetFollower:
			if r == RoleFollower {
				cands = append(cands, s.id)
			}
		case TargetObserver:
			if r == RoleObserver {
				cands = append(cands, s.id)
			}
		case TargetAny:
			cands = append(cands, s.id)
		}
	}
	if len(cands) == 0 {
		if replaceBy != "" {
			return 0, fmt.Sprintf("no running, reachable server not running %s is %s", replaceBy, t)
		}
		return 0, fmt.Sprintf("no running, reachable server is %s", t)
	}
	// Least recently targeted first (never targeted before all others);
	// ties broken by the ensemble's seeded generator.
	e.rng.Shuffle(len(cands), func(i, j int) { cands[i], cands[j] = cands[j], cands[i] })
	sort.SliceStable(cands, func(i, j int) bool {
		return lastTarget[cands[i]].Before(lastTarget[cands[j]])
	})
	return cands[0], ""
}

// inapplicable says why action cannot apply to server id now ("" if it can).
func (e *Ensemble) inapplicable(a Action, id int) string {
	e.mu.Lock()
	defer e.mu.Unlock()
	s, err := e.server(id)
	if err != nil {
		return err.Error()
	}
	switch a {
	case Kill, Partition, PartitionIn, PartitionOut, Delay:
		if !s.running {
			return fmt.Sprintf("server %d is already down", id)
		}
		if a != Kill && a != Delay && s.partitioned() {
			return fmt.Sprintf("server %d is already partitioned", id)
		}
	case Freeze:
		if !s.running {
			return fmt.Sprintf("server %d is down", id)
		}
		if s.frozen {
			return fmt.Sprintf("server %d is already frozen", id)
		}
	case Restart:
		if s.running {
			return fmt.Sprintf("server %d is already running", id)
		}
	case DiskFull, DiskHeal, FsyncSlow, FsyncFail, PowerLoss: // a.IsDisk()
		if e.opts.DiskFaults && len(s.disks) == 0 {
			return fmt.Sprintf("server %d has no fault-injecting disk", id)
		}
	case Thaw:
		if !s.frozen {
			return fmt.Sprintf("server %d is not frozen", id)
		}
	case Heal:
		if !s.partitioned() && s.delay == 0 {
			return fmt.Sprintf("server %d is neither partitioned nor delayed", id)
		}
	case ReplaceGo, ReplaceJava, CrashReplaceGo, CrashReplaceJava:
		impl, _ := a.Replaces()
		switch {
		case !s.running:
			return fmt.Sprintf("server %d is down", id)
		case s.frozen:
			return fmt.Sprintf("server %d is frozen", id)
		case e.placementLocked()[id] == impl:
			return fmt.Sprintf("server %d already runs %s", id, impl)
		}
	}
	return ""
}

// measure fills in a step's recovery (and election) figures.
func (e *Ensemble) measure(ctx context.Context, p *prober, ev *Event) {
	ctx, cancel := context.WithTimeout(ctx, recoveryTimeout)
	defer cancel()
	f, _ := FaultByName(string(ev.Step.Action))
	if f.Repairs() {
		// Until the repaired server itself serves again, unless a later
		// fault hits it first.
		hitAgain := false
		served := e.pollUntil(ctx, 10*time.Millisecond, func(roles []Role) bool {
			if roles[ev.ID-1].Serving() {
				return true
			}
			hitAgain = e.faulted(ev.ID)
			return hitAgain
		}, ev.ID)
		if served && !hitAgain {
			ev.Recovered, ev.Recovery = true, time.Since(ev.Time)
		}
		if hitAgain {
			// Another poll (say, the one that chose it as the next
			// target) may have seen it serve in between.
			for _, rs := range e.Timeline() {
				if rs.ID == ev.ID && rs.Time.After(ev.Time) && rs.Role.Serving() {
					ev.Recovered, ev.Recovery = true, rs.Time.Sub(ev.Time)
					break
				}
			}
		}
		return
	}
	var wg sync.WaitGroup
	if ev.LeaderLost {
		wg.Add(1)
		go func() {
			defer wg.Done()
			e.pollUntil(ctx, 10*time.Millisecond, func(roles []Role) bool {
				for i, r := range roles {
					// The target counts again once its fault is repaired
					// (a short partition may not cost it the lead).
					if (i+1 != ev.ID || !e.faulted(ev.ID)) && (r == RoleLeader || r == RoleStandalone) {
						ev.Elected, ev.Election, ev.NewLeader = true, time.Since(ev.Time), i+1
						return true
					}
				}
				return false
			}, 0)
		}()
	}
	if id, err := e.probeWrite(ctx, p); err == nil {
		ev.Recovered, ev.Recovery, ev.RecoveredBy = true, time.Since(ev.Time), id
	}
	wg.Wait()
}

// faulted reports whether server id is down, frozen or partitioned.
func (e *Ensemble) faulted(id int) bool {
	e.mu.Lock()
	defer e.mu.Unlock()
	s := e.servers[id-1]
	return !s.running || s.frozen || s.partitioned()
}

// pollUntil polls srvr (every server, or only server only if nonzero) every
// interval until done returns true; it reports whether it did.
func (e *Ensemble) pollUntil(ctx context.Context, interval time.Duration, done func([]Role) bool, only int) bool {
	for {
		var roles []Role
		if only != 0 {
			roles = make([]Role, len(e.Members()))
			roles[only-1] = e.pollTimeout(ctx, only, tightTimeout)
		} else {
			roles = e.pollAllTimeout(ctx, tightTimeout)
		}
		if ctx.Err() != nil {
			return false
		}
		if done(roles) {
			return true
		}
		select {
		case <-ctx.Done():
			return false
		case <-time.After(interval):
		}
	}
}

// Pick returns the server a role target names now ("leader", "follower",
// "observer", "any" or an id), polling every server first, so that callers
// can kill or freeze by role: e.Kill(e.Pick(ctx, Target{Kind: TargetLeader})).
// Among several followers it prefers the lowest id.
func (e *Ensemble) Pick(ctx context.Context, t Target) (int, error) {
	if t.Kind == TargetRef {
		return 0, fmt.Errorf("harness: pick %q: names only mean something inside a schedule", t.Ref)
	}
	roles := e.pollAll(ctx)
	if t.Kind == TargetID {
		if _, err := e.server(t.ID); err != nil {
			return 0, err
		}
		return t.ID, nil
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	for i, s := range e.servers {
		if !s.running || s.frozen || s.partitioned() {
			continue
		}
		r := roles[i]
		switch {
		case t.Kind == TargetAny,
			t.Kind == TargetLeader && (r == RoleLeader || r == RoleStandalone),
			t.Kind == TargetFollower && r == RoleFollower,
			t.Kind == TargetObserver && r == RoleObserver:
			return s.id, nil
		}
	}
	return 0, fmt.Errorf("%w: no running, reachable server is %s", ErrNoServer, t)
}
