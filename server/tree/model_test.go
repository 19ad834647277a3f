package tree

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"hash/crc32"
	"maps"
	"math/rand"
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/zkbench/zkbench/server/proto"
)

// mnode is a node of the naive model: every derived quantity (children,
// child count, cversion) is recomputed by brute force rather than stored.
type mnode struct {
	data                []byte
	acl                 []proto.ACL
	czxid, mzxid, pzxid int64
	ctime, mtime        int64
	version, aversion   int32
	creates, deletes    int32 // child creations and deletions seen
	owner               int64 // session, 0, or a container/TTL marker
	kind                Kind
}

// model is the naive tree: a map of path to node.
type model map[string]*mnode

func newModel() model {
	// Upstream adds the system nodes without counting them as creations,
	// so their parents report negative cversions (creations + deletions
	// - uncounted children); the model seeds that as deletions.
	return model{
		"/":                 {deletes: -1, acl: proto.OpenACLUnsafe},
		"/zookeeper":        {deletes: -2, acl: proto.OpenACLUnsafe},
		"/zookeeper/quota":  {acl: proto.OpenACLUnsafe},
		"/zookeeper/config": {acl: proto.ReadACLUnsafe, aversion: -1},
	}
}

func (m model) clone() model {
	c := make(model, len(m))
	for p, n := range m {
		cp := *n
		c[p] = &cp
	}
	return c
}

func (m model) children(path string) []string {
	var out []string
	for p := range m {
		if p == "/" {
			continue
		}
		if parent, name := parentOf(p); parent == path {
			out = append(out, name)
		}
	}
	slices.Sort(out)
	return out
}

func (m model) stat(path string) proto.Stat {
	n := m[path]
	owner := int64(0)
	if n.kind == KindEphemeral {
		owner = n.owner
	}
	return proto.Stat{
		Czxid: n.czxid, Mzxid: n.mzxid, Pzxid: n.pzxid, Ctime: n.ctime, Mtime: n.mtime,
		Version: n.version, Aversion: n.aversion, Cversion: n.creates + n.deletes,
		EphemeralOwner: owner, DataLength: int32(len(n.data)), NumChildren: int32(len(m.children(path))),
	}
}

func (m model) ephemerals(session int64) []string {
	out := []string{}
	for p, n := range m {
		if n.kind == KindEphemeral && n.owner == session {
			out = append(out, p)
		}
	}
	slices.Sort(out)
	return out
}

// op is one txn of the random workload with the outcome the model predicts.
type op struct {
	typ  proto.OpCode
	txn  proto.Record
	want Result
}

var modelACLs = [][]proto.ACL{
	proto.OpenACLUnsafe,
	proto.ReadACLUnsafe,
	{{Perms: proto.PermAll, ID: proto.ID{Scheme: "digest", ID: "u:h"}}, {Perms: proto.PermRead, ID: proto.AnyoneID}},
}

// gen produces txns as the prep stage would: valid requests become txns and
// the model is updated; invalid ones become ErrorTxns.
type gen struct {
	r    *rand.Rand
	zxid int64
}

func (g *gen) path() string {
	depth := 1 + g.r.Intn(3)
	var b strings.Builder
	for i := 0; i < depth; i++ {
		b.WriteString("/" + string(rune('a'+g.r.Intn(3))))
	}
	return b.String()
}

