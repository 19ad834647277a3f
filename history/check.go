package history

import (
	"cmp"
	"fmt"
	"slices"
	"time"
)

// Final is the state of every key after the run, read once faults have
// healed: on each server, sync and then getData of every key.
type Final struct {
	// Keys is the final state of each key (as the first server that
	// answered reported it).
	Keys map[string]State
	// Servers is what each server that answered reported, by address.
	Servers map[string]map[string]State
	// Unreachable lists the servers that did not answer, with the error.
	Unreachable map[string]string
}

// CheckOptions tune Check.
type CheckOptions struct {
	// LinearizabilityTimeout bounds porcupine's search for each key
	// (default 10s). A key whose search times out is reported Unknown.
	LinearizabilityTimeout time.Duration
	// VisualizeDir, if set, receives porcupine's HTML visualization of
	// every key whose history is not linearizable.
	VisualizeDir string
}

// Check runs every checker on h and the final state (nil if there is none:
// the lost-writes and converged checks then report Unknown).
func Check(h *History, final *Final) Report {
	return CheckWith(h, final, CheckOptions{})
}

// CheckWith is Check with options.
func CheckWith(h *History, final *Final, opts CheckOptions) Report {
	if opts.LinearizabilityTimeout <= 0 {
		opts.LinearizabilityTimeout = 10 * time.Second
	}
	ix := newIndex(h, final)
	order, travel := ix.checkSessions()
	return Report{Results: []CheckResult{
		ix.checkWellFormed(),
		ix.checkReads(),
		ix.checkLinearizable(opts),
		order,
		travel,
		ix.checkStats(),
		ix.checkLostWrites(),
		ix.checkConverged(),
	}}
}

// index is what every checker needs to know about a history, built once.
type index struct {
	h       *History
	final   *Final
	keys    []string
	initial map[string]State
	byKey   map[string][]*Operation          // in invocation order
	writes  map[string]map[string]*Operation // key -> value -> the write
	dups    []Finding                        // writes whose value is not unique
	zxidOf  map[string]map[string]int64      // key -> value -> mzxid, as first learned
}

func newIndex(h *History, final *Final) *index {
	ix := &index{
		h:       h,
		final:   final,
		initial: map[string]State{},
		byKey:   map[string][]*Operation{},
		writes:  map[string]map[string]*Operation{},
		zxidOf:  map[string]map[string]int64{},
	}
	seen := map[string]bool{}
	for _, k := range h.Keys() {
		seen[k] = true
	}
	if final != nil {
		for k := range final.Keys {
			seen[k] = true
		}
	}
	ix.keys = sortedKeys(seen)
	for _, k := range ix.keys {
		ix.initial[k] = h.Initial[k]
		ix.writes[k] = map[string]*Operation{}
		ix.zxidOf[k] = map[string]int64{}
	}
	ops := make([]*Operation, len(h.Ops))
	for i := range h.Ops {
		ops[i] = &h.Ops[i]
	}
	slices.SortStableFunc(ops, func(a, b *Operation) int { return cmp.Compare(a.Call, b.Call) })
	for _, o := range ops {
		k := o.Op.Key
		ix.byKey[k] = append(ix.byKey[k], o)
		if o.Op.Kind != KindWrite {
			continue
		}
		if prev := ix.writes[k][o.Op.Value]; prev != nil {
			ix.dups = append(ix.dups, Finding{Key: k, Message: fmt.Sprintf("two writes of the value %q: values must be unique", o.Op.Value), Ops: []Operation{*prev, *o}})
			continue
		}
		if ix.initial[k].Value == o.Op.Value {
			ix.dups = append(ix.dups, Finding{Key: k, Message: fmt.Sprintf("a write of the initial value %q: values must be unique", o.Op.Value), Ops: []Operation{*o}})
			continue
		}
		ix.writes[k][o.Op.Value] = o
	}
	// What zxid wrote each value, as far as anyone saw it; the stats check
	// reports disagreements.
	learn := func(k, v string, z int64) {
		if _, ok := ix.zxidOf[k][v]; !ok {
			ix.zxidOf[k][v] = z
		}
	}
	for _, k := range ix.keys {
		if s := ix.initial[k]; s.HasStat {
			learn(k, s.Value, s.Zxid)
		}
		for _, o := range ix.byKey[k] {
			if o.Outcome != OutcomeOK || !o.Result.HasStat {
				continue
			}
			switch o.Op.Kind {
			case KindWrite:
				learn(k, o.Op.Value, o.Result.Zxid)
			case KindRead:
				learn(k, o.Result.Value, o.Result.Zxid)
			}
		}
		if final != nil {
			if s, ok := final.Keys[k]; ok && s.HasStat {
				learn(k, s.Value, s.Zxid)
			}
		}
	}
	return ix
}

