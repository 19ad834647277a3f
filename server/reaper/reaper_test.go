package reaper

import (
	"slices"
	"testing"
	"time"

	"github.com/zkbench/zkbench/server/proto"
	"github.com/zkbench/zkbench/server/tree"
)

// fakeTree lists fixed candidates and records when it was asked.
type fakeTree struct {
	candidates []string
	checks     []time.Time
	neverUsed  int64
}

func (f *fakeTree) ExpiredContainersAndTTLsNeverUsed(nowMs int64, _ int, maxNeverUsedMs int64) []string {
	f.checks = append(f.checks, time.UnixMilli(nowMs))
	f.neverUsed = maxNeverUsedMs
	return slices.Clone(f.candidates)
}

var t0 = time.UnixMilli(1_700_000_000_000)

func ms(n int) time.Time { return t0.Add(time.Duration(n) * time.Millisecond) }

// The schedule follows upstream's ContainerManager: the first check one
// interval after the start, deletions one minute/maxPerMinute apart (the
// first at once), and a check that falls due during a list waits for the
// list, including the pause after its last deletion.
func TestPacing(t *testing.T) {
	r, err := New(Options{CheckInterval: 100 * time.Millisecond, MaxPerMinute: 1000, MaxNeverUsed: 5 * time.Second}, t0)
	if err != nil {
		t.Fatal(err)
	}
	f := &fakeTree{candidates: []string{"/a", "/b", "/c"}}
	if got := r.Due(f, ms(99)); got != nil || len(f.checks) != 0 {
		t.Fatalf("before the first interval: %v, %d checks", got, len(f.checks))
	}
	if got := r.Next(); !got.Equal(ms(100)) {
		t.Fatalf("next = %v, want t0+100ms", got.Sub(t0))
	}
	steps := []struct {
		at   int
		want []string
		next int
	}{
		{100, []string{"/a"}, 160}, // 60000/1000 = 60 ms apart
		{159, nil, 160},
		{160, []string{"/b"}, 220},
		{230, []string{"/c"}, 290}, // late by 10 ms: spacing counts from now
		{289, nil, 290},            // the check due at 200 waits for the pause
		{290, []string{"/a"}, 350}, // and then runs at once
	}
	for _, s := range steps {
		got := r.Due(f, ms(s.at))
		if !slices.Equal(got, s.want) {
			t.Fatalf("at %d ms: got %v, want %v", s.at, got, s.want)
		}
		if next := r.Next(); !next.Equal(ms(s.next)) {
			t.Fatalf("at %d ms: next = %v, want %d ms", s.at, next.Sub(t0), s.next)
		}
	}
	if len(f.checks) != 2 || !f.checks[1].Equal(ms(290)) {
		t.Fatalf("checks at %v, want 2 with the second at 290 ms", f.checks)
	}
	if f.neverUsed != 5000 {
		t.Fatalf("maxNeverUsedMs passed as %d, want 5000", f.neverUsed)
	}
}

// An empty list costs nothing but the check, at a fixed rate; a driver
// kept away for several intervals gets one check, not one per interval.
func TestFixedRate(t *testing.T) {
	r, _ := New(Options{CheckInterval: 100 * time.Millisecond, MaxPerMinute: 10000}, t0)
	f := &fakeTree{}
	for _, at := range []int{100, 205, 300} {
		r.Due(f, ms(at))
	}
	if len(f.checks) != 3 || !r.Next().Equal(ms(400)) {
		t.Fatalf("%d checks, next %v; want 3 and 400 ms", len(f.checks), r.Next().Sub(t0))
	}
	r.Due(f, ms(1000))
	if len(f.checks) != 4 || !r.Next().Equal(ms(1100)) {
		t.Fatalf("after a long absence: %d checks, next %v; want 4 and 1100 ms", len(f.checks), r.Next().Sub(t0))
	}
}

func TestOptionsRefused(t *testing.T) {
	for _, o := range []Options{{MaxPerMinute: 1}, {CheckInterval: time.Second}, {CheckInterval: -1, MaxPerMinute: 1}} {
		if _, err := New(o, t0); err == nil {
			t.Errorf("New(%+v) accepted", o)
		}
	}
}

// With a real tree: a container whose child went, and a TTL node past its
// TTL, are handed out; a container never used is not, unless
// maxNeverUsedIntervalMs is set and passed.
func TestCandidatesFromTree(t *testing.T) {
	tr := tree.New()
	zxid := int64(0)
	apply := func(typ proto.OpCode, body proto.Record, at time.Time) {
		zxid++
		tr.Apply(&proto.TxnHeader{Zxid: zxid, Time: at.UnixMilli(), Type: typ}, body)
	}
	acl := proto.OpenACLUnsafe
	apply(proto.OpCreateContainer, &proto.CreateContainerTxn{Path: "/used", ACL: acl, ParentCVersion: 1}, t0)
	apply(proto.OpCreate, &proto.CreateTxn{Path: "/used/kid", ACL: acl, ParentCVersion: 1}, t0)
	apply(proto.OpDelete, &proto.DeleteTxn{Path: "/used/kid"}, t0)
	apply(proto.OpCreateContainer, &proto.CreateContainerTxn{Path: "/unused", ACL: acl, ParentCVersion: 2}, t0)
	apply(proto.OpCreateTTL, &proto.CreateTTLTxn{Path: "/ttl", ACL: acl, ParentCVersion: 3, TTL: 500}, t0)

	r, _ := New(Options{CheckInterval: 100 * time.Millisecond, MaxPerMinute: 60000}, t0)
	if got := r.Due(tr, ms(100)); !slices.Equal(got, []string{"/used"}) {
		t.Fatalf("at 100 ms: %v, want [/used]", got)
	}
	// The deletion was not applied, so /used is listed again; 1 ms apart.
	if got := append(r.Due(tr, ms(600)), r.Due(tr, ms(601))...); !slices.Equal(got, []string{"/ttl", "/used"}) {
		t.Fatalf("at 600 and 601 ms: %v, want [/ttl /used]", got)
	}
	r, _ = New(Options{CheckInterval: 100 * time.Millisecond, MaxPerMinute: 60000, MaxNeverUsed: time.Second}, t0)
	if got := append(append(r.Due(tr, ms(1100)), r.Due(tr, ms(1101))...), r.Due(tr, ms(1102))...); !slices.Equal(got, []string{"/ttl", "/unused", "/used"}) {
		t.Fatalf("with maxNeverUsed 1s at 1100 ms: %v", got)
	}
}