// prepOne makes one non-multi write against m (mutating it on success) and
// returns the txn type, record and expected result.
func (g *gen) prepOne(m model, zxid, time int64, session int64, inMulti bool) op {
	fail := func(code proto.ErrCode) op {
		return op{proto.OpError, &proto.ErrorTxn{Err: code}, Result{Op: proto.OpError, Err: code}}
	}
	k := g.r.Intn(100)
	switch {
	case k < 40: // create of some kind
		path := g.path()
		parentPath, _ := parentOf(path)
		parent := m[parentPath]
		switch {
		case parent == nil:
			return fail(proto.ErrNoNode)
		case m[path] != nil:
			return fail(proto.ErrNodeExists)
		case parent.kind == KindEphemeral:
			return fail(proto.ErrNoChildrenForEphemerals)
		}
		data := make([]byte, g.r.Intn(8))
		g.r.Read(data)
		acl := modelACLs[g.r.Intn(len(modelACLs))]
		cv := parent.creates + 1 // upstream's stored cversion + 1
		n := &mnode{data: data, acl: acl, czxid: zxid, mzxid: zxid, pzxid: zxid, ctime: time, mtime: time}
		var o op
		switch kk := g.r.Intn(10); {
		case kk < 5:
			o = op{proto.OpCreate2, &proto.CreateTxn{Path: path, Data: data, ACL: acl, ParentCVersion: cv}, Result{}}
		case kk < 8:
			n.kind, n.owner = KindEphemeral, session
			o = op{proto.OpCreate2, &proto.CreateTxn{Path: path, Data: data, ACL: acl, Ephemeral: true, ParentCVersion: cv}, Result{}}
		case kk < 9:
			n.kind, n.owner = KindContainer, ContainerOwner
			o = op{proto.OpCreateContainer, &proto.CreateContainerTxn{Path: path, Data: data, ACL: acl, ParentCVersion: cv}, Result{}}
		default:
			ttl := 1 + g.r.Int63n(100000)
			n.kind, n.owner = KindTTL, TTLOwner(ttl)
			o = op{proto.OpCreateTTL, &proto.CreateTTLTxn{Path: path, Data: data, ACL: acl, ParentCVersion: cv, TTL: ttl}, Result{}}
		}
		m[path] = n
		parent.creates = cv
		parent.pzxid = zxid
		o.want = Result{Op: o.typ, Path: path, Stat: m.stat(path)}
		return o
	case k < 60:
		path := g.path()
		n := m[path]
		switch {
		case n == nil:
			return fail(proto.ErrNoNode)
		case len(m.children(path)) > 0:
			return fail(proto.ErrNotEmpty)
		}
		delete(m, path)
		parentPath, _ := parentOf(path)
		m[parentPath].deletes++
		m[parentPath].pzxid = zxid
		return op{proto.OpDelete, &proto.DeleteTxn{Path: path}, Result{Op: proto.OpDelete, Path: path}}
	case k < 85:
		path := g.path()
		n := m[path]
		if n == nil {
			return fail(proto.ErrNoNode)
		}
		data := bytes.Repeat([]byte{byte(zxid)}, g.r.Intn(16))
		n.data, n.mzxid, n.mtime = data, zxid, time
		n.version++
		return op{proto.OpSetData, &proto.SetDataTxn{Path: path, Data: data, Version: n.version},
			Result{Op: proto.OpSetData, Path: path, Stat: m.stat(path)}}
	case inMulti: // multis carry check, not setACL or closeSession
		path := g.path()
		n := m[path]
		if n == nil {
			return fail(proto.ErrNoNode)
		}
		return op{proto.OpCheck, &proto.CheckVersionTxn{Path: path, Version: n.version + 1},
			Result{Op: proto.OpCheck, Path: path}}
	case k < 92:
		path := g.path()
		n := m[path]
		if n == nil {
			return fail(proto.ErrNoNode)
		}
		n.acl = modelACLs[g.r.Intn(len(modelACLs))]
		n.aversion++
		return op{proto.OpSetACL, &proto.SetACLTxn{Path: path, ACL: n.acl, Version: n.aversion},
			Result{Op: proto.OpSetACL, Path: path, Stat: m.stat(path)}}
	default:
		paths := m.ephemerals(session)
		for _, p := range paths {
			delete(m, p)
			parentPath, _ := parentOf(p)
			if parent := m[parentPath]; parent != nil {
				parent.deletes++
				parent.pzxid = zxid
			}
		}
		return op{proto.OpCloseSession, &proto.CloseSessionTxn{Paths2Delete: paths}, Result{Op: proto.OpCloseSession}}
	}
}

