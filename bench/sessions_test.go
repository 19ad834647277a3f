package bench

import (
	"context"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	hdr "github.com/HdrHistogram/hdrhistogram-go"

	"github.com/zkbench/zkbench/workloads"
)

// opsBySession runs the sessions sr of spec against srv and returns the
// operations of sequence number below n each session issued, by session,
// in sequence order (a session's workers may issue them out of order).
func opsBySession(t *testing.T, addr string, spec workloads.Spec, sr SessionRange, n int) map[int][]string {
	t.Helper()
	var mu sync.Mutex
	out := map[int][]string{}
	_, err := Run(context.Background(), Options{
		Spec: spec, Targets: []Target{{Addr: addr}}, SkipSetup: true, Sessions: sr,
		Trace: func(s int, op workloads.Op) {
			mu.Lock()
			if op.Seq < int64(n) {
				out[s] = append(out[s], fmt.Sprintf("%03d %s %d", op.Seq, op.Type, op.Key))
			}
			mu.Unlock()
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	for _, ops := range out {
		slices.Sort(ops)
	}
	return out
}

// Session i issues the same operations whether one driver runs every
// session or three drivers run a range each.
func TestSessionRangesIssueTheSameOperations(t *testing.T) {
	srv := startFake(t, 0)
	spec := fakeSpec()
	spec.Clients = 6
	spec.Warmup = 0
	spec.Duration = 500 * time.Millisecond
	const n = 30
	whole := opsBySession(t, srv.Addr(), spec, SessionRange{}, n)
	parts := map[int][]string{}
	for _, sr := range []SessionRange{{0, 2}, {2, 3}, {5, 1}} {
		for s, ops := range opsBySession(t, srv.Addr(), spec, sr, n) {
			if s < sr.First || s >= sr.First+sr.Count {
				t.Fatalf("range %v ran session %d", sr, s)
			}
			parts[s] = ops
		}
	}
	if len(whole) != spec.Clients || len(parts) != spec.Clients {
		t.Fatalf("sessions: %d in one run, %d in three", len(whole), len(parts))
	}
	for s := range spec.Clients {
		if len(whole[s]) < n || !slices.Equal(whole[s], parts[s]) {
			t.Fatalf("session %d differs:\n%v\n---\n%v", s, whole[s], parts[s])
		}
	}
}

// Run waits for the barrier's start, and every interval's histogram is
// handed out with the count the series has for it.
func TestBarrierAndIntervalHistograms(t *testing.T) {
	srv := startFake(t, 0)
	spec := fakeSpec()
	spec.Warmup = 100 * time.Millisecond
	spec.Duration = 500 * time.Millisecond
	var start time.Time
	counts := map[int64]int64{}
	res, err := Run(context.Background(), Options{
		Spec: spec, Targets: []Target{{Addr: srv.Addr()}}, SkipSetup: true,
		Barrier: func(context.Context) (time.Time, error) {
			start = time.Now().Add(200 * time.Millisecond)
			return start, nil
		},
		OnInterval: func(idx int64, h *hdr.Histogram) { counts[idx] = h.TotalCount() },
	})
	if err != nil {
		t.Fatal(err)
	}
	if want := start.Add(spec.Warmup); !res.Start.Equal(want) {
		t.Errorf("measured part started at %v, want %v (barrier + warm-up)", res.Start, want)
	}
	if len(res.Series) == 0 {
		t.Fatal("no series")
	}
	for i, iv := range res.Series {
		if counts[int64(i)] != iv.Ops {
			t.Errorf("interval %d: histogram holds %d, series %d", i, counts[int64(i)], iv.Ops)
		}
	}
}

// A session range outside the spec's clients is refused.
func TestSessionRangeOutsideSpecRefused(t *testing.T) {
	spec := fakeSpec()
	_, err := Run(context.Background(), Options{Spec: spec, Targets: []Target{{Addr: "127.0.0.1:1"}}, Sessions: SessionRange{3, 5}})
	if err == nil {
		t.Fatal("range [3, 8) of 4 clients accepted")
	}
}
