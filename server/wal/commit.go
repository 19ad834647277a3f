package wal

import (
	"sync"
	"time"

	"github.com/HdrHistogram/hdrhistogram-go"
)

// CommitterOption configures a Committer.
type CommitterOption func(*committerConfig)

type committerConfig struct {
	maxBatch   int
	flushDelay time.Duration
	queueSize  int
	now        func() time.Time
}

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
	cfg := committerConfig{maxBatch: l.opts.MaxBatch, now: time.Now}
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
// done is called at once with ErrClosed.
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
	var timer *time.Timer
	for {
		first, ok := <-c.queue
		if !ok {
			return
		}
		batch = append(batch[:0], first)
		open := true
	collect:
		for len(batch) < c.cfg.maxBatch {
			select {
			case p, ok := <-c.queue:
				if !ok {
					open = false
					break collect
				}
				batch = append(batch, p)
				continue
			default:
			}
			wait := c.cfg.flushDelay - c.cfg.now().Sub(first.at)
			if wait <= 0 {
				break collect
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
					open = false
					break collect
				}
				batch = append(batch, p)
			case <-timer.C:
				break collect
			}
		}
		c.commit(batch)
		clear(batch) // drop references to records and callbacks
		if !open {
			return
		}
	}
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
