package wal

import (
	"log/slog"
	"sync"
	"testing"
	"time"
)

// benchPayloads returns n payloads of create txns carrying 1 KiB of data.
func benchPayloads(first int64, n int) [][]byte {
	data := make([]byte, 1024)
	for i := range data {
		data[i] = byte('a' + i%26)
	}
	out := make([][]byte, n)
	for i := range out {
		out[i] = txn(first+int64(i), "/bench/node", data)
	}
	return out
}

// BenchmarkAppendSync1KiB: one txn per fdatasync, single-threaded, the
// floor a log without group commit can do.
func BenchmarkAppendSync1KiB(b *testing.B) {
	l, err := Open(b.TempDir(), Options{ForceSync: true})
	if err != nil {
		b.Fatal(err)
	}
	defer l.Close()
	recs := benchPayloads(1, b.N)
	b.SetBytes(int64(len(recs[0])))
	b.ResetTimer()
	start := time.Now()
	for i := 0; i < b.N; i++ {
		if err := l.Append(int64(i+1), recs[i]); err != nil {
			b.Fatal(err)
		}
		if err := l.Sync(); err != nil {
			b.Fatal(err)
		}
	}
	el := time.Since(start).Seconds()
	b.ReportMetric(float64(b.N)/el, "txns/s")
	b.ReportMetric(float64(b.N)/el, "fsyncs/s")
}

// BenchmarkAppendNoSync1KiB: buffered appends only (forceSync=no), the
// cost of framing and writing.
func BenchmarkAppendNoSync1KiB(b *testing.B) {
	l, err := Open(b.TempDir(), Options{ForceSync: false, Logger: quietLogger})
	if err != nil {
		b.Fatal(err)
	}
	defer l.Close()
	recs := benchPayloads(1, b.N)
	b.SetBytes(int64(len(recs[0])))
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if err := l.Append(int64(i+1), recs[i]); err != nil {
			b.Fatal(err)
		}
	}
	if err := l.Sync(); err != nil {
		b.Fatal(err)
	}
}

// BenchmarkCommitter64 drives a Committer from 64 closed-loop submitters
// (each waits for its txn to be durable before sending the next), as 64
// client connections writing through one server would.
func BenchmarkCommitter64(b *testing.B) {
	const submitters = 64
	l, err := Open(b.TempDir(), Options{ForceSync: true})
	if err != nil {
		b.Fatal(err)
	}
	defer l.Close()
	recs := benchPayloads(1, b.N)
	b.SetBytes(int64(len(recs[0])))
	c := NewCommitter(l)
	var (
		mu   sync.Mutex
		next int
		wg   sync.WaitGroup
	)
	b.ResetTimer()
	start := time.Now()
	for g := 0; g < submitters; g++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			done := make(chan error, 1)
			for {
				mu.Lock()
				i := next
				if i >= b.N {
					mu.Unlock()
					return
				}
				next++
				c.Submit(int64(i+1), recs[i], func(err error) { done <- err })
				mu.Unlock()
				if err := <-done; err != nil {
					b.Error(err)
					return
				}
			}
		}()
	}
	wg.Wait()
	el := time.Since(start).Seconds()
	if err := c.Close(); err != nil {
		b.Fatal(err)
	}
	st := c.Stats()
	b.ReportMetric(float64(b.N)/el, "txns/s")
	b.ReportMetric(float64(st.Syncs)/el, "fsyncs/s")
	b.ReportMetric(st.MeanBatch, "txns/fsync")
	b.ReportMetric(float64(st.CommitP99.Microseconds()), "p99-µs")
	b.ReportMetric(float64(st.SyncP50.Microseconds()), "sync-p50-µs")
}

// BenchmarkReadFrom1KiB: recovery speed, reading 1 KiB txns back.
func BenchmarkReadFrom1KiB(b *testing.B) {
	dir := b.TempDir()
	l, err := Open(dir, Options{ForceSync: false, Logger: quietLogger})
	if err != nil {
		b.Fatal(err)
	}
	const n = 20000
	recs := benchPayloads(1, n)
	for i, r := range recs {
		if err := l.Append(int64(i+1), r); err != nil {
			b.Fatal(err)
		}
	}
	if err := l.Close(); err != nil {
		b.Fatal(err)
	}
	b.SetBytes(int64(n * len(recs[0])))
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		count := 0
		if err := ReadFrom(dir, 0, func(int64, []byte) error { count++; return nil }); err != nil || count != n {
			b.Fatalf("read %d, %v", count, err)
		}
	}
}

// quietLogger drops the forceSync=no warning in benchmarks that measure
// without fsync on purpose (TestForceSyncOff checks the warning).
var quietLogger = slog.New(slog.DiscardHandler)
