package wal

import (
	"encoding/binary"
	"errors"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
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
	entered, release := holdFirstSync(l, fdatasync)
	c := NewCommitter(l, WithMaxBatch(100))
	acks := &ackLog{t: t}
	c.Submit(1, payloadFor(1), acks.ack(1))
	<-entered // the committer is inside the first fsync
	for z := int64(2); z <= 41; z++ {
		c.Submit(z, payloadFor(z), acks.ack(z))
	}
	if acked := acks.got(); len(acked) != 0 {
		t.Fatalf("acknowledged %v before the fsync returned", acked)
	}
	close(release)
	if err := c.Close(); err != nil {
		t.Fatal(err)
	}
	st := c.Stats()
	if st.Syncs != 2 || st.MaxBatch != 40 || st.Txns != 41 {
		t.Fatalf("stats %+v: want 2 fsyncs, the second covering the 40 txns queued meanwhile", st)
	}
	if acked := acks.got(); !slices.Equal(acked, span(1, 41)) {
		t.Fatalf("acked %v", acked)
	}
}

// holdFirstSync makes l's first fsync signal entered and then wait until
// release is closed; every fsync then goes on to sync.
func holdFirstSync(l *Log, sync func(*os.File) error) (entered <-chan struct{}, release chan<- struct{}) {
	in, out := make(chan struct{}), make(chan struct{})
	first := true
	l.fsync = func(f *os.File) error {
		if first {
			first = false
			in <- struct{}{}
			<-out
		}
		return sync(f)
	}
	return in, out
}

// ackLog records the zxids whose commit callbacks ran, in order, and fails
// the test on a callback's error.
type ackLog struct {
	t  *testing.T
	mu sync.Mutex
	zs []int64
}

// ack is the callback for zxid z.
func (a *ackLog) ack(z int64) func(error) {
	return func(err error) {
		if err != nil {
			a.t.Errorf("zxid %d: %v", z, err)
		}
		a.mu.Lock()
		a.zs = append(a.zs, z)
		a.mu.Unlock()
	}
}

