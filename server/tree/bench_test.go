package tree

import (
	"fmt"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/zkbench/zkbench/server/proto"
)

// bigTree builds a tree of 10k nodes (/n0../n99, each with 100 children)
// with 1 KiB of data each.
func bigTree(tb testing.TB) (*Tree, []string, int64) {
	tr := New()
	data := make([]byte, 1024)
	zxid := int64(0x100000000)
	var paths []string
	for i := 0; i < 100; i++ {
		zxid++
		p := fmt.Sprintf("/n%d", i)
		tr.Apply(&proto.TxnHeader{Zxid: zxid, Type: proto.OpCreate}, &proto.CreateTxn{Path: p, Data: data, ParentCVersion: -1})
		for j := 0; j < 99; j++ {
			zxid++
			c := fmt.Sprintf("%s/c%d", p, j)
			tr.Apply(&proto.TxnHeader{Zxid: zxid, Type: proto.OpCreate}, &proto.CreateTxn{Path: c, Data: data, ParentCVersion: -1})
			paths = append(paths, c)
		}
	}
	if n, _ := tr.AllChildrenNumber("/"); n < 10000 {
		tb.Fatalf("tree has %d nodes", n)
	}
	return tr, paths, zxid
}

func BenchmarkGetData10k(b *testing.B) {
	tr, paths, _ := bigTree(b)
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if _, _, err := tr.GetData(paths[i%len(paths)], nil); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkApplySetData1KiB(b *testing.B) {
	tr, paths, zxid := bigTree(b)
	data := make([]byte, 1024)
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		zxid++
		r := tr.Apply(&proto.TxnHeader{Zxid: zxid, Type: proto.OpSetData}, &proto.SetDataTxn{Path: paths[i%len(paths)], Data: data, Version: int32(i)})
		if r.Err != proto.ErrOK {
			b.Fatal(r.Err)
		}
	}
}

func BenchmarkApplyCreate(b *testing.B) {
	tr := New()
	tr.Apply(&proto.TxnHeader{Zxid: 1, Type: proto.OpCreate}, &proto.CreateTxn{Path: "/b", ParentCVersion: -1})
	paths := make([]string, b.N)
	for i := range paths {
		paths[i] = fmt.Sprintf("/b/n%010d", i)
	}
	data := make([]byte, 1024)
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		r := tr.Apply(&proto.TxnHeader{Zxid: int64(i + 2), Type: proto.OpCreate2},
			&proto.CreateTxn{Path: paths[i], Data: data, ACL: proto.OpenACLUnsafe, ParentCVersion: int32(i + 1)})
		if r.Err != proto.ErrOK {
			b.Fatal(r.Err)
		}
	}
}

// BenchmarkGetDataWithApplier measures parallel reads while one goroutine
// applies setData txns as fast as it can.
func BenchmarkGetDataWithApplier(b *testing.B) {
	tr, paths, zxid := bigTree(b)
	data := make([]byte, 1024)
	var stop atomic.Bool
	var writes atomic.Int64
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		z := zxid
		for i := 0; !stop.Load(); i++ {
			z++
			tr.Apply(&proto.TxnHeader{Zxid: z, Type: proto.OpSetData}, &proto.SetDataTxn{Path: paths[i%len(paths)], Data: data, Version: int32(i)})
			writes.Add(1)
		}
	}()
	b.ReportAllocs()
	b.ResetTimer()
	var next atomic.Int64
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			i := next.Add(1)
			if _, _, err := tr.GetData(paths[int(i)%len(paths)], nil); err != nil {
				b.Error(err)
				return
			}
		}
	})
	b.StopTimer()
	stop.Store(true)
	wg.Wait()
	b.ReportMetric(float64(writes.Load())/b.Elapsed().Seconds(), "applies/s")
}

// TestConcurrentReadsWatchesAndApply runs readers that set watches, a
// watch remover and an applier at once; run with -race.
func TestConcurrentReadsWatchesAndApply(t *testing.T) {
	tr := New()
	a := newApplier(t, tr)
	for i := 0; i < 20; i++ {
		a.mustCreate(fmt.Sprintf("/k%d", i), nil, 0)
	}
	mine := &recorder{}
	tr.GetChildren("/k0", mine)
	var wg sync.WaitGroup
	done := make(chan struct{})
	ws := make([]*recorder, 4)
	for r := range ws {
		ws[r] = &recorder{}
		wg.Add(1)
		go func(w *recorder) {
			defer wg.Done()
			for i := 0; ; i++ {
				select {
				case <-done:
					return
				default:
				}
				p := fmt.Sprintf("/k%d", i%20)
				tr.GetData(p, w)
				tr.Exists(p+"/x", w)
				tr.GetChildren(p, w)
				tr.Lookup(p)
				if i%50 == 0 {
					tr.AddWatch(p, proto.AddWatchPersistentRecursive, w)
					tr.RemoveWatches(p, proto.WatcherAny, w)
					tr.WatchesByPath()
					tr.NodeCount()
				}
				if i%200 == 0 {
					tr.RemoveWatcher(w)
					tr.Walk(func(NodeRecord) error { return nil })
				}
			}
		}(ws[r])
	}
	for i := 0; i < 2000; i++ {
		p := fmt.Sprintf("/k%d/x", (i/2)%20)
		if i%2 == 0 {
			a.mustCreate(p, []byte("v"), 0)
		} else {
			a.del(p)
		}
	}
	close(done)
	wg.Wait()
	// The readers' events depend on timing; a watch set before the run
	// fires exactly once.
	if evs := mine.take(); len(evs) != 1 || evs[0].Type != proto.EventNodeChildrenChanged || evs[0].Path != "/k0" {
		t.Fatalf("watch set before the run: events %+v", evs)
	}
}

// BenchmarkPermittedRead compares a permission-checked getData done as two
// tree calls (ACL, then GetData: two read locks, two lookups) with one
// GetDataIf, from parallel readers as the connections' goroutines are.
func BenchmarkPermittedRead(b *testing.B) {
	tr, paths, _ := bigTree(b)
	ids := []proto.ID{{Scheme: "ip", ID: "127.0.0.1"}}
	allowed := func(acl []proto.ACL) bool { return CheckACL(acl, proto.PermRead, ids, Providers{}) }
	b.Run("ACL+GetData", func(b *testing.B) {
		b.ReportAllocs()
		var next atomic.Int64
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				p := paths[int(next.Add(1))%len(paths)]
				if acl, ok := tr.ACL(p); !ok || !allowed(acl) {
					b.Fatal("refused")
				}
				if _, _, err := tr.GetData(p, nil); err != nil {
					b.Fatal(err)
				}
			}
		})
	})
	b.Run("GetDataIf", func(b *testing.B) {
		b.ReportAllocs()
		var next atomic.Int64
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				p := paths[int(next.Add(1))%len(paths)]
				if _, _, err := tr.GetDataIf(p, nil, allowed); err != nil {
					b.Fatal(err)
				}
			}
		})
	})
}
