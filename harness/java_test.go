package harness

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"testing"
	"time"
)

// impls lists the providers the process tests run against: java always
// (skipped loudly if missing), go unless HARNESS_SKIP_GO is set.
func impls(t *testing.T) []string {
	out := []string{ImplJava}
	if !skipGo() {
		out = append(out, ImplGo)
	}
	return out
}

// heavyImpls is impls for the slow scenario tests: under -short, when the
// Go server is built, only it (each Java scenario costs 5-30 s of JVMs).
func heavyImpls(t *testing.T) []string {
	if testing.Short() && !skipGo() {
		t.Log("-short: running this scenario on the go provider only; without -short it runs on java too")
		return []string{ImplGo}
	}
	return impls(t)
}

// fastestImpl is the provider that starts quickest (go unless skipped).
func fastestImpl() string {
	if !skipGo() {
		return ImplGo
	}
	return ImplJava
}

// startEnsemble starts an ensemble for a test and makes sure, in
// t.Cleanup, that it is closed and that no process it started survives.
func startEnsemble(t *testing.T, ctx context.Context, o Options) *Ensemble {
	t.Helper()
	switch o.Impl {
	case ImplJava:
		needJava(t)
		if o.JavaHeap == "" {
			o.JavaHeap = "128m"
		}
		o.JavaOpts = append([]string{"-XX:+UseSerialGC", "-XX:TieredStopAtLevel=1", "-Xshare:auto"}, o.JavaOpts...)
	case ImplGo:
		if len(o.GoCommand) == 0 {
			o.GoCommand = zkserverCommand(t)
		}
	}
	if o.RunDir == "" {
		o.RunDir = t.TempDir()
	}
	if o.TickTime == 0 {
		o.TickTime = 300
	}
	t0 := time.Now()
	e, err := Start(ctx, o)
	t.Logf("Start(%s, %d+%d servers) took %v", o.Impl, o.Servers, o.Observers, time.Since(t0))
	if err != nil {
		t.Fatalf("Start(%s, %d servers): %v", o.Impl, o.Servers, err)
	}
	t.Cleanup(func() {
		pids := allPIDs(e)
		t0 := time.Now()
		if err := e.Close(); err != nil {
			t.Errorf("Close: %v", err)
		}
		t.Logf("Close took %v", time.Since(t0))
		assertDead(t, pids)
		if t.Failed() {
			dumpLogs(t, e)
		}
	})
	return e
}

func allPIDs(e *Ensemble) []int {
	var pids []int
	for _, s := range e.Stats() {
		pids = append(pids, s.PIDs...)
	}
	return pids
}

// assertDead fails if any pid is still a live (non-zombie) process.
func assertDead(t *testing.T, pids []int) {
	t.Helper()
	if len(pids) == 0 {
		t.Error("no pids recorded")
	}
	for _, pid := range pids {
		if pidAlive(pid) {
			t.Errorf("process %d outlived its ensemble", pid)
		}
	}
}

func dumpLogs(t *testing.T, e *Ensemble) {
	for _, m := range e.Members() {
		if m.Dir == "" {
			continue
		}
		t.Logf("server %d log tail:\n%s", m.ID, lastLines(logTail(m.Dir), 20))
	}
}

func testCtx(t *testing.T, d time.Duration) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), d)
	t.Cleanup(cancel)
	return ctx
}

func TestIntegration_Standalone(t *testing.T) {
	for _, impl := range impls(t) {
		t.Run(impl, func(t *testing.T) {
			logDir := t.TempDir()
			e := startEnsemble(t, testCtx(t, 60*time.Second), Options{Impl: impl, Servers: 1, LogDir: logDir + "/{id}/txlog"})
			ms := e.Members()
			if len(ms) != 1 || ms[0].Role != RoleStandalone || !ms[0].Running || ms[0].PID == 0 {
				t.Fatalf("members %+v", ms)
			}
			if id, ok := e.Leader(); !ok || id != 1 {
				t.Fatalf("Leader() = %d, %v", id, ok)
			}
			cfg, err := os.ReadFile(filepath.Join(ms[0].Dir, "zoo.cfg"))
			if err != nil {
				t.Fatal(err)
			}
			if !strings.Contains(string(cfg), "dataLogDir="+logDir+"/1/txlog\n") {
				t.Errorf("config lacks the log dir:\n%s", cfg)
			}
			if _, err := os.Stat(filepath.Join(logDir, "1", "txlog")); err != nil {
				t.Errorf("log dir: %v", err)
			}
			if strings.Contains(string(cfg), "server.") {
				t.Errorf("standalone config has server lines:\n%s", cfg)
			}
			st := e.Stats()
			if len(st) != 1 || st[0].CPUSeconds < 0 || st[0].PeakRSSKiB <= 0 {
				t.Errorf("stats %+v", st)
			}
			li := e.Launch()
			if !li.SameSession || li.Impl != impl || len(li.Command) == 0 || !strings.HasSuffix(li.Command[len(li.Command)-1], "zoo.cfg") {
				t.Errorf("launch info %+v", li)
			}
			// The server runs told its share of the CPUs: half of them,
			// shared with the driver.
			cpus := max(1, runtime.NumCPU()/2)
			if got := e.ServerCPUs(); got != cpus {
				t.Errorf("ServerCPUs() = %d, want %d", got, cpus)
			}
			file, want := "environ", fmt.Sprintf("GOMAXPROCS=%d", cpus)
			if impl == ImplJava {
				file, want = "cmdline", fmt.Sprintf("-XX:ActiveProcessorCount=%d", cpus)
			}
			raw, err := os.ReadFile(fmt.Sprintf("/proc/%d/%s", ms[0].PID, file))
			if err != nil {
				t.Fatal(err)
			}
			if !slices.Contains(strings.Split(string(raw), "\x00"), want) {
				t.Errorf("server's /proc/%d/%s lacks %q", ms[0].PID, file, want)
			}
			if err := e.Restart(1); !errors.Is(err, ErrRunning) {
				t.Errorf("Restart of a running server: %v, want ErrRunning", err)
			}
			if err := e.Partition(1); !errors.Is(err, ErrUnavailable) {
				t.Errorf("Partition without proxy: %v, want ErrUnavailable", err)
			}
		})
	}
}

