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
	s.killing = true
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

// cut says which of a server's peer traffic a partition holds: what it
// receives (cutIn), what it sends (cutOut), or both.
type cut uint8

const (
	cutIn cut = 1 << iota
	cutOut
	cutBoth = cutIn | cutOut
)

// partitioned reports whether a partition holds any of s's peer traffic.
func (s *server) partitioned() bool { return s.cut != 0 }

// Partition cuts server id off from every other server: the bytes it sends
// to peers and that peers send to it are held in the proxies (connections
// stay open and silent, as behind a blackholed link). Clients still reach it.
// On an external ensemble it runs ExternalCommands.Partition.
func (e *Ensemble) Partition(id int) error {
	return e.partition(id, Partition, cutBoth)
}

// PartitionIn is a one-way partition: what the other servers send server
// id is held, what it sends them still flows. On an external ensemble it
// runs ExternalCommands.PartitionIn.
func (e *Ensemble) PartitionIn(id int) error {
	return e.partition(id, PartitionIn, cutIn)
}

// PartitionOut is a one-way partition: what server id sends the other
// servers is held, what they send it still flows. On an external ensemble
// it runs ExternalCommands.PartitionOut.
func (e *Ensemble) PartitionOut(id int) error {
	return e.partition(id, PartitionOut, cutOut)
}

func (e *Ensemble) partition(id int, a Action, c cut) error {
	if e.external {
		e.mu.Lock()
		s, err := e.server(id)
		if err == nil && s.partitioned() {
			err = fmt.Errorf("harness: %s server %d: already partitioned", a, id)
		}
		e.mu.Unlock()
		if err != nil {
			return err
		}
		return e.runExternal(id, string(a), e.opts.External.command(a), func(s *server) { s.cut = c })
	}
	return e.setNet(id, func(s *server) error {
		if s.partitioned() {
			return fmt.Errorf("harness: %s server %d: already partitioned", a, id)
		}
		s.cut = c
		return nil
	})
}

