package txnprep

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"

	"github.com/zkbench/zkbench/server/proto"
	"github.com/zkbench/zkbench/server/tree"
)

// Node is what the prep stage needs to know about an existing znode.
type Node struct {
	Stat proto.Stat // NumChildren is the child count
	ACL  []proto.ACL
}

// Store is the committed state the prep stage validates against.
type Store interface {
	// Lookup returns the node at path as of the last applied txn.
	Lookup(path string) (Node, bool)
	// SessionEphemerals lists the ephemerals a session owns in the tree.
	SessionEphemerals(sessionID int64) []string
}

// Options configure a Preparer.
type Options struct {
	Store Store
	// SkipACL disables ACL checks (zookeeper.skipACL=yes).
	SkipACL bool
	// ExtendedTypes enables TTL nodes (zookeeper.extendedTypesEnabled).
	ExtendedTypes bool
	// ReconfigEnabled allows the reconfig op.
	ReconfigEnabled bool
	// Leader answers the reconfig op's questions on an ensemble's
	// leader; nil on a standalone server, where reconfig is
	// UNIMPLEMENTED as upstream.
	Leader Leader
	// StandaloneEnabled is standaloneEnabled: a reconfig must then leave
	// at least two voters (one otherwise).
	StandaloneEnabled bool
	// Quotas, when set, makes create and setData respect the quotas'
	// hard limits (zookeeper.enforceQuota); nil leaves them counted only.
	Quotas Quotas
	// Providers are the registered authentication providers: an ACL id
	// of a scheme without one is an invalid ACL and matches nothing.
	Providers tree.Providers
}

// Txn is a prepared transaction: its header and body. Header.Type is
// OpError (with an ErrorTxn body) when validation failed.
type Txn struct {
	Header proto.TxnHeader
	Body   proto.Record
	// Err is the validation error for a failed request (also in the
	// ErrorTxn), ErrOK otherwise. For a multi, it is the first failure.
	Err proto.ErrCode
}

// Encode appends the txn as it is logged and proposed: header then body.
func (t *Txn) Encode(e *proto.Encoder) {
	t.Header.Encode(e)
	if t.Body != nil {
		t.Body.Encode(e)
	}
}

// change is one outstanding change record: the state of path after a
// prepared but not yet applied txn. A nil stat means deleted.
type change struct {
	zxid   int64
	exists bool
	node   Node
}

// Preparer is the prep stage. Create one with New.
type Preparer struct {
	opts Options

	mu      sync.Mutex
	pending map[string]change
	// order lists overlay writes in zxid order (the order Prepare runs),
	// so Applied drops what the store now reflects without scanning the
	// whole overlay: amortized O(1) per txn, however many are in flight.
	order []pendingRef
	head  int
}

// pendingRef is one overlay write: path was recorded at zxid.
type pendingRef struct {
	zxid int64
	path string
}

// New returns a Preparer over opts.Store.
func New(opts Options) *Preparer {
	return &Preparer{opts: opts, pending: make(map[string]change)}
}

// Applied tells the Preparer that every txn up to zxid is applied to the
// Store, so overlay entries at or below it can be dropped.
func (p *Preparer) Applied(zxid int64) {
	p.mu.Lock()
	defer p.mu.Unlock()
	for p.head < len(p.order) && p.order[p.head].zxid <= zxid {
		ref := p.order[p.head]
		p.order[p.head] = pendingRef{}
		p.head++
		// A later change to the same path keeps its entry; so does a
		// multi's rollback to an entry still ahead of the store.
		if c, ok := p.pending[ref.path]; ok && c.zxid <= zxid {
			delete(p.pending, ref.path)
		}
	}
	if p.head > 1024 && p.head*2 > len(p.order) {
		n := copy(p.order, p.order[p.head:])
		clear(p.order[n:])
		p.order, p.head = p.order[:n], 0
	}
}

// Reset drops the whole overlay, e.g. when a new leader takes over.
func (p *Preparer) Reset() {
	p.mu.Lock()
	p.pending = make(map[string]change)
	p.order, p.head = nil, 0
	p.mu.Unlock()
}

