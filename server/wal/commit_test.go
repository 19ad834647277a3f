package wal

import (
	"errors"
	"os"
	"slices"
	"sync"
	"testing"
	"time"
)

// syncRecorder instruments a Log's fsync: it remembers the last zxid each
// fsync covered (called with the Log's lock held, so l.last is the newest
// appended txn, all of it written before the fsync).
type syncRecorder struct {
	mu      sync.Mutex
	covered []int64 // per fsync, the last zxid it made durable
}

func (r *syncRecorder) install(l *Log, inner func(*os.File) error) {
	l.fsync = func(f *os.File) error {
		if err := inner(f); err != nil {
			return err
		}
		r.mu.Lock()
		r.covered = append(r.covered, l.last)
		r.mu.Unlock()
		return nil
	}
}

func (r *syncRecorder) durable() int64 {
	r.mu.Lock()
	defer r.mu.Unlock()
	if len(r.covered) == 0 {
		return -1
	}
	return r.covered[len(r.covered)-1]
}

func TestCommitterConcurrentSubmitters(t *testing.T) {
	dir := t.TempDir()
	l, err := Open(dir, smallOpts())
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	var rec syncRecorder
	rec.install(l, fdatasync)
	c := NewCommitter(l, WithMaxBatch(50))

	const submitters, each = 8, 150
	var (
		zmu   sync.Mutex // assigns zxids in submission order, as the leader does
		next  = int64(1)
		cbMu  sync.Mutex
		order []int64
		bad   []string
	)
	var wg sync.WaitGroup
	for g := 0; g < submitters; g++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < each; i++ {
				zmu.Lock()
				z := next
				next++
				c.Submit(z, payloadFor(z), func(err error) {
					cbMu.Lock()
					defer cbMu.Unlock()
					if err != nil {
						bad = append(bad, err.Error())
					}
					if d := rec.durable(); d < z {
						bad = append(bad, "callback before the fsync covering it")
					}
					order = append(order, z)
				})
				zmu.Unlock()
			}
		}()
	}
	wg.Wait()
	if err := c.Close(); err != nil {
		t.Fatal(err)
	}
	if len(bad) > 0 {
		t.Fatalf("%d bad callbacks, first: %s", len(bad), bad[0])
	}
	if !slices.Equal(order, span(1, submitters*each)) {
		t.Fatalf("callbacks out of order or missing: %d callbacks", len(order))
	}
	st := c.Stats()
	if st.Txns != submitters*each || st.Syncs == 0 || st.Syncs != uint64(len(rec.covered)) {
		t.Fatalf("stats %+v with %d fsyncs", st, len(rec.covered))
	}
	if st.MaxBatch > 50 {
		t.Fatalf("batch of %d exceeds MaxBatch 50", st.MaxBatch)
	}
	if st.MeanBatch != float64(st.Txns)/float64(st.Syncs) || st.SyncP50 <= 0 || st.SyncP99 < st.SyncP50 || st.SyncMax < st.SyncP99 || st.CommitP99 <= 0 {
		t.Fatalf("inconsistent stats %+v", st)
	}
	got, err := readAll(t, dir, 0)
	if err != nil || !slices.Equal(got, span(1, submitters*each)) {
		t.Fatalf("log holds %d txns, err %v", len(got), err)
	}
	c.Submit(9999, payloadFor(9999), func(err error) {
		if !errors.Is(err, ErrClosed) {
			t.Errorf("Submit after Close: %v", err)
		}
	})
}

// TestCommitterGroupsWhileSyncing holds the first fsync until more txns are
// queued: they must all go into the next batch, with one fsync.
func TestCommitterGroupsWhileSyncing(t *testing.T) {
	l, err := Open(t.TempDir(), smallOpts())
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	entered := make(chan struct{}, 10)
	release := make(chan struct{})
	first := true
	l.fsync = func(f *os.File) error {
		if first {
			first = false
			entered <- struct{}{}
			<-release
		}
		return fdatasync(f)
	}
	c := NewCommitter(l, WithMaxBatch(100))
	var mu sync.Mutex
	var acked []int64
	ack := func(z int64) func(error) {
		return func(err error) {
			if err != nil {
				t.Errorf("zxid %d: %v", z, err)
			}
			mu.Lock()
			acked = append(acked, z)
			mu.Unlock()
		}
	}
	c.Submit(1, payloadFor(1), ack(1))
	<-entered // the committer is inside the first fsync
	for z := int64(2); z <= 41; z++ {
		c.Submit(z, payloadFor(z), ack(z))
	}
	mu.Lock()
	if len(acked) != 0 {
		t.Fatalf("acknowledged %v before the fsync returned", acked)
	}
	mu.Unlock()
	close(release)
	if err := c.Close(); err != nil {
		t.Fatal(err)
	}
	st := c.Stats()
	if st.Syncs != 2 || st.MaxBatch != 40 || st.Txns != 41 {
		t.Fatalf("stats %+v: want 2 fsyncs, the second covering the 40 txns queued meanwhile", st)
	}
	if !slices.Equal(acked, span(1, 41)) {
		t.Fatalf("acked %v", acked)
	}
}

