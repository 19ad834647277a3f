package replica

import (
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/zkbench/zkbench/server/proto"
	"github.com/zkbench/zkbench/server/session"
	"github.com/zkbench/zkbench/server/tree"
	"github.com/zkbench/zkbench/server/txnprep"
)

// Options configure a Replica.
type Options struct {
	// ServerID goes into the top byte of the session ids this server makes.
	ServerID int64
	// TickMs is the tick length sessions expire in; 0 means 2000.
	TickMs int64
	// Tree is the recovered tree; nil means a fresh one.
	Tree *tree.Tree
	// Sessions are the recovered sessions (id -> timeout ms).
	Sessions map[int64]int32
	// Prep configures the prep stage; its Store and Quotas are set by New
	// to read this replica's current tree.
	Prep txnprep.Options
	// EnforceQuota is zookeeper.enforceQuota: quotas' hard limits hold.
	EnforceQuota bool
	Logger       *slog.Logger
	// Now is the clock sessions are timed with; nil means time.Now.
	Now func() time.Time
}

// SessionCloser closes the client connection of a session that ended
// (clientconn.Server is one).
type SessionCloser interface {
	CloseSession(id int64)
}

// Replica is a server's state machine. Create it with New.
type Replica struct {
	log    *slog.Logger
	now    func() time.Time
	prep   *txnprep.Preparer
	closer SessionCloser

	tree        atomic.Pointer[tree.Tree]
	lastApplied atomic.Int64

	mu       sync.Mutex // guards sessions
	sessions *session.Table
}

// New returns a replica of opts.Tree (or a fresh tree) with opts.Sessions.
func New(opts Options) *Replica {
	if opts.Logger == nil {
		opts.Logger = slog.Default()
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.TickMs <= 0 {
		opts.TickMs = 2000
	}
	t := opts.Tree
	if t == nil {
		t = tree.New()
	}
	r := &Replica{log: opts.Logger, now: opts.Now}
	r.tree.Store(t)
	r.lastApplied.Store(t.LastZxid())
	nowMs := r.now().UnixMilli()
	r.sessions = session.NewTable(opts.TickMs, opts.ServerID, nowMs)
	for id, to := range opts.Sessions {
		r.sessions.Add(id, to, nowMs)
	}
	po := opts.Prep
	po.Store = store{r}
	po.Quotas = nil
	if opts.EnforceQuota {
		po.Quotas = store{r}
	}
	r.prep = txnprep.New(po)
	return r
}

// SetSessionCloser tells the replica whom to ask to close a session's
// connection when it applies the session's closeSession. Call it before
// the first Apply.
func (r *Replica) SetSessionCloser(c SessionCloser) { r.closer = c }

// Tree is the current tree.
func (r *Replica) Tree() *tree.Tree { return r.tree.Load() }

// LastApplied is the zxid of the last applied txn.
func (r *Replica) LastApplied() int64 { return r.lastApplied.Load() }

// Prep is the prep stage over this replica (run by the standalone node and
// an ensemble's leader).
func (r *Replica) Prep() *txnprep.Preparer { return r.prep }

// Apply applies one committed txn, in zxid order: the tree (which fires
// its watches), the last applied zxid, and the session table for
// createSession and closeSession (whose connection it closes). It returns
// the tree's result. It does not tell the prep stage (PrepApplied).
func (r *Replica) Apply(hdr *proto.TxnHeader, body proto.Record) tree.Result {
	res := r.tree.Load().Apply(hdr, body)
	r.lastApplied.Store(hdr.Zxid)
	switch hdr.Type {
	case proto.OpCreateSession:
		if cs, ok := body.(*proto.CreateSessionTxn); ok {
			r.mu.Lock()
			r.sessions.Add(hdr.ClientID, cs.TimeOut, r.now().UnixMilli())
			r.mu.Unlock()
		}
	case proto.OpCloseSession:
		r.mu.Lock()
		r.sessions.Remove(hdr.ClientID)
		r.mu.Unlock()
		if r.closer != nil {
			r.closer.CloseSession(hdr.ClientID)
		}
	}
	return res
}

// PrepApplied tells the prep stage that everything up to the last applied
// txn is in the tree, so it can drop those outstanding changes.
func (r *Replica) PrepApplied() { r.prep.Applied(r.lastApplied.Load()) }

// Replace puts in a whole new state: a tree and its sessions (from a
// leader's snapshot, or rebuilt from disk after a truncation).
func (r *Replica) Replace(t *tree.Tree, sessions map[int64]int32) {
	r.tree.Store(t)
	r.lastApplied.Store(t.LastZxid())
	now := r.now().UnixMilli()
	r.mu.Lock()
	defer r.mu.Unlock()
	for id := range r.sessions.Sessions() {
		r.sessions.Remove(id)
	}
	for id, to := range sessions {
		r.sessions.Add(id, to, now)
	}
}

// NewSessionID returns the id of the next session this server creates.
func (r *Replica) NewSessionID() int64 {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.sessions.NextID()
}

// SessionPassword is session id's password, as upstream makes it.
func (r *Replica) SessionPassword(id int64) []byte {
	return session.Password(id, session.SuperSecret)
}

// CheckSessionPassword reports whether passwd is session id's password.
func (r *Replica) CheckSessionPassword(id int64, passwd []byte) bool {
	return session.CheckPassword(id, session.SuperSecret, passwd)
}

// Touch records activity of session id now. live reports whether the
// session is known and not closing (its expiry moved on); known whether
// the replica knows it at all.
func (r *Replica) Touch(id int64) (live, known bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	live = r.sessions.Touch(id, r.now().UnixMilli())
	if !live {
		_, known = r.sessions.Timeout(id)
	}
	return live, live || known
}

// SessionTimeout returns session id's timeout in milliseconds, and whether
// the replica knows the session.
func (r *Replica) SessionTimeout(id int64) (int32, bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.sessions.Timeout(id)
}

// TouchAll gives every live session a full timeout from now (a new leader
// does, as upstream).
func (r *Replica) TouchAll() {
	now := r.now().UnixMilli()
	r.mu.Lock()
	defer r.mu.Unlock()
	for id := range r.sessions.Sessions() {
		r.sessions.Touch(id, now)
	}
}

// TouchEach records activity of the sessions ids (a learner's TOUCH).
func (r *Replica) TouchEach(ids []int64) {
	now := r.now().UnixMilli()
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, id := range ids {
		r.sessions.Touch(id, now)
	}
}

// SetClosing marks session id as closing: a closeSession for it is on its
// way, and touching it no longer keeps it alive.
func (r *Replica) SetClosing(id int64) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.sessions.SetClosing(id)
}

// ExpiredSessions returns the sessions whose timeout has passed, marked
// closing; the driver closes each through its write path.
func (r *Replica) ExpiredSessions() []int64 {
	r.mu.Lock()
	expired := r.sessions.Expired(r.now().UnixMilli())
	r.mu.Unlock()
	for _, id := range expired {
		r.log.Info("session expired", "session", hex(id))
	}
	return expired
}

// Sessions returns every session the replica knows (id -> timeout ms).
func (r *Replica) Sessions() map[int64]int32 {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.sessions.Sessions()
}

func hex(v int64) string { return fmt.Sprintf("0x%x", v) }