// got returns the zxids acknowledged so far.
func (a *ackLog) got() []int64 {
	a.mu.Lock()
	defer a.mu.Unlock()
	return slices.Clone(a.zs)
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

// fakeClock is a Committer's clock and sleep for linger tests: sleeping
// advances the time and runs onSleep (on the committer's goroutine).
type fakeClock struct {
	mu      sync.Mutex
	t       time.Time
	sleeps  []time.Duration
	onSleep func(n int) // n: the sleep's number, from 1
}

func (f *fakeClock) now() time.Time {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.t
}

func (f *fakeClock) sleep(d time.Duration) {
	f.mu.Lock()
	f.t = f.t.Add(d)
	f.sleeps = append(f.sleeps, d)
	n := len(f.sleeps)
	f.mu.Unlock()
	if f.onSleep != nil {
		f.onSleep(n)
	}
}

func (f *fakeClock) option() CommitterOption {
	return func(c *committerConfig) { c.now, c.sleep = f.now, f.sleep }
}

// TestCommitterLinger checks the adaptive linger: a batch that finds
// Siblings txns queued sleeps in steps while txns keep coming, up to Max
// after its oldest txn; a smaller batch never sleeps.
func TestCommitterLinger(t *testing.T) {
	linger := Linger{Max: time.Millisecond, Step: 250 * time.Microsecond, Siblings: 4}
	// run submits txn 1, holds its fsync while queued more are submitted,
	// and returns the Committer's stats and the clock once all are durable.
	run := func(t *testing.T, queued int, onSleep func(c *Committer, next *int64, n int)) (CommitStats, *fakeClock) {
		l, err := Open(t.TempDir(), smallOpts())
		if err != nil {
			t.Fatal(err)
		}
		defer l.Close()
		entered, release := holdFirstSync(l, func(*os.File) error { return nil })
		clock := &fakeClock{t: time.Unix(1000, 0)}
		var c *Committer
		next := int64(2)
		var mu sync.Mutex // guards next
		acks := &ackLog{t: t}
		ack := acks.ack
		clock.onSleep = func(n int) {
			if onSleep != nil {
				mu.Lock()
				before := next
				onSleep(c, &next, n)
				after := next
				mu.Unlock()
				for z := before; z < after; z++ {
					c.Submit(z, payloadFor(z), ack(z))
				}
			}
		}
		c = NewCommitter(l, WithLinger(linger), WithMaxBatch(100), clock.option())
		c.Submit(1, payloadFor(1), ack(1))
		<-entered
		for range queued {
			c.Submit(next, payloadFor(next), ack(next))
			next++
		}
		close(release)
		// Close only once everything is durable: a closed queue ends a
		// linger at once.
		for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(time.Millisecond) {
			mu.Lock()
			done := int64(len(acks.got())) == next-1
			mu.Unlock()
			if done {
				break
			}
			if time.Now().After(deadline) {
				t.Fatal("txns not acknowledged within 10s")
			}
		}
		if err := c.Close(); err != nil {
			t.Fatal(err)
		}
		if acked := acks.got(); !slices.Equal(acked, span(1, next-1)) {
			t.Fatalf("acked %v, want 1..%d in order", acked, next-1)
		}
		return c.Stats(), clock
	}

	t.Run("collects while txns keep coming", func(t *testing.T) {
		st, clock := run(t, 10, func(_ *Committer, next *int64, n int) {
			switch n {
			case 1, 2:
				*next += 5 // two busy steps
			case 3:
				*next += 3 // then one that brings too few
			}
		})
		if len(clock.sleeps) != 3 || st.Syncs != 2 || st.MaxBatch != 23 {
			t.Fatalf("sleeps %v, stats %+v: want 3 sleeps and a second batch of 10+5+5+3", clock.sleeps, st)
		}
	})
	t.Run("stops at Max after the oldest txn", func(t *testing.T) {
		st, clock := run(t, 10, func(_ *Committer, next *int64, _ int) { *next += 4 })
		var slept time.Duration
		for _, d := range clock.sleeps {
			slept += d
		}
		if slept != linger.Max || len(clock.sleeps) != 4 || st.Syncs != 2 || st.MaxBatch != 26 {
			t.Fatalf("slept %v in %v, stats %+v: want 1ms in 4 steps and a batch of 10+4x4", slept, clock.sleeps, st)
		}
	})
	// The rest call collect directly, on a Committer without its goroutine.
	// from is a txn of the given writer (session).
	from := func(clock *fakeClock, writer int64) pending {
		return pending{at: clock.now(), rec: binary.BigEndian.AppendUint64(nil, uint64(writer))}
	}
	// collect queues txns of one writer and collects a batch.
	collect := func(c *Committer, clock *fakeClock, queued int) int {
		for range queued {
			c.queue <- from(clock, 7)
		}
		batch, open := c.collect(nil)
		if !open {
			t.Fatal("collect: queue reported closed")
		}
		return len(batch)
	}
	newCommitter := func(clock *fakeClock) *Committer {
		return &Committer{
			cfg:   committerConfig{maxBatch: 100, linger: linger, now: clock.now, sleep: clock.sleep},
			queue: make(chan pending, 100),
		}
	}
	t.Run("a small batch does not linger", func(t *testing.T) {
		clock := &fakeClock{t: time.Unix(1000, 0)}
		if n := collect(newCommitter(clock), clock, 3); n != 3 || len(clock.sleeps) != 0 {
			t.Fatalf("batch of %d after sleeps %v: want 3 and no sleep below 4 pipelined txns", n, clock.sleeps)
		}
	})
	t.Run("writers that wait for each write do not linger", func(t *testing.T) {
		clock := &fakeClock{t: time.Unix(1000, 0)}
		c := newCommitter(clock)
		for w := range int64(10) {
			c.queue <- from(clock, w)
		}
		c.queue <- from(clock, 3)
		c.queue <- from(clock, 4)
		if batch, _ := c.collect(nil); len(batch) != 12 || len(clock.sleeps) != 0 {
			t.Fatalf("batch of %d after sleeps %v: want 12 and no sleep for 2 pipelined txns", len(batch), clock.sleeps)
		}
	})
	t.Run("a wasted linger backs off", func(t *testing.T) {
		clock := &fakeClock{t: time.Unix(1000, 0)}
		c := newCommitter(clock)
		var lingers []int // the batches (1-based) that slept
		for b := 1; b <= 12; b++ {
			before := len(clock.sleeps)
			if n := collect(c, clock, 5); n != 5 {
				t.Fatalf("batch %d: %d txns, want 5", b, n)
			}
			if len(clock.sleeps) > before {
				lingers = append(lingers, b)
			}
		}
		// Wasted lingers skip 1, 2, 4, 8 batches after them.
		if want := []int{1, 3, 6, 11}; !slices.Equal(lingers, want) {
			t.Fatalf("batches that lingered: %v, want %v", lingers, want)
		}
		// A linger that lasts to Max resets the back-off.
		clock.onSleep = func(int) {
			for range 4 {
				c.queue <- from(clock, 8)
			}
		}
		c.skip = 0
		if n := collect(c, clock, 5); n != 5+4*4 || c.penalty != 0 {
			t.Fatalf("lasting linger: batch %d, penalty %d; want 21 and 0", n, c.penalty)
		}
	})
}

// TestCommitterCreateFailureFailsLaterTxns: once a txn's log file cannot
// be created, no later txn is acknowledged, in the same batch or a later
// one: acknowledging one would skip the failed txn.
func TestCommitterCreateFailureFailsLaterTxns(t *testing.T) {
	dir := t.TempDir()
	l, err := Open(dir, smallOpts())
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	// A stray file of the name txn 1 needs: its create fails, txn 2's
	// (a new file, log.2) would succeed.
	if err := os.WriteFile(filepath.Join(dir, LogName(1)), nil, 0o644); err != nil {
		t.Fatal(err)
	}
	// One batch of three: the flush delay waits for them all.
	c := NewCommitter(l, WithFlushDelay(time.Second), WithMaxBatch(3))
	errs := make([]chan error, 5)
	for i := range errs {
		errs[i] = make(chan error, 1)
	}
	submit := func(z int64) { c.Submit(z, payloadFor(z), func(err error) { errs[z] <- err }) }
	for z := int64(1); z <= 3; z++ {
		submit(z)
	}
	first := <-errs[1]
	if first == nil || !strings.Contains(first.Error(), "create log file") {
		t.Fatalf("txn 1: %v, want the create failure", first)
	}
	for z := int64(2); z <= 4; z++ {
		if z == 4 { // a later batch
			submit(4)
		}
		if err := <-errs[z]; !errors.Is(err, first) {
			t.Fatalf("txn %d after a failed create: %v, want the same failure", z, err)
		}
	}
	if err := c.Close(); !errors.Is(err, first) {
		t.Fatalf("Close = %v, want the create failure", err)
	}
	if got := fileNames(t, dir); !slices.Equal(got, []string{LogName(1)}) {
		t.Fatalf("log files %v, want only the stray %s: later txns were logged", got, LogName(1))
	}
}

// TestCommitterLetsWokenGoroutinesGoFirst: with one P, the goroutine a
// batch's callback woke (a standalone server's apply loop, which answers
// the clients) must run before the committer blocks in the next batch's
// fsync, which keeps the P until the runtime's monitor takes it back
// (decisions #29, #31). Otherwise a synchronous client's answer waits for
// an fsync that is not its own.
func TestCommitterLetsWokenGoroutinesGoFirst(t *testing.T) {
	defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(1))
	l, err := Open(t.TempDir(), smallOpts())
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	var ran atomic.Bool // the woken goroutine has run
	var ranAtSecondSync atomic.Bool
	entered, release := make(chan struct{}), make(chan struct{})
	syncs := 0
	l.fsync = func(f *os.File) error {
		syncs++
		switch syncs {
		case 1:
			close(entered)
			<-release
		case 2:
			ranAtSecondSync.Store(ran.Load())
		}
		return fdatasync(f)
	}
	c := NewCommitter(l)
	woken := make(chan struct{}, 1)
	answered := make(chan struct{})
	go func() {
		<-woken
		ran.Store(true)
		close(answered)
	}()
	c.Submit(1, payloadFor(1), func(err error) {
		if err != nil {
			t.Error(err)
		}
		woken <- struct{}{}
	})
	<-entered // the committer is inside the first fsync
	c.Submit(2, payloadFor(2), func(error) {})
	close(release)
	if err := c.Close(); err != nil {
		t.Fatal(err)
	}
	<-answered
	if syncs != 2 {
		t.Fatalf("%d fsyncs, want 2", syncs)
	}
	if !ranAtSecondSync.Load() {
		t.Fatal("the goroutine woken by the first batch's callback had not run when the second batch's fsync started")
	}
}