func TestCommitterMaxBatchAndDelay(t *testing.T) {
	l, err := Open(t.TempDir(), smallOpts())
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	hold := make(chan struct{})
	entered := make(chan struct{}, 1)
	first := true
	l.fsync = func(f *os.File) error {
		if first {
			first = false
			entered <- struct{}{}
			<-hold
		}
		return nil
	}
	c := NewCommitter(l, WithMaxBatch(7), WithQueueSize(100))
	c.Submit(1, payloadFor(1), func(error) {})
	<-entered
	for z := int64(2); z <= 31; z++ {
		c.Submit(z, payloadFor(z), func(error) {})
	}
	close(hold)
	c.Close()
	// 1, then 30 queued txns in batches of at most 7: 7,7,7,7,2.
	if st := c.Stats(); st.Syncs != 6 || st.MaxBatch != 7 {
		t.Fatalf("stats %+v: want 6 syncs of at most 7", st)
	}

	// A flush delay holds a batch open for txns that arrive soon after.
	l2, err := Open(t.TempDir(), smallOpts())
	if err != nil {
		t.Fatal(err)
	}
	defer l2.Close()
	c2 := NewCommitter(l2, WithFlushDelay(time.Hour), WithMaxBatch(5))
	var mu sync.Mutex
	var acked int
	for z := int64(1); z <= 5; z++ {
		c2.Submit(z, payloadFor(z), func(error) { mu.Lock(); acked++; mu.Unlock() })
		time.Sleep(time.Millisecond)
	}
	c2.Close() // MaxBatch ends the batch long before the hour is up
	if st := c2.Stats(); st.Syncs != 1 || acked != 5 {
		t.Fatalf("stats %+v, %d acked: want one batch of 5", st, acked)
	}
}

func TestCommitterFailure(t *testing.T) {
	l, err := Open(t.TempDir(), smallOpts())
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	boom := errors.New("disk on fire")
	l.fsync = func(*os.File) error { return boom }
	c := NewCommitter(l)
	errs := make([]error, 3)
	var wg sync.WaitGroup
	for i := range errs {
		wg.Add(1)
		z := int64(i + 1)
		c.Submit(z, payloadFor(z), func(err error) { errs[z-1] = err; wg.Done() })
	}
	wg.Wait()
	for i, err := range errs {
		if !errors.Is(err, boom) {
			t.Fatalf("txn %d: %v, want the fsync error", i+1, err)
		}
	}
	if err := c.Close(); !errors.Is(err, boom) {
		t.Fatalf("Close = %v", err)
	}
	if st := c.Stats(); st.FailedBatches == 0 {
		t.Fatalf("stats %+v: no failed batch", st)
	}
}

// TestCommitterCloseDrains: Close returns only after every submitted txn is
// durable and acknowledged.
func TestCommitterCloseDrains(t *testing.T) {
	dir := t.TempDir()
	l, err := Open(dir, smallOpts())
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	c := NewCommitter(l, WithQueueSize(1000))
	acked := 0 // written only by the committer goroutine; read after Close
	for z := int64(1); z <= 500; z++ {
		c.Submit(z, payloadFor(z), func(err error) {
			if err != nil {
				t.Errorf("zxid %d: %v", z, err)
			}
			acked++
		})
	}
	if err := c.Close(); err != nil {
		t.Fatal(err)
	}
	if acked != 500 {
		t.Fatalf("%d of 500 acknowledged when Close returned", acked)
	}
	if got, err := readAll(t, dir, 0); err != nil || len(got) != 500 {
		t.Fatalf("log holds %d txns, %v", len(got), err)
	}
}
