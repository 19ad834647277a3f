package history

import (
	"fmt"
	"math"
	"time"
)

// Kind says what an operation does.
type Kind uint8

const (
	// KindRead is getData: it observes a key's value (and its Stat).
	KindRead Kind = iota + 1
	// KindWrite is an unconditional setData of a value unique to this write.
	KindWrite
	// KindSync is sync(path): it flushes the channel between the client's
	// server and the leader, so that the session's later reads see every
	// write committed before the sync reached the leader.
	KindSync
)

func (k Kind) String() string {
	switch k {
	case KindRead:
		return "read"
	case KindWrite:
		return "write"
	case KindSync:
		return "sync"
	}
	return fmt.Sprintf("Kind(%d)", uint8(k))
}

// Op is what a client asked for.
type Op struct {
	Kind  Kind
	Key   string // the znode path
	Value string // KindWrite: the value written; must be unique in the history
}

// Read returns a getData of key.
func Read(key string) Op { return Op{Kind: KindRead, Key: key} }

// Write returns a setData of key to value (any version). Values must be
// unique across the whole history, and differ from every initial value: the
// checkers identify a write by the value it wrote.
func Write(key, value string) Op { return Op{Kind: KindWrite, Key: key, Value: value} }

// Sync returns a sync of key.
func Sync(key string) Op { return Op{Kind: KindSync, Key: key} }

func (o Op) String() string {
	if o.Kind == KindWrite {
		return fmt.Sprintf("write(%s, %q)", o.Key, o.Value)
	}
	return fmt.Sprintf("%v(%s)", o.Kind, o.Key)
}

// Result is what the server answered to a successful operation.
type Result struct {
	// Value is the value a read returned.
	Value string
	// HasStat says Version and Zxid are known (go-zookeeper returns a Stat
	// for getData and setData; a simulator may not).
	HasStat bool
	// Version is the znode's data version after a write, or as read.
	Version int32
	// Zxid is the znode's mzxid: for a write the zxid of the write itself,
	// for a read the zxid of the write whose value it returned.
	Zxid int64
}

// State is a znode's value with its Stat, as of some moment.
type State struct {
	Value   string
	HasStat bool
	Version int32
	Zxid    int64 // mzxid
	// Missing says the znode did not exist (a final read): no client
	// deletes a key, so its writes were lost.
	Missing bool `json:",omitempty"`
}

func (s State) String() string {
	if s.Missing {
		return "(no such znode)"
	}
	if !s.HasStat {
		return fmt.Sprintf("%q", s.Value)
	}
	return fmt.Sprintf("%q (version %d, mzxid %#x)", s.Value, s.Version, s.Zxid)
}

// Outcome says how an operation ended.
type Outcome uint8

const (
	// OutcomeNone: no outcome was recorded. A pending write is treated like
	// OutcomeUnknown, a pending read or sync like OutcomeFailed.
	OutcomeNone Outcome = iota
	// OutcomeOK: the server answered successfully; the write was acknowledged.
	OutcomeOK
	// OutcomeFailed: the operation certainly took no effect (and observed nothing).
	OutcomeFailed
	// OutcomeUnknown: the operation may or may not have taken effect (a write
	// that timed out or lost its connection). Its return time is infinity.
	OutcomeUnknown
)

func (o Outcome) String() string {
	switch o {
	case OutcomeNone:
		return "pending"
	case OutcomeOK:
		return "ok"
	case OutcomeFailed:
		return "failed"
	case OutcomeUnknown:
		return "unknown"
	}
	return fmt.Sprintf("Outcome(%d)", uint8(o))
}

// Infinity is the return time of an operation whose outcome is unknown.
const Infinity int64 = math.MaxInt64

// Operation is one recorded operation.
type Operation struct {
	ID      int   // index in History.Ops
	Client  int   // the client (a goroutine, a process) that issued it
	Session int64 // the ZooKeeper session it ran in; 0 if not known for sure
	Op      Op
	Call    int64 // invocation time, in the recorder's clock (ns)
	Return  int64 // response time; the time it failed for OutcomeFailed/OutcomeUnknown
	Outcome Outcome
	Result  Result // valid when Outcome is OutcomeOK
	Err     string // the error, for OutcomeFailed/OutcomeUnknown
}

