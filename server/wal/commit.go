package wal

import (
	"encoding/binary"
	"runtime"
	"sync"
	"time"

	"github.com/HdrHistogram/hdrhistogram-go"
)

// CommitterOption configures a Committer.
type CommitterOption func(*committerConfig)

type committerConfig struct {
	maxBatch   int
	flushDelay time.Duration
	linger     Linger
	queueSize  int
	now        func() time.Time
	sleep      func(time.Duration)
}

// Linger is the adaptive part of group commit, in the spirit of
// PostgreSQL's commit_delay and commit_siblings: a batch whose writers did
// not wait for their earlier txns waits for more before it syncs.
//
// Under load an fsync costs tens of microseconds of CPU (the journal, the
// device's doorbell) whatever it covers, so fewer, larger batches leave
// more CPU to serve requests. But writers that wait for each write to
// commit before the next (a closed loop: zkCli, a lock recipe, most
// synchronous clients) send nothing while their txns linger, and lingering
// only slows them. So a batch lingers only when it holds at least Siblings
// pipelined txns: txns whose writer (the session in the TxnHeader) has an
// earlier txn in the same batch. It then sleeps in steps of Step and
// collects what arrived meanwhile, while each step brings at least Siblings
// more txns, until the batch is full or Max has passed since its oldest
// txn was submitted. A linger that ends on a step bringing fewer waited for
// nothing once; the Committer then skips lingering for the next 1, 2, 4,
// ... up to 128 batches, until a linger pays again.
type Linger struct {
	Max      time.Duration // the longest a batch's oldest txn waits for more; 0 turns lingering off
	Step     time.Duration // how long a linger sleeps before it looks for more txns
	Siblings int           // the pipelined txns a batch must hold, and the txns each step must bring, to linger on
}

// LingerUpTo is the linger a standalone server uses, lingering at most max
// (zoo.cfg commitLingerUs; its default is the config package's). Its step
// is a millisecond because a Go timer on Linux sleeps at least about that
// long.
func LingerUpTo(max time.Duration) Linger {
	return Linger{Max: max, Step: time.Millisecond, Siblings: 8}
}

// maxLingerSkip bounds the batches skipped after a wasted linger.
const maxLingerSkip = 128

// WithLinger sets the adaptive linger of every batch (off by default). A
// flush delay, when set, replaces it.
func WithLinger(l Linger) CommitterOption { return func(c *committerConfig) { c.linger = l } }

// WithMaxBatch bounds the txns in one group commit (default Options.MaxBatch
// of the Log, 1000 unless set).
func WithMaxBatch(n int) CommitterOption { return func(c *committerConfig) { c.maxBatch = n } }

// WithFlushDelay makes a batch wait, once the queue is empty, until this
// long after its first txn for more txns before syncing (upstream
// zookeeper.flushDelay). Zero, the default, syncs as soon as the queue is
// empty: txns that arrive during an fsync form the next batch.
func WithFlushDelay(d time.Duration) CommitterOption {
	return func(c *committerConfig) { c.flushDelay = d }
}

// WithQueueSize bounds the txns waiting for the committer; Submit blocks
// while the queue is full. The default is twice the batch size.
func WithQueueSize(n int) CommitterOption { return func(c *committerConfig) { c.queueSize = n } }

// Committer is the group-commit stage in front of a Log (upstream's
// SyncRequestProcessor). Txns handed to Submit are appended by one
// goroutine; each batch is synced once, and then the batch's callbacks run
// in submission order. A callback's nil error means its txn is durable.
type Committer struct {
	log   *Log
	cfg   committerConfig
	queue chan pending

	mu     sync.RWMutex // guards closed against Submit's send
	closed bool
	done   chan struct{}

	// The linger's state, the run goroutine's own: batches left to commit
	// without lingering, how many the next wasted linger makes it skip,
	// and the writers seen in a batch.
	skip, penalty int
	writers       map[int64]struct{}

	statsMu sync.Mutex
	stats   commitCounters
	err     error // first failure, returned by Close
}

type pending struct {
	zxid int64
	rec  []byte
	done func(error)
	at   time.Time
}

type commitCounters struct {
	txns, syncs, failed uint64
	maxBatch            int
	syncLat, commitLat  *hdrhistogram.Histogram // nanoseconds
}

