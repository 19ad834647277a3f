package history

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// builder makes hand-written histories with logical times.
type builder struct {
	h History
}

func newBuilder() *builder {
	return &builder{h: History{Initial: map[string]State{
		"/k": {Value: "init", HasStat: true, Version: 0, Zxid: 1},
		"/j": {Value: "init-j", HasStat: true, Version: 0, Zxid: 2},
	}}}
}

func (b *builder) add(client int, session int64, op Op, call, ret int64, out Outcome, res Result) *builder {
	b.h.Ops = append(b.h.Ops, Operation{ID: len(b.h.Ops), Client: client, Session: session, Op: op, Call: call, Return: ret, Outcome: out, Result: res})
	return b
}

func (b *builder) write(client int, session int64, key, value string, call, ret int64, version int32, zxid int64) *builder {
	return b.add(client, session, Write(key, value), call, ret, OutcomeOK, Result{HasStat: true, Version: version, Zxid: zxid})
}

func (b *builder) read(client int, session int64, key, value string, call, ret int64, version int32, zxid int64) *builder {
	return b.add(client, session, Read(key), call, ret, OutcomeOK, Result{Value: value, HasStat: true, Version: version, Zxid: zxid})
}

func (b *builder) sync(client int, session int64, key string, call, ret int64) *builder {
	return b.add(client, session, Sync(key), call, ret, OutcomeOK, Result{})
}

func final(states map[string]State) *Final {
	return &Final{Keys: states, Servers: map[string]map[string]State{"a": states}}
}

// mustVerdict asserts the named check's verdict and that some finding's
// text contains want (when failing).
func mustVerdict(t *testing.T, r Report, name string, v Verdict, want string) {
	t.Helper()
	c, ok := r.Get(name)
	if !ok {
		t.Fatalf("no %s check in report:\n%s", name, r)
	}
	if c.Verdict != v {
		t.Fatalf("%s: verdict %v, want %v\n%s", name, c.Verdict, v, r)
	}
	if want == "" {
		return
	}
	for _, f := range c.Findings {
		if strings.Contains(f.String(), want) {
			return
		}
	}
	t.Fatalf("%s: no finding mentions %q\n%s", name, want, r)
}

func goodHistory() (*History, *Final) {
	b := newBuilder()
	b.write(0, 10, "/k", "a", 0, 10, 1, 3)
	b.read(1, 11, "/k", "init", 5, 12, 0, 1) // concurrent with the write
	b.read(1, 11, "/k", "a", 13, 14, 1, 3)
	b.write(1, 11, "/j", "x", 15, 20, 1, 4)
	b.sync(2, 12, "/k", 21, 22)
	b.read(2, 12, "/k", "a", 23, 24, 1, 3)
	b.read(2, 12, "/j", "x", 25, 26, 1, 4)
	b.add(0, 10, Write("/k", "b"), 30, 40, OutcomeUnknown, Result{}) // maybe applied; it was
	b.add(0, 10, Write("/j", "y"), 41, 42, OutcomeFailed, Result{})  // certainly not applied
	b.write(0, 13, "/k", "c", 50, 60, 3, 6)
	b.read(1, 11, "/k", "b", 45, 46, 2, 5) // saw the unknown write
	return &b.h, final(map[string]State{
		"/k": {Value: "c", HasStat: true, Version: 3, Zxid: 6},
		"/j": {Value: "x", HasStat: true, Version: 1, Zxid: 4},
	})
}

func TestGoodHistoryPasses(t *testing.T) {
	h, f := goodHistory()
	r := Check(h, f)
	if !r.OK() {
		t.Fatalf("good history rejected:\n%s", r)
	}
	if r.Err() != nil {
		t.Fatalf("Err() = %v on a passing report", r.Err())
	}
	if len(r.Results) != 8 {
		t.Fatalf("want 8 checks, got %d", len(r.Results))
	}
}

func TestNoFinalIsUnknownNotPass(t *testing.T) {
	h, _ := goodHistory()
	r := Check(h, nil)
	mustVerdict(t, r, CheckLostWrites, Unknown, "no final state")
	if r.OK() || !errors.Is(r.Err(), ErrUndecided) {
		t.Fatalf("report without final state must be undecided, got OK=%v err=%v", r.OK(), r.Err())
	}
}

