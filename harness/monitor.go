package harness

import (
	"context"
	"errors"
	"fmt"
	"net/http"
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

// DefaultMntrInterval is how often each server is sampled by default: its
// cost to the servers is measured by experiment's BenchmarkSamplingCost
// (under 2 % of their CPU).
const DefaultMntrInterval = time.Second

// MntrKeys are the mntr keys a sample keeps (Java 3.8 answers some 300,
// most of them per-request-type detail): role, queue, latency, fsync time
// (upstream's zk_*_fsynctime summary, or the Go server's zk_fsync_*),
// data, connections and sessions.
var MntrKeys = []string{
	"zk_server_state", "zk_outstanding_requests",
	"zk_avg_latency", "zk_max_latency", "zk_min_latency",
	"zk_cnt_fsynctime", "zk_sum_fsynctime", "zk_max_fsynctime",
	"zk_fsync_count", "zk_fsync_p50_us", "zk_fsync_p99_us",
	"zk_znode_count", "zk_watch_count", "zk_num_alive_connections", "zk_global_sessions",
	"zk_packets_received", "zk_packets_sent", "zk_synced_followers", "zk_last_zxid",
}

// snapshotMntr samples every server once, concurrently: its mntr reply
// (if it answers within a second; a frozen or down server is not asked),
// what its Prometheus endpoint adds (a Go server's: fsync time, and the
// figures of a leader that serves no clients, which answers no mntr), and
// its process's CPU and RSS.
func (e *Ensemble) snapshotMntr(ctx context.Context) {
	type target struct {
		id, pid int
		addr    string
		metrics string // Prometheus endpoint, if any
		role    Role
		ask     bool
	}
	e.mu.Lock()
	ts := make([]target, 0, len(e.servers))
	for _, s := range e.servers {
		t := target{id: s.id, pid: s.pid, addr: s.clientAddr(), role: s.role, ask: s.running && !s.frozen}
		if s.metricsPort > 0 {
			t.metrics = fmt.Sprintf("http://%s:%d/metrics", s.host, s.metricsPort)
		}
		ts = append(ts, t)
	}
	e.mu.Unlock()
	client := &http.Client{Timeout: time.Second}
	var wg sync.WaitGroup
	for _, t := range ts {
		wg.Go(func() {
			snap := MntrSnapshot{ID: t.id, Role: t.role, PID: t.pid}
			if t.ask {
				m, err := flw.Mntr(ctx, t.addr, time.Second)
				if ctx.Err() != nil {
					return
				}
				if err == nil {
					snap.Values = make(map[string]string, len(MntrKeys))
					for _, k := range MntrKeys {
						if v, ok := m[k]; ok {
							snap.Values[k] = v
						}
					}
				}
				if t.metrics != "" {
					if m, err := scrapePrometheus(ctx, client, t.metrics); err == nil {
						if snap.Values == nil {
							snap.Values = map[string]string{}
						}
						for k, v := range m {
							if _, ok := snap.Values[k]; !ok {
								snap.Values[k] = v
							}
						}
					}
				}
			}
			if t.pid > 0 {
				if ps, err := readProc(t.pid); err == nil {
					snap.CPUSeconds, snap.RSSKiB = ps.cpuSeconds, ps.rssKiB
				}
			}
			snap.Time = time.Now()
			e.mu.Lock()
			e.mntr = append(e.mntr, snap)
			e.mu.Unlock()
		})
	}
	wg.Wait()
}

// Sample samples every server once, now, as the sampler does every
// MntrInterval (for measuring what sampling costs).
func (e *Ensemble) Sample(ctx context.Context) { e.snapshotMntr(ctx) }

// MntrInterval is how often every server is sampled, 0 if never.
func (e *Ensemble) MntrInterval() time.Duration {
	return max(e.opts.MntrInterval, 0)
}

// Exits returns every server process's end so far, in order.
func (e *Ensemble) Exits() []Exit {
	e.mu.Lock()
	defer e.mu.Unlock()
	return append([]Exit(nil), e.exits...)
}

// exitStatus says how a process ended, from cmd.Wait's error.
func exitStatus(err error) string {
	if err == nil {
		return "exit status 0"
	}
	return err.Error()
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
