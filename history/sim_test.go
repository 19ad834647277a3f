package history

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"
	"testing"
)

// zkSim is a tiny model of a ZooKeeper ensemble that keeps every promise
// the checkers check, and no more: a leader's log of committed writes
// (zxid order), replicas that apply a prefix of it and lag at random, reads
// served by the session's replica (possibly stale), sync catching the
// replica up to the leader, sessions that fail over only to replicas at
// least as new as the last zxid they saw, and writes that sometimes time out
// (applied or not). Every operation takes effect at a random moment between
// its invocation and its return.
type zkSim struct {
	rng      *rand.Rand
	now      int64
	keys     []string
	initial  map[string]State
	log      []txn
	replicas []int // length of the log prefix each has applied
	clients  []*simClient
	rec      *Recorder
	nextSess int64
	bug      string // a broken promise to inject, for tests of the checkers
}

type txn struct {
	key, value string
	version    int32
	zxid       int64
}

type simClient struct {
	id       int
	session  int64
	replica  int
	lastZxid int64
	busy     *simOp
	n        int
}

type simOp struct {
	op              Op
	p               *Pending
	effectAt, retAt int64
	effected        bool
	fate            int // 0 ok, 1 unknown but applied, 2 unknown and not applied, 3 failed read/sync
	res             Result
}

func newSim(seed uint64, nClients, nKeys, nReplicas int) *zkSim {
	s := &zkSim{rng: rand.New(rand.NewPCG(seed, 99)), initial: map[string]State{}, replicas: make([]int, nReplicas), nextSess: 0x100}
	s.rec = NewRecorderClock(func() int64 { return s.now })
	for i := 0; i < nKeys; i++ {
		k := fmt.Sprintf("/k%d", i)
		s.keys = append(s.keys, k)
		s.initial[k] = State{Value: "init-" + k, HasStat: true, Version: 0, Zxid: int64(i + 1)}
		s.rec.SetInitial(k, s.initial[k])
	}
	for i := 0; i < nClients; i++ {
		s.clients = append(s.clients, &simClient{id: i, session: s.newSession(), replica: i % nReplicas})
	}
	return s
}

func (s *zkSim) newSession() int64 { s.nextSess++; return s.nextSess }

func (s *zkSim) zxidAt(prefix int) int64 {
	if prefix == 0 {
		return int64(len(s.keys))
	}
	return s.log[prefix-1].zxid
}

func (s *zkSim) stateAt(key string, prefix int) State {
	for i := prefix - 1; i >= 0; i-- {
		if t := s.log[i]; t.key == key {
			return State{Value: t.value, HasStat: true, Version: t.version, Zxid: t.zxid}
		}
	}
	return s.initial[key]
}

func (s *zkSim) step(issue bool) {
	for r := range s.replicas {
		if s.rng.IntN(8) == 0 { // replicas lag by several writes, so reads can be stale
			s.replicas[r] = min(len(s.log), s.replicas[r]+1+s.rng.IntN(4))
		}
	}
	for _, i := range s.rng.Perm(len(s.clients)) {
		c := s.clients[i]
		if b := c.busy; b != nil {
			if !b.effected && s.now >= b.effectAt {
				s.effect(c, b)
			}
			if b.effected && s.now >= b.retAt {
				switch b.fate {
				case 0:
					b.p.Return(b.res)
				case 1, 2:
					b.p.Fail(errors.New("connection loss"), true)
				default:
					b.p.Fail(errors.New("connection loss"), false)
				}
				c.busy = nil
			}
			continue
		}
		if !issue || s.rng.IntN(10) < 4 {
			continue
		}
		switch x := s.rng.IntN(100); {
		case x < 3:
			c.session, c.lastZxid = s.newSession(), 0
			c.replica = s.rng.IntN(len(s.replicas))
		case x < 10:
			if r := s.rng.IntN(len(s.replicas)); s.zxidAt(s.replicas[r]) >= c.lastZxid || s.bug == "failover-behind" {
				c.replica = r // a server behind the session would refuse it
			}
		}
		k := s.keys[s.rng.IntN(len(s.keys))]
		var op Op
		switch x := s.rng.IntN(100); {
		case x < 45:
			op = Read(k)
		case x < 85:
			op = Write(k, fmt.Sprintf("c%d-%d", c.id, c.n))
		default:
			op = Sync(k)
		}
		c.n++
		b := &simOp{op: op, effectAt: s.now + int64(s.rng.IntN(4))}
		b.retAt = b.effectAt + int64(s.rng.IntN(4))
		if s.rng.IntN(100) < 8 {
			b.fate = 1 + s.rng.IntN(3)
			if op.Kind != KindWrite {
				b.fate = 3
			} else if b.fate == 3 {
				b.fate = 2
			}
		}
		b.p = s.rec.Invoke(c.id, c.session, op)
		c.busy = b
		if b.effectAt == s.now {
			s.effect(c, b)
		}
	}
	s.now++
}