func TestLostAcknowledgedWrite(t *testing.T) {
	b := newBuilder()
	b.write(0, 10, "/k", "a", 0, 10, 1, 3)
	b.write(1, 11, "/k", "b", 20, 30, 2, 4) // invoked after "a" returned
	r := Check(&b.h, final(map[string]State{
		"/k": {Value: "a", HasStat: true, Version: 1, Zxid: 3},
		"/j": {Value: "init-j", HasStat: true, Version: 0, Zxid: 2},
	}))
	mustVerdict(t, r, CheckLostWrites, Fail, "acknowledged write #1 was lost")
	mustVerdict(t, r, CheckLinearizable, Fail, "/k")
	if !errors.Is(r.Err(), ErrViolation) {
		t.Fatalf("Err() = %v, want ErrViolation", r.Err())
	}
}

// A key gone at the end (a power loss took the znode itself) lost its
// acknowledged writes: no client deletes a key.
func TestLostKey(t *testing.T) {
	b := newBuilder()
	b.write(0, 10, "/k", "a", 0, 10, 1, 3)
	r := Check(&b.h, final(map[string]State{
		"/k": {Missing: true},
		"/j": {Value: "init-j", HasStat: true, Version: 0, Zxid: 2},
	}))
	mustVerdict(t, r, CheckLostWrites, Fail, "the key no longer exists")
	c, _ := r.Get(CheckLostWrites)
	if len(c.Findings) != 1 || len(c.Findings[0].Ops) != 2 || c.Findings[0].Ops[0].Op.Value != "a" {
		t.Errorf("finding %v: want the acknowledged write and the final read", c.Findings)
	}
	if c, _ := r.Get(CheckLinearizable); c.Verdict == Unknown {
		t.Errorf("a missing key left linearizability undecided: %v", c)
	}
}

func TestLostWriteShownOnlyByVersion(t *testing.T) {
	// Two concurrent acknowledged writes; the final value is the second,
	// but the version says only one was applied.
	b := newBuilder()
	b.add(0, 10, Write("/k", "a"), 0, 10, OutcomeOK, Result{})
	b.add(1, 11, Write("/k", "b"), 0, 10, OutcomeOK, Result{})
	r := Check(&b.h, final(map[string]State{
		"/k": {Value: "b", HasStat: true, Version: 1, Zxid: 4},
		"/j": {Value: "init-j", HasStat: true, Version: 0, Zxid: 2},
	}))
	mustVerdict(t, r, CheckLostWrites, Fail, "version rose by 1 but 2 writes were acknowledged")
	mustVerdict(t, r, CheckLinearizable, Pass, "")
}

func TestStaleReadAfterSync(t *testing.T) {
	b := newBuilder()
	b.write(0, 10, "/k", "a", 0, 10, 1, 3)
	b.sync(1, 11, "/k", 20, 25)
	b.read(1, 11, "/k", "init", 26, 30, 0, 1)
	r := Check(&b.h, nil)
	mustVerdict(t, r, CheckLinearizable, Fail, `read(/k) @[26ns, 30ns] -> "init"`)

	// The same read without the sync may be stale: ZooKeeper allows it.
	b = newBuilder()
	b.write(0, 10, "/k", "a", 0, 10, 1, 3)
	b.read(1, 11, "/k", "init", 26, 30, 0, 1)
	r = Check(&b.h, nil)
	for _, c := range []string{CheckLinearizable, CheckSession, CheckNoTimeTravel, CheckReads, CheckStats} {
		mustVerdict(t, r, c, Pass, "")
	}

	// A sync in another session does not make the read linearizable.
	b = newBuilder()
	b.write(0, 10, "/k", "a", 0, 10, 1, 3)
	b.sync(1, 12, "/k", 20, 25)
	b.read(1, 11, "/k", "init", 26, 30, 0, 1)
	mustVerdict(t, Check(&b.h, nil), CheckLinearizable, Pass, "")
}

func TestSyncedReadMaySeeWriteConcurrentWithSync(t *testing.T) {
	// The write completes after the sync was invoked: the synced read may
	// or may not see it.
	for _, v := range []string{"init", "a"} {
		b := newBuilder()
		b.sync(1, 11, "/k", 20, 25)
		b.write(0, 10, "/k", "a", 0, 22, 1, 3)
		b.read(1, 11, "/k", v, 26, 30, map[string]int32{"init": 0, "a": 1}[v], map[string]int64{"init": 1, "a": 3}[v])
		mustVerdict(t, Check(&b.h, nil), CheckLinearizable, Pass, "")
	}
}

