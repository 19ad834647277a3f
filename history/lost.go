package history

import (
	"fmt"
	"maps"
)

// checkLostWrites: every acknowledged write survives in the final state
// unless a later write overwrote it (see doc.go for the exact rule).
func (ix *index) checkLostWrites() CheckResult {
	if ix.final == nil {
		return result(CheckLostWrites, "no final state", nil, []Finding{{Message: "no final state was given: lost writes cannot be checked"}})
	}
	var bad, undecided []Finding
	nAcked := 0
	for _, k := range ix.keys {
		var acked, maybe int32
		var ackedOps []*Operation
		for _, o := range ix.byKey[k] {
			if o.Op.Kind != KindWrite {
				continue
			}
			switch o.Outcome {
			case OutcomeOK:
				acked++
				ackedOps = append(ackedOps, o)
			case OutcomeUnknown, OutcomeNone:
				maybe++
			}
		}
		nAcked += int(acked)
		f, ok := ix.final.Keys[k]
		if !ok {
			if acked > 0 {
				undecided = append(undecided, Finding{Key: k, Message: fmt.Sprintf("no final state for a key with %d acknowledged writes", acked)})
			}
			continue
		}
		finalOp := Operation{ID: -1, Op: Read(k), Outcome: OutcomeOK, Result: Result{Value: f.Value, HasStat: f.HasStat, Version: f.Version, Zxid: f.Zxid}, Err: "the final read:"}
		if f.Missing {
			finalOp.Result.Value = "(no such znode)"
			ops := []Operation{finalOp}
			if n := len(ackedOps); n > 0 {
				ops = []Operation{*ackedOps[n-1], finalOp}
			}
			bad = append(bad, Finding{Key: k, Message: fmt.Sprintf("the key no longer exists, although no client deleted it: its %d acknowledged writes were lost", acked), Ops: ops})
			continue
		}
		init := ix.initial[k]
		w := ix.writeOf(k, f.Value)
		var wEnd int64 // when the write that left the final value returned
		switch {
		case w == nil && f.Value != init.Value:
			bad = append(bad, Finding{Key: k, Message: fmt.Sprintf("the final value %q was never written", f.Value), Ops: []Operation{finalOp}})
			continue
		case w == nil:
			wEnd = -1 // the initial value: before everything
		case w.Outcome == OutcomeFailed:
			bad = append(bad, Finding{Key: k, Message: "the final value is from a write reported failed (not applied)", Ops: []Operation{*w, finalOp}})
			continue
		default:
			wEnd = w.End()
		}
		// An acknowledged write invoked after the final value's write
		// returned comes after it in every linearization: it was lost.
		var lost *Operation
		for _, o := range ackedOps {
			if o.Call > wEnd && (lost == nil || o.Call > lost.Call) {
				lost = o
			}
		}
		if lost != nil {
			ops := []Operation{*lost, finalOp}
			what := "the initial value"
			if w != nil {
				ops = []Operation{*w, *lost, finalOp}
				what = fmt.Sprintf("write #%d", w.ID)
			}
			bad = append(bad, Finding{Key: k, Message: fmt.Sprintf("acknowledged write #%d was lost: the final value is %s, which completed before #%d was invoked", lost.ID, what, lost.ID), Ops: ops})
			continue
		}
		// Every applied setData adds one to the version: the final version
		// counts the writes applied, at least every acknowledged one.
		if f.HasStat && init.HasStat {
			applied := f.Version - init.Version
			if applied < acked {
				bad = append(bad, Finding{Key: k, Message: fmt.Sprintf("acknowledged writes were lost: the version rose by %d but %d writes were acknowledged (%d more of unknown outcome)", applied, acked, maybe), Ops: []Operation{finalOp}})
				continue
			}
			if applied > acked+maybe {
				bad = append(bad, Finding{Key: k, Message: fmt.Sprintf("more writes applied than issued: the version rose by %d but only %d writes were acknowledged and %d of unknown outcome", applied, acked, maybe), Ops: []Operation{finalOp}})
				continue
			}
		}
		if f.HasStat {
			for _, o := range ackedOps {
				if o.Result.HasStat && o.Result.Zxid > f.Zxid {
					bad = append(bad, Finding{Key: k, Message: fmt.Sprintf("the final state (mzxid %#x) is older than acknowledged write #%d (zxid %#x)", f.Zxid, o.ID, o.Result.Zxid), Ops: []Operation{*o, finalOp}})
					break
				}
			}
		}
	}
	return result(CheckLostWrites, fmt.Sprintf("%d acknowledged writes on %d keys", nAcked, len(ix.keys)), bad, undecided)
}

// checkConverged: every server that answered the final read reports the
// same state for every key.
func (ix *index) checkConverged() CheckResult {
	if ix.final == nil {
		return result(CheckConverged, "no final state", nil, []Finding{{Message: "no final state was given"}})
	}
	var bad []Finding
	for _, addr := range sortedKeys(ix.final.Servers) {
		got := ix.final.Servers[addr]
		if maps.Equal(got, ix.final.Keys) {
			continue
		}
		for _, k := range ix.keys {
			want, ok1 := ix.final.Keys[k]
			have, ok2 := got[k]
			if ok1 != ok2 || want != have {
				bad = append(bad, Finding{Key: k, Message: fmt.Sprintf("server %s has %v, another has %v", addr, have, want)})
			}
		}
	}
	summary := fmt.Sprintf("%d servers answered, %d did not", len(ix.final.Servers), len(ix.final.Unreachable))
	return result(CheckConverged, summary, bad, nil)
}
