package tree

import (
	"fmt"
	"slices"

	"github.com/zkbench/zkbench/server/proto"
)

// Result is the outcome of applying one txn (upstream ProcessTxnResult).
type Result struct {
	// Err is the txn's error: the code of an ErrorTxn, the first failing
	// op's code for a failed multi, or the error a replayed txn met
	// (NodeExists, NoNode) that upstream ignores.
	Err proto.ErrCode
	// Path is the path the txn named (create*, delete, setData, setACL,
	// check).
	Path string
	// Stat is the node's stat after the change (create*, setData, setACL).
	Stat proto.Stat
	// Multi holds the per-op results of a MultiTxn, each with its Op.
	Multi []Result
	// Op is the txn's type (for a failed multi's ops: proto.OpError).
	Op proto.OpCode
	// Data is the new configuration a reconfig txn stored, which its
	// reply carries.
	Data []byte
}

// Apply applies one committed txn and fires the watches it triggers. Txn
// types by hdr.Type:
//
//	OpCreate, OpCreate2     *proto.CreateTxn
//	OpCreateTTL             *proto.CreateTTLTxn
//	OpCreateContainer       *proto.CreateContainerTxn
//	OpDelete, OpDeleteContainer *proto.DeleteTxn
//	OpSetData, OpReconfig   *proto.SetDataTxn
//	OpSetACL                *proto.SetACLTxn
//	OpCheck                 *proto.CheckVersionTxn
//	OpError                 *proto.ErrorTxn
//	OpCreateSession         *proto.CreateSessionTxn (no change to the tree)
//	OpCloseSession          *proto.CloseSessionTxn or nil
//	OpMulti                 *proto.MultiTxn
//
// Like upstream DataTree.processTxn, Apply does not fail: an error a txn
// meets (a replayed create of an existing node, a delete of a missing one)
// is reported in Result.Err and the rest of the tree is left as upstream
// leaves it; LastZxid advances to hdr.Zxid if that is higher. A txn of the
// wrong Go type for hdr.Type yields proto.ErrMarshallingError and changes
// nothing.
func (t *Tree) Apply(hdr *proto.TxnHeader, txn proto.Record) Result {
	t.mu.Lock()
	defer t.mu.Unlock()
	r := t.process(hdr.Type, hdr, txn)
	if hdr.Zxid > t.lastZxid {
		t.lastZxid = hdr.Zxid
	}
	return r
}

// ApplyOutOfLog is Apply for a change that no txn of the log carries, as
// upstream's direct DataTree calls (ZKDatabase.initConfigInZKDatabase puts
// a configuration into /zookeeper/config with its version as mzxid): the
// change and its watch events happen, but LastZxid does not move, so a
// configuration newer than the local log does not make the log look
// applied past its end.
func (t *Tree) ApplyOutOfLog(hdr *proto.TxnHeader, txn proto.Record) Result {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.process(hdr.Type, hdr, txn)
}

