package history

import (
	"cmp"
	"fmt"
	"slices"
)

// checkStats: the zxids and versions that servers reported agree with one
// another and with real time (see doc.go).
func (ix *index) checkStats() CheckResult {
	var bad []Finding
	type obs struct {
		key string
		st  State
		op  *Operation // nil for the initial or final state
	}
	describe := func(o obs, what string) []Operation {
		if o.op != nil {
			return []Operation{*o.op}
		}
		return []Operation{{ID: -1, Op: Read(o.key), Outcome: OutcomeOK, Result: Result{Value: o.st.Value, HasStat: true, Version: o.st.Version, Zxid: o.st.Zxid}, Err: what}}
	}
	type zkey struct {
		key, value string
	}
	byZxid := map[int64]zkey{} // every zxid to the one (key, value) it wrote
	byZxidOp := map[int64][]Operation{}
	nObs := 0
	for _, k := range ix.keys {
		var all []obs
		if s := ix.initial[k]; s.HasStat {
			all = append(all, obs{key: k, st: s})
		}
		for _, o := range ix.byKey[k] {
			if o.Outcome != OutcomeOK || !o.Result.HasStat {
				continue
			}
			switch o.Op.Kind {
			case KindWrite:
				all = append(all, obs{k, State{Value: o.Op.Value, HasStat: true, Version: o.Result.Version, Zxid: o.Result.Zxid}, o})
			case KindRead:
				all = append(all, obs{k, State{Value: o.Result.Value, HasStat: true, Version: o.Result.Version, Zxid: o.Result.Zxid}, o})
			}
		}
		if ix.final != nil {
			if s, ok := ix.final.Keys[k]; ok && s.HasStat {
				all = append(all, obs{key: k, st: s})
			}
		}
		nObs += len(all)
		// Each value has one (version, mzxid), each mzxid one value.
		byValue := map[string]obs{}
		byZ := map[int64]obs{}
		for _, o := range all {
			if p, ok := byValue[o.st.Value]; ok && (p.st.Version != o.st.Version || p.st.Zxid != o.st.Zxid) {
				bad = append(bad, Finding{Key: k, Message: fmt.Sprintf("the value %q was reported with two different stats", o.st.Value),
					Ops: append(describe(p, "initial or final state:"), describe(o, "initial or final state:")...)})
				continue
			}
			if p, ok := byZ[o.st.Zxid]; ok && p.st.Value != o.st.Value {
				bad = append(bad, Finding{Key: k, Message: fmt.Sprintf("two values were reported with the same mzxid %#x", o.st.Zxid),
					Ops: append(describe(p, "initial or final state:"), describe(o, "initial or final state:")...)})
				continue
			}
			byValue[o.st.Value] = o
			byZ[o.st.Zxid] = o
			if p, ok := byZxid[o.st.Zxid]; ok && p.key != k {
				bad = append(bad, Finding{Key: k, Message: fmt.Sprintf("one zxid %#x wrote two keys (%s and %s)", o.st.Zxid, p.key, k),
					Ops: append(byZxidOp[o.st.Zxid], describe(o, "initial or final state:")...)})
				continue
			}
			if _, ok := byZxid[o.st.Zxid]; !ok {
				byZxid[o.st.Zxid] = zkey{k, o.st.Value}
				byZxidOp[o.st.Zxid] = describe(o, "initial or final state:")
			}
		}
		// Versions grow with mzxid.
		distinct := make([]obs, 0, len(byZ))
		for _, o := range byZ {
			distinct = append(distinct, o)
		}
		slices.SortFunc(distinct, func(a, b obs) int { return cmp.Compare(a.st.Zxid, b.st.Zxid) })
		for i := 1; i < len(distinct); i++ {
			a, b := distinct[i-1], distinct[i]
			if b.st.Version <= a.st.Version {
				bad = append(bad, Finding{Key: k, Message: fmt.Sprintf("version %d at mzxid %#x is not above version %d at the earlier mzxid %#x", b.st.Version, b.st.Zxid, a.st.Version, a.st.Zxid),
					Ops: append(describe(a, "initial or final state:"), describe(b, "initial or final state:")...)})
			}
		}
	}

	// Real time: a write invoked after another write returned commits after
	// it, so gets a larger zxid (writes are linearizable across keys).
	type w struct {
		zxid int64
		op   *Operation
	}
	var ws []w
	for _, k := range ix.keys {
		for _, o := range ix.byKey[k] {
			if o.MaybeWrote() && ix.writeOf(k, o.Op.Value) == o {
				if z, ok := ix.writeZxid(o); ok {
					ws = append(ws, w{z, o})
				}
			}
		}
	}
	byCall := slices.Clone(ws)
	slices.SortFunc(byCall, func(a, b w) int { return cmp.Compare(a.op.Call, b.op.Call) })
	byEnd := slices.Clone(ws)
	slices.SortFunc(byEnd, func(a, b w) int { return cmp.Compare(a.op.End(), b.op.End()) })
	var newest *w // the finished write with the largest zxid so far
	j := 0
	for i := range byCall {
		c := &byCall[i]
		for j < len(byEnd) && byEnd[j].op.End() < c.op.Call {
			if newest == nil || byEnd[j].zxid > newest.zxid {
				newest = &byEnd[j]
			}
			j++
		}
		if newest != nil && newest.zxid >= c.zxid {
			bad = append(bad, Finding{Key: c.op.Op.Key, Message: fmt.Sprintf("a write invoked after another had returned got an older zxid (%#x, not above %#x)", c.zxid, newest.zxid),
				Ops: []Operation{*newest.op, *c.op}})
		}
	}
	return result(CheckStats, fmt.Sprintf("%d stats observed, %d writes with a known zxid", nObs, len(ws)), bad, nil)
}