func TestIntegration_KillFreezeRestart(t *testing.T) {
	for _, impl := range impls(t) {
		t.Run(impl, func(t *testing.T) {
			ctx := testCtx(t, 90*time.Second)
			e := startEnsemble(t, ctx, Options{Impl: impl, Servers: 3, LeaderServes: true})
			old, ok := e.Leader()
			if !ok {
				t.Fatal("no leader after start")
			}
			if id, err := e.Pick(ctx, Target{Kind: TargetLeader}); err != nil || id != old {
				t.Fatalf("Pick(leader) = %d, %v; Leader() = %d", id, err, old)
			}
			if id, err := e.Pick(ctx, Target{Kind: TargetFollower}); err != nil || id == old {
				t.Fatalf("Pick(follower) = %d, %v; leader %d", id, err, old)
			}
			if _, err := e.Pick(ctx, Target{Kind: TargetObserver}); !errors.Is(err, ErrNoServer) {
				t.Fatalf("Pick(observer) without observers: %v", err)
			}
			oldEpoch := e.Members()[old-1].Epoch
			if err := e.Kill(old); err != nil {
				t.Fatal(err)
			}
			if err := e.Kill(old); !errors.Is(err, ErrNotRunning) {
				t.Fatalf("second Kill: %v, want ErrNotRunning", err)
			}
			if err := e.WaitServing(ctx); err != nil {
				t.Fatal(err)
			}
			// Poll after the test write: upstream reports the new epoch as
			// soon as it leads, a server may only after its first write.
			e.pollAll(ctx)
			nl, ok := e.Leader()
			if !ok || nl == old {
				t.Fatalf("leader after kill: %d %v (old %d)", nl, ok, old)
			}
			if ep := e.Members()[nl-1].Epoch; ep <= oldEpoch {
				t.Errorf("new leader's epoch %d, old %d", ep, oldEpoch)
			}
			if err := e.Restart(old); err != nil {
				t.Fatal(err)
			}
			waitRole(t, ctx, e, old, RoleFollower)
			sawNew := false
			for _, s := range e.Timeline() {
				if s.ID == nl && s.Role == RoleLeader {
					sawNew = true
				}
			}
			if !sawNew {
				t.Errorf("timeline lacks the new leader: %+v", e.Timeline())
			}
			if st := e.Stats()[old-1]; len(st.PIDs) != 2 || st.CPUSeconds <= 0 || st.PeakRSSKiB <= 0 {
				t.Errorf("stats of the restarted server: %+v", st)
			}
			// Freeze and thaw a follower; two of three keep serving.
			l, _ := e.Leader()
			f := l%3 + 1
			if err := e.Freeze(f); err != nil {
				t.Fatal(err)
			}
			if err := e.Freeze(f); !errors.Is(err, ErrFrozen) {
				t.Fatalf("second Freeze: %v", err)
			}
			if m := e.Members()[f-1]; !m.Frozen || procState(m.PID) != 'T' {
				t.Fatalf("frozen member %+v state %c", m, procState(m.PID))
			}
			// Two of three still make a quorum.
			if err := e.WaitServing(ctx); err != nil {
				t.Fatal(err)
			}
			if err := e.Thaw(f); err != nil {
				t.Fatal(err)
			}
			if err := e.Thaw(f); !errors.Is(err, ErrNotFrozen) {
				t.Fatalf("second Thaw: %v", err)
			}
			waitRole(t, ctx, e, f, RoleFollower)
			// A frozen server can still be killed and restarted.
			if err := e.Freeze(f); err != nil {
				t.Fatal(err)
			}
			if err := e.Kill(f); err != nil {
				t.Fatal(err)
			}
			if err := e.Restart(f); err != nil {
				t.Fatal(err)
			}
			waitRole(t, ctx, e, f, RoleFollower)
		})
	}
}

// waitRole waits until server id is seen in role want.
func waitRole(t *testing.T, ctx context.Context, e *Ensemble, id int, want Role) {
	t.Helper()
	for {
		if got := e.poll(ctx, id); got == want {
			return
		}
		select {
		case <-ctx.Done():
			t.Fatalf("server %d never became %s: members %+v", id, want, e.Members())
		case <-time.After(50 * time.Millisecond):
		}
	}
}

func procState(pid int) byte { return procStateOf(pid) }

func TestIntegration_Observer(t *testing.T) {
	for _, impl := range heavyImpls(t) {
		t.Run(impl, func(t *testing.T) {
			ctx := testCtx(t, 60*time.Second)
			e := startEnsemble(t, ctx, Options{Impl: impl, Servers: 3, Observers: 1, LeaderServes: true})
			ms := e.Members()
			if len(ms) != 4 || !ms[3].Observer {
				t.Fatalf("members %+v", ms)
			}
			waitRole(t, ctx, e, 4, RoleObserver)
			cfg, err := os.ReadFile(filepath.Join(ms[0].Dir, "zoo.cfg"))
			if err != nil {
				t.Fatal(err)
			}
			if !strings.Contains(string(cfg), ":observer") || !strings.Contains(string(cfg), "leaderServes=yes") {
				t.Errorf("config:\n%s", cfg)
			}
		})
	}
}