func (s *zkSim) effect(c *simClient, b *simOp) {
	b.effected = true
	r := c.replica
	switch b.op.Kind {
	case KindRead:
		st := s.stateAt(b.op.Key, s.replicas[r])
		b.res = Result{Value: st.Value, HasStat: true, Version: st.Version, Zxid: st.Zxid}
	case KindWrite:
		if b.fate == 2 {
			return
		}
		prev := s.stateAt(b.op.Key, len(s.log))
		t := txn{key: b.op.Key, value: b.op.Value, version: prev.Version + 1, zxid: s.zxidAt(len(s.log)) + 1}
		s.log = append(s.log, t)
		s.replicas[r] = len(s.log) // the server applies the commit, and all before it, before it replies
		if s.bug == "rollback" && s.rng.IntN(20) == 0 && len(s.log) > 1 {
			// The write is acknowledged and then vanishes, as if a new
			// leader had truncated it.
			s.log = s.log[:len(s.log)-1]
			for i := range s.replicas {
				s.replicas[i] = min(s.replicas[i], len(s.log))
			}
		}
		b.res = Result{HasStat: true, Version: t.version, Zxid: t.zxid}
	case KindSync:
		if s.bug != "sync-noop" {
			s.replicas[r] = len(s.log)
		}
	}
	if b.fate == 0 {
		c.lastZxid = max(c.lastZxid, s.zxidAt(s.replicas[r]))
	}
}

// run simulates ticks of load, then lets every operation finish, and
// returns the history and the final state as every replica reports it.
func (s *zkSim) run(ticks int) (*History, *Final) {
	for i := 0; i < ticks; i++ {
		s.step(true)
	}
	for busy := true; busy; {
		s.step(false)
		busy = false
		for _, c := range s.clients {
			busy = busy || c.busy != nil
		}
	}
	f := &Final{Keys: map[string]State{}, Servers: map[string]map[string]State{}}
	for _, k := range s.keys {
		f.Keys[k] = s.stateAt(k, len(s.log))
	}
	for r := range s.replicas {
		f.Servers[fmt.Sprint("replica", r)] = f.Keys
	}
	return s.rec.History(), f
}

func TestSimulatedHistoriesPass(t *testing.T) {
	seeds := 200
	if testing.Short() {
		seeds = 40
	}
	for seed := 1; seed <= seeds; seed++ {
		h, f := newSim(uint64(seed), 5, 3, 3).run(300)
		r := Check(h, f)
		if !r.OK() {
			t.Fatalf("seed %d: a history of the model ensemble was rejected:\n%s", seed, r)
		}
		c := h.Counts()
		if c.WritesOK == 0 || c.ReadsOK == 0 || c.WritesUnknown == 0 && seed%10 == 0 {
			t.Logf("seed %d: thin history %+v", seed, c)
		}
	}
}

// synced reports whether read o came after a completed sync in its session.
func synced(h *History, o *Operation) bool {
	for i := range h.Ops {
		y := &h.Ops[i]
		if y.Op.Kind == KindSync && y.Outcome == OutcomeOK && y.Session == o.Session && y.Return <= o.Call {
			return true
		}
	}
	return false
}

