package harness

import (
	"context"
	"fmt"
	"os/exec"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/zkbench/zkbench/harness/netproxy"
)

// Kill kills server id with SIGKILL (its whole process group) and waits for
// it to exit. On an external ensemble it runs ExternalCommands.Kill.
func (e *Ensemble) Kill(id int) error {
	if e.external {
		return e.runExternal(id, "kill", e.opts.External.Kill, func(s *server) { s.running = false; s.role = RoleDown })
	}
	e.mu.Lock()
	if e.closed {
		e.mu.Unlock()
		return fmt.Errorf("harness: kill server %d: %w", id, ErrClosed)
	}
	s, err := e.server(id)
	if err != nil {
		e.mu.Unlock()
		return err
	}
	if !s.running {
		e.mu.Unlock()
		return fmt.Errorf("harness: kill server %d: %w", id, ErrNotRunning)
	}
	if ps, err := readProc(s.pid); err == nil {
		s.last = ps
		s.peakKiB = max(s.peakKiB, ps.hwmKiB)
	}
	pid, exited := s.pid, s.exited
	err = killGroup(pid, syscall.SIGKILL)
	e.mu.Unlock()
	if err != nil {
		return fmt.Errorf("harness: kill server %d (pid %d): %w", id, pid, err)
	}
	select {
	case <-exited:
	case <-time.After(10 * time.Second):
		return fmt.Errorf("harness: kill server %d (pid %d): still running 10s after SIGKILL", id, pid)
	}
	e.log.Info("harness: killed", "id", id, "pid", pid)
	return nil
}

