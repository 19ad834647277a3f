package history

import (
	"errors"
	"fmt"
	"sync"
	"testing"
)

func TestRecorderConcurrentUse(t *testing.T) {
	rec := NewRecorder()
	rec.SetInitial("/k", State{Value: "init"})
	const clients, each = 8, 300
	var wg sync.WaitGroup
	for c := 0; c < clients; c++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < each; i++ {
				p := rec.Invoke(c, int64(c+1), Write("/k", fmt.Sprintf("c%d-%d", c, i)))
				switch i % 3 {
				case 0:
					p.Return(Result{})
				case 1:
					p.Fail(errors.New("timeout"), true)
				default:
					p.SetSession(0)
					p.Fail(errors.New("no node"), false)
				}
			}
		}()
	}
	// Snapshots while the clients write.
	for i := 0; i < 20; i++ {
		h := rec.History()
		for j, o := range h.Ops {
			if o.ID != j {
				t.Fatalf("op %d has ID %d", j, o.ID)
			}
		}
	}
	wg.Wait()
	h := rec.History()
	if len(h.Ops) != clients*each {
		t.Fatalf("recorded %d operations, want %d", len(h.Ops), clients*each)
	}
	c := h.Counts()
	if c.WritesOK != clients*each/3 || c.WritesUnknown != clients*each/3 || c.WritesFailed != clients*each/3 {
		t.Fatalf("counts %+v", c)
	}
	var prevCall int64
	for _, o := range h.Ops {
		if o.Call < prevCall {
			t.Fatalf("invocation times go backwards in ID order at %v", o)
		}
		prevCall = o.Call
		if o.Return < o.Call {
			t.Fatalf("returned before invoked: %v", o)
		}
		if o.Outcome == OutcomeFailed && o.Session != 0 {
			t.Fatalf("SetSession(0) lost: %v", o)
		}
	}
	if r := Check(h, nil); func() bool { c, _ := r.Get(CheckWellFormed); return c.Verdict != Pass }() {
		t.Fatalf("recorded history malformed:\n%s", r)
	}
}

func TestRecorderPendingAndDoubleFinish(t *testing.T) {
	now := int64(0)
	rec := NewRecorderClock(func() int64 { now += 10; return now })
	w := rec.Invoke(0, 1, Write("/k", "a"))
	r := rec.Invoke(1, 2, Read("/k"))
	r.Fail(errors.New("connection loss"), true) // a read observes nothing either way
	h := rec.History()
	if h.Ops[0].Outcome != OutcomeNone || h.Ops[0].End() != Infinity || !h.Ops[0].MaybeWrote() {
		t.Fatalf("pending write must count as maybe applied at infinity: %v", h.Ops[0])
	}
	if h.Ops[1].Outcome != OutcomeFailed || h.Ops[1].Call != 20 || h.Ops[1].Return != 30 {
		t.Fatalf("failed read: %v", h.Ops[1])
	}
	w.Return(Result{HasStat: true, Version: 1, Zxid: 5})
	defer func() {
		if recover() == nil {
			t.Fatal("finishing an operation twice did not panic")
		}
	}()
	w.Return(Result{})
}
