package harness

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// ErrSameImpl: Replace was asked to run a server with the implementation
// it already runs.
var ErrSameImpl = errors.New("harness: server already runs that implementation")

// ReplaceOptions say how Replace stops the old process and how long it
// waits.
type ReplaceOptions struct {
	// Kill stops the old process with SIGKILL (kill -9) instead of the
	// clean stop an operator's rolling upgrade uses (SIGTERM, as
	// zkServer.sh stop).
	Kill bool
	// StopTimeout bounds the clean stop; a process still running after it
	// is killed with SIGKILL (default 30s).
	StopTimeout time.Duration
	// ServeTimeout bounds the wait for the new process to serve, caught
	// up (default 60s).
	ServeTimeout time.Duration
	// OnStopped, if set, is called once the old process has exited,
	// before the new one is launched, with the time it was seen gone.
	OnStopped func(at time.Time)
}

// Replacement is what one Replace did.
type Replacement struct {
	ID       int
	From, To string // the implementations before and after
	// Killed is true when the old process got SIGKILL: asked for
	// (ReplaceOptions.Kill), or it outlived the clean stop's timeout.
	Killed bool
	// Stopped is the time from the start of the replacement until the
	// old process had exited; Serving until the new one served, caught up.
	Stopped, Serving time.Duration
	// Target is the highest zxid any other running server reported when
	// the new process was launched; Zxid is the one the new process
	// reported when it served (at least Target, unless it leads).
	Target, Zxid int64
	// Placement is every server's implementation after the replacement.
	Placement map[int]string
}

// String is a one-line summary for logs: "server 2 java->go (stopped in
// 0.3s, serving after 2.1s, zxid 0x100000a3c)".
func (r Replacement) String() string {
	how := "stopped"
	if r.Killed {
		how = "killed"
	}
	return fmt.Sprintf("server %d %s->%s (%s in %v, serving after %v, zxid %#x)", r.ID, r.From, r.To, how,
		r.Stopped.Round(time.Millisecond), r.Serving.Round(time.Millisecond), r.Zxid)
}

// FormatPlacement writes a placement in id order: "1:java,2:go,3:java".
func FormatPlacement(p map[int]string) string {
	var parts []string
	for _, id := range slices.Sorted(maps.Keys(p)) {
		parts = append(parts, strconv.Itoa(id)+":"+p[id])
	}
	return strings.Join(parts, ",")
}