// NewCommitter starts a Committer appending to l. The caller keeps owning
// l: it must not Append to it while the Committer runs (Roll is fine), and
// closes it after closing the Committer.
func NewCommitter(l *Log, opts ...CommitterOption) *Committer {
	cfg := committerConfig{maxBatch: l.opts.MaxBatch, now: time.Now, sleep: time.Sleep}
	for _, o := range opts {
		o(&cfg)
	}
	if cfg.maxBatch <= 0 {
		cfg.maxBatch = DefaultMaxBatch
	}
	if cfg.queueSize <= 0 {
		cfg.queueSize = 2 * cfg.maxBatch
	}
	c := &Committer{
		log:   l,
		cfg:   cfg,
		queue: make(chan pending, cfg.queueSize),
		done:  make(chan struct{}),
		stats: commitCounters{
			syncLat:   hdrhistogram.New(1, int64(time.Minute), 3),
			commitLat: hdrhistogram.New(1, int64(time.Minute), 3),
		},
	}
	go c.run()
	return c
}

// Submit queues a txn for the log; it blocks only while the queue is full.
// done is called exactly once, from the committer's goroutine, after the
// Sync covering the txn returned (nil: durable) or with the error that
// failed it; done must not block for long, nor call Submit. After Close,
// done is called at once with ErrClosed. The Committer does not touch rec
// once it has called done, so the caller may reuse it from then on.
func (c *Committer) Submit(zxid int64, rec []byte, done func(error)) {
	c.mu.RLock()
	if c.closed {
		c.mu.RUnlock()
		done(ErrClosed)
		return
	}
	c.queue <- pending{zxid: zxid, rec: rec, done: done, at: c.cfg.now()}
	c.mu.RUnlock()
}

// Close stops accepting txns, commits every txn already submitted, runs
// their callbacks and returns the first failure the Committer met. It does
// not close the Log.
func (c *Committer) Close() error {
	c.mu.Lock()
	if !c.closed {
		c.closed = true
		close(c.queue)
	}
	c.mu.Unlock()
	<-c.done
	c.statsMu.Lock()
	defer c.statsMu.Unlock()
	return c.err
}

func (c *Committer) run() {
	defer close(c.done)
	batch := make([]pending, 0, c.cfg.maxBatch)
	for {
		first, ok := <-c.queue
		if !ok {
			return
		}
		YieldBeforeSync()
		batch, ok = c.collect(append(batch[:0], first))
		c.commit(batch)
		clear(batch) // drop references to records and callbacks
		if !ok {
			return
		}
	}
}

// YieldBeforeSync lets every runnable goroutine run before the caller
// blocks in an fsync. A blocking fdatasync keeps the caller's P until the
// runtime's monitor takes it back, 20 µs to 10 ms later; with GOMAXPROCS=1
// (a server's CPU share on a small machine) the goroutines the caller just
// woke would wait for that fsync: for the standalone committer, the apply
// loop that answers the clients and the prep stage's next writes, which
// the yield lets into this batch; for an ensemble's log syncer, the
// writers of the proposals and commits the peer loop routed (decisions
// #29, #31). Gosched puts the caller on the global run queue, which the
// scheduler serves first on one pick in 61; the second call makes sure the
// local queue had its turn.
func YieldBeforeSync() {
	runtime.Gosched()
	runtime.Gosched()
}

// collect adds to a batch what is queued and, under the flush delay or the
// linger, what arrives soon after. It reports false once the queue is
// closed.
func (c *Committer) collect(batch []pending) ([]pending, bool) {
	batch, open := c.drain(batch)
	switch {
	case !open || len(batch) >= c.cfg.maxBatch:
		return batch, open
	case c.cfg.flushDelay > 0:
		return c.delay(batch)
	case c.cfg.linger.Max > 0 && c.pipelined(batch) >= c.cfg.linger.Siblings:
		if c.skip > 0 {
			c.skip--
			return batch, true
		}
		return c.lingerFor(batch)
	}
	return batch, true
}

// drain adds the txns queued now, up to the batch limit.
func (c *Committer) drain(batch []pending) ([]pending, bool) {
	for len(batch) < c.cfg.maxBatch {
		select {
		case p, ok := <-c.queue:
			if !ok {
				return batch, false
			}
			batch = append(batch, p)
		default:
			return batch, true
		}
	}
	return batch, true
}

// lingerFor sleeps in steps while each step brings Siblings more txns, up
// to Linger.Max after the batch's oldest txn or a full batch. A linger that
// ends on a step bringing fewer has waited for nothing at least once, and
// backs off.
func (c *Committer) lingerFor(batch []pending) ([]pending, bool) {
	deadline := batch[0].at.Add(c.cfg.linger.Max)
	paid := true
	for len(batch) < c.cfg.maxBatch {
		left := deadline.Sub(c.cfg.now())
		if left <= 0 {
			break
		}
		c.cfg.sleep(min(left, c.cfg.linger.Step))
		n := len(batch)
		var open bool
		if batch, open = c.drain(batch); !open {
			return batch, false
		}
		if len(batch)-n < c.cfg.linger.Siblings && len(batch) < c.cfg.maxBatch {
			paid = false
			break
		}
	}
	if paid {
		c.penalty = 0
	} else {
		c.backOff()
	}
	return batch, true
}

