package bench

import (
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/go-zookeeper/zk"

	"github.com/zkbench/zkbench/workloads"
)

// client is one simulated client: one session, Outstanding workers.
type client struct {
	id      int
	primary string // the member it was placed on
	conn    *zk.Conn
	ready   chan struct{} // closed when the first session is established
	once    sync.Once

	sessions    atomic.Int64 // sessions established (first + reconnects)
	expirations atomic.Int64
	timeoutAt   atomic.Int64 // unix ns of the last connection read timeout

	mu  sync.Mutex
	gen *workloads.Generator
	k   int64 // next operation's index (open loop schedule)
}

func (c *client) event(ev zk.Event) {
	if ev.Type != zk.EventSession {
		return
	}
	switch ev.State {
	case zk.StateHasSession:
		c.sessions.Add(1)
		c.once.Do(func() { close(c.ready) })
	case zk.StateExpired:
		c.expirations.Add(1)
	}
}

// readTimedOut is called when a read on the client's connection times out.
func (c *client) readTimedOut() { c.timeoutAt.Store(time.Now().UnixNano()) }

// errTimedOut replaces go-zookeeper's connection-closed error for requests
// lost on a connection that was dropped because no reply came in time.
var errTimedOut = errors.New("bench: no reply within the session's receive timeout; connection dropped")

// explain turns a connection loss into errTimedOut when the connection the
// request was sent on died of a read timeout.
func (c *client) explain(err error, sent time.Time) error {
	if err == zk.ErrConnectionClosed && c.timeoutAt.Load() >= sent.UnixNano() {
		return errTimedOut
	}
	return err
}

// next returns the client's next operation and its index in the sequence.
func (c *client) next() (workloads.Op, int64) {
	c.mu.Lock()
	op := c.gen.Next()
	k := c.k
	c.k++
	c.mu.Unlock()
	return op, k
}

// keyspace holds what every worker shares read-only.
type keyspace struct {
	root   string
	tmp    string
	paths  []string // key paths, index = Op.Key
	value  []byte
	acl    []zk.ACL
	multiN int
}

func newKeyspace(root string, spec workloads.Spec) *keyspace {
	ks := &keyspace{
		root:   root,
		tmp:    root + "/tmp",
		paths:  make([]string, spec.Keys),
		value:  make([]byte, spec.ValueSize),
		acl:    zk.WorldACL(zk.PermAll),
		multiN: spec.MultiSize,
	}
	for i := range ks.paths {
		ks.paths[i] = fmt.Sprintf("%s/k%07d", root, i)
	}
	for i := range ks.value {
		ks.value[i] = 'a' + byte(i%26)
	}
	return ks
}

// worker is one of a client's outstanding-request slots. It owns the
// buffers its operations reuse.
type worker struct {
	c       *client
	ks      *keyspace
	slot    int
	tmpPath string
	multiRq []zk.SetDataRequest
	multiOp []any

	// The history check (nil when off), and the buffer and sequence of
	// this worker's tagged values.
	check *checker
	value []byte
	seq   int64
}

func newWorker(c *client, ks *keyspace, slot int, check *checker) *worker {
	w := &worker{
		c:       c,
		ks:      ks,
		slot:    slot,
		tmpPath: fmt.Sprintf("%s/c%d-%d", ks.tmp, c.id, slot),
		multiRq: make([]zk.SetDataRequest, ks.multiN),
		multiOp: make([]any, ks.multiN),
		check:   check,
	}
	for i := range w.multiRq {
		w.multiRq[i] = zk.SetDataRequest{Data: ks.value, Version: -1}
		w.multiOp[i] = &w.multiRq[i]
	}
	return w
}

// do performs one operation and returns its error.
func (w *worker) do(op workloads.Op) error {
	conn := w.c.conn
	path := w.ks.paths[op.Key]
	if w.check != nil && w.check.isChecked(op, len(w.multiRq)) {
		switch op.Type {
		case workloads.GetData:
			return w.checkedGet(path)
		case workloads.SetData:
			return w.checkedSet(path)
		case workloads.Multi:
			return w.checkedMulti(op)
		}
	}
	switch op.Type {
	case workloads.GetData:
		_, _, err := conn.Get(path)
		return err
	case workloads.SetData:
		_, err := conn.Set(path, w.ks.value, -1)
		return err
	case workloads.Exists:
		_, _, err := conn.Exists(path)
		return err
	case workloads.GetChildren:
		_, _, err := conn.Children(path)
		return err
	case workloads.CreateDelete:
		_, err := conn.Create(w.tmpPath, w.ks.value, zk.FlagEphemeral, w.ks.acl)
		if err != nil && err != zk.ErrNodeExists {
			return err
		}
		// A node left by a create whose reply was lost is deleted too.
		if derr := conn.Delete(w.tmpPath, -1); err == nil {
			err = derr
		}
		return err
	case workloads.Multi:
		for i := range w.multiRq {
			w.multiRq[i].Path = w.ks.paths[(op.Key+i)%len(w.ks.paths)]
		}
		res, err := conn.Multi(w.multiOp...)
		if err == nil {
			for _, r := range res {
				if r.Error != nil {
					return r.Error
				}
			}
		}
		return err
	}
	return fmt.Errorf("bench: unknown operation %v", op.Type)
}

// pause is how long a worker waits after an error that says its session is
// not usable, so that a client without a server does not spin.
const pause = time.Millisecond

func backoffKind(k errKind) bool {
	return k == kindConnectionLoss || k == kindNoServer || k == kindSessionExpired
}
