package standalone

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/zkbench/zkbench/server/clientconn"
	"github.com/zkbench/zkbench/server/proto"
	"github.com/zkbench/zkbench/server/reaper"
	"github.com/zkbench/zkbench/server/replica"
	"github.com/zkbench/zkbench/server/tree"
	"github.com/zkbench/zkbench/server/txnprep"
)

// ErrStopped is returned for work submitted after the node stopped.
var ErrStopped = errors.New("standalone: stopped")

// Options configure a Node.
type Options struct {
	ServerID int64
	// TickMs is the tick length; session expiry is checked every tick.
	TickMs int
	// Log makes txns durable; nil means MemLog.
	Log Log
	// Tree is the recovered tree; nil means a fresh one.
	Tree *tree.Tree
	// Sessions are recovered sessions (id -> timeout ms).
	Sessions map[int64]int32
	// SkipACL, ExtendedTypes and ReconfigEnabled mirror upstream's switches.
	SkipACL, ExtendedTypes, ReconfigEnabled bool
	// EnforceQuota is zookeeper.enforceQuota: quotas' hard limits hold.
	EnforceQuota bool
	// Providers are the registered authentication providers, which
	// decide the ACL schemes a create or setACL may use.
	Providers tree.Providers
	// Containers, when set, runs the container and TTL reaper with these
	// options (upstream's ContainerManager); nil runs none.
	Containers *reaper.Options
	// OnApplied is called after each txn is applied (snapshot triggers).
	OnApplied func(zxid int64, applied int64)
	Logger    *slog.Logger
	// Now is the clock; nil means time.Now.
	Now func() time.Time
}

// Node is a standalone server's driver. Create with New, then Run.
type Node struct {
	opts    Options
	log     *slog.Logger
	replica *replica.Replica
	wal     Log
	now     func() time.Time

	submitCh chan *item
	applyCh  chan *item
	// recs holds *[]byte buffers for serialized txns, handed to the log
	// and taken back once it calls done: a write allocates no record.
	recs sync.Pool

	mu          sync.Mutex // guards syncs, nextZxid
	nextZxid    int64
	syncs       []syncWaiter
	nsyncs      atomic.Int64 // len(syncs), read without mu by the apply loop
	outstanding atomic.Int64
	applied     atomic.Int64 // number of txns applied since start

	// stopped is closed, and closed set, when Run stops. submitMu guards
	// closed against submit's send: once it is set, nothing more enters
	// submitCh, so the prep loop's last drain answers every write.
	stopped  chan struct{}
	submitMu sync.RWMutex
	closed   bool
	// failed is closed when the log first fails a txn (logErr says why):
	// from then on nothing is logged or applied, and Run returns.
	failed   chan struct{}
	failOnce sync.Once
	logErr   error
}

// item is a request travelling down the write path.
type item struct {
	req  *proto.Request
	txn  *txnprep.Txn
	done func(clientconn.WriteResult)
	// onApplied runs on the apply goroutine after the tree applied txn
	// (session bookkeeping for createSession/closeSession).
	onApplied func(clientconn.WriteResult)
	err       error
}

type syncWaiter struct {
	zxid int64
	done func(proto.ErrCode)
}

// New returns a node over opts.
func New(opts Options) *Node {
	if opts.Logger == nil {
		opts.Logger = slog.Default()
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.TickMs <= 0 {
		opts.TickMs = 2000
	}
	if opts.Log == nil {
		opts.Log = MemLog{}
	}
	r := replica.New(replica.Options{
		ServerID: opts.ServerID,
		TickMs:   int64(opts.TickMs),
		Tree:     opts.Tree,
		Sessions: opts.Sessions,
		Prep: txnprep.Options{
			SkipACL:         opts.SkipACL,
			ExtendedTypes:   opts.ExtendedTypes,
			ReconfigEnabled: opts.ReconfigEnabled,
			Providers:       opts.Providers,
		},
		EnforceQuota: opts.EnforceQuota,
		Logger:       opts.Logger,
		Now:          opts.Now,
	})
	return &Node{
		opts:     opts,
		log:      opts.Logger,
		replica:  r,
		wal:      opts.Log,
		now:      opts.Now,
		submitCh: make(chan *item, 4096),
		applyCh:  make(chan *item, 4096),
		stopped:  make(chan struct{}),
		failed:   make(chan struct{}),
		nextZxid: r.LastApplied() + 1,
	}
}

// SetSessionCloser tells the node whom to ask to close a session's
// connection when the session ends.
func (n *Node) SetSessionCloser(c clientconn.SessionCloser) { n.replica.SetSessionCloser(c) }

// Run runs the pipeline and session expiry until ctx is done, then drains
// and closes the log. If the log fails a txn, Run stops at once and returns
// that failure: a server that cannot log must not go on (upstream's
// critical threads stop the server the same way).
func (n *Node) Run(ctx context.Context) error {
	var wg sync.WaitGroup
	if err := n.startReaper(&wg); err != nil {
		return err
	}
	loops, stopLoops := context.WithCancel(ctx)
	defer stopLoops()
	wg.Add(2)
	go func() { defer wg.Done(); n.prepLoop(loops) }()
	go func() { defer wg.Done(); n.applyLoop() }()
	stop := func() {
		n.submitMu.Lock()
		n.closed = true
		close(n.stopped)
		n.submitMu.Unlock()
		stopLoops()
		wg.Wait()
	}
	tick := time.NewTicker(time.Duration(n.opts.TickMs) * time.Millisecond)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			stop()
			return n.wal.Close()
		case <-n.failed:
			stop()
			n.wal.Close() // returns the failure again
			return fmt.Errorf("standalone: the transaction log failed, so the server stops: %w", n.logErr)
		case <-tick.C:
			n.expireSessions()
		}
	}
}

