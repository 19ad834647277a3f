package peer

import (
	"fmt"
	"maps"
	"slices"

	"github.com/zkbench/zkbench/server/proto"
	"github.com/zkbench/zkbench/server/snap"
)

// A SNAP sync carries the leader's snapshot in upstream's serialization
// (ZKDatabase.serializeSnapshot): the sessions, the ACL cache and the nodes
// up to the "/" end marker, without a snapshot file's header, checksum or
// digest. The transport puts it on the stream after the SNAP packet, as
// upstream does, and adds the signature.

// encodeSnapStream reads the snapshot file at path into a SNAP stream.
func encodeSnapStream(path string) ([]byte, error) {
	r, err := snap.Open(path)
	if err != nil {
		return nil, fmt.Errorf("peer: snapshot for a learner: %w", err)
	}
	defer r.Close()
	h := r.Header()
	var e proto.Encoder
	e.Int(int32(len(h.Sessions)))
	for _, id := range slices.Sorted(maps.Keys(h.Sessions)) {
		e.Long(id)
		e.Int(h.Sessions[id])
	}
	e.Int(int32(len(h.ACLs)))
	for _, ref := range slices.Sorted(maps.Keys(h.ACLs)) {
		e.Long(ref)
		list := h.ACLs[ref]
		e.Int(int32(len(list)))
		for i := range list {
			list[i].Encode(&e)
		}
	}
	for {
		n, ok, err := r.Next()
		if err != nil {
			return nil, fmt.Errorf("peer: snapshot for a learner: %w", err)
		}
		if !ok {
			break
		}
		e.String(n.Path)
		e.Buffer(n.Data)
		e.Long(n.ACLRef)
		n.Stat.Encode(&e)
	}
	e.String("/")
	return e.Bytes(), nil
}

// decodeSnapStream reads a leader's SNAP stream into a snapshot header (at
// zxid) and its nodes, in stream order.
func decodeSnapStream(b []byte, zxid int64) (snap.Header, []snap.Node, error) {
	d := proto.NewDecoder(b)
	h := snap.Header{Zxid: zxid, Sessions: map[int64]int32{}, ACLs: map[int64][]proto.ACL{}}
	for n := d.VectorLen(12); n > 0 && d.Err() == nil; n-- {
		id := d.Long()
		h.Sessions[id] = d.Int()
	}
	for n := d.VectorLen(12); n > 0 && d.Err() == nil; n-- {
		ref := d.Long()
		k := d.VectorLen(12)
		list := make([]proto.ACL, 0, k)
		for ; k > 0 && d.Err() == nil; k-- {
			var a proto.ACL
			a.Decode(d)
			list = append(list, a)
		}
		h.ACLs[ref] = list
	}
	var nodes []snap.Node
	for d.Err() == nil {
		path := d.String()
		if path == "/" || d.Err() != nil {
			break
		}
		n := snap.Node{Path: path, Data: d.Buffer(), ACLRef: d.Long()}
		n.Stat.Decode(d)
		nodes = append(nodes, n)
	}
	if err := d.Err(); err != nil {
		return snap.Header{}, nil, fmt.Errorf("peer: the leader's snapshot stream: %w", err)
	}
	if d.Remaining() != 0 {
		return snap.Header{}, nil, fmt.Errorf("peer: the leader's snapshot stream: %d bytes after the end marker", d.Remaining())
	}
	return h, nodes, nil
}
