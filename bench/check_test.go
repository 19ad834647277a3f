package bench

import (
	"context"
	"errors"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/zkbench/zkbench/history"
	"github.com/zkbench/zkbench/internal/zktest"
	"github.com/zkbench/zkbench/results"
	"github.com/zkbench/zkbench/workloads"
)

// A write acknowledged and then missing from the final state is reported
// with the operations involved and where on the measured part's time line
// it happened.
func TestSafetyReportsPlantedLostWrite(t *testing.T) {
	const warmup = time.Second
	ms := func(n int) int64 { return int64(n) * int64(time.Millisecond) }
	h := &history.History{
		Initial: map[string]history.State{"/k": {Value: "init", HasStat: true, Version: 0, Zxid: 1}},
		Ops: []history.Operation{
			{ID: 0, Client: 1, Session: 7, Op: history.Write("/k", "a"), Call: ms(1500), Return: ms(1510), Outcome: history.OutcomeOK,
				Result: history.Result{HasStat: true, Version: 1, Zxid: 5}},
			{ID: 1, Client: 2, Session: 8, Op: history.Read("/k"), Call: ms(1600), Return: ms(1601), Outcome: history.OutcomeOK,
				Result: history.Result{Value: "a", HasStat: true, Version: 1, Zxid: 5}},
		},
	}
	final := &history.Final{Keys: map[string]history.State{"/k": {Value: "init", HasStat: true, Version: 0, Zxid: 1}}}
	final.Servers = map[string]map[string]history.State{"s1": final.Keys}
	s := safetyOf(&results.Safety{Keys: []string{"/k"}, Ops: len(h.Ops)}, history.Check(h, final), warmup)
	if s.Verdict != results.SafetyFail || !s.Violated() {
		t.Fatalf("verdict %s, want FAIL: %+v", s.Verdict, s)
	}
	var lost *results.SafetyCheck
	for i := range s.Checks {
		if s.Checks[i].Name == history.CheckLostWrites {
			lost = &s.Checks[i]
		}
	}
	if lost == nil || lost.Verdict != "FAIL" || len(lost.Findings) == 0 {
		t.Fatalf("lost-writes check: %+v", lost)
	}
	f := lost.Findings[0]
	if !strings.Contains(f.Message, "lost") || f.Key != "/k" {
		t.Errorf("finding %+v does not name the lost write", f)
	}
	if f.From != 500*time.Millisecond || f.To != 510*time.Millisecond {
		t.Errorf("finding spans [%v, %v], want the write's [500ms, 510ms] after the start", f.From, f.To)
	}
	if len(f.Ops) < 2 || !strings.Contains(f.Ops[0], `write(/k, "a")`) {
		t.Errorf("finding's operations %q do not show the write", f.Ops)
	}
}

// Values of checked writes carry their tag; the key space's own values
// decode to a hash that changes with any byte.
func TestDecodeValue(t *testing.T) {
	if got := decodeValue([]byte("r1.3.0.7|abcdef")); got != "r1.3.0.7" {
		t.Errorf("tagged value decoded to %q", got)
	}
	a, b := decodeValue([]byte("abcdef")), decodeValue([]byte("abcdeg"))
	if a == b || !strings.HasPrefix(a, "untagged:6:") {
		t.Errorf("untagged values decode to %q and %q", a, b)
	}
}

// The checked keys are spread over the key space, at most one in eight of
// it, so that a small key space is not recorded whole.
func TestCheckedKeys(t *testing.T) {
	for _, tc := range []struct{ keys, ask, want int }{{1000, 8, 8}, {40, 8, 5}, {10, 8, 1}, {1, 3, 1}, {1000, 0, 0}} {
		spec := workloads.Default()
		spec.Keys = tc.keys
		ch := newChecker(CheckOptions{Keys: tc.ask}, newKeyspace("/r", spec))
		got := 0
		if ch != nil {
			got = len(ch.paths)
			if ch.paths[0] != "/r/k0000000" {
				t.Errorf("%d keys: first checked %s", tc.keys, ch.paths[0])
			}
		}
		if got != tc.want {
			t.Errorf("%d keys, %d asked: %d checked, want %d", tc.keys, tc.ask, got, tc.want)
		}
	}
}

// A run with the check on a real Go server records the checked keys'
// operations (warm-up included) with tagged values and passes every check;
// options that cannot be honoured are refused.
func TestIntegration_CheckedRunPasses(t *testing.T) {
	srv := zktest.StartGo(t)
	spec := workloads.Default()
	spec.Name = "checked"
	spec.Clients = 6
	spec.Outstanding = 4
	spec.Keys = 40
	spec.SetWritePercent(50)
	spec.Warmup = 300 * time.Millisecond
	spec.Duration = 1500 * time.Millisecond
	opts := Options{
		Spec:    spec,
		Targets: []Target{{Addr: srv.Addr, Role: RoleStandalone, ID: 1}},
		Root:    "/checked",
		Check:   CheckOptions{Keys: 4},
	}
	res, err := Run(context.Background(), opts)
	if err != nil {
		t.Fatal(err)
	}
	s := res.Safety
	if s == nil {
		t.Fatal("no safety verdict in the result")
	}
	if s.Verdict != results.SafetyPass {
		t.Fatalf("verdict %s: %+v", s.Verdict, s.Checks)
	}
	if len(s.Keys) != 4 || s.Keys[0] != "/checked/k0000000" || s.Keys[1] != "/checked/k0000010" {
		t.Errorf("checked keys %v, want 4 spread from k0000000", s.Keys)
	}
	if s.Ops < 100 {
		t.Errorf("only %d operations recorded", s.Ops)
	}
	for _, c := range s.Checks {
		if c.Name == history.CheckLostWrites && !strings.Contains(c.Summary, "acknowledged writes") {
			t.Errorf("lost-writes summary %q", c.Summary)
		}
	}

	bad := opts
	bad.Sessions = SessionRange{First: 0, Count: 3}
	if _, err := Run(context.Background(), bad); !errors.Is(err, ErrInvalidOptions) {
		t.Errorf("a checked session range: err %v, want ErrInvalidOptions", err)
	}
}

// BenchmarkRecording is what the recording adds to one checked operation:
// a tagged value (writes), the invocation, decoding the value read (reads)
// and the return, with every client recording at once. Compare it with the
// driver's CPU per operation (results' driver.cpu_per_10k_ops).
func BenchmarkRecording(b *testing.B) {
	spec := workloads.Default()
	spec.Keys = 8
	ks := newKeyspace("/b", spec)
	ch := newChecker(CheckOptions{Keys: 8, MaxOps: 1 << 40}, ks)
	ch.start(time.Now())
	read := append([]byte("t.1.0.1|"), ks.value[8:]...)
	var next atomic.Int64
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		w := newWorker(&client{id: int(next.Add(1))}, ks, 0, ch)
		for i := 0; pb.Next(); i++ {
			path := ks.paths[i%len(ks.paths)]
			if i%2 == 0 {
				tag, _ := w.tagged()
				p := ch.invoke(w.c.id, 1, history.Write(path, tag))
				p.Return(history.Result{HasStat: true, Version: 1, Zxid: int64(i)})
			} else {
				p := ch.invoke(w.c.id, 1, history.Read(path))
				p.Return(history.Result{Value: decodeValue(read), HasStat: true, Version: 1, Zxid: int64(i)})
			}
		}
	})
}