// Observed reports whether the operation succeeded.
func (o *Operation) Observed() bool { return o.Outcome == OutcomeOK }

// MaybeWrote reports whether o is a write that may have taken effect.
func (o *Operation) MaybeWrote() bool {
	return o.Op.Kind == KindWrite && (o.Outcome == OutcomeOK || o.Outcome == OutcomeUnknown || o.Outcome == OutcomeNone)
}

// End is the return time the checkers use: Infinity for a write whose
// outcome is unknown.
func (o *Operation) End() int64 {
	if o.Op.Kind == KindWrite && (o.Outcome == OutcomeUnknown || o.Outcome == OutcomeNone) {
		return Infinity
	}
	return o.Return
}

func (o Operation) String() string {
	var s string
	if o.ID < 0 { // a state read outside the clients' history: initial or final
		s = fmt.Sprintf("%v %v", o.Err, o.Op)
		if o.Call != 0 || o.Return != 0 {
			s += fmt.Sprintf(" @[%s, %s]", fmtTime(o.Call), fmtTime(o.Return))
		}
		return s + " -> " + State{Value: o.Result.Value, HasStat: o.Result.HasStat, Version: o.Result.Version, Zxid: o.Result.Zxid}.String()
	}
	s = fmt.Sprintf("#%d c%d s%#x %v @[%s, %s]", o.ID, o.Client, o.Session, o.Op, fmtTime(o.Call), fmtTime(o.End()))
	switch {
	case o.Outcome == OutcomeOK && o.Op.Kind == KindRead:
		s += " -> " + State{Value: o.Result.Value, HasStat: o.Result.HasStat, Version: o.Result.Version, Zxid: o.Result.Zxid}.String()
	case o.Outcome == OutcomeOK && o.Op.Kind == KindWrite && o.Result.HasStat:
		s += fmt.Sprintf(" -> ok (version %d, mzxid %#x)", o.Result.Version, o.Result.Zxid)
	case o.Outcome == OutcomeOK:
		s += " -> ok"
	default:
		s += " -> " + o.Outcome.String()
		if o.Err != "" {
			s += ": " + o.Err
		}
	}
	return s
}

func fmtTime(t int64) string {
	if t == Infinity {
		return "inf"
	}
	return time.Duration(t).String()
}

// History is a complete record: every operation, and the state of every key
// before the first operation.
type History struct {
	Ops []Operation
	// Initial is each key's state before any recorded operation. A key
	// missing here starts as the empty value with an unknown Stat.
	Initial map[string]State
}

// Keys returns the keys the history touches, sorted.
func (h *History) Keys() []string {
	seen := map[string]bool{}
	for k := range h.Initial {
		seen[k] = true
	}
	for i := range h.Ops {
		seen[h.Ops[i].Op.Key] = true
	}
	return sortedKeys(seen)
}

// Counts tallies a history by kind and outcome.
type Counts struct {
	Ops                                 int
	ReadsOK, WritesOK, SyncsOK          int
	WritesUnknown, WritesFailed, Failed int // Failed counts reads and syncs that failed
	Sessions                            int
}

// Counts tallies h.
func (h *History) Counts() Counts {
	c := Counts{Ops: len(h.Ops)}
	sessions := map[int64]bool{}
	for i := range h.Ops {
		o := &h.Ops[i]
		if o.Session != 0 {
			sessions[o.Session] = true
		}
		switch {
		case o.Outcome == OutcomeOK && o.Op.Kind == KindRead:
			c.ReadsOK++
		case o.Outcome == OutcomeOK && o.Op.Kind == KindWrite:
			c.WritesOK++
		case o.Outcome == OutcomeOK && o.Op.Kind == KindSync:
			c.SyncsOK++
		case o.Op.Kind == KindWrite && o.Outcome == OutcomeFailed:
			c.WritesFailed++
		case o.Op.Kind == KindWrite:
			c.WritesUnknown++
		default:
			c.Failed++
		}
	}
	c.Sessions = len(sessions)
	return c
}
