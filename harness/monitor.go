package harness

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/zkbench/zkbench/harness/flw"
)

// startMonitor starts one srvr poller per server and one mntr/proc sampler.
// It is started once per ensemble.
func (e *Ensemble) startMonitor() {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.monCancel != nil || e.closed {
		return
	}
	ctx, cancel := context.WithCancel(context.Background())
	e.monCancel = cancel
	for _, s := range e.servers {
		e.monWG.Add(1)
		go func() {
			defer e.monWG.Done()
			t := time.NewTicker(e.opts.PollInterval)
			defer t.Stop()
			for {
				e.poll(ctx, s.id)
				select {
				case <-ctx.Done():
					return
				case <-t.C:
				}
			}
		}()
	}
	if e.opts.MntrInterval > 0 {
		e.monWG.Add(1)
		go func() {
			defer e.monWG.Done()
			t := time.NewTicker(e.opts.MntrInterval)
			defer t.Stop()
			for {
				select {
				case <-ctx.Done():
					return
				case <-t.C:
				}
				e.snapshotMntr(ctx)
			}
		}()
	}
}

// poll asks server id for srvr and records what it says. It returns the
// role seen.
func (e *Ensemble) poll(ctx context.Context, id int) Role {
	return e.pollTimeout(ctx, id, max(e.opts.PollInterval, 500*time.Millisecond))
}

// pollTimeout is poll with a given srvr timeout.
func (e *Ensemble) pollTimeout(ctx context.Context, id int, timeout time.Duration) Role {
	e.mu.Lock()
	s := e.servers[id-1]
	running, frozen, addr, pid := s.running, s.frozen, s.clientAddr(), s.pid
	e.mu.Unlock()
	if !running {
		return RoleDown
	}
	if frozen {
		// A stopped process cannot answer; do not wait for the timeout.
		e.observe(id, pid, RoleUnreachable, -1, false)
		return RoleUnreachable
	}
	st, err := flw.Srvr(ctx, addr, timeout)
	if ctx.Err() != nil {
		return RoleUnknown
	}
	role := Role(st.Mode)
	switch {
	case errors.Is(err, flw.ErrNotServing), errors.Is(err, flw.ErrEmptyReply):
		// Java says it is not serving; the Go server closes the connection.
		role = RoleNotServing
	case err != nil:
		role = RoleUnreachable
	}
	// A leader that does not serve clients, or that is too busy to answer
	// srvr in time, is still found by its learners' connections.
	if (role == RoleNotServing || role == RoleUnreachable) && e.leaderHidden(id) {
		role = RoleLeader
	}
	if err == nil {
		e.observe(id, pid, role, st.Zxid, true)
	} else {
		e.observe(id, pid, role, -1, false)
	}
	return role
}

// observe records a poll result for server id if it still runs as pid.
func (e *Ensemble) observe(id, pid int, role Role, zxid int64, haveZxid bool) {
	now := time.Now()
	e.mu.Lock()
	defer e.mu.Unlock()
	s := e.servers[id-1]
	if s.pid != pid || (!e.external && !s.running) {
		return // the process changed under the poll
	}
	if pid > 0 {
		if ps, err := readProc(pid); err == nil {
			s.last = ps
		}
	}
	changed := s.role != role
	if haveZxid {
		if zxid>>32 != s.epoch {
			changed = true
		}
		s.zxid, s.epoch = zxid, zxid>>32
	}
	s.role = role
	if changed {
		e.recordLocked(s, now)
	}
}

// leaderHidden reports whether server id, which says it is not serving (or
// does not answer), is in fact a leader: see sockets.go.
func (e *Ensemble) leaderHidden(id int) bool {
	if e.external || !e.opts.quorumed() {
		return false
	}
	e.mu.Lock()
	s := e.servers[id-1]
	observer, port := s.observer, s.quorumPort
	e.mu.Unlock()
	return !observer && e.socks.established(port)
}

func (e *Ensemble) recordLocked(s *server, now time.Time) {
	e.timeline = append(e.timeline, RoleSample{Time: now, ID: s.id, Role: s.role, Epoch: s.epoch, Zxid: s.zxid})
}

func (e *Ensemble) snapshotMntr(ctx context.Context) {
	e.mu.Lock()
	type target struct {
		id   int
		addr string
	}
	var ts []target
	for _, s := range e.servers {
		if s.running && !s.frozen {
			ts = append(ts, target{s.id, s.clientAddr()})
		}
	}
	e.mu.Unlock()
	var wg sync.WaitGroup
	for _, t := range ts {
		wg.Add(1)
		go func() {
			defer wg.Done()
			m, err := flw.Mntr(ctx, t.addr, time.Second)
			if err != nil {
				return
			}
			e.mu.Lock()
			e.mntr = append(e.mntr, MntrSnapshot{Time: time.Now(), ID: t.id, Values: m})
			e.mu.Unlock()
		}()
	}
	wg.Wait()
}