// Outstanding returns the number of overlay entries (for mntr).
func (p *Preparer) Outstanding() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return len(p.pending)
}

// Prepare validates req against the store and the overlay and returns its
// txn with the given zxid and time. Validation failures are returned as an
// error txn, never as an error; the error result is for requests the prep
// stage cannot handle at all (an unknown op or a body of the wrong type).
func (p *Preparer) Prepare(req *proto.Request, zxid, nowMs int64) (*Txn, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	t := &Txn{Header: proto.TxnHeader{ClientID: req.SessionID, Cxid: req.Cxid, Zxid: zxid, Time: nowMs, Type: req.Op}}
	if req.Op == proto.OpMulti {
		mr, ok := req.Body.(*proto.MultiRequest)
		if !ok {
			return nil, fmt.Errorf("txnprep: multi with body %T", req.Body)
		}
		t.Body, t.Err = p.prepareMulti(req, mr, &t.Header)
		return t, nil
	}
	body, err := p.prepareOne(req, req.Op, req.Body, &t.Header)
	if err != nil {
		var code proto.ErrCode
		if !errors.As(err, &code) {
			return nil, err
		}
		t.Header.Type = proto.OpError
		t.Body = &proto.ErrorTxn{Err: code}
		t.Err = code
		return t, nil
	}
	t.Body = body
	return t, nil
}

func (p *Preparer) prepareMulti(req *proto.Request, mr *proto.MultiRequest, hdr *proto.TxnHeader) (proto.Record, proto.ErrCode) {
	saved := p.snapshotPaths(mr)
	var failed proto.ErrCode
	txns := make([]proto.Txn, 0, len(mr.Ops))
	for _, op := range mr.Ops {
		typ, body := op.Header.Type, proto.Record(nil)
		if failed != proto.ErrOK {
			typ, body = proto.OpError, &proto.ErrorTxn{Err: proto.ErrRuntimeInconsistency}
		} else {
			b, err := p.prepareOne(req, op.Header.Type, op.Op, hdr)
			var code proto.ErrCode
			switch {
			case err == nil:
				body = b
			case errors.As(err, &code):
				failed = code
				typ, body = proto.OpError, &proto.ErrorTxn{Err: code}
				p.restorePaths(saved)
			default:
				failed = proto.ErrMarshallingError
				typ, body = proto.OpError, &proto.ErrorTxn{Err: proto.ErrMarshallingError}
				p.restorePaths(saved)
			}
		}
		txns = append(txns, proto.Txn{Type: typ, Data: proto.Marshal(body)})
	}
	return &proto.MultiTxn{Txns: txns}, failed
}

// snapshotPaths saves the overlay entries a multi may touch, so a failed
// multi can roll back its earlier ops (upstream getPendingChanges).
func (p *Preparer) snapshotPaths(mr *proto.MultiRequest) map[string]*change {
	saved := make(map[string]*change)
	save := func(path string) {
		if _, ok := saved[path]; ok {
			return
		}
		if c, ok := p.pending[path]; ok {
			cc := c
			saved[path] = &cc
		} else {
			saved[path] = nil
		}
	}
	for _, op := range mr.Ops {
		path := opPath(op.Op)
		if path == "" {
			continue
		}
		save(path)
		if parent, ok := parentOf(path); ok {
			save(parent)
		}
	}
	return saved
}

func (p *Preparer) restorePaths(saved map[string]*change) {
	for path, c := range saved {
		if c == nil {
			delete(p.pending, path)
		} else {
			// The restored entry's zxid is already in order (it was
			// recorded before this multi), so Applied will drop it.
			p.pending[path] = *c
		}
	}
}

func opPath(r proto.Record) string {
	switch b := r.(type) {
	case *proto.CreateRequest:
		return b.Path
	case *proto.CreateTTLRequest:
		return b.Path
	case *proto.DeleteRequest:
		return b.Path
	case *proto.SetDataRequest:
		return b.Path
	case *proto.CheckVersionRequest:
		return b.Path
	case *proto.SetACLRequest:
		return b.Path
	}
	return ""
}