// process is processTxn for one txn or sub-txn of type typ.
func (t *Tree) process(typ proto.OpCode, hdr *proto.TxnHeader, txn proto.Record) Result {
	r := Result{Op: typ}
	bad := func() Result {
		r.Err = proto.ErrMarshallingError
		return r
	}
	switch typ {
	case proto.OpCreate, proto.OpCreate2:
		c, ok := txn.(*proto.CreateTxn)
		if !ok {
			return bad()
		}
		var owner int64
		if c.Ephemeral {
			owner = hdr.ClientID
		}
		r.Path = c.Path
		r.Stat, r.Err = t.createNode(c.Path, c.Data, c.ACL, owner, c.ParentCVersion, hdr.Zxid, hdr.Time)
		if r.Err == proto.ErrNodeExists && typ == proto.OpCreate {
			// Upstream: a replay over a fuzzy snapshot may meet a node
			// re-created by another session; bring the parent's cversion
			// and pzxid up to date anyway.
			parent, _ := parentOf(c.Path)
			if !t.setCversionPzxid(parent, c.ParentCVersion, hdr.Zxid) {
				r.Err = proto.ErrNoNode
			}
		}
	case proto.OpCreateTTL:
		c, ok := txn.(*proto.CreateTTLTxn)
		if !ok {
			return bad()
		}
		r.Path = c.Path
		r.Stat, r.Err = t.createNode(c.Path, c.Data, c.ACL, TTLOwner(c.TTL), c.ParentCVersion, hdr.Zxid, hdr.Time)
	case proto.OpCreateContainer:
		c, ok := txn.(*proto.CreateContainerTxn)
		if !ok {
			return bad()
		}
		r.Path = c.Path
		r.Stat, r.Err = t.createNode(c.Path, c.Data, c.ACL, ContainerOwner, c.ParentCVersion, hdr.Zxid, hdr.Time)
	case proto.OpDelete, proto.OpDeleteContainer:
		d, ok := txn.(*proto.DeleteTxn)
		if !ok {
			return bad()
		}
		r.Path = d.Path
		r.Err = t.deleteNode(d.Path, hdr.Zxid)
	case proto.OpSetData, proto.OpReconfig:
		s, ok := txn.(*proto.SetDataTxn)
		if !ok {
			return bad()
		}
		r.Path = s.Path
		r.Stat, r.Err = t.setData(s.Path, s.Data, s.Version, hdr.Zxid, hdr.Time)
		if hdr.Type == proto.OpReconfig {
			r.Data = s.Data
		}
	case proto.OpSetACL:
		s, ok := txn.(*proto.SetACLTxn)
		if !ok {
			return bad()
		}
		r.Path = s.Path
		r.Stat, r.Err = t.setACL(s.Path, s.ACL, s.Version)
	case proto.OpCheck:
		c, ok := txn.(*proto.CheckVersionTxn)
		if !ok {
			return bad()
		}
		r.Path = c.Path
	case proto.OpError:
		e, ok := txn.(*proto.ErrorTxn)
		if !ok {
			return bad()
		}
		r.Err = e.Err
	case proto.OpCreateSession:
		// Sessions live in package session; the tree has nothing to do.
	case proto.OpCloseSession:
		var listed []string
		switch c := txn.(type) {
		case nil:
		case *proto.CloseSessionTxn:
			if c != nil {
				listed = c.Paths2Delete
			}
		default:
			return bad()
		}
		t.killSession(hdr.ClientID, hdr.Zxid, listed)
	case proto.OpMulti:
		m, ok := txn.(*proto.MultiTxn)
		if !ok {
			return bad()
		}
		r.Multi, r.Err = t.multi(hdr, m)
	default:
		return bad()
	}
	return r
}

// multi applies the ops of a MultiTxn (upstream processTxn's multi case):
// if any op is an ErrorTxn the whole multi failed in prep, and every op is
// applied as an ErrorTxn (ops that were not already errors become OK before
// the first error and RuntimeInconsistency after it).
func (t *Tree) multi(hdr *proto.TxnHeader, m *proto.MultiTxn) ([]Result, proto.ErrCode) {
	failed := slices.ContainsFunc(m.Txns, func(s proto.Txn) bool { return s.Type == proto.OpError })
	postFailed := false
	var firstErr proto.ErrCode
	out := make([]Result, 0, len(m.Txns))
	for _, sub := range m.Txns {
		typ := sub.Type
		var rec proto.Record
		if typ == proto.OpError {
			postFailed = true
		}
		if failed && typ != proto.OpError {
			code := proto.ErrOK
			if postFailed {
				code = proto.ErrRuntimeInconsistency
			}
			typ, rec = proto.OpError, &proto.ErrorTxn{Err: code}
		} else {
			var err error
			rec, err = decodeSubTxn(typ, sub.Data)
			if err != nil {
				// Upstream logs the IOException and stops the multi.
				break
			}
		}
		sr := t.process(typ, hdr, rec)
		out = append(out, sr)
		if sr.Err != proto.ErrOK && firstErr == proto.ErrOK {
			firstErr = sr.Err
		}
	}
	return out, firstErr
}