// Restart starts server id again with its old config and data.
func (e *Ensemble) Restart(id int) error {
	if e.external {
		return e.runExternal(id, "restart", e.opts.External.Restart, func(s *server) { s.running = true; s.role = RoleUnknown })
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	s, err := e.server(id)
	if err != nil {
		return err
	}
	if s.running {
		return fmt.Errorf("harness: restart server %d: %w", id, ErrRunning)
	}
	return e.launchLocked(s)
}

// Freeze stops server id with SIGSTOP: it keeps its sockets but answers
// nothing, like a server in a long GC pause or on a hung disk.
func (e *Ensemble) Freeze(id int) error {
	if e.external {
		return e.runExternal(id, "freeze", e.opts.External.Freeze, func(s *server) { s.frozen = true })
	}
	return e.signal(id, syscall.SIGSTOP, true)
}

// Thaw resumes a frozen server with SIGCONT.
func (e *Ensemble) Thaw(id int) error {
	if e.external {
		return e.runExternal(id, "thaw", e.opts.External.Thaw, func(s *server) { s.frozen = false })
	}
	return e.signal(id, syscall.SIGCONT, false)
}

func (e *Ensemble) signal(id int, sig syscall.Signal, freeze bool) error {
	e.mu.Lock()
	defer e.mu.Unlock()
	s, err := e.server(id)
	if err != nil {
		return err
	}
	switch {
	case !s.running:
		return fmt.Errorf("harness: %v server %d: %w", sig, id, ErrNotRunning)
	case freeze && s.frozen:
		return fmt.Errorf("harness: freeze server %d: %w", id, ErrFrozen)
	case !freeze && !s.frozen:
		return fmt.Errorf("harness: thaw server %d: %w", id, ErrNotFrozen)
	}
	if err := killGroup(s.pid, sig); err != nil {
		return fmt.Errorf("harness: %v server %d (pid %d): %w", sig, id, s.pid, err)
	}
	s.frozen = freeze
	if freeze {
		s.role = RoleUnreachable
		e.recordLocked(s, time.Now())
		// Signals are delivered asynchronously: return once it has stopped.
		for deadline := time.Now().Add(2 * time.Second); procStateOf(s.pid) != 'T' && time.Now().Before(deadline); {
			time.Sleep(time.Millisecond)
		}
	}
	return nil
}

// Partition cuts server id off from every other server: the bytes it sends
// to peers and that peers send to it are held in the proxies (connections
// stay open and silent, as behind a blackholed link). Clients still reach it.
func (e *Ensemble) Partition(id int) error {
	return e.setNet(id, func(s *server) error {
		if s.partitioned {
			return fmt.Errorf("harness: partition server %d: already partitioned", id)
		}
		s.partitioned = true
		return nil
	})
}

// Heal removes a partition and any delay from server id.
func (e *Ensemble) Heal(id int) error {
	return e.setNet(id, func(s *server) error {
		s.partitioned, s.delay = false, 0
		return nil
	})
}

// Delay adds d of latency to every byte server id sends to a peer and to
// every byte a peer sends to it (a round trip with it gains 2d). Zero
// removes the delay.
func (e *Ensemble) Delay(id int, d time.Duration) error {
	if d < 0 {
		return fmt.Errorf("harness: delay server %d: negative delay %v", id, d)
	}
	return e.setNet(id, func(s *server) error { s.delay = d; return nil })
}

func (e *Ensemble) netAvailable() error {
	if e.external || !e.opts.PeerProxy || !e.opts.quorumed() {
		return fmt.Errorf("%w: network faults need a local quorum ensemble started with Options.PeerProxy", ErrUnavailable)
	}
	return nil
}

func (e *Ensemble) setNet(id int, change func(*server) error) error {
	if err := e.netAvailable(); err != nil {
		return err
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.closed {
		return ErrClosed
	}
	s, err := e.server(id)
	if err != nil {
		return err
	}
	if err := change(s); err != nil {
		return err
	}
	// Recompute every link from the servers' states, so that healing one
	// server leaves the links of another partitioned server alone.
	for k, p := range e.proxies {
		from, to := e.servers[k.from-1], e.servers[k.to-1]
		hold := from.partitioned || to.partitioned
		delay := from.delay + to.delay
		for _, d := range []netproxy.Direction{netproxy.Forward, netproxy.Backward} {
			p.SetHold(d, hold)
			p.SetDelay(d, delay)
		}
	}
	return nil
}

// runExternal runs one of the user's fault commands for server id.
func (e *Ensemble) runExternal(id int, what, tmpl string, update func(*server)) error {
	if tmpl == "" {
		return fmt.Errorf("%w: no %s command for the external ensemble", ErrUnavailable, what)
	}
	e.mu.Lock()
	s, err := e.server(id)
	var host string
	if err == nil {
		host = s.host
	}
	e.mu.Unlock()
	if err != nil {
		return err
	}
	cmdline := strings.NewReplacer("{id}", strconv.Itoa(id), "{host}", host).Replace(tmpl)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	out, err := exec.CommandContext(ctx, "sh", "-c", cmdline).CombinedOutput()
	if err != nil {
		return fmt.Errorf("harness: %s server %d: %q: %w: %s", what, id, cmdline, err, strings.TrimSpace(string(out)))
	}
	e.mu.Lock()
	update(s)
	e.recordLocked(s, time.Now())
	e.mu.Unlock()
	return nil
}

// Fault is one kind of fault the harness can inject, as a named value.
type Fault interface {
	// Name is the fault's name in schedules: kill, restart, freeze, thaw,
	// partition, heal, delay.
	Name() string
	// Available returns nil if the ensemble can take this fault at all, or
	// an error wrapping ErrUnavailable saying why not.
	Available(e *Ensemble) error
	// Inject applies the fault to server id; arg is the delay for "delay".
	Inject(ctx context.Context, e *Ensemble, id int, arg time.Duration) error
	// Repairs reports whether the fault undoes another (restart, thaw, heal).
	Repairs() bool
}

// Action is the name of a fault.
type Action string

// The faults.
const (
	Kill      Action = "kill"
	Restart   Action = "restart"
	Freeze    Action = "freeze"
	Thaw      Action = "thaw"
	Partition Action = "partition"
	Heal      Action = "heal"
	Delay     Action = "delay"
)

type fault struct {
	name    Action
	repairs bool
	avail   func(e *Ensemble) error
	inject  func(e *Ensemble, id int, arg time.Duration) error
}

func (f fault) Name() string                { return string(f.name) }
func (f fault) Repairs() bool               { return f.repairs }
func (f fault) Available(e *Ensemble) error { return f.avail(e) }
func (f fault) Inject(ctx context.Context, e *Ensemble, id int, arg time.Duration) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	return f.inject(e, id, arg)
}

func procAvail(cmd func(ExternalCommands) string) func(*Ensemble) error {
	return func(e *Ensemble) error {
		if e.external && cmd(e.opts.External) == "" {
			return fmt.Errorf("%w: external ensemble without that command", ErrUnavailable)
		}
		return nil
	}
}

// Faults lists every fault, in a stable order.
func Faults() []Fault {
	return []Fault{
		fault{Kill, false, procAvail(func(c ExternalCommands) string { return c.Kill }),
			func(e *Ensemble, id int, _ time.Duration) error { return e.Kill(id) }},
		fault{Restart, true, procAvail(func(c ExternalCommands) string { return c.Restart }),
			func(e *Ensemble, id int, _ time.Duration) error { return e.Restart(id) }},
		fault{Freeze, false, procAvail(func(c ExternalCommands) string { return c.Freeze }),
			func(e *Ensemble, id int, _ time.Duration) error { return e.Freeze(id) }},
		fault{Thaw, true, procAvail(func(c ExternalCommands) string { return c.Thaw }),
			func(e *Ensemble, id int, _ time.Duration) error { return e.Thaw(id) }},
		fault{Partition, false, (*Ensemble).netAvailable,
			func(e *Ensemble, id int, _ time.Duration) error { return e.Partition(id) }},
		fault{Heal, true, (*Ensemble).netAvailable,
			func(e *Ensemble, id int, _ time.Duration) error { return e.Heal(id) }},
		fault{Delay, false, (*Ensemble).netAvailable,
			func(e *Ensemble, id int, d time.Duration) error { return e.Delay(id, d) }},
	}
}

// FaultByName returns the fault called name.
func FaultByName(name string) (Fault, bool) {
	for _, f := range Faults() {
		if f.Name() == name {
			return f, true
		}
	}
	return nil, false
}