func (p *Preparer) lookup(path string) (Node, error) {
	if c, ok := p.pending[path]; ok {
		if !c.exists {
			return Node{}, proto.ErrNoNode
		}
		return c.node, nil
	}
	n, ok := p.opts.Store.Lookup(path)
	if !ok {
		return Node{}, proto.ErrNoNode
	}
	return n, nil
}

func (p *Preparer) record(path string, zxid int64, n *Node) {
	p.order = append(p.order, pendingRef{zxid: zxid, path: path})
	if n == nil {
		p.pending[path] = change{zxid: zxid}
		return
	}
	p.pending[path] = change{zxid: zxid, exists: true, node: *n}
}

func (p *Preparer) checkACL(acl []proto.ACL, perm int32, ids []proto.ID) error {
	if p.opts.SkipACL || tree.CheckACL(acl, perm, ids, p.opts.Providers) {
		return nil
	}
	return proto.ErrNoAuth
}

// nextVersion is upstream's checkAndIncVersion.
func nextVersion(current, expected int32) (int32, error) {
	if expected != -1 && expected != current {
		return 0, proto.ErrBadVersion
	}
	return current + 1, nil
}

func (p *Preparer) prepareOne(req *proto.Request, op proto.OpCode, body proto.Record, hdr *proto.TxnHeader) (proto.Record, error) {
	zxid := hdr.Zxid
	switch op {
	case proto.OpCreate, proto.OpCreate2, proto.OpCreateContainer, proto.OpCreateTTL:
		return p.prepareCreate(req, op, body, hdr)
	case proto.OpDelete, proto.OpDeleteContainer:
		r, ok := body.(*proto.DeleteRequest)
		if !ok {
			return nil, fmt.Errorf("txnprep: %v with body %T", op, body)
		}
		if op == proto.OpDeleteContainer && !req.FromServer {
			// Upstream reads a deleteContainer's path from the raw
			// request buffer, which from a client holds the header
			// too, so the path check always fails.
			return nil, proto.ErrBadArguments
		}
		parentPath, err := parentForDelete(r.Path)
		if err != nil {
			return nil, err
		}
		var parent, node Node
		if op == proto.OpDeleteContainer {
			if node, err = p.lookup(r.Path); err != nil {
				return nil, err
			}
			if node.Stat.NumChildren > 0 {
				return nil, proto.ErrNotEmpty
			}
			if EphemeralKindExt(node.Stat.EphemeralOwner, p.opts.ExtendedTypes) == KindNormal {
				return nil, proto.ErrBadVersion
			}
			if parent, err = p.lookup(parentPath); err != nil {
				return nil, err
			}
		} else {
			if parent, err = p.lookup(parentPath); err != nil {
				return nil, err
			}
			if err := p.checkACL(parent.ACL, proto.PermDelete, req.Auth); err != nil {
				return nil, err
			}
			if node, err = p.lookup(r.Path); err != nil {
				return nil, err
			}
			if _, err := nextVersion(node.Stat.Version, r.Version); err != nil {
				return nil, err
			}
			if node.Stat.NumChildren > 0 {
				return nil, proto.ErrNotEmpty
			}
		}
		parent.Stat.NumChildren--
		parent.Stat.Pzxid = zxid
		p.record(parentPath, zxid, &parent)
		p.record(r.Path, zxid, nil)
		return &proto.DeleteTxn{Path: r.Path}, nil
	case proto.OpSetData:
		r, ok := body.(*proto.SetDataRequest)
		if !ok {
			return nil, fmt.Errorf("txnprep: setData with body %T", body)
		}
		if err := ValidatePath(r.Path); err != nil {
			return nil, err
		}
		node, err := p.lookup(r.Path)
		if err != nil {
			return nil, err
		}
		if err := p.checkACL(node.ACL, proto.PermWrite, req.Auth); err != nil {
			return nil, err
		}
		if err := p.checkQuota(r.Path, int64(len(r.Data))-int64(node.Stat.DataLength), 0); err != nil {
			return nil, err
		}
		v, err := nextVersion(node.Stat.Version, r.Version)
		if err != nil {
			return nil, err
		}
		node.Stat.Version = v
		node.Stat.Mtime = hdr.Time
		node.Stat.Mzxid = zxid
		node.Stat.DataLength = int32(len(r.Data))
		p.record(r.Path, zxid, &node)
		return &proto.SetDataTxn{Path: r.Path, Data: r.Data, Version: v}, nil
	case proto.OpSetACL:
		r, ok := body.(*proto.SetACLRequest)
		if !ok {
			return nil, fmt.Errorf("txnprep: setACL with body %T", body)
		}
		if err := ValidatePath(r.Path); err != nil {
			return nil, err
		}
		acl, err := FixupACL(r.ACL, req.Auth, p.opts.Providers)
		if err != nil {
			return nil, err
		}
		node, err := p.lookup(r.Path)
		if err != nil {
			return nil, err
		}
		if err := p.checkACL(node.ACL, proto.PermAdmin, req.Auth); err != nil {
			return nil, err
		}
		v, err := nextVersion(node.Stat.Aversion, r.Version)
		if err != nil {
			return nil, err
		}
		node.Stat.Aversion = v
		node.ACL = acl
		p.record(r.Path, zxid, &node)
		return &proto.SetACLTxn{Path: r.Path, ACL: acl, Version: v}, nil
	case proto.OpCheck:
		r, ok := body.(*proto.CheckVersionRequest)
		if !ok {
			return nil, fmt.Errorf("txnprep: check with body %T", body)
		}
		if err := ValidatePath(r.Path); err != nil {
			return nil, err
		}
		node, err := p.lookup(r.Path)
		if err != nil {
			return nil, err
		}
		if err := p.checkACL(node.ACL, proto.PermRead, req.Auth); err != nil {
			return nil, err
		}
		v, err := nextVersion(node.Stat.Version, r.Version)
		if err != nil {
			return nil, err
		}
		return &proto.CheckVersionTxn{Path: r.Path, Version: v}, nil
	case proto.OpCreateSession:
		return &proto.CreateSessionTxn{TimeOut: req.TimeOut}, nil
	case proto.OpCloseSession:
		eph := make(map[string]bool)
		for _, path := range p.opts.Store.SessionEphemerals(req.SessionID) {
			eph[path] = true
		}
		for path, c := range p.pending {
			if !c.exists {
				delete(eph, path)
			} else if c.node.Stat.EphemeralOwner == req.SessionID {
				eph[path] = true
			}
		}
		paths := make([]string, 0, len(eph))
		for path := range eph {
			paths = append(paths, path)
			if parentPath, ok := parentOf(path); ok {
				if parent, err := p.lookup(parentPath); err == nil {
					parent.Stat.NumChildren--
					parent.Stat.Pzxid = zxid
					p.record(parentPath, zxid, &parent)
				}
			}
			p.record(path, zxid, nil)
		}
		slices.Sort(paths)
		return &proto.CloseSessionTxn{Paths2Delete: paths}, nil
	case proto.OpReconfig:
		r, ok := body.(*proto.ReconfigRequest)
		if !ok {
			return nil, fmt.Errorf("txnprep: reconfig with body %T", body)
		}
		return p.prepareReconfig(req, r, hdr)
	}
	return nil, fmt.Errorf("txnprep: %v is not a write", op)
}