// writeOf returns the write that wrote value to key, or nil if value is
// the initial value or was never written.
func (ix *index) writeOf(key, value string) *Operation { return ix.writes[key][value] }

// readZxid is the mzxid a successful read observed: the one it reported, or
// else the one learned for its value elsewhere; ok is false if unknown. The
// initial value with no Stat counts as zxid 0, before every write.
func (ix *index) readZxid(key, value string, res Result) (int64, bool) {
	if res.HasStat {
		return res.Zxid, true
	}
	if z, ok := ix.zxidOf[key][value]; ok {
		return z, true
	}
	if value == ix.initial[key].Value && ix.writeOf(key, value) == nil {
		return 0, true
	}
	return 0, false
}

// writeZxid is the zxid of a write if anyone learned it.
func (ix *index) writeZxid(o *Operation) (int64, bool) {
	if o.Outcome == OutcomeOK && o.Result.HasStat {
		return o.Result.Zxid, true
	}
	z, ok := ix.zxidOf[o.Op.Key][o.Op.Value]
	return z, ok
}

func (ix *index) checkWellFormed() CheckResult {
	var bad []Finding
	bad = append(bad, ix.dups...)
	for i := range ix.h.Ops {
		o := &ix.h.Ops[i]
		if o.Outcome != OutcomeNone && o.Return < o.Call {
			bad = append(bad, Finding{Key: o.Op.Key, Message: "returned before it was invoked", Ops: []Operation{*o}})
		}
		if o.Op.Kind < KindRead || o.Op.Kind > KindSync {
			bad = append(bad, Finding{Key: o.Op.Key, Message: "unknown operation kind", Ops: []Operation{*o}})
		}
	}
	return result(CheckWellFormed, fmt.Sprintf("%d operations on %d keys", len(ix.h.Ops), len(ix.keys)), bad, nil)
}

// checkReads: every successful read returns the initial value or the value
// of a write to the same key that was invoked before the read returned and
// was not reported failed.
func (ix *index) checkReads() CheckResult {
	var bad []Finding
	n := 0
	for _, k := range ix.keys {
		for _, o := range ix.byKey[k] {
			if o.Op.Kind != KindRead || o.Outcome != OutcomeOK {
				continue
			}
			n++
			v := o.Result.Value
			w := ix.writeOf(k, v)
			switch {
			case w == nil && v != ix.initial[k].Value:
				bad = append(bad, Finding{Key: k, Session: o.Session, Message: fmt.Sprintf("read %q, which no write wrote", v), Ops: []Operation{*o}})
			case w == nil:
			case w.Outcome == OutcomeFailed:
				bad = append(bad, Finding{Key: k, Session: o.Session, Message: "read the value of a write that was reported failed (not applied)", Ops: []Operation{*w, *o}})
			case w.Call > o.Return:
				bad = append(bad, Finding{Key: k, Session: o.Session, Message: "read a value before the write of it was invoked", Ops: []Operation{*o, *w}})
			}
		}
	}
	return result(CheckReads, fmt.Sprintf("%d successful reads", n), bad, nil)
}
