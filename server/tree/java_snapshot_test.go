package tree_test

import (
	"testing"

	"github.com/zkbench/zkbench/server/proto"
	"github.com/zkbench/zkbench/server/replica"
	"github.com/zkbench/zkbench/server/snap"
	"github.com/zkbench/zkbench/server/tree"
)

// testdata/java-3.8.0/snapshot.1d was written by Debian's ZooKeeper 3.8.0
// (digest enabled, the default) on restart after a session that created
// persistent, sequential, ephemeral (a live session's), container and TTL
// nodes, a quota on /q, digest and ip ACLs and data on the root. Restoring
// it must reproduce upstream's tree digest and every stored node exactly.
func TestRestoreJavaSnapshot(t *testing.T) {
	r, err := snap.Open("testdata/java-3.8.0/snapshot.1d")
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	tr, err := replica.RestoreTree(r)
	if err != nil {
		t.Fatal(err)
	}
	h := r.Header() // the digest follows the nodes
	file := snapshotNodes(t, "testdata/java-3.8.0/snapshot.1d")
	if h.Digest == nil || h.Digest.Zxid == 0 {
		t.Fatalf("fixture has no digest: %+v", h.Digest)
	}
	if h.Digest.Zxid != h.Zxid || h.Digest.Version != tree.DigestVersion {
		t.Fatalf("fixture digest %+v for snapshot zxid %x", h.Digest, h.Zxid)
	}
	// Java logged "Snapshot loaded in 168 ms, highest zxid is 0x1d, digest
	// is 40302723567" when it read this file.
	if h.Digest.Value != 40302723567 {
		t.Fatalf("fixture digest %d, Java logged 40302723567", h.Digest.Value)
	}
	if got := tr.Digest(); got != h.Digest.Value {
		t.Fatalf("Digest = %x, Java wrote %x", got, h.Digest.Value)
	}
	// Every node comes back as stored (Walk order is sorted, Java's is its
	// HashSet order, so compare by path).
	byPath := map[string]tree.NodeRecord{}
	if err := tr.Walk(func(n tree.NodeRecord) error { byPath[n.Path] = n; return nil }); err != nil {
		t.Fatal(err)
	}
	if len(byPath) != len(file) {
		t.Fatalf("restored %d nodes, file has %d", len(byPath), len(file))
	}
	kinds := map[tree.Kind]int{}
	for _, n := range file {
		got, ok := byPath[n.Path]
		if !ok || string(got.Data) != string(n.Data) || got.Stat != n.Stat || got.ACLRef != n.ACLRef {
			t.Fatalf("node %q: restored %+v, file %+v", n.Path, got, n)
		}
		kinds[tree.KindOf(n.Stat.EphemeralOwner)]++
	}
	for _, k := range []tree.Kind{tree.KindPersistent, tree.KindEphemeral, tree.KindContainer, tree.KindTTL} {
		if kinds[k] == 0 {
			t.Errorf("fixture has no %v node", k)
		}
	}
	// The live session's ephemeral is indexed under its owner.
	info, ok := tr.Lookup("/keep")
	if !ok || info.Kind != tree.KindEphemeral {
		t.Fatalf("/keep: %+v %v", info, ok)
	}
	if got := tr.SessionEphemerals(info.Persisted.EphemeralOwner); len(got) != 1 || got[0] != "/keep" {
		t.Fatalf("ephemerals of the live session = %v", got)
	}
	if _, ok := h.Sessions[info.Persisted.EphemeralOwner]; !ok {
		t.Fatalf("owner %x of /keep not among the snapshot's sessions", info.Persisted.EphemeralOwner)
	}
	// The quota stats are recounted on restore, as Java does on load, and
	// come out as Java kept them live: /q, /q/a (1 byte), /q/c (2), /q/big
	// (3000).
	data, _, err := tr.GetData("/zookeeper/quota/q/zookeeper_stats", nil)
	if err != nil {
		t.Fatal(err)
	}
	if string(data) != "count=4,bytes=3003" {
		t.Fatalf("quota stats after restore = %q", data)
	}
	for _, n := range file {
		if n.Path == "/zookeeper/quota/q/zookeeper_stats" && string(n.Data) != string(data) {
			t.Fatalf("quota stats after restore = %q, Java's live value %q", data, n.Data)
		}
	}
	// The digest keeps tracking after restore: a change and its exact
	// undo leave it where it was only if every step was tracked.
	before := tr.Digest()
	hdr := &proto.TxnHeader{Zxid: h.Zxid + 1, Time: 1, Type: proto.OpCreate}
	tr.Apply(hdr, &proto.CreateTxn{Path: "/zz", ParentCVersion: -1})
	if tr.Digest() == before {
		t.Fatal("digest did not change on create")
	}
}

// snapshotNodes reads every node record of the snapshot at path.
func snapshotNodes(t *testing.T, path string) []snap.Node {
	t.Helper()
	r, err := snap.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	var nodes []snap.Node
	for {
		n, ok, err := r.Next()
		if err != nil {
			t.Fatal(err)
		}
		if !ok {
			return nodes
		}
		nodes = append(nodes, n)
	}
}