// pollAll polls every server once, concurrently, and returns the roles seen
// indexed by id-1.
func (e *Ensemble) pollAll(ctx context.Context) []Role {
	return e.pollAllTimeout(ctx, max(e.opts.PollInterval, 500*time.Millisecond))
}

// pollAllTimeout is pollAll with a given srvr timeout.
func (e *Ensemble) pollAllTimeout(ctx context.Context, timeout time.Duration) []Role {
	e.mu.Lock()
	n := len(e.servers)
	e.mu.Unlock()
	roles := make([]Role, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Add(1)
		go func() { defer wg.Done(); roles[i] = e.pollTimeout(ctx, i+1, timeout) }()
	}
	wg.Wait()
	return roles
}

// WaitServing waits until a quorum of voters serves with a leader (or the
// single server is standalone), then, unless Options.SkipWriteCheck, until
// a test write succeeds, then runs Options.ReadyHook.
func (e *Ensemble) WaitServing(ctx context.Context) error {
	return e.waitServing(ctx, false)
}

func (e *Ensemble) waitServing(ctx context.Context, starting bool) error {
	var roles []Role
	for {
		if starting {
			if err := e.checkExited(); err != nil {
				return err
			}
		}
		roles = e.pollAll(ctx)
		if e.quorumServing(roles) {
			break
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("harness: waiting for a serving quorum (roles %v): %w", roles, context.Cause(ctx))
		case <-time.After(50 * time.Millisecond):
		}
	}
	if !e.opts.SkipWriteCheck {
		if err := e.testWrite(ctx); err != nil {
			return err
		}
	}
	if e.opts.ReadyHook != nil {
		if err := e.opts.ReadyHook(ctx, e); err != nil {
			return fmt.Errorf("harness: ready hook: %w", err)
		}
	}
	return nil
}

// waitAllServing waits until every member serves (a leader that does not
// serve clients counts, as poll finds it by its learners).
func (e *Ensemble) waitAllServing(ctx context.Context) error {
	for {
		roles := e.pollAll(ctx)
		var waiting []string
		for i, r := range roles {
			if !r.Serving() {
				waiting = append(waiting, fmt.Sprintf("server %d %s", i+1, r))
			}
		}
		if len(waiting) == 0 {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("harness: a quorum serves, but not every member: %s: %w", strings.Join(waiting, ", "), context.Cause(ctx))
		case <-time.After(50 * time.Millisecond):
		}
	}
}

func (e *Ensemble) quorumServing(roles []Role) bool {
	e.mu.Lock()
	defer e.mu.Unlock()
	voters, serving, leaders := 0, 0, 0
	for i, r := range roles {
		if r == RoleObserver || (!e.external && e.servers[i].observer) {
			continue
		}
		voters++
		if r.Serving() {
			serving++
		}
		if r == RoleLeader || r == RoleStandalone {
			leaders++
		}
	}
	return voters > 0 && leaders >= 1 && serving > voters/2
}

// checkExited fails if a server exited while the ensemble was starting,
// with errBind if its log says its address was taken.
func (e *Ensemble) checkExited() error {
	e.mu.Lock()
	var dead []*server
	for _, s := range e.servers {
		if !e.external && !s.running {
			dead = append(dead, s)
		}
	}
	e.mu.Unlock()
	for _, s := range dead {
		tail := logTail(s.dir)
		if strings.Contains(tail, "Address already in use") || strings.Contains(tail, "BindException") {
			return fmt.Errorf("%w: server %d: %s", errBind, s.id, lastLines(tail, 3))
		}
		return fmt.Errorf("harness: server %d exited while starting; its log ends:\n%s", s.id, lastLines(tail, 15))
	}
	return nil
}

// logTail returns the last 16 KiB of a server's logs.
func logTail(dir string) string {
	var b strings.Builder
	for _, name := range []string{"server.log", "stdout.log"} {
		data, err := os.ReadFile(filepath.Join(dir, name))
		if err != nil {
			continue
		}
		if len(data) > 16<<10 {
			data = data[len(data)-16<<10:]
		}
		b.Write(data)
	}
	return b.String()
}

func lastLines(s string, n int) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}