// TestMutatedHistoriesFail takes correct simulated histories, breaks each in
// a way that is certainly a violation, and requires the right check to fail.
func TestMutatedHistoriesFail(t *testing.T) {
	seeds := 100
	if testing.Short() {
		seeds = 40
	}
	applied := map[string]int{}
	for seed := 1; seed <= seeds; seed++ {
		rng := rand.New(rand.NewPCG(uint64(seed), 7))
		fresh := func() (*History, *Final) { return newSim(uint64(seed), 5, 3, 3).run(300) }
		expect := func(name, check string, h *History, f *Final) {
			applied[name]++
			r := Check(h, f)
			if c, _ := r.Get(check); c.Verdict != Fail {
				t.Fatalf("seed %d: mutation %q: %s did not fail:\n%s", seed, name, check, r)
			}
		}
		okWrites := func(h *History) []*Operation {
			var ws []*Operation
			for i := range h.Ops {
				if o := &h.Ops[i]; o.Op.Kind == KindWrite && o.Outcome == OutcomeOK {
					ws = append(ws, o)
				}
			}
			return ws
		}

		// A synced read returns the initial value although a write to its
		// key was acknowledged before the sync was invoked.
		h, f := fresh()
		for _, i := range rng.Perm(len(h.Ops)) {
			o := &h.Ops[i]
			if o.Op.Kind != KindRead || o.Outcome != OutcomeOK || !synced(h, o) {
				continue
			}
			var syncCall int64 = -1
			for j := range h.Ops {
				if y := &h.Ops[j]; y.Op.Kind == KindSync && y.Outcome == OutcomeOK && y.Session == o.Session && y.Return <= o.Call {
					syncCall = max(syncCall, y.Call)
				}
			}
			if !slices.ContainsFunc(okWrites(h), func(w *Operation) bool { return w.Op.Key == o.Op.Key && w.Return < syncCall }) {
				continue
			}
			init := h.Initial[o.Op.Key]
			o.Result = Result{Value: init.Value, HasStat: true, Version: init.Version, Zxid: init.Zxid}
			expect("stale synced read", CheckLinearizable, h, f)
			break
		}

		// Two reads of one key in one session swap their results, so the
		// later one sees an older mzxid.
		h, f = fresh()
	swap:
		for i := range h.Ops {
			a := &h.Ops[i]
			if a.Op.Kind != KindRead || a.Outcome != OutcomeOK {
				continue
			}
			for j := i + 1; j < len(h.Ops); j++ {
				b := &h.Ops[j]
				if b.Op.Kind == KindRead && b.Outcome == OutcomeOK && b.Session == a.Session && b.Op.Key == a.Op.Key && b.Result.Zxid > a.Result.Zxid {
					a.Result, b.Result = b.Result, a.Result
					expect("read goes back in time", CheckNoTimeTravel, h, f)
					break swap
				}
			}
		}

		// The final state is a write that an acknowledged write to the same
		// key followed in real time: the later write was lost.
		h, f = fresh()
	lost:
		for _, w := range okWrites(h) {
			for _, w2 := range okWrites(h) {
				if w2.Op.Key == w.Op.Key && w2.Call > w.Return {
					f.Keys[w.Op.Key] = State{Value: w.Op.Value, HasStat: true, Version: w.Result.Version, Zxid: w.Result.Zxid}
					f.Servers = map[string]map[string]State{"a": f.Keys}
					expect("lost acknowledged write", CheckLostWrites, h, f)
					break lost
				}
			}
		}

		// The final version counts one write fewer than were acknowledged.
		h, f = fresh()
		for _, k := range h.Keys() {
			n := 0
			for _, w := range okWrites(h) {
				if w.Op.Key == k {
					n++
				}
			}
			if n == 0 {
				continue
			}
			s := f.Keys[k]
			s.Version = h.Initial[k].Version + int32(n) - 1
			f.Keys[k] = s
			f.Servers = map[string]map[string]State{"a": f.Keys}
			expect("lost write seen in the version", CheckLostWrites, h, f)
			break
		}

		// A read returns a value written only after the read returned.
		h, f = fresh()
	future:
		for i := range h.Ops {
			r := &h.Ops[i]
			if r.Op.Kind != KindRead || r.Outcome != OutcomeOK {
				continue
			}
			for _, w := range okWrites(h) {
				if w.Op.Key == r.Op.Key && w.Call > r.Return {
					r.Result = Result{Value: w.Op.Value, HasStat: true, Version: w.Result.Version, Zxid: w.Result.Zxid}
					expect("read from the future", CheckReads, h, f)
					break future
				}
			}
		}

		// Two acknowledged writes in sequence report their zxids swapped.
		h, f = fresh()
	zxids:
		for _, w := range okWrites(h) {
			for _, w2 := range okWrites(h) {
				if w2.Call > w.Return && w2.Op.Key != w.Op.Key {
					w.Result.Zxid, w2.Result.Zxid = w2.Result.Zxid, w.Result.Zxid
					expect("writes' zxids against real time", CheckStats, h, f)
					break zxids
				}
			}
		}
	}
	t.Logf("mutations applied: %v", applied)
	for _, name := range []string{"stale synced read", "read goes back in time", "lost acknowledged write", "lost write seen in the version", "read from the future", "writes' zxids against real time"} {
		if applied[name] < seeds/2 {
			t.Errorf("mutation %q applied only %d times in %d seeds: the test is too weak", name, applied[name], seeds)
		}
	}
}

// TestBuggyEnsemblesAreCaught runs the model ensemble with one promise
// broken and requires the checkers to notice in most seeds.
func TestBuggyEnsemblesAreCaught(t *testing.T) {
	for _, tc := range []struct {
		bug    string
		checks []string
	}{
		{"failover-behind", []string{CheckNoTimeTravel, CheckSession}},
		{"sync-noop", []string{CheckLinearizable}},
		{"rollback", []string{CheckLostWrites}},
	} {
		caught, seeds := 0, 30
		for seed := 1; seed <= seeds; seed++ {
			s := newSim(uint64(seed), 5, 3, 3)
			s.bug = tc.bug
			h, f := s.run(300)
			r := Check(h, f)
			if slices.ContainsFunc(tc.checks, func(name string) bool { c, _ := r.Get(name); return c.Verdict == Fail }) {
				caught++
			}
		}
		t.Logf("%s: %v failed in %d of %d seeds", tc.bug, tc.checks, caught, seeds)
		if caught < seeds/3 {
			t.Errorf("%s: caught in only %d of %d seeds", tc.bug, caught, seeds)
		}
	}
}