// prepLoop assigns zxids and builds txns, one request at a time, and hands
// them to the log. When ctx ends it stops the apply loop after the log has
// delivered everything submitted.
func (n *Node) prepLoop(ctx context.Context) {
	var inflight sync.WaitGroup
	defer func() {
		inflight.Wait()
		close(n.applyCh)
	}()
	var enc proto.Encoder
	for {
		var it *item
		select {
		case it = <-n.submitCh:
		case <-ctx.Done():
			n.drainSubmits()
			return
		}
		if n.logFailed() {
			n.finish(it, clientconn.WriteResult{Err: proto.ErrConnectionLoss})
			continue
		}
		n.mu.Lock()
		zxid := n.nextZxid
		n.nextZxid++
		n.mu.Unlock()
		txn, err := n.replica.Prep().Prepare(it.req, zxid, n.now().UnixMilli())
		if err != nil {
			// A request prep cannot even turn into an error txn: answer it
			// without consuming the zxid.
			n.mu.Lock()
			n.nextZxid--
			n.mu.Unlock()
			n.log.Warn("dropping request the prep stage cannot handle", "op", it.req.Op, "err", err)
			n.finish(it, clientconn.WriteResult{Err: proto.ErrMarshallingError})
			continue
		}
		it.txn = txn
		buf, _ := n.recs.Get().(*[]byte)
		if buf == nil {
			buf = new([]byte)
		}
		enc.ResetTo((*buf)[:0]) // encode straight into the pooled buffer
		txn.Encode(&enc)
		*buf = enc.Bytes()
		inflight.Add(1)
		n.wal.Submit(zxid, *buf, func(err error) {
			n.recs.Put(buf) // the log is done with the record
			if err != nil {
				n.failLog(zxid, err)
			}
			it.err = err
			n.applyCh <- it
			inflight.Done()
		})
	}
}

// failLog records the log's first failure and stops the node: nothing
// after it is logged or applied.
func (n *Node) failLog(zxid int64, err error) {
	n.failOnce.Do(func() {
		n.logErr = fmt.Errorf("txn 0x%x: %w", zxid, err)
		n.log.Error("the transaction log failed: this write and every later one are refused, and the server stops. "+
			"Fix the cause (a full disk? an I/O error?) and restart: recovery reads the log from its files",
			"zxid", hex(zxid), "err", err)
		close(n.failed)
	})
}

// logFailed reports whether the log has failed.
func (n *Node) logFailed() bool {
	select {
	case <-n.failed:
		return true
	default:
		return false
	}
}

func (n *Node) drainSubmits() {
	for {
		select {
		case it := <-n.submitCh:
			n.finish(it, clientconn.WriteResult{Err: proto.ErrConnectionLoss})
		default:
			return
		}
	}
}

// appliedEvery bounds how many txns the apply loop applies before it tells
// the prep stage, when more are queued behind them.
const appliedEvery = 256

func (n *Node) applyLoop() {
	// The prep stage's Applied scans its whole overlay of outstanding
	// changes, so calling it after every txn costs O(outstanding) per write
	// (most of a standalone server's CPU under a write load). It is told
	// once the queue is drained, or every appliedEvery txns: an entry it
	// keeps a little longer still describes the newest prepared state of
	// its path, which is what prep must see.
	var unreported int
	for it := range n.applyCh {
		if it.err != nil || n.logFailed() {
			// The txn is not durable, or one before it is not: applying
			// it would skip a txn. Whether a txn whose write failed
			// reached the disk is unknown, hence connection loss.
			n.finish(it, clientconn.WriteResult{Err: proto.ErrConnectionLoss})
			continue
		}
		n.apply(it)
		unreported++
		if unreported >= appliedEvery || len(n.applyCh) == 0 {
			n.replica.PrepApplied()
			unreported = 0
		}
	}
	if unreported > 0 {
		n.replica.PrepApplied()
	}
}

