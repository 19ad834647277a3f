package zab

import (
	"errors"
	"math/rand"
	"slices"
	"testing"
)

// TestLogAgainstModel checks zlog (Storage plus pending changes plus the
// in-memory tail) against a plain slice holding the logical log, under
// random appends, truncations, snapshots, persists, releases and
// compactions.
func TestLogAgainstModel(t *testing.T) {
	for seed := int64(1); seed <= 200; seed++ {
		rng := rand.New(rand.NewSource(seed))
		st := NewMemoryStorage()
		l := zlog{st: st}
		var model []Entry // the logical log after base
		var base, applied int64
		next := int64(1)
		lastOf := func() int64 {
			if len(model) > 0 {
				return model[len(model)-1].Zxid
			}
			return base
		}
		for step := 0; step < 300; step++ {
			switch r := rng.Intn(20); {
			case r < 8:
				e := Entry{Zxid: next, Data: []byte{byte(next)}}
				next += 1 + int64(rng.Intn(2))
				if err := l.append(e); err != nil {
					t.Fatalf("seed %d: %v", seed, err)
				}
				model = append(model, e)
			case r < 10 && len(model) > 0:
				i := rng.Intn(len(model))
				to := model[i].Zxid
				if to < applied {
					continue
				}
				if err := l.truncate(to); err != nil {
					t.Fatalf("seed %d: truncate %d: %v", seed, to, err)
				}
				model = model[:i+1]
			case r < 11:
				// A snapshot from a leader, past everything.
				next += 3
				l.installSnapshot(next)
				base, applied, model = next, next, nil
				next++
			case r < 16:
				// The driver does a Ready.
				rd := Ready{Persist: slices.Clone(l.unstable())}
				if l.snapPending {
					rd.Snapshot = &Snapshot{Zxid: l.snapZxid}
					st.Reset(l.snapZxid)
				}
				if l.truncPending {
					to := l.truncTo
					rd.Truncate = &to
					if err := st.Truncate(to); err != nil {
						t.Fatalf("seed %d: %v", seed, err)
					}
				}
				if err := st.Append(rd.Persist); err != nil {
					t.Fatalf("seed %d: %v", seed, err)
				}
				l.stableTo(&rd)
			case r < 18 && len(model) > 0:
				// Apply a prefix, release it from the cache.
				z := model[rng.Intn(len(model))].Zxid
				if z > applied {
					applied = z
				}
				l.release(applied)
			default:
				// Compact durable, applied entries.
				if !l.snapPending && !l.truncPending && applied <= st.LastZxid() && applied >= st.BaseZxid() {
					if err := st.Compact(applied); err != nil {
						t.Fatalf("seed %d: %v", seed, err)
					}
				}
			}
			if got := l.lastZxid(); got != lastOf() {
				t.Fatalf("seed %d step %d: lastZxid %d, model %d", seed, step, got, lastOf())
			}
			lb := l.base()
			// entries after every point from the log's base
			points := []int64{lb}
			for _, e := range model {
				if e.Zxid >= lb {
					points = append(points, e.Zxid)
				}
			}
			for _, after := range points {
				if after < applied && rng.Intn(4) > 0 {
					continue // keep the test fast; still sample
				}
				max := 1 + rng.Intn(5)
				got, err := l.entries(after, lastOf(), max)
				if err != nil {
					t.Fatalf("seed %d step %d: entries after %d: %v", seed, step, after, err)
				}
				var want []Entry
				for _, e := range model {
					if e.Zxid > after && len(want) < max {
						want = append(want, e)
					}
				}
				if !slices.EqualFunc(got, want, func(a, b Entry) bool { return a.Zxid == b.Zxid && slices.Equal(a.Data, b.Data) }) {
					t.Fatalf("seed %d step %d: entries after %d (max %d) = %v, want %v", seed, step, after, max, got, want)
				}
				f, err := l.floor(after)
				if err != nil || f != after {
					t.Fatalf("seed %d step %d: floor(%d) = %d, %v", seed, step, after, f, err)
				}
			}
			if lb > 0 {
				if _, err := l.entries(lb-1, lastOf(), 10); !errors.Is(err, ErrCompacted) {
					t.Fatalf("seed %d: entries before base: %v", seed, err)
				}
			}
		}
	}
}