// pipelined counts the txns of a batch that are not their writer's first:
// the writer sent them without waiting for the earlier one to commit. The
// writer is the session in the payload's TxnHeader (its first 8 bytes).
func (c *Committer) pipelined(batch []pending) int {
	if len(batch) < c.cfg.linger.Siblings {
		return 0
	}
	if c.writers == nil {
		c.writers = make(map[int64]struct{}, len(batch))
	}
	clear(c.writers)
	for _, p := range batch {
		if len(p.rec) >= 8 {
			c.writers[int64(binary.BigEndian.Uint64(p.rec))] = struct{}{}
		}
	}
	return len(batch) - len(c.writers)
}

// backOff skips lingering for the next batches after a wasted linger:
// 1, 2, 4, ... maxLingerSkip of them in a row of wasted lingers.
func (c *Committer) backOff() {
	c.penalty = min(max(2*c.penalty, 1), maxLingerSkip)
	c.skip = c.penalty
}

// delay waits for txns until the flush delay has passed since the batch's
// first txn, taking each as it arrives (upstream's flushDelay).
func (c *Committer) delay(batch []pending) ([]pending, bool) {
	var timer *time.Timer
	for len(batch) < c.cfg.maxBatch {
		wait := c.cfg.flushDelay - c.cfg.now().Sub(batch[0].at)
		if wait <= 0 {
			break
		}
		if timer == nil {
			timer = time.NewTimer(wait)
		} else {
			timer.Reset(wait)
		}
		select {
		case p, ok := <-c.queue:
			timer.Stop()
			if !ok {
				return batch, false
			}
			batch = append(batch, p)
			if batch, ok = c.drain(batch); !ok {
				return batch, false
			}
		case <-timer.C:
			return batch, true
		}
	}
	return batch, true
}

// commit appends, syncs and acknowledges one batch.
func (c *Committer) commit(batch []pending) {
	errs := make([]error, len(batch))
	for i, p := range batch {
		errs[i] = c.log.Append(p.zxid, p.rec)
	}
	start := c.cfg.now()
	syncErr := c.log.Sync()
	end := c.cfg.now()
	var firstErr error
	for i, p := range batch {
		err := errs[i]
		if err == nil {
			err = syncErr
		}
		if err != nil && firstErr == nil {
			firstErr = err
		}
		p.done(err)
	}
	c.statsMu.Lock()
	defer c.statsMu.Unlock()
	c.stats.syncs++
	c.stats.txns += uint64(len(batch))
	c.stats.maxBatch = max(c.stats.maxBatch, len(batch))
	c.stats.syncLat.RecordValue(max(int64(end.Sub(start)), 1))
	for _, p := range batch {
		c.stats.commitLat.RecordValue(max(int64(end.Sub(p.at)), 1))
	}
	if firstErr != nil {
		c.stats.failed++
		if c.err == nil {
			c.err = firstErr
		}
	}
}

// CommitStats summarises a Committer's work so far.
type CommitStats struct {
	Txns  uint64 // txns committed (or failed)
	Syncs uint64 // batches, one Sync each
	// FailedBatches counts batches in which some txn failed.
	FailedBatches uint64
	// MeanBatch is Txns/Syncs, the mean txns per fsync; MaxBatch the
	// largest batch.
	MeanBatch float64
	MaxBatch  int
	// SyncP50, SyncP99 and SyncMax describe the duration of Log.Sync
	// (write and fdatasync) per batch.
	SyncP50, SyncP99, SyncMax time.Duration
	// CommitP50, CommitP99 and CommitMax describe the time from Submit to
	// the end of the Sync covering the txn.
	CommitP50, CommitP99, CommitMax time.Duration
}

// Stats returns the Committer's counters and latency percentiles.
func (c *Committer) Stats() CommitStats {
	c.statsMu.Lock()
	defer c.statsMu.Unlock()
	s := c.stats
	out := CommitStats{
		Txns:          s.txns,
		Syncs:         s.syncs,
		FailedBatches: s.failed,
		MaxBatch:      s.maxBatch,
		SyncP50:       time.Duration(s.syncLat.ValueAtQuantile(50)),
		SyncP99:       time.Duration(s.syncLat.ValueAtQuantile(99)),
		SyncMax:       time.Duration(s.syncLat.Max()),
		CommitP50:     time.Duration(s.commitLat.ValueAtQuantile(50)),
		CommitP99:     time.Duration(s.commitLat.ValueAtQuantile(99)),
		CommitMax:     time.Duration(s.commitLat.Max()),
	}
	if s.syncs > 0 {
		out.MeanBatch = float64(s.txns) / float64(s.syncs)
	}
	return out
}
