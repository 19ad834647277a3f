package history

import (
	"cmp"
	"fmt"
	"slices"
)

// seen is the newest zxid a session has observed (on one key, or on any),
// and the operation that showed it.
type seen struct {
	zxid int64
	op   *Operation
}

// checkSessions runs the per-session checks (see doc.go): the session-order
// check and the no-time-travel check.
func (ix *index) checkSessions() (order, travel CheckResult) {
	// Every write whose zxid is known, per key, sorted by zxid.
	type zw struct {
		zxid int64
		op   *Operation
	}
	known := map[string][]zw{}
	for _, k := range ix.keys {
		for _, o := range ix.byKey[k] {
			if o.MaybeWrote() && ix.writeOf(k, o.Op.Value) == o {
				if z, ok := ix.writeZxid(o); ok {
					known[k] = append(known[k], zw{z, o})
				}
			}
		}
		slices.SortFunc(known[k], func(a, b zw) int { return cmp.Compare(a.zxid, b.zxid) })
	}
	// firstWriteIn returns the known write to k with the smallest zxid in
	// (lo, hi], if any.
	firstWriteIn := func(k string, lo, hi int64) *Operation {
		ws := known[k]
		i, _ := slices.BinarySearchFunc(ws, lo+1, func(w zw, z int64) int { return cmp.Compare(w.zxid, z) })
		if i < len(ws) && ws[i].zxid <= hi {
			return ws[i].op
		}
		return nil
	}

	sessions := map[int64][]*Operation{}
	for i := range ix.h.Ops {
		o := &ix.h.Ops[i]
		if o.Session != 0 {
			sessions[o.Session] = append(sessions[o.Session], o)
		}
	}
	ids := make([]int64, 0, len(sessions))
	for s := range sessions {
		ids = append(ids, s)
	}
	slices.Sort(ids)

	var orderBad, travelBad []Finding
	nReads, nWrites := 0, 0
	for _, sid := range ids {
		ops := sessions[sid]
		// What a session has seen when it issues an operation is what the
		// operations that had returned by then showed. ZooKeeper answers a
		// session's requests in the order the client sent them, but a
		// pipelining client's invocation times need not be that order (its
		// goroutines race to the send queue), so only an operation that
		// returned before another was invoked is known to precede it; for a
		// client that waits for each reply, that is every earlier one.
		slices.SortStableFunc(ops, func(a, b *Operation) int { return cmp.Compare(a.Call, b.Call) })
		done := slices.Clone(ops)
		slices.SortStableFunc(done, func(a, b *Operation) int { return cmp.Compare(a.Return, b.Return) })
		var all seen                       // newest zxid the session saw, any key
		var lastWrite seen                 // its newest acknowledged write
		perKey := map[string]seen{}        // newest zxid it saw per key
		perKeyVersion := map[string]seen{} // newest version it saw per key (zxid field holds the version)
		note := func(k string, z int64, o *Operation) {
			if z > all.zxid || all.op == nil {
				all = seen{z, o}
			}
			if p, ok := perKey[k]; !ok || z > p.zxid {
				perKey[k] = seen{z, o}
			}
		}
		// absorb records what o showed the session.
		absorb := func(o *Operation) {
			k := o.Op.Key
			switch o.Op.Kind {
			case KindWrite:
				z, ok := ix.writeZxid(o)
				if !ok {
					return
				}
				if lastWrite.op == nil || z > lastWrite.zxid {
					lastWrite = seen{z, o}
				}
				note(k, z, o)
				if o.Result.HasStat {
					if p, ok := perKeyVersion[k]; !ok || int64(o.Result.Version) > p.zxid {
						perKeyVersion[k] = seen{int64(o.Result.Version), o}
					}
				}
			case KindRead:
				if z, ok := ix.readZxid(k, o.Result.Value, o.Result); ok {
					note(k, z, o)
				}
				if o.Result.HasStat {
					if p, ok := perKeyVersion[k]; !ok || int64(o.Result.Version) > p.zxid {
						perKeyVersion[k] = seen{int64(o.Result.Version), o}
					}
				}
			}
		}
		next := 0 // into done
		for _, o := range ops {
			for ; next < len(done) && done[next].Return <= o.Call; next++ {
				if d := done[next]; d.Outcome == OutcomeOK && d != o {
					absorb(d)
				}
			}
			if o.Outcome != OutcomeOK {
				continue
			}
			k := o.Op.Key
			switch o.Op.Kind {
			case KindWrite:
				nWrites++
				z, ok := ix.writeZxid(o)
				if !ok {
					continue
				}
				if lastWrite.op != nil && z <= lastWrite.zxid {
					orderBad = append(orderBad, Finding{Key: k, Session: sid,
						Message: fmt.Sprintf("writes committed out of the order the session issued them (zxid %#x after %#x)", z, lastWrite.zxid),
						Ops:     []Operation{*lastWrite.op, *o}})
				} else if all.op != nil && z <= all.zxid {
					orderBad = append(orderBad, Finding{Key: k, Session: sid,
						Message: fmt.Sprintf("a write got zxid %#x, no newer than zxid %#x the session had already seen", z, all.zxid),
						Ops:     []Operation{*all.op, *o}})
				}
			case KindRead:
				nReads++
				before := len(travelBad)
				if z, ok := ix.readZxid(k, o.Result.Value, o.Result); ok {
					if p, ok := perKey[k]; ok && z < p.zxid {
						msg := fmt.Sprintf("the znode went back in time: read mzxid %#x after the session saw mzxid %#x", z, p.zxid)
						if p.op.Op.Kind == KindWrite {
							msg = fmt.Sprintf("the session did not read its own write: read mzxid %#x after its write of zxid %#x", z, p.zxid)
						}
						travelBad = append(travelBad, Finding{Key: k, Session: sid, Message: msg, Ops: []Operation{*p.op, *o}})
					} else if all.op != nil {
						if w := firstWriteIn(k, z, all.zxid); w != nil {
							orderBad = append(orderBad, Finding{Key: k, Session: sid,
								Message: fmt.Sprintf("stale read: the session had seen zxid %#x, but read mzxid %#x of this key although a write to it committed at zxid %#x in between", all.zxid, z, mustZxid(ix, w)),
								Ops:     []Operation{*all.op, *w, *o}})
						}
					}
				}
				if o.Result.HasStat {
					// The version, for servers whose mzxids cannot be
					// trusted: reported only if the mzxid did not already
					// show the same thing.
					if p, ok := perKeyVersion[k]; ok && int64(o.Result.Version) < p.zxid && len(travelBad) == before {
						travelBad = append(travelBad, Finding{Key: k, Session: sid,
							Message: fmt.Sprintf("the znode went back in time: version %d after the session saw version %d", o.Result.Version, p.zxid),
							Ops:     []Operation{*p.op, *o}})
					}
				}
			}
		}
	}
	summary := fmt.Sprintf("%d sessions, %d successful reads, %d acknowledged writes", len(ids), nReads, nWrites)
	return result(CheckSession, summary, orderBad, nil), result(CheckNoTimeTravel, summary, travelBad, nil)
}

func mustZxid(ix *index, w *Operation) int64 {
	z, _ := ix.writeZxid(w)
	return z
}
