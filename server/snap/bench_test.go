package snap

import (
	"fmt"
	"os"
	"testing"

	"github.com/zkbench/zkbench/server/proto"
)

// benchTree is n nodes of 1 KiB under /bench, the shape the benchmark
// workloads leave behind.
func benchTree(n int) []Node {
	data := make([]byte, 1024)
	nodes := []Node{{Path: "", ACLRef: -1}, {Path: "/bench", ACLRef: 1}}
	for i := 0; i < n; i++ {
		nodes = append(nodes, Node{Path: fmt.Sprintf("/bench/n%07d", i), Data: data, ACLRef: 1,
			Stat: proto.StatPersisted{Czxid: int64(i), Mzxid: int64(i), Pzxid: int64(i)}})
	}
	return nodes
}

func benchHeader() Header {
	return Header{Zxid: 1, Sessions: map[int64]int32{1: 30000},
		ACLs: map[int64][]proto.ACL{1: {{Perms: 31, ID: proto.ID{Scheme: "world", ID: "anyone"}}}}, Digest: &Digest{Version: 2}}
}

func BenchmarkWrite10kNodes(b *testing.B) {
	nodes := benchTree(10000)
	dir := b.TempDir()
	b.SetBytes(int64(len(nodes)) * 1100)
	for i := 0; i < b.N; i++ {
		if _, err := Write(dir, benchHeader(), emitAll(nodes)); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkRead10kNodes(b *testing.B) {
	dir := b.TempDir()
	path, err := Write(dir, benchHeader(), emitAll(benchTree(10000)))
	if err != nil {
		b.Fatal(err)
	}
	st, _ := os.Stat(path)
	b.SetBytes(st.Size())
	for i := 0; i < b.N; i++ {
		r, err := Open(path)
		if err != nil {
			b.Fatal(err)
		}
		if err := r.Drain(); err != nil {
			b.Fatal(err)
		}
		r.Close()
	}
}

// FuzzOpen feeds arbitrary bytes to the reader: it must return an error or
// a result, never panic or allocate without bound.
func FuzzOpen(f *testing.F) {
	dir := f.TempDir()
	path, err := Write(dir, sampleHeader(3), emitAll(sampleTree()))
	if err != nil {
		f.Fatal(err)
	}
	seed, _ := os.ReadFile(path)
	f.Add(seed)
	f.Add(seed[:len(seed)-33])
	f.Add([]byte("ZKSN"))
	f.Fuzz(func(t *testing.T, b []byte) {
		p := t.TempDir() + "/snapshot.3"
		os.WriteFile(p, b, 0o644)
		r, err := Open(p)
		if err != nil {
			return
		}
		defer r.Close()
		r.Drain()
	})
}