// prepMulti makes a multi of 1-4 ops; if one fails, all become ErrorTxns
// and the model is untouched, as upstream prep does.
func (g *gen) prepMulti(m model, zxid, time, session int64) op {
	scratch := m.clone()
	n := 1 + g.r.Intn(4)
	var ops []op
	failedAt := -1
	for i := 0; i < n; i++ {
		o := g.prepOne(scratch, zxid, time, session, true)
		ops = append(ops, o)
		if o.typ == proto.OpError {
			failedAt = i
			break
		}
	}
	var txns []proto.Txn
	var want []Result
	if failedAt >= 0 {
		code := ops[failedAt].want.Err
		for i := 0; i < n; i++ {
			c := proto.ErrOK
			switch {
			case i == failedAt:
				c = code
			case i > failedAt:
				c = proto.ErrRuntimeInconsistency
			}
			txns = append(txns, proto.Txn{Type: proto.OpError, Data: marshal(&proto.ErrorTxn{Err: c})})
			want = append(want, Result{Op: proto.OpError, Err: c})
		}
		return op{proto.OpMulti, &proto.MultiTxn{Txns: txns}, Result{Op: proto.OpMulti, Err: code, Multi: want}}
	}
	maps.Copy(m, scratch)
	for p := range m {
		if scratch[p] == nil {
			delete(m, p)
		}
	}
	for _, o := range ops {
		txns = append(txns, proto.Txn{Type: o.typ, Data: marshal(o.txn)})
		want = append(want, o.want)
	}
	return op{proto.OpMulti, &proto.MultiTxn{Txns: txns}, Result{Op: proto.OpMulti, Multi: want}}
}

func marshal(r proto.Record) []byte { return proto.Marshal(r) }

// normalize makes results comparable: the model does not predict the stat
// of multi ops beyond what they carry, nor nil-vs-empty slices.
func normalize(r Result) Result {
	if len(r.Multi) == 0 {
		r.Multi = nil
	}
	for i := range r.Multi {
		r.Multi[i] = normalize(r.Multi[i])
	}
	return r
}

func compareTree(t *testing.T, tr *Tree, m model, step int) {
	t.Helper()
	for p, n := range m {
		data, st, err := tr.GetData(p, nil)
		if err != nil {
			t.Fatalf("step %d: %s missing from tree: %v", step, p, err)
		}
		if !bytes.Equal(data, n.data) {
			t.Fatalf("step %d: %s data = %x, want %x", step, p, data, n.data)
		}
		if want := m.stat(p); st != want {
			t.Fatalf("step %d: %s stat\n got %+v\nwant %+v", step, p, st, want)
		}
		kids, _, _ := tr.GetChildren(p, nil)
		if want := m.children(p); !reflect.DeepEqual(kids, want) && !(len(kids) == 0 && len(want) == 0) {
			t.Fatalf("step %d: %s children = %v, want %v", step, p, kids, want)
		}
		acl, _, _ := tr.GetACL(p)
		if !reflect.DeepEqual(acl, n.acl) {
			t.Fatalf("step %d: %s acl = %v, want %v", step, p, acl, n.acl)
		}
		info, _ := tr.Lookup(p)
		if info.Kind != n.kind && !(p == "/" || strings.HasPrefix(p, "/zookeeper")) {
			t.Fatalf("step %d: %s kind = %v, want %v", step, p, info.Kind, n.kind)
		}
	}
	if n, _ := tr.AllChildrenNumber("/"); int(n) != len(m)-1 {
		t.Fatalf("step %d: tree has %d nodes below the root, model %d", step, n, len(m)-1)
	}
	for s := int64(1); s <= 3; s++ {
		if got, want := tr.SessionEphemerals(s), m.ephemerals(s); !reflect.DeepEqual(got, want) {
			t.Fatalf("step %d: session %d ephemerals = %v, want %v", step, s, got, want)
		}
	}
	var containers, ttls []string
	var size int64
	for p, n := range m {
		size += int64(len(p) + len(n.data))
		switch n.kind {
		case KindContainer:
			containers = append(containers, p)
		case KindTTL:
			ttls = append(ttls, p)
		}
	}
	slices.Sort(containers)
	slices.Sort(ttls)
	if got := tr.Containers(); !slices.Equal(got, containers) {
		t.Fatalf("step %d: containers = %v, want %v", step, got, containers)
	}
	if got := tr.TTLNodes(); !slices.Equal(got, ttls) {
		t.Fatalf("step %d: ttls = %v, want %v", step, got, ttls)
	}
	if got := tr.ApproximateDataSize(); got != size {
		t.Fatalf("step %d: ApproximateDataSize = %d, want %d", step, got, size)
	}
	if got, want := tr.Digest(), m.digest(); got != want {
		t.Fatalf("step %d: Digest = %x, want %x", step, got, want)
	}
}