func TestVersionGoesBackwards(t *testing.T) {
	b := newBuilder()
	b.write(0, 10, "/k", "a", 0, 10, 1, 3)
	b.write(0, 10, "/k", "b", 11, 20, 2, 4)
	b.read(1, 11, "/k", "b", 21, 22, 2, 4)
	b.read(1, 11, "/k", "a", 23, 24, 1, 3) // went back
	r := Check(&b.h, nil)
	mustVerdict(t, r, CheckNoTimeTravel, Fail, "went back in time")
	// Reads in different sessions may disagree like that.
	b = newBuilder()
	b.write(0, 10, "/k", "a", 0, 10, 1, 3)
	b.write(0, 10, "/k", "b", 11, 20, 2, 4)
	b.read(1, 11, "/k", "b", 21, 22, 2, 4)
	b.read(1, 12, "/k", "a", 23, 24, 1, 3)
	mustVerdict(t, Check(&b.h, nil), CheckNoTimeTravel, Pass, "")
}

func TestReadYourWrites(t *testing.T) {
	b := newBuilder()
	b.write(0, 10, "/k", "a", 0, 10, 1, 3)
	b.read(0, 10, "/k", "init", 11, 12, 0, 1)
	mustVerdict(t, Check(&b.h, nil), CheckNoTimeTravel, Fail, "did not read its own write")
}

func TestStaleReadAcrossKeysInOneSession(t *testing.T) {
	b := newBuilder()
	b.write(0, 10, "/j", "x", 0, 10, 1, 3) // zxid 3 on /j
	b.write(0, 10, "/k", "a", 11, 20, 1, 4)
	b.read(1, 11, "/k", "a", 21, 22, 1, 4)      // session 11 has seen zxid 4
	b.read(1, 11, "/j", "init-j", 23, 24, 0, 2) // but /j changed at zxid 3
	mustVerdict(t, Check(&b.h, nil), CheckSession, Fail, "stale read")
}

func TestSessionWritesOutOfOrder(t *testing.T) {
	b := newBuilder()
	b.write(0, 10, "/k", "a", 0, 10, 1, 5)
	b.write(0, 10, "/j", "x", 11, 20, 1, 4)
	r := Check(&b.h, nil)
	mustVerdict(t, r, CheckSession, Fail, "out of the order")
	mustVerdict(t, r, CheckStats, Fail, "got an older zxid")
}

// A pipelining client's goroutines race to the send queue: two writes of
// one session in flight together may commit in either order, but a write
// issued after another returned must commit after it.
func TestSessionPipelinedWrites(t *testing.T) {
	b := newBuilder()
	b.write(0, 10, "/k", "a", 0, 10, 1, 5)
	b.write(1, 10, "/j", "x", 1, 9, 1, 4) // in flight with a: either order
	b.read(0, 10, "/k", "a", 11, 12, 1, 5)
	if r := Check(&b.h, nil); !resultOK(r, CheckSession) || !resultOK(r, CheckNoTimeTravel) {
		t.Fatalf("overlapping writes of one session reported:\n%v", r)
	}
	b.write(1, 10, "/j", "y", 13, 20, 2, 3) // issued after both returned
	mustVerdict(t, Check(&b.h, nil), CheckSession, Fail, "out of the order")
}

func resultOK(r Report, name string) bool {
	c, ok := r.Get(name)
	return ok && c.Verdict == Pass
}

func TestNonLinearizableWriteOrder(t *testing.T) {
	// a then b, strictly in sequence; a synced read after both sees a.
	b := newBuilder()
	b.add(0, 10, Write("/k", "a"), 0, 10, OutcomeOK, Result{})
	b.add(1, 11, Write("/k", "b"), 20, 30, OutcomeOK, Result{})
	b.sync(2, 12, "/k", 40, 41)
	b.add(2, 12, Read("/k"), 42, 45, OutcomeOK, Result{Value: "a"})
	r := Check(&b.h, nil)
	mustVerdict(t, r, CheckLinearizable, Fail, `write(/k, "b")`)
	c, _ := r.Get(CheckLinearizable)
	if !strings.Contains(c.Findings[0].Message, "longest linearization") {
		t.Fatalf("finding does not explain: %v", c.Findings[0])
	}

	dir := t.TempDir()
	CheckWith(&b.h, nil, CheckOptions{VisualizeDir: dir})
	html, err := os.ReadFile(filepath.Join(dir, "k.html"))
	if err != nil || !strings.Contains(string(html), "<html") {
		t.Fatalf("no porcupine visualization of /k written: %v", err)
	}
}

