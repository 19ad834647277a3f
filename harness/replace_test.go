package harness

import (
	"errors"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/go-zookeeper/zk"
)

// runsJava reports whether process pid is a Java QuorumPeerMain.
func runsJava(t *testing.T, pid int) bool {
	t.Helper()
	raw, err := os.ReadFile(fmt.Sprintf("/proc/%d/cmdline", pid))
	if err != nil {
		t.Fatal(err)
	}
	return slices.Contains(strings.Split(string(raw), "\x00"), "org.apache.zookeeper.server.quorum.QuorumPeerMain")
}

// readAll reads /r0../r(n-1) through the one server at addr, without a
// sync: a replacement that serves has caught up with what was written
// before it started.
func readAll(t *testing.T, addr string, n int) {
	t.Helper()
	c, _, err := zk.Connect([]string{addr}, 10*time.Second, zk.WithLogger(nopLogger{}))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	for i := range n {
		got, _, err := c.Get(fmt.Sprintf("/r%d", i))
		if err != nil || string(got) != fmt.Sprintf("v%d", i) {
			t.Fatalf("read /r%d through %s: %q, %v; want v%d", i, addr, got, err, i)
		}
	}
}

// writeRange creates /r<from>../r<to-1> through the ensemble.
func writeRange(t *testing.T, connect string, from, to int) {
	t.Helper()
	c, _, err := zk.Connect(strings.Split(connect, ","), 10*time.Second, zk.WithLogger(nopLogger{}))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	for i := from; i < to; i++ {
		if _, err := c.Create(fmt.Sprintf("/r%d", i), []byte(fmt.Sprintf("v%d", i)), 0, zk.WorldACL(zk.PermAll)); err != nil {
			t.Fatalf("create /r%d: %v", i, err)
		}
	}
}

// TestIntegration_Replace replaces a follower of a Java ensemble by a Go
// server on the same data directories (a separate dataLogDir included),
// id and ports while clients write, then brings Java back with kill -9.
// Java takes snapshots and rolls its log every few hundred txns here, so
// the Go server starts from Java's snapshot.<zxid> and log.<zxid> files
// and Java from the Go server's. Each time the replacement must serve,
// caught up: everything written before it started is read through it.
// Last, Go replaces Java again after a kill -9 under writes.
func TestIntegration_Replace(t *testing.T) {
	needJava(t)
	o := Options{Impl: ImplMixed, Placement: "java=3", GoCommand: zkserverCommand(t), JavaHeap: "128m",
		JavaOpts:    []string{"-XX:+UseSerialGC", "-XX:TieredStopAtLevel=1", "-Xshare:auto"},
		LogDir:      t.TempDir() + "/{id}/txlog",
		ExtraConfig: map[string]string{"snapCount": "200"}}
	ctx := testCtx(t, 120*time.Second)
	e := startEnsemble(t, ctx, o)
	connect := e.ConnectString()
	writeRange(t, connect, 0, 50)
	stop := writers(t, connect, 4)
	time.Sleep(time.Second) // some hundreds of txns: Java snapshots and rolls its log
	id, err := e.Pick(ctx, Target{Kind: TargetFollower})
	if err != nil {
		t.Fatal(err)
	}
	before := e.Members()[id-1]
	snaps, _ := filepath.Glob(filepath.Join(before.Dir, "data", "version-2", "snapshot.*"))
	logs, _ := filepath.Glob(filepath.Join(dataLogDirFor(o.LogDir, id), "version-2", "log.*"))
	if len(snaps) < 2 || len(logs) < 2 {
		t.Fatalf("Java's files on server %d: snapshots %v, logs %v; want several of each (snapCount=200)", id, snaps, logs)
	}
	rep, err := e.Replace(ctx, id, ImplGo, ReplaceOptions{})
	if err != nil {
		stop()
		t.Fatalf("replace %d java->go: %v", id, err)
	}
	t.Logf("replaced %+v", rep)
	writeRange(t, connect, 50, 100)
	n, _ := stop()
	if n == 0 {
		t.Fatal("the writers wrote nothing")
	}
	after := e.Members()[id-1]
	switch {
	case rep.ID != id || rep.From != ImplJava || rep.To != ImplGo || rep.Killed:
		t.Errorf("replacement %+v: want server %d java->go, stopped cleanly", rep, id)
	case after.PID == before.PID || runsJava(t, after.PID):
		t.Errorf("server %d runs pid %d (was %d), Java %v: want a new Go process", id, after.PID, before.PID, runsJava(t, after.PID))
	case after.ClientAddr != before.ClientAddr || after.Dir != before.Dir:
		t.Errorf("server %d moved: %s in %s, was %s in %s", id, after.ClientAddr, after.Dir, before.ClientAddr, before.Dir)
	case !after.Role.Serving() || rep.Zxid < rep.Target || rep.Serving <= rep.Stopped:
		t.Errorf("server %d: role %s, replacement %+v: want it serving, caught up", id, after.Role, rep)
	}
	want := map[int]string{1: ImplJava, 2: ImplJava, 3: ImplJava}
	want[id] = ImplGo
	if got := e.Placement(); !maps.Equal(got, want) || !maps.Equal(rep.Placement, want) {
		t.Errorf("placement %v, replacement's %v; want %v", got, rep.Placement, want)
	}
	readAll(t, after.ClientAddr, 100)

	if _, err := e.Replace(ctx, id, ImplGo, ReplaceOptions{}); !errors.Is(err, ErrSameImpl) {
		t.Errorf("replacing a Go server by Go: %v, want ErrSameImpl", err)
	}
	writeRange(t, connect, 100, 120)
	back, err := e.Replace(ctx, id, ImplJava, ReplaceOptions{Kill: true})
	if err != nil {
		t.Fatalf("replace %d go->java: %v", id, err)
	}
	t.Logf("replaced back %+v", back)
	if m := e.Members()[id-1]; !back.Killed || !runsJava(t, m.PID) || !m.Role.Serving() {
		t.Errorf("server %d: pid %d, role %s, %+v: want a serving Java process after a kill -9", id, m.PID, m.Role, back)
	}
	readAll(t, e.Members()[id-1].ClientAddr, 120)

	// And Go again, now on the log of a Java process killed while clients
	// wrote: preallocated zeros after its last record, perhaps a torn one.
	stop = writers(t, connect, 4)
	time.Sleep(500 * time.Millisecond)
	crashed, err := e.Replace(ctx, id, ImplGo, ReplaceOptions{Kill: true})
	if n, _ := stop(); err != nil || n == 0 {
		t.Fatalf("replace %d java->go after kill -9: %v (%d writes)", id, err, n)
	}
	t.Logf("replaced after a crash %+v", crashed)
	if m := e.Members()[id-1]; !crashed.Killed || runsJava(t, m.PID) || !m.Role.Serving() {
		t.Errorf("server %d: pid %d, role %s, %+v: want a serving Go process after a kill -9 of Java", id, m.PID, m.Role, crashed)
	}
	writeRange(t, connect, 120, 140)
	readAll(t, e.Members()[id-1].ClientAddr, 140)
	for _, x := range e.Exits() {
		if !x.Killed {
			t.Errorf("exit %+v counted as the server's own", x)
		}
	}
}