// digest recomputes upstream's tree digest from scratch with an independent
// encoding of the stored stat.
func (m model) digest() int64 {
	var sum int64
	for p, n := range m {
		if strings.HasPrefix(p, "/zookeeper/") {
			continue
		}
		if p == "/" {
			p = ""
		}
		var buf bytes.Buffer
		buf.WriteString(p)
		buf.Write(n.data)
		binary.Write(&buf, binary.BigEndian, []int64{n.czxid, n.mzxid, n.pzxid, n.ctime, n.mtime})
		binary.Write(&buf, binary.BigEndian, []int32{n.version, n.creates, n.aversion})
		binary.Write(&buf, binary.BigEndian, n.owner)
		sum += int64(crc32.ChecksumIEEE(buf.Bytes()))
	}
	return sum
}

func TestTreeAgainstNaiveModel(t *testing.T) {
	steps := 5000
	if testing.Short() {
		steps = 1500
	}
	for _, seed := range []int64{1, 2, 3} {
		t.Run(fmt.Sprint("seed", seed), func(t *testing.T) {
			g := &gen{r: rand.New(rand.NewSource(seed)), zxid: 0x300000000}
			tr := New()
			m := newModel()
			seen := map[string]int{}
			for step := 0; step < steps; step++ {
				g.zxid++
				time := 1_700_000_000_000 + g.zxid
				session := 1 + g.r.Int63n(3)
				var o op
				if g.r.Intn(100) < 15 {
					o = g.prepMulti(m, g.zxid, time, session)
				} else {
					o = g.prepOne(m, g.zxid, time, session, false)
				}
				hdr := &proto.TxnHeader{ClientID: session, Cxid: int32(step), Zxid: g.zxid, Time: time, Type: o.typ}
				got := normalize(tr.Apply(hdr, o.txn))
				if want := normalize(o.want); !reflect.DeepEqual(got, want) {
					t.Fatalf("step %d: %v %+v\n got %+v\nwant %+v", step, o.typ, o.txn, got, want)
				}
				kind := o.typ.String()
				if o.typ == proto.OpMulti && o.want.Err != proto.ErrOK {
					kind = "failed multi"
				}
				if c, ok := o.txn.(*proto.CloseSessionTxn); ok && len(c.Paths2Delete) == 0 {
					kind = "empty closeSession"
				}
				seen[kind]++
				if step%97 == 0 || step == steps-1 {
					compareTree(t, tr, m, step)
				}
			}
			for _, k := range []string{"create2", "createContainer", "createTTL", "delete", "setData", "setACL", "closeSession", "multi", "failed multi", "error"} {
				if seen[k] < 5 {
					t.Errorf("workload too narrow: %d %q txns in %v", seen[k], k, seen)
				}
			}
			if tr.LastZxid() != g.zxid {
				t.Fatalf("LastZxid = %x, want %x", tr.LastZxid(), g.zxid)
			}
		})
	}
}