func TestPhantomAndFailedWriteReads(t *testing.T) {
	b := newBuilder()
	b.read(0, 10, "/k", "nobody-wrote-this", 0, 1, 5, 9)
	mustVerdict(t, Check(&b.h, nil), CheckReads, Fail, "which no write wrote")

	b = newBuilder()
	b.add(0, 10, Write("/k", "a"), 0, 10, OutcomeFailed, Result{})
	b.read(1, 11, "/k", "a", 11, 12, 1, 3)
	mustVerdict(t, Check(&b.h, nil), CheckReads, Fail, "reported failed")

	b = newBuilder()
	b.read(1, 11, "/k", "a", 0, 5, 1, 3)
	b.write(0, 10, "/k", "a", 6, 10, 1, 3)
	mustVerdict(t, Check(&b.h, nil), CheckReads, Fail, "before the write of it was invoked")
}

func TestStatDisagreement(t *testing.T) {
	b := newBuilder()
	b.write(0, 10, "/k", "a", 0, 10, 1, 3)
	b.read(1, 11, "/k", "a", 11, 12, 1, 7)
	mustVerdict(t, Check(&b.h, nil), CheckStats, Fail, "two different stats")

	b = newBuilder()
	b.write(0, 10, "/k", "a", 0, 10, 1, 3)
	b.write(0, 10, "/j", "x", 11, 20, 1, 3)
	mustVerdict(t, Check(&b.h, nil), CheckStats, Fail, "wrote two keys")
}

func TestDuplicateValuesAreMalformed(t *testing.T) {
	b := newBuilder()
	b.write(0, 10, "/k", "a", 0, 10, 1, 3)
	b.write(0, 10, "/k", "a", 11, 20, 2, 4)
	mustVerdict(t, Check(&b.h, nil), CheckWellFormed, Fail, "values must be unique")
}

func TestDivergentServers(t *testing.T) {
	h, f := goodHistory()
	other := map[string]State{"/k": {Value: "b", HasStat: true, Version: 2, Zxid: 5}, "/j": f.Keys["/j"]}
	f.Servers["b"] = other
	mustVerdict(t, Check(h, f), CheckConverged, Fail, "server b has")
}

func TestLinearizabilityTimeoutIsUnknown(t *testing.T) {
	// Many concurrent writes and synced reads that no order explains make
	// porcupine search exhaustively; with a tiny budget it must say Unknown.
	b := newBuilder()
	const n = 40
	for i := 0; i < n; i++ {
		b.add(i, int64(100+i), Write("/k", "v"+string(rune('A'+i))), 0, 1000, OutcomeOK, Result{})
	}
	for i := 0; i < n; i++ {
		s := int64(200 + i)
		b.sync(n+i, s, "/k", 0, 1)
		// Each reader sees two values in an order the next reader reverses.
		b.add(n+i, s, Read("/k"), 2, 1000, OutcomeOK, Result{Value: "v" + string(rune('A'+i))})
		b.add(n+i, s, Read("/k"), 2, 1000, OutcomeOK, Result{Value: "v" + string(rune('A'+(i+1)%n))})
	}
	r := CheckWith(&b.h, nil, CheckOptions{LinearizabilityTimeout: 50 * time.Millisecond})
	c, _ := r.Get(CheckLinearizable)
	if c.Verdict != Unknown || !strings.Contains(c.Findings[0].Message, "did not decide") {
		t.Fatalf("porcupine cannot finish this search in 50ms: want Unknown with an explanation\n%s", r)
	}
	if r.OK() || !errors.Is(r.Err(), ErrUndecided) {
		t.Fatalf("an undecided report must not be OK: OK=%v err=%v", r.OK(), r.Err())
	}
}

func TestLatestSyncBoundsTheRead(t *testing.T) {
	// Only an early sync: the read may linearize before the write.
	b := newBuilder()
	b.sync(1, 11, "/k", 0, 1)
	b.write(0, 10, "/k", "a", 5, 10, 1, 3)
	b.read(1, 11, "/j", "init-j", 11, 12, 0, 2)
	b.read(1, 11, "/k", "init", 22, 23, 0, 1)
	mustVerdict(t, Check(&b.h, nil), CheckLinearizable, Pass, "")
	// A later sync, invoked after the write returned, must expose it.
	b.sync(1, 11, "/j", 20, 21) // any path
	mustVerdict(t, Check(&b.h, nil), CheckLinearizable, Fail, `read(/k) @[22ns, 23ns] -> "init"`)
}