func TestRollingSchedule(t *testing.T) {
	s, err := RollingSchedule(ImplJava, ImplGo, 3, 10*time.Second, true, false)
	if err != nil {
		t.Fatal(err)
	}
	want := `at 10s replace-go follower # 1
at 20s replace-go follower # 2
at 30s replace-go any # 3
at 40s replace-java follower # 4
at 50s replace-java follower # 5
at 1m0s replace-java any # 6
`
	if got := s.String(); got != want {
		t.Errorf("schedule:\n%s\nwant:\n%s", got, want)
	}
	if s.Name != "rolling java->go->java" {
		t.Errorf("name %q", s.Name)
	}
	// The text form reads back as the same schedule.
	back, err := ParseSchedule(s.String())
	if err != nil || back.String() != want {
		t.Errorf("ParseSchedule(String()) = %v, %v", back, err)
	}
	// With crash every step is a crash replacement, which reads back too.
	crash, err := RollingSchedule(ImplJava, ImplGo, 3, 10*time.Second, true, true)
	if err != nil {
		t.Fatal(err)
	}
	wantCrash := strings.NewReplacer("replace-go", "crash-replace-go", "replace-java", "crash-replace-java").Replace(want)
	if got := crash.String(); got != wantCrash {
		t.Errorf("crash schedule:\n%s\nwant:\n%s", got, wantCrash)
	}
	if back, err := ParseSchedule(crash.String()); err != nil || back.String() != wantCrash {
		t.Errorf("ParseSchedule(crash) = %v, %v", back, err)
	}
	for _, a := range []Action{ReplaceGo, ReplaceJava, CrashReplaceGo, CrashReplaceJava} {
		impl, ok := a.Replaces()
		if !ok || ReplaceAction(impl, a.crashes()) != a {
			t.Errorf("%s: replaces %q %v, crashes %v: does not round-trip", a, impl, ok, a.crashes())
		}
	}
	one, err := RollingSchedule(ImplGo, ImplJava, 5, time.Second, false, false)
	if err != nil || len(one.Steps) != 5 || one.Steps[4].Target.Kind != TargetAny || one.Steps[0].Action != ReplaceJava || one.Name != "rolling go->java" {
		t.Errorf("go->java on 5: %v, %v", one, err)
	}
	for _, bad := range []struct {
		from, to string
		n        int
		pause    time.Duration
	}{{ImplJava, ImplJava, 3, time.Second}, {ImplJava, "rust", 3, time.Second}, {ImplJava, ImplGo, 1, time.Second}, {ImplJava, ImplGo, 3, 0}} {
		if _, err := RollingSchedule(bad.from, bad.to, bad.n, bad.pause, false, false); err == nil {
			t.Errorf("RollingSchedule(%v) accepted", bad)
		}
	}
}