func (n *Node) apply(it *item) {
	hdr := it.txn.Header
	res := n.replica.Apply(&hdr, it.txn.Body)
	applied := n.applied.Add(1)
	wr := clientconn.WriteResult{Zxid: hdr.Zxid, Result: res}
	if it.onApplied != nil {
		it.onApplied(wr)
	}
	n.finish(it, wr)
	n.releaseSyncs(hdr.Zxid)
	if n.opts.OnApplied != nil {
		n.opts.OnApplied(hdr.Zxid, applied)
	}
}

func (n *Node) finish(it *item, r clientconn.WriteResult) {
	n.outstanding.Add(-1)
	if it.done != nil {
		it.done(r)
	}
}

func (n *Node) releaseSyncs(applied int64) {
	if n.nsyncs.Load() == 0 {
		return
	}
	n.mu.Lock()
	var ready []syncWaiter
	i := 0
	for ; i < len(n.syncs) && n.syncs[i].zxid <= applied; i++ {
		ready = append(ready, n.syncs[i])
	}
	n.syncs = n.syncs[i:]
	n.nsyncs.Store(int64(len(n.syncs)))
	n.mu.Unlock()
	for _, s := range ready {
		s.done(proto.ErrOK)
	}
}

func (n *Node) submit(it *item) {
	n.outstanding.Add(1)
	n.submitMu.RLock()
	closed := n.closed
	if !closed {
		n.submitCh <- it
	}
	n.submitMu.RUnlock()
	if closed {
		n.finish(it, clientconn.WriteResult{Err: proto.ErrConnectionLoss})
	}
}

func (n *Node) expireSessions() {
	for _, id := range n.replica.ExpiredSessions() {
		n.submit(&item{req: &proto.Request{SessionID: id, Op: proto.OpCloseSession}})
	}
}

// Tree is the local replica (clientconn.Backend).
func (n *Node) Tree() *tree.Tree { return n.replica.Tree() }

// LastZxid is the zxid of the last applied txn (clientconn.Backend).
func (n *Node) LastZxid() int64 { return n.replica.LastApplied() }

// CreateSession creates a session through the write path (clientconn.Backend).
func (n *Node) CreateSession(timeoutMs int32, readOnly bool, done func(int64, []byte, error)) {
	id := n.replica.NewSessionID()
	n.submit(&item{
		req: &proto.Request{SessionID: id, Op: proto.OpCreateSession, TimeOut: timeoutMs},
		done: func(r clientconn.WriteResult) {
			if r.Err != proto.ErrOK {
				done(0, nil, fmt.Errorf("standalone: create session: %v", r.Err))
				return
			}
			done(id, n.replica.SessionPassword(id), nil)
		},
	})
}

// ReattachSession validates a reconnecting session (clientconn.Backend).
func (n *Node) ReattachSession(id int64, passwd []byte, timeoutMs int32, done func(bool, int32)) {
	if !n.replica.CheckSessionPassword(id, passwd) {
		done(false, 0)
		return
	}
	live, _ := n.replica.Touch(id)
	done(live, timeoutMs)
}

// Touch records session activity (clientconn.Backend).
func (n *Node) Touch(id int64) bool {
	live, _ := n.replica.Touch(id)
	return live
}

// Submit sends a write down the write path (clientconn.Backend).
func (n *Node) Submit(req *proto.Request, done func(clientconn.WriteResult)) {
	it := &item{req: req, done: done}
	if req.Op == proto.OpCloseSession {
		n.replica.SetClosing(req.SessionID)
	}
	n.submit(it)
}

// Sync calls done once every write submitted before it is applied
// (clientconn.Backend).
func (n *Node) Sync(_ int64, done func(proto.ErrCode)) {
	n.mu.Lock()
	target := n.nextZxid - 1
	if target <= n.replica.LastApplied() {
		n.mu.Unlock()
		done(proto.ErrOK)
		return
	}
	n.syncs = append(n.syncs, syncWaiter{zxid: target, done: done})
	n.nsyncs.Store(int64(len(n.syncs)))
	n.mu.Unlock()
	// The apply loop looks at nsyncs without the lock, after storing
	// lastApplied: if it applied target between the check above and the
	// store of nsyncs, it saw no waiter, and this sees its lastApplied.
	n.releaseSyncs(n.replica.LastApplied())
}

// StatsReporter is implemented by Logs that have figures for mntr (the
// group-commit log: txns per fsync, fsync latency).
type StatsReporter interface {
	MntrStats() [][2]string
}

// ServerStats reports figures for the four-letter words (clientconn.Backend).
func (n *Node) ServerStats() clientconn.Stats {
	last := n.replica.LastApplied()
	st := clientconn.Stats{
		Mode:        "standalone",
		LastZxid:    last,
		Epoch:       last >> 32,
		Outstanding: int(max(n.outstanding.Load(), 0)),
	}
	if r, ok := n.wal.(StatsReporter); ok {
		st.Extra = r.MntrStats()
	}
	return st
}

// Sessions lists live sessions (clientconn.SessionLister).
func (n *Node) Sessions() map[int64]int32 { return n.replica.Sessions() }

func hex(v int64) string { return fmt.Sprintf("0x%x", v) }