// Heal removes a partition (either way or both) and any delay from server
// id. On an external ensemble it runs ExternalCommands.Heal.
func (e *Ensemble) Heal(id int) error {
	if e.external {
		return e.runExternal(id, string(Heal), e.opts.External.Heal, func(s *server) { s.cut = 0 })
	}
	return e.setNet(id, func(s *server) error {
		s.cut, s.delay = 0, 0
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
	if e.external {
		return fmt.Errorf("%w: an external ensemble takes network faults only through its commands (partition, partition-in, partition-out, heal)", ErrUnavailable)
	}
	if !e.opts.PeerProxy || !e.opts.quorumed() {
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
	// server leaves the links of another partitioned server alone. A
	// link's proxy carries what from sends to (Forward) and the replies
	// on that connection (Backward).
	for k, p := range e.proxies {
		from, to := e.servers[k.from-1], e.servers[k.to-1]
		delay := from.delay + to.delay
		p.SetHold(netproxy.Forward, from.cut&cutOut != 0 || to.cut&cutIn != 0)
		p.SetHold(netproxy.Backward, to.cut&cutOut != 0 || from.cut&cutIn != 0)
		for _, d := range []netproxy.Direction{netproxy.Forward, netproxy.Backward} {
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
	// partition, partition-in, partition-out, heal, delay, disk-full,
	// disk-heal, fsync-slow, fsync-fail, power-loss, replace-go,
	// replace-java, crash-replace-go, crash-replace-java.
	Name() string
	// Available returns nil if the ensemble can take this fault at all, or
	// an error wrapping ErrUnavailable saying why not.
	Available(e *Ensemble) error
	// Inject applies the fault to server id; arg is the delay for "delay"
	// and "fsync-slow".
	Inject(ctx context.Context, e *Ensemble, id int, arg time.Duration) error
	// Repairs reports whether the fault undoes another (restart, thaw,
	// heal, disk-heal).
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
	// PartitionIn and PartitionOut are one-way partitions: what the
	// server receives from its peers, or what it sends them, is lost.
	PartitionIn  Action = "partition-in"
	PartitionOut Action = "partition-out"
	Heal         Action = "heal"
	Delay        Action = "delay"
	// The disk faults need Options.DiskFaults. DiskFull fails every write
	// with ENOSPC; FsyncSlow delays every fsync by its argument;
	// FsyncFail fails every fsync with EIO; DiskHeal undoes all three.
	// PowerLoss kills the server with SIGKILL and drops everything it
	// wrote and did not fsync; Restart brings it back.
	DiskFull  Action = "disk-full"
	DiskHeal  Action = "disk-heal"
	FsyncSlow Action = "fsync-slow"
	FsyncFail Action = "fsync-fail"
	PowerLoss Action = "power-loss"
	// ReplaceGo and ReplaceJava replace a server's process by one of the
	// other implementation on the same data, id and ports (Replace, with
	// a clean stop), as a rolling upgrade does; a schedule's next step
	// waits until the new process serves, caught up, and the steps after
	// move by as long as the replacement took. Aimed at a role,
	// they pick among the servers not yet running that implementation.
	ReplaceGo   Action = "replace-go"
	ReplaceJava Action = "replace-java"
	// CrashReplaceGo and CrashReplaceJava are the same with the old
	// process killed with SIGKILL instead of stopped cleanly: the other
	// implementation starts on whatever the crash left in the data
	// directories (a log ending in a torn or unsynced record, Java's
	// preallocated zeros past its end, no snapshot at shutdown).
	CrashReplaceGo   Action = "crash-replace-go"
	CrashReplaceJava Action = "crash-replace-java"
)

// Replaces returns the implementation a replace action launches (ImplGo
// for replace-go and crash-replace-go, ImplJava for the Java ones); ok is
// false for every other action.
func (a Action) Replaces() (impl string, ok bool) {
	switch a {
	case ReplaceGo, CrashReplaceGo:
		return ImplGo, true
	case ReplaceJava, CrashReplaceJava:
		return ImplJava, true
	}
	return "", false
}

// crashes reports whether a replace action kills the old process with
// SIGKILL rather than stopping it cleanly.
func (a Action) crashes() bool { return a == CrashReplaceGo || a == CrashReplaceJava }

// ReplaceAction is the action that replaces a server by impl, after a
// crash (SIGKILL) when crash is true; "" for an unknown implementation.
func ReplaceAction(impl string, crash bool) Action {
	switch {
	case impl == ImplGo && crash:
		return CrashReplaceGo
	case impl == ImplGo:
		return ReplaceGo
	case impl == ImplJava && crash:
		return CrashReplaceJava
	case impl == ImplJava:
		return ReplaceJava
	}
	return ""
}

// slows reports whether a fault slows a server down rather than failing
// it (delay, fsync-slow): no recovery is measured after it.
func (a Action) slows() bool { return a == Delay || a == FsyncSlow }

// IsDisk reports whether a is a disk fault, which needs Options.DiskFaults.
func (a Action) IsDisk() bool {
	switch a {
	case DiskFull, DiskHeal, FsyncSlow, FsyncFail, PowerLoss:
		return true
	}
	return false
}

// TakesArg reports whether action a takes a duration in a schedule: the
// latency of delay, the fsync delay of fsync-slow.
func (a Action) TakesArg() bool { return a == Delay || a == FsyncSlow }

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

// cmdAvail makes a fault available to an external ensemble that has its
// command, and to a local one when local (nil: always) says so.
func cmdAvail(a Action, local func(*Ensemble) error) func(*Ensemble) error {
	return func(e *Ensemble) error {
		if e.external {
			if e.opts.External.command(a) == "" {
				return fmt.Errorf("%w: external ensemble without a %s command", ErrUnavailable, a)
			}
			return nil
		}
		if local != nil {
			return local(e)
		}
		return nil
	}
}

// Faults lists every fault, in a stable order.
func Faults() []Fault {
	return []Fault{
		fault{Kill, false, cmdAvail(Kill, nil),
			func(e *Ensemble, id int, _ time.Duration) error { return e.Kill(id) }},
		fault{Restart, true, cmdAvail(Restart, nil),
			func(e *Ensemble, id int, _ time.Duration) error { return e.Restart(id) }},
		fault{Freeze, false, cmdAvail(Freeze, nil),
			func(e *Ensemble, id int, _ time.Duration) error { return e.Freeze(id) }},
		fault{Thaw, true, cmdAvail(Thaw, nil),
			func(e *Ensemble, id int, _ time.Duration) error { return e.Thaw(id) }},
		fault{Partition, false, cmdAvail(Partition, (*Ensemble).netAvailable),
			func(e *Ensemble, id int, _ time.Duration) error { return e.Partition(id) }},
		fault{PartitionIn, false, cmdAvail(PartitionIn, (*Ensemble).netAvailable),
			func(e *Ensemble, id int, _ time.Duration) error { return e.PartitionIn(id) }},
		fault{PartitionOut, false, cmdAvail(PartitionOut, (*Ensemble).netAvailable),
			func(e *Ensemble, id int, _ time.Duration) error { return e.PartitionOut(id) }},
		fault{Heal, true, cmdAvail(Heal, (*Ensemble).netAvailable),
			func(e *Ensemble, id int, _ time.Duration) error { return e.Heal(id) }},
		fault{Delay, false, (*Ensemble).netAvailable,
			func(e *Ensemble, id int, d time.Duration) error { return e.Delay(id, d) }},
		fault{DiskFull, false, (*Ensemble).diskAvailable,
			func(e *Ensemble, id int, _ time.Duration) error { return e.DiskFull(id) }},
		fault{DiskHeal, true, (*Ensemble).diskAvailable,
			func(e *Ensemble, id int, _ time.Duration) error { return e.DiskHeal(id) }},
		fault{FsyncSlow, false, (*Ensemble).diskAvailable,
			func(e *Ensemble, id int, d time.Duration) error { return e.FsyncSlow(id, d) }},
		fault{FsyncFail, false, (*Ensemble).diskAvailable,
			func(e *Ensemble, id int, _ time.Duration) error { return e.FsyncFail(id) }},
		fault{PowerLoss, false, (*Ensemble).diskAvailable,
			func(e *Ensemble, id int, _ time.Duration) error { return e.PowerLoss(id) }},
		fault{ReplaceGo, false, replaceAvailable(ImplGo), replaceBy(ReplaceGo)},
		fault{ReplaceJava, false, replaceAvailable(ImplJava), replaceBy(ReplaceJava)},
		fault{CrashReplaceGo, false, replaceAvailable(ImplGo), replaceBy(CrashReplaceGo)},
		fault{CrashReplaceJava, false, replaceAvailable(ImplJava), replaceBy(CrashReplaceJava)},
	}
}

// replaceAvailable: a replacement needs servers the harness launched, and
// the Go server's command to launch Go.
func replaceAvailable(impl string) func(*Ensemble) error {
	return func(e *Ensemble) error {
		if e.external {
			return fmt.Errorf("%w: an external ensemble's servers cannot be replaced", ErrUnavailable)
		}
		if impl == ImplGo && len(e.opts.GoCommand) == 0 {
			return fmt.Errorf("%w: replace-go needs the Go server's command (Options.GoCommand)", ErrUnavailable)
		}
		return nil
	}
}

func replaceBy(a Action) func(*Ensemble, int, time.Duration) error {
	impl, _ := a.Replaces()
	return func(e *Ensemble, id int, _ time.Duration) error {
		_, err := e.Replace(context.Background(), id, impl, ReplaceOptions{Kill: a.crashes()})
		return err
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
