package standalone

import (
	"context"
	"io"
	"log/slog"
	"sync"
	"testing"

	"github.com/zkbench/zkbench/server/clientconn"
	"github.com/zkbench/zkbench/server/proto"
)

// BenchmarkWritePath measures the standalone write path (Submit -> prep ->
// log -> apply -> reply) without a disk: a setData of a 64-byte value,
// with 64 writes outstanding. Its allocs/op is the figure to keep: a
// change of the pipeline must not add allocations per write.
func BenchmarkWritePath(b *testing.B) {
	n := New(Options{TickMs: 100000, Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	ctx, cancel := context.WithCancel(context.Background())
	ran := make(chan error, 1)
	go func() { ran <- n.Run(ctx) }()
	defer func() { cancel(); <-ran }()

	created := make(chan clientconn.WriteResult, 1)
	n.Submit(&proto.Request{SessionID: 1, Cxid: 1, Op: proto.OpCreate,
		Body: &proto.CreateRequest{Path: "/k", ACL: proto.OpenACLUnsafe}}, func(r clientconn.WriteResult) { created <- r })
	if r := <-created; r.Err != proto.ErrOK || r.Result.Err != proto.ErrOK {
		b.Fatalf("create /k: %v %v", r.Err, r.Result.Err)
	}

	const outstanding = 64
	value := make([]byte, 64)
	reqs := make([]proto.Request, outstanding)
	for i := range reqs {
		reqs[i] = proto.Request{SessionID: 1, Op: proto.OpSetData,
			Body: &proto.SetDataRequest{Path: "/k", Data: value, Version: -1}}
	}
	var wg sync.WaitGroup
	done := func(r clientconn.WriteResult) {
		if r.Err != proto.ErrOK {
			b.Errorf("setData: %v", r.Err)
		}
		wg.Done()
	}
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i += outstanding {
		k := min(outstanding, b.N-i)
		wg.Add(k)
		for j := 0; j < k; j++ {
			n.Submit(&reqs[j], done)
		}
		wg.Wait()
	}
}
