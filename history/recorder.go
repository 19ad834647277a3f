package history

import (
	"fmt"
	"maps"
	"slices"
	"sync"
	"time"
)

// Recorder records operations as clients invoke them and as they return.
// It is safe for concurrent use.
type Recorder struct {
	now func() int64

	mu      sync.Mutex
	ops     []Operation
	initial map[string]State
}

// NewRecorder returns a Recorder that timestamps with the monotonic clock,
// in nanoseconds since the Recorder was created.
func NewRecorder() *Recorder {
	start := time.Now()
	return NewRecorderClock(func() int64 { return int64(time.Since(start)) })
}

// NewRecorderClock returns a Recorder that timestamps with now, for
// simulations with logical time. now must never go backwards.
func NewRecorderClock(now func() int64) *Recorder {
	return &Recorder{now: now, initial: map[string]State{}}
}

// SetInitial records key's state before any operation on it.
func (r *Recorder) SetInitial(key string, s State) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.initial[key] = s
}

// Pending is an operation that has been invoked and not yet returned.
type Pending struct {
	r  *Recorder
	id int
}

// Invoke records that client, in session, invoked op, and returns the handle
// on which to record its outcome. Pass session 0 if it is not known.
func (r *Recorder) Invoke(client int, session int64, op Op) *Pending {
	r.mu.Lock()
	defer r.mu.Unlock()
	id := len(r.ops)
	r.ops = append(r.ops, Operation{ID: id, Client: client, Session: session, Op: op, Call: r.now()})
	return &Pending{r: r, id: id}
}

// Return records that the operation succeeded with res.
func (p *Pending) Return(res Result) {
	p.finish(OutcomeOK, res, "")
}

// Fail records that the operation failed with err. maybeApplied says the
// operation may nonetheless have taken effect (a write that timed out or lost
// its connection); a read or sync that fails observes nothing either way.
func (p *Pending) Fail(err error, maybeApplied bool) {
	out := OutcomeFailed
	if maybeApplied && p.kind() == KindWrite {
		out = OutcomeUnknown
	}
	msg := "<nil>"
	if err != nil {
		msg = err.Error()
	}
	p.finish(out, Result{}, msg)
}

// SetSession corrects the session the operation ran in, for a client that
// learns it only later; 0 means it is not known for sure (the operation
// straddled a session change), which exempts it from the per-session checks.
func (p *Pending) SetSession(session int64) {
	p.r.mu.Lock()
	defer p.r.mu.Unlock()
	p.r.ops[p.id].Session = session
}

func (p *Pending) kind() Kind {
	p.r.mu.Lock()
	defer p.r.mu.Unlock()
	return p.r.ops[p.id].Op.Kind
}

func (p *Pending) finish(out Outcome, res Result, err string) {
	p.r.mu.Lock()
	defer p.r.mu.Unlock()
	o := &p.r.ops[p.id]
	if o.Outcome != OutcomeNone {
		panic(fmt.Sprintf("history: operation %v finished twice", *o))
	}
	o.Return = p.r.now()
	o.Outcome, o.Result, o.Err = out, res, err
}

// History returns a copy of everything recorded so far. Operations still
// pending appear with OutcomeNone.
func (r *Recorder) History() *History {
	r.mu.Lock()
	defer r.mu.Unlock()
	return &History{Ops: slices.Clone(r.ops), Initial: maps.Clone(r.initial)}
}

func sortedKeys[V any](m map[string]V) []string {
	return slices.Sorted(maps.Keys(m))
}