func (p *Preparer) prepareCreate(req *proto.Request, op proto.OpCode, body proto.Record, hdr *proto.TxnHeader) (proto.Record, error) {
	var (
		path  string
		data  []byte
		acl   []proto.ACL
		flags proto.CreateMode
		ttl   int64 = -1
	)
	switch r := body.(type) {
	case *proto.CreateRequest:
		path, data, acl, flags = r.Path, r.Data, r.ACL, r.Flags
	case *proto.CreateTTLRequest:
		path, data, acl, flags, ttl = r.Path, r.Data, r.ACL, r.Flags, r.TTL
	default:
		return nil, fmt.Errorf("txnprep: %v with body %T", op, body)
	}
	mode := flags
	if !mode.Valid() {
		return nil, proto.ErrBadArguments
	}
	if mode.IsTTL() && !p.opts.ExtendedTypes {
		return nil, proto.ErrUnimplemented
	}
	if err := validateTTL(mode, ttl); err != nil {
		return nil, err
	}
	lastSlash := strings.LastIndexByte(path, '/')
	if lastSlash < 0 || strings.IndexByte(path, 0) >= 0 {
		return nil, proto.ErrBadArguments
	}
	parentPath := path[:lastSlash]
	if parentPath == "" {
		parentPath = "/" // upstream keys the root as ""; this overlay uses "/"
	}
	fixed, err := FixupACL(acl, req.Auth, p.opts.Providers)
	if err != nil {
		return nil, err
	}
	parent, err := p.lookup(parentPath)
	if err != nil {
		return nil, err
	}
	if err := p.checkACL(parent.ACL, proto.PermCreate, req.Auth); err != nil {
		return nil, err
	}
	parentCVersion := parent.Stat.Cversion
	if mode.IsSequential() {
		path += fmt.Sprintf("%010d", parentCVersion)
	}
	if err := ValidatePath(path); err != nil {
		return nil, err
	}
	if _, err := p.lookup(path); err == nil {
		return nil, proto.ErrNodeExists
	}
	if EphemeralKindExt(parent.Stat.EphemeralOwner, p.opts.ExtendedTypes) == KindNormal {
		return nil, proto.ErrNoChildrenForEphemerals
	}
	newCversion := parentCVersion + 1
	if err := p.checkQuota(path, int64(len(data)), 1); err != nil {
		return nil, err
	}
	// As upstream, the opcode picks the txn and the flags the owner the
	// overlay records: a create (or create2) with container flags is
	// logged as a plain CreateTxn, so the tree gets a persistent node.
	var txn proto.Record
	switch op {
	case proto.OpCreateContainer:
		txn = &proto.CreateContainerTxn{Path: path, Data: data, ACL: fixed, ParentCVersion: newCversion}
	case proto.OpCreateTTL:
		txn = &proto.CreateTTLTxn{Path: path, Data: data, ACL: fixed, ParentCVersion: newCversion, TTL: ttl}
	default:
		txn = &proto.CreateTxn{Path: path, Data: data, ACL: fixed, Ephemeral: mode.IsEphemeral(), ParentCVersion: newCversion}
	}
	var owner int64
	switch {
	case mode.IsContainer():
		owner = ContainerOwner
	case mode.IsTTL():
		owner = TTLOwner(ttl)
	case mode.IsEphemeral():
		owner = req.SessionID
	}
	zxid := hdr.Zxid
	parent.Stat.NumChildren++
	parent.Stat.Cversion = newCversion
	parent.Stat.Pzxid = zxid
	p.record(parentPath, zxid, &parent)
	p.record(path, zxid, &Node{
		Stat: proto.Stat{Czxid: zxid, Mzxid: zxid, Pzxid: zxid, Ctime: hdr.Time, Mtime: hdr.Time,
			EphemeralOwner: owner, DataLength: int32(len(data))},
		ACL: fixed,
	})
	return txn, nil
}

func parentForDelete(path string) (string, error) {
	lastSlash := strings.LastIndexByte(path, '/')
	if lastSlash < 0 || strings.IndexByte(path, 0) >= 0 || isSpecialPath(path) {
		return "", proto.ErrBadArguments
	}
	if lastSlash == 0 {
		return "/", nil
	}
	return path[:lastSlash], nil
}

// parentOf returns the parent of an absolute path other than "/".
func parentOf(path string) (string, bool) {
	i := strings.LastIndexByte(path, '/')
	if i < 0 || path == "/" {
		return "", false
	}
	if i == 0 {
		return "/", true
	}
	return path[:i], true
}

// isSpecialPath reports the paths upstream refuses to delete: the root,
// /zookeeper, /zookeeper/quota and /zookeeper/config.
func isSpecialPath(path string) bool {
	switch path {
	case "/", "/zookeeper", "/zookeeper/quota", "/zookeeper/config":
		return true
	}
	return false
}