// Placement returns the implementation each server runs now, by id (nil
// for an external ensemble).
func (e *Ensemble) Placement() map[int]string {
	if e.external {
		return nil
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.placementLocked()
}

func (e *Ensemble) placementLocked() map[int]string {
	p := map[int]string{}
	m, mixed := e.launcher.(mixedLauncher)
	for _, s := range e.servers {
		p[s.id] = e.opts.Impl
		if mixed {
			p[s.id] = m.impl[s.id]
		}
	}
	return p
}

// mixedLocked turns the ensemble's launcher into a mixed one (each server
// by its own implementation) that can launch impl, and returns it. e.mu
// must be held.
func (e *Ensemble) mixedLocked(impl string) (mixedLauncher, error) {
	m, ok := e.launcher.(mixedLauncher)
	if !ok {
		m = mixedLauncher{impl: e.placementLocked(), goL: goLauncher{prefix: e.opts.GoCommand, cpus: e.opts.ServerCPUs, flags: e.opts.JVMFlags}}
		if j, ok := e.launcher.(*javaLauncher); ok {
			m.javaL = j
		}
	}
	if impl == ImplJava && m.javaL == nil {
		j, err := newJavaLauncher(&e.opts)
		if err != nil {
			return m, err
		}
		m.javaL = j
	}
	e.launcher = m
	return m, nil
}

// Replace replaces server id's process by one of implementation impl
// (ImplGo or ImplJava) in place, as a rolling upgrade does: it stops the
// old process (SIGTERM, waiting up to o.StopTimeout, then SIGKILL; or
// SIGKILL at once with o.Kill), rewrites its zoo.cfg for impl (the same
// keys, ids, ports, dataDir and dataLogDir; only the Prometheus endpoint,
// which Debian's Java lacks, comes and goes with the Go server), launches
// the new process on the same data, and waits until it serves and has
// caught up: srvr shows it serving (or it leads) with a zxid at least
// the highest any other server reported when it was launched. On an error
// after the stop the server may be down or still starting.
func (e *Ensemble) Replace(ctx context.Context, id int, impl string, o ReplaceOptions) (Replacement, error) {
	rep := Replacement{ID: id, To: impl, Killed: o.Kill}
	if e.external {
		return rep, fmt.Errorf("%w: replace server %d: an external ensemble's processes are not the harness's", ErrUnavailable, id)
	}
	if impl != ImplGo && impl != ImplJava {
		return rep, fmt.Errorf("harness: replace server %d: implementation %q: want %s or %s", id, impl, ImplGo, ImplJava)
	}
	if impl == ImplGo && len(e.opts.GoCommand) == 0 {
		return rep, fmt.Errorf("%w: replace server %d by Go: Options.GoCommand is empty", ErrUnavailable, id)
	}
	if o.StopTimeout <= 0 {
		o.StopTimeout = 30 * time.Second
	}
	if o.ServeTimeout <= 0 {
		o.ServeTimeout = 60 * time.Second
	}
	start := time.Now()

	e.mu.Lock()
	if e.closed {
		e.mu.Unlock()
		return rep, fmt.Errorf("harness: replace server %d: %w", id, ErrClosed)
	}
	s, err := e.server(id)
	if err != nil {
		e.mu.Unlock()
		return rep, err
	}
	m, err := e.mixedLocked(impl)
	if err != nil {
		e.mu.Unlock()
		return rep, fmt.Errorf("harness: replace server %d: %w", id, err)
	}
	rep.From = m.impl[id]
	switch {
	case rep.From == impl:
		e.mu.Unlock()
		return rep, fmt.Errorf("harness: replace server %d by %s: %w", id, impl, ErrSameImpl)
	case !s.running:
		e.mu.Unlock()
		return rep, fmt.Errorf("harness: replace server %d: %w", id, ErrNotRunning)
	case s.frozen:
		e.mu.Unlock()
		return rep, fmt.Errorf("harness: replace server %d: %w", id, ErrFrozen)
	}
	if ps, err := readProc(s.pid); err == nil {
		s.last = ps
		s.peakKiB = max(s.peakKiB, ps.hwmKiB)
	}
	pid, exited := s.pid, s.exited
	s.killing = true // the harness ends it: not a problem of the server's
	sig := syscall.SIGTERM
	if o.Kill {
		sig = syscall.SIGKILL
	}
	err = killGroup(pid, sig)
	e.mu.Unlock()
	if err != nil {
		return rep, fmt.Errorf("harness: replace server %d: stop pid %d: %w", id, pid, err)
	}
	if err := e.awaitExit(ctx, id, pid, exited, o, &rep); err != nil {
		return rep, err
	}
	stopped := time.Now()
	rep.Stopped = stopped.Sub(start)
	if o.OnStopped != nil {
		o.OnStopped(stopped)
	}
	e.log.Info("harness: replace: stopped", "id", id, "pid", pid, "impl", rep.From, "killed", rep.Killed, "took", rep.Stopped)

	// What the new process must catch up with.
	e.pollAll(ctx)
	for _, mb := range e.Members() {
		if mb.ID != id && mb.Running {
			rep.Target = max(rep.Target, mb.Zxid)
		}
	}
	e.mu.Lock()
	m.impl[id] = impl
	switch {
	case impl == ImplJava:
		s.metricsPort = 0
	case s.metricsPort == 0:
		if s.metricsPort, err = NewPortPicker().Pick(); err != nil {
			e.mu.Unlock()
			return rep, fmt.Errorf("harness: replace server %d: %w", id, err)
		}
	}
	if err == nil {
		err = e.writeConfig(s)
	}
	if err == nil {
		s.zxid = 0 // the old process's figure must not count as the new one's
		err = e.launchLocked(s)
	}
	rep.Placement = e.placementLocked()
	newPID := s.pid
	e.mu.Unlock()
	if err != nil {
		return rep, fmt.Errorf("harness: replace server %d by %s: %w", id, impl, err)
	}
	e.log.Info("harness: replace: started", "id", id, "pid", newPID, "impl", impl, "target_zxid", rep.Target)

	wctx, cancel := context.WithTimeout(ctx, o.ServeTimeout)
	defer cancel()
	for {
		role := e.pollTimeout(wctx, id, tightTimeout)
		mb := e.Members()[id-1]
		if mb.PID != newPID || !mb.Running {
			return rep, fmt.Errorf("harness: replace server %d by %s: the new process (pid %d) exited: %s", id, impl, newPID, lastLines(replacementLog(mb.Dir, impl), 20))
		}
		if role == RoleLeader || (role.Serving() && mb.Zxid >= rep.Target) {
			rep.Zxid, rep.Serving = mb.Zxid, time.Since(start)
			break
		}
		select {
		case <-wctx.Done():
			return rep, fmt.Errorf("harness: replace server %d by %s: not serving, caught up (role %s, zxid %#x, want %#x): %w",
				id, impl, role, mb.Zxid, rep.Target, context.Cause(wctx))
		case <-time.After(20 * time.Millisecond):
		}
	}
	e.log.Info("harness: replaced", "replacement", rep.String())
	return rep, nil
}

// awaitExit waits for the old process of a replacement to exit, killing
// it with SIGKILL when a clean stop outlives o.StopTimeout.
func (e *Ensemble) awaitExit(ctx context.Context, id, pid int, exited <-chan struct{}, o ReplaceOptions, rep *Replacement) error {
	wait := func(d time.Duration) (bool, error) {
		t := time.NewTimer(d)
		defer t.Stop()
		select {
		case <-exited:
			return true, nil
		case <-t.C:
			return false, nil
		case <-ctx.Done():
			return false, fmt.Errorf("harness: replace server %d: waiting for pid %d to exit: %w", id, pid, context.Cause(ctx))
		}
	}
	timeout := o.StopTimeout
	if o.Kill {
		timeout = 10 * time.Second
	}
	done, err := wait(timeout)
	if done || err != nil {
		return err
	}
	if o.Kill {
		return fmt.Errorf("harness: replace server %d: pid %d still running 10s after SIGKILL", id, pid)
	}
	e.log.Warn("harness: replace: the clean stop timed out; killing", "id", id, "pid", pid, "after", timeout)
	rep.Killed = true
	if err := killGroup(pid, syscall.SIGKILL); err != nil {
		return fmt.Errorf("harness: replace server %d: kill pid %d: %w", id, pid, err)
	}
	if done, err = wait(10 * time.Second); err == nil && !done {
		err = fmt.Errorf("harness: replace server %d: pid %d still running 10s after SIGKILL", id, pid)
	}
	return err
}

// RollingSchedule is a rolling replacement of servers voters running from
// by ones running to, one at a time, each pause after the previous one
// serves (the first pause into the schedule):
// followers first, then the last server left, by then normally the
// leader, as operators upgrade. With back it then returns them to from
// the same way. With crash every old process is killed with SIGKILL
// instead of stopped cleanly. Steps are numbered in their notes ("1", "2", ...), so
// graphs and reports name them; each step's target is chosen when it
// runs, among the servers not yet running the new implementation. The
// schedule lasts one pause per step plus the time the replacements take
// (Duration counts only the pauses).
func RollingSchedule(from, to string, servers int, pause time.Duration, back, crash bool) (Schedule, error) {
	switch {
	case ReplaceAction(from, crash) == "" || ReplaceAction(to, crash) == "":
		return Schedule{}, fmt.Errorf("harness: rolling schedule %s->%s: want go or java on both sides", from, to)
	case from == to:
		return Schedule{}, fmt.Errorf("harness: rolling schedule %s->%s: nothing to replace", from, to)
	case servers < 2:
		return Schedule{}, fmt.Errorf("harness: rolling schedule on %d servers: want an ensemble (3, 5, ...)", servers)
	case pause <= 0:
		return Schedule{}, fmt.Errorf("harness: rolling schedule: pause %v: want a positive time between steps", pause)
	}
	s := Schedule{Name: "rolling " + from + "->" + to}
	legs := []string{to}
	if back {
		legs = append(legs, from)
		s.Name += "->" + from
	}
	for _, impl := range legs {
		for k := 1; k <= servers; k++ {
			tgt := Target{Kind: TargetFollower}
			if k == servers {
				tgt.Kind = TargetAny
			}
			n := len(s.Steps) + 1
			s.Steps = append(s.Steps, Step{At: time.Duration(n) * pause, Action: ReplaceAction(impl, crash), Target: tgt, Note: strconv.Itoa(n)})
		}
	}
	return s, nil
}

// replacementLog is the end of what a replacement of implementation impl
// logged in dir: a Java server logs to server.log, a Go one to stdout.log
// (which also holds what the processes before it wrote).
func replacementLog(dir, impl string) string {
	name := "stdout.log"
	if impl == ImplJava {
		name = "server.log"
	}
	data, err := os.ReadFile(filepath.Join(dir, name))
	if err != nil {
		return err.Error()
	}
	return string(data[max(0, len(data)-16<<10):])
}