// decodeSubTxn decodes one op of a MultiTxn.
func decodeSubTxn(typ proto.OpCode, data []byte) (proto.Record, error) {
	var rec proto.Record
	switch typ {
	case proto.OpCreate, proto.OpCreate2:
		rec = &proto.CreateTxn{}
	case proto.OpCreateTTL:
		rec = &proto.CreateTTLTxn{}
	case proto.OpCreateContainer:
		rec = &proto.CreateContainerTxn{}
	case proto.OpDelete, proto.OpDeleteContainer:
		rec = &proto.DeleteTxn{}
	case proto.OpSetData:
		rec = &proto.SetDataTxn{}
	case proto.OpError:
		rec = &proto.ErrorTxn{}
	case proto.OpCheck:
		rec = &proto.CheckVersionTxn{}
	default:
		return nil, fmt.Errorf("tree: invalid type of op in multi: %v", typ)
	}
	d := proto.NewDecoder(data)
	rec.Decode(d)
	if err := d.Err(); err != nil {
		return nil, fmt.Errorf("tree: decoding %v op of multi: %w", typ, err)
	}
	return rec, nil
}

func newStat(zxid, time, owner int64) proto.StatPersisted {
	return proto.StatPersisted{
		Czxid: zxid, Mzxid: zxid, Pzxid: zxid,
		Ctime: time, Mtime: time,
		EphemeralOwner: owner,
	}
}

// createNode is upstream DataTree.createNode.
func (t *Tree) createNode(path string, data []byte, acl []proto.ACL, owner int64, parentCVersion int32, zxid, time int64) (proto.Stat, proto.ErrCode) {
	if path == "/" {
		return proto.Stat{}, proto.ErrNodeExists
	}
	parentPath, name := parentOf(path)
	parent := t.nodes[parentPath]
	if parent == nil {
		return proto.Stat{}, proto.ErrNoNode
	}
	ref := t.acls.convert(acl)
	if existing := t.nodes[path]; existing != nil {
		// Upstream re-points the existing node at the txn's ACL.
		t.acls.removeUsage(existing.acl)
		existing.acl = ref
		return proto.Stat{}, proto.ErrNodeExists
	}
	if parentCVersion == -1 {
		parentCVersion = parent.stat.Cversion + 1
	}
	// A replay of a create whose node was created and deleted within the
	// fuzzy range must not move cversion and pzxid backwards.
	if parentCVersion > parent.stat.Cversion {
		parent.stat.Cversion = parentCVersion
		parent.stat.Pzxid = zxid
		t.rehash(parentPath, parent)
	}
	child := &node{data: data, acl: ref, stat: newStat(zxid, time, owner)}
	if parent.children == nil {
		parent.children = make(map[string]struct{}, 4)
	}
	parent.children[name] = struct{}{}
	t.nodes[path] = child
	t.rehash(path, child)
	t.dataSize += nodeSize(path, data)
	switch KindOf(owner) {
	case KindContainer:
		t.containers[path] = struct{}{}
	case KindTTL:
		t.ttls[path] = struct{}{}
	case KindEphemeral:
		s := t.ephemerals[owner]
		if s == nil {
			s = make(map[string]struct{})
			t.ephemerals[owner] = s
		}
		s[path] = struct{}{}
	}
	st := child.clientStat()
	t.quotaOnCreate(parentPath, name, path, int64(len(data)))
	t.dataW.trigger(path, proto.EventNodeCreated, zxid, t.acls.get(ref), nil)
	t.childW.trigger(parentPath, proto.EventNodeChildrenChanged, zxid, t.acls.get(parent.acl), nil)
	return st, proto.ErrOK
}

// deleteNode is upstream DataTree.deleteNode. The parent's pzxid moves up
// even when the child is already gone (a replay over a fuzzy snapshot).
func (t *Tree) deleteNode(path string, zxid int64) proto.ErrCode {
	parentPath, name := parentOf(path)
	parent := t.nodes[parentPath]
	if parent == nil || path == "/" {
		return proto.ErrNoNode
	}
	delete(parent.children, name)
	if len(parent.children) == 0 {
		parent.children = nil
	}
	if zxid > parent.stat.Pzxid {
		parent.stat.Pzxid = zxid
		t.rehash(parentPath, parent)
	}
	n := t.nodes[path]
	if n == nil {
		return proto.ErrNoNode
	}
	delete(t.nodes, path)
	t.unhash(n)
	acl := t.acls.get(n.acl) // for the events, before the cache may drop it
	t.acls.removeUsage(n.acl)
	t.dataSize -= nodeSize(path, n.data)
	owner := n.stat.EphemeralOwner
	switch KindOf(owner) {
	case KindContainer:
		delete(t.containers, path)
	case KindTTL:
		delete(t.ttls, path)
	case KindEphemeral:
		if s := t.ephemerals[owner]; s != nil {
			delete(s, path)
			if len(s) == 0 {
				delete(t.ephemerals, owner)
			}
		}
	}
	t.quotaOnDelete(parentPath, name, path, int64(len(n.data)))
	hit := t.dataW.trigger(path, proto.EventNodeDeleted, zxid, acl, nil)
	t.childW.trigger(path, proto.EventNodeDeleted, zxid, acl, hit)
	t.childW.trigger(parentPath, proto.EventNodeChildrenChanged, zxid, t.acls.get(parent.acl), nil)
	return proto.ErrOK
}

// setData is upstream DataTree.setData; version is the new version.
func (t *Tree) setData(path string, data []byte, version int32, zxid, time int64) (proto.Stat, proto.ErrCode) {
	n := t.nodes[path]
	if n == nil {
		return proto.Stat{}, proto.ErrNoNode
	}
	old := n.data
	n.data = data
	n.stat.Mtime = time
	n.stat.Mzxid = zxid
	n.stat.Version = version
	t.rehash(path, n)
	st := n.clientStat()
	t.dataSize += int64(len(data) - len(old))
	t.quotaOnSetData(path, int64(len(data)-len(old)))
	t.dataW.trigger(path, proto.EventNodeDataChanged, zxid, t.acls.get(n.acl), nil)
	return st, proto.ErrOK
}

// setACL is upstream DataTree.setACL; version is the new aversion.
func (t *Tree) setACL(path string, acl []proto.ACL, version int32) (proto.Stat, proto.ErrCode) {
	n := t.nodes[path]
	if n == nil {
		return proto.Stat{}, proto.ErrNoNode
	}
	t.acls.removeUsage(n.acl)
	n.stat.Aversion = version
	t.rehash(path, n)
	n.acl = t.acls.convert(acl)
	return n.clientStat(), proto.ErrOK
}

// setCversionPzxid is upstream DataTree.setCversionPzxid; it reports false
// if the node does not exist.
func (t *Tree) setCversionPzxid(path string, cversion int32, zxid int64) bool {
	n := t.nodes[path]
	if n == nil {
		return false
	}
	if cversion == -1 {
		cversion = n.stat.Cversion + 1
	}
	if cversion > n.stat.Cversion {
		n.stat.Cversion = cversion
		n.stat.Pzxid = zxid
		t.rehash(path, n)
	}
	return true
}

// killSession deletes a closed session's ephemerals: first the paths the
// txn lists, in order, then any others the tree still knows of (sorted),
// ignoring NoNode, as upstream DataTree.killSession.
func (t *Tree) killSession(session, zxid int64, listed []string) {
	local := t.ephemerals[session]
	delete(t.ephemerals, session)
	for _, p := range listed {
		t.deleteNode(p, zxid)
		delete(local, p)
	}
	rest := make([]string, 0, len(local))
	for p := range local {
		rest = append(rest, p)
	}
	slices.Sort(rest)
	for _, p := range rest {
		t.deleteNode(p, zxid)
	}
}
