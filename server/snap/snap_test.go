package snap

import (
	"bytes"
	"compress/gzip"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/adler32"
	"os"
	"path/filepath"
	"reflect"
	"sort"
	"strings"
	"testing"

	"github.com/zkbench/zkbench/server/proto"
)

// sampleTree is a small tree shaped like upstream's: the root, /zookeeper,
// /zookeeper/quota and /zookeeper/config, and user nodes with and without
// data (null and empty kept apart), an ephemeral and an ACL reference.
func sampleTree() []Node {
	st := func(czxid, pzxid int64, owner int64) proto.StatPersisted {
		return proto.StatPersisted{Czxid: czxid, Mzxid: czxid, Ctime: 1700000000000 + czxid, Mtime: 1700000000000 + czxid, Pzxid: pzxid, EphemeralOwner: owner}
	}
	return []Node{
		{Path: "", Data: nil, ACLRef: -1, Stat: st(0, 3, 0)},
		{Path: "/app", Data: []byte("hello"), ACLRef: 1, Stat: st(2, 4, 0)},
		{Path: "/app/empty", Data: []byte{}, ACLRef: 1, Stat: st(3, 3, 0)},
		{Path: "/app/eph", Data: bytes.Repeat([]byte{0xab}, 1024), ACLRef: 2, Stat: st(4, 4, 0x1234)},
		{Path: "/zookeeper", Data: []byte{}, ACLRef: -1},
		{Path: "/zookeeper/config", Data: []byte{}, ACLRef: -1},
		{Path: "/zookeeper/quota", Data: []byte{}, ACLRef: -1},
	}
}

func sampleHeader(zxid int64) Header {
	return Header{
		Zxid:     zxid,
		Sessions: map[int64]int32{0x1234: 30000, 0x77: 4000},
		ACLs: map[int64][]proto.ACL{
			1: {{Perms: 31, ID: proto.ID{Scheme: "world", ID: "anyone"}}},
			2: {{Perms: 1, ID: proto.ID{Scheme: "digest", ID: "u:abc="}}, {Perms: 31, ID: proto.ID{Scheme: "ip", ID: "127.0.0.1"}}},
		},
		Digest: &Digest{Zxid: zxid, Version: 2, Value: -0x123456789},
	}
}

func emitAll(nodes []Node) func(func(Node) error) error {
	return func(emit func(Node) error) error {
		for _, n := range nodes {
			if err := emit(n); err != nil {
				return err
			}
		}
		return nil
	}
}

func readAll(t *testing.T, path string) (Header, []Node, error) {
	t.Helper()
	r, err := Open(path)
	if err != nil {
		return Header{}, nil, err
	}
	defer r.Close()
	var nodes []Node
	for {
		n, ok, err := r.Next()
		if err != nil {
			return r.Header(), nodes, err
		}
		if !ok {
			return r.Header(), nodes, nil
		}
		nodes = append(nodes, n)
	}
}

func TestRoundTrip(t *testing.T) {
	for _, withDigest := range []bool{true, false} {
		dir := t.TempDir()
		h := sampleHeader(0x100000005)
		if !withDigest {
			h.Digest = nil
		}
		path, err := Write(dir, h, emitAll(sampleTree()))
		if err != nil {
			t.Fatal(err)
		}
		if filepath.Base(path) != "snapshot.100000005" {
			t.Errorf("name %s", path)
		}
		gh, nodes, err := readAll(t, path)
		if err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(gh, h) {
			t.Errorf("header\n got %+v %+v\nwant %+v %+v", gh, gh.Digest, h, h.Digest)
		}
		if !reflect.DeepEqual(nodes, sampleTree()) {
			t.Errorf("nodes\n got %+v\nwant %+v", nodes, sampleTree())
		}
		if nodes[0].Data != nil || nodes[2].Data == nil {
			t.Errorf("null and empty data not kept apart")
		}
	}
}

// TestLayout checks the bytes against the format as doc.go (and upstream)
// states it, independently of the reader.
func TestLayout(t *testing.T) {
	dir := t.TempDir()
	h := Header{Zxid: 0x1a, Sessions: map[int64]int32{5: 6000}, ACLs: map[int64][]proto.ACL{}, Digest: &Digest{Zxid: 0x1a, Version: 2, Value: 99}}
	path, err := Write(dir, h, emitAll([]Node{{Path: "", ACLRef: -1}, {Path: "/a", Data: []byte("x"), ACLRef: 0}}))
	if err != nil {
		t.Fatal(err)
	}
	b, _ := os.ReadFile(path)
	var w bytes.Buffer
	be := func(v any) { binary.Write(&w, binary.BigEndian, v) }
	str := func(s string) { be(int32(len(s))); w.WriteString(s) }
	be([]byte("ZKSN"))
	be(int32(2))
	be(int64(-1))
	be(int32(1))
	be(int64(5))
	be(int32(6000))
	be(int32(0)) // ACL cache
	str("")
	be(int32(-1)) // null data
	be(int64(-1))
	w.Write(make([]byte, 60))
	str("/a")
	str("x")
	be(int64(0))
	w.Write(make([]byte, 60))
	str("/")
	be(int64(adler32.Checksum(w.Bytes())))
	str("/")
	be(int64(0x1a))
	be(int32(2))
	be(int64(99))
	be(int64(adler32.Checksum(w.Bytes())))
	str("/")
	if !bytes.Equal(b, w.Bytes()) {
		t.Errorf("layout\n got %x\nwant %x", b, w.Bytes())
	}
}

func TestTruncated(t *testing.T) {
	dir := t.TempDir()
	path, err := Write(dir, sampleHeader(7), emitAll(sampleTree()))
	if err != nil {
		t.Fatal(err)
	}
	full, _ := os.ReadFile(path)
	// Cut right after the first seal, the file is a valid snapshot without
	// a digest (upstream reads it the same way).
	noDigest := len(full) - 20 - 13
	for n := 0; n < len(full); n++ {
		os.WriteFile(path, full[:n], 0o644)
		h, _, err := readAll(t, path)
		if n == noDigest {
			if err != nil || h.Digest != nil {
				t.Errorf("cut at %d (after the first seal): %v, digest %v", n, err, h.Digest)
			}
			continue
		}
		if !errors.Is(err, ErrCorrupt) || !strings.Contains(err.Error(), "offset ") || !strings.Contains(err.Error(), path) {
			t.Fatalf("cut at %d of %d: got %v", n, len(full), err)
		}
	}
	os.WriteFile(path, full[:len(full)-3], 0o644)
	_, _, err = readAll(t, path)
	want := fmt.Sprintf("snap: %s: offset %d: truncated reading second seal length (2 of 4 bytes): snapshot corrupt", path, len(full)-5)
	if err == nil || err.Error() != want {
		t.Errorf("got %v\nwant %s", err, want)
	}
}

func TestBitFlips(t *testing.T) {
	dir := t.TempDir()
	path, err := Write(dir, sampleHeader(7), emitAll(sampleTree()))
	if err != nil {
		t.Fatal(err)
	}
	full, _ := os.ReadFile(path)
	bad := make([]byte, len(full))
	for i := range full {
		for _, bit := range []byte{0x01, 0x10, 0x80} {
			copy(bad, full)
			bad[i] ^= bit
			os.WriteFile(path, bad, 0o644)
			_, _, err := readAll(t, path)
			if err == nil {
				t.Fatalf("flip of bit %#x at offset %d went unnoticed", bit, i)
			}
			if !errors.Is(err, ErrCorrupt) && !errors.Is(err, ErrUnsupported) {
				t.Fatalf("flip at %d: error does not wrap ErrCorrupt: %v", i, err)
			}
		}
	}
	// A flip in a node's data is caught by the checksum, at the seal.
	copy(bad, full)
	i := bytes.Index(full, []byte("hello"))
	bad[i] ^= 1
	os.WriteFile(path, bad, 0o644)
	_, _, err = readAll(t, path)
	if err == nil || !strings.Contains(err.Error(), "first checksum mismatch") {
		t.Errorf("got %v", err)
	}
}

func TestGzip(t *testing.T) {
	dir := t.TempDir()
	path, err := Write(dir, sampleHeader(9), emitAll(sampleTree()))
	if err != nil {
		t.Fatal(err)
	}
	raw, _ := os.ReadFile(path)
	var z bytes.Buffer
	gw := gzip.NewWriter(&z)
	gw.Write(raw)
	gw.Close()
	os.Remove(path)
	gz := filepath.Join(dir, "snapshot.9.gz")
	os.WriteFile(gz, z.Bytes(), 0o644)
	h, nodes, err := readAll(t, gz)
	if err != nil || h.Zxid != 9 || !reflect.DeepEqual(nodes, sampleTree()) {
		t.Fatalf("gz: %v %+v", err, h)
	}
	os.WriteFile(filepath.Join(dir, "snapshot.a.snappy"), []byte("\x82SNAPPY\x00"), 0o644)
	if _, err := Open(filepath.Join(dir, "snapshot.a.snappy")); !errors.Is(err, ErrUnsupported) {
		t.Errorf("snappy: %v", err)
	}
}

func TestListIgnoresTempAndForeignFiles(t *testing.T) {
	dir := t.TempDir()
	for _, z := range []int64{0x5, 0x100000000, 0x1f} {
		if _, err := Write(dir, sampleHeader(z), emitAll(sampleTree())); err != nil {
			t.Fatal(err)
		}
	}
	for _, name := range []string{"tmp-snapshot-123", "snapshot", "snapshot.zz", "log.5", "snapshotx.5", "acceptedEpoch"} {
		os.WriteFile(filepath.Join(dir, name), []byte("junk"), 0o644)
	}
	// A walk that fails leaves nothing behind.
	_, err := Write(dir, sampleHeader(0x200), func(emit func(Node) error) error {
		emit(sampleTree()[0])
		return errors.New("tree went away")
	})
	if err == nil || !strings.Contains(err.Error(), "tree went away") {
		t.Fatalf("got %v", err)
	}
	files, err := List(dir)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, f := range files {
		got = append(got, fmt.Sprintf("%s=%x", filepath.Base(f.Path), f.Zxid))
	}
	want := []string{"snapshot.100000000=100000000", "snapshot.1f=1f", "snapshot.5=5"}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("List = %v, want %v", got, want)
	}
	ents, _ := os.ReadDir(dir)
	for _, e := range ents {
		if strings.HasPrefix(e.Name(), "tmp-") && e.Name() != "tmp-snapshot-123" {
			t.Errorf("temporary file %s left behind", e.Name())
		}
	}
}

func TestLoadNewestValidFallsBack(t *testing.T) {
	dir := t.TempDir()
	if _, err := LoadNewestValid(dir, func(*Reader) error { return nil }); !errors.Is(err, ErrNoSnapshot) {
		t.Fatalf("empty dir: %v", err)
	}
	for _, z := range []int64{1, 2, 3} {
		nodes := append(sampleTree(), Node{Path: fmt.Sprintf("/z%d", z), ACLRef: -1})
		if _, err := Write(dir, sampleHeader(z), emitAll(nodes)); err != nil {
			t.Fatal(err)
		}
	}
	// Damage the newest two: one truncated, one bit-flipped.
	p3, p2 := filepath.Join(dir, "snapshot.3"), filepath.Join(dir, "snapshot.2")
	b3, _ := os.ReadFile(p3)
	os.WriteFile(p3, b3[:len(b3)/2], 0o644)
	b2, _ := os.ReadFile(p2)
	b2[len(b2)/2] ^= 4
	os.WriteFile(p2, b2, 0o644)

	var tries []string
	var last []string
	f, err := LoadNewestValid(dir, func(r *Reader) error {
		tries = append(tries, filepath.Base(r.Path()))
		last = nil // fresh state on every call
		for {
			n, ok, err := r.Next()
			if err != nil {
				return err
			}
			if !ok {
				return nil
			}
			last = append(last, n.Path)
		}
	})
	if err != nil || f.Zxid != 1 {
		t.Fatalf("got %+v %v", f, err)
	}
	if !reflect.DeepEqual(tries, []string{"snapshot.3", "snapshot.2", "snapshot.1"}) || last[len(last)-1] != "/z1" {
		t.Errorf("tries %v, loaded %v", tries, last)
	}
	// A load that reads nothing still gets the file checked.
	os.Remove(filepath.Join(dir, "snapshot.1"))
	_, err = LoadNewestValid(dir, func(*Reader) error { return nil })
	if !errors.Is(err, ErrCorrupt) || errors.Is(err, ErrNoSnapshot) {
		t.Errorf("all corrupt: %v", err)
	}
}

func TestPurge(t *testing.T) {
	type tc struct {
		name        string
		snaps, logs []string
		corrupt     []string // snapshots that fail the validity check
		retain      int
		removed     []string
		shared      bool // snapDir == logDir
	}
	cases := []tc{
		{name: "fewer than retain", snaps: []string{"1", "5"}, logs: []string{"1"}, retain: 3, removed: nil},
		{name: "keep 3 newest and the log covering the oldest kept",
			snaps: []string{"1", "5", "9", "d", "11"}, logs: []string{"1", "4", "8", "c", "10"}, retain: 3,
			removed: []string{"log.1", "log.4", "snapshot.1", "snapshot.5"}},
		{name: "log starting exactly at the snapshot",
			snaps: []string{"1", "5", "9", "d"}, logs: []string{"1", "5", "a"}, retain: 3,
			removed: []string{"log.1", "snapshot.1"}},
		{name: "no log at or before the oldest kept: keep all logs",
			snaps: []string{"1", "5", "9", "d"}, logs: []string{"6", "a"}, retain: 3,
			removed: []string{"snapshot.1"}},
		{name: "invalid snapshots are not counted",
			snaps: []string{"1", "5", "9", "d", "11"}, corrupt: []string{"9"}, logs: []string{"1", "2", "6"}, retain: 3,
			removed: []string{"log.1", "snapshot.1"}},
		{name: "hex ordering, not string ordering",
			snaps: []string{"f", "10", "100", "1000"}, logs: []string{"a", "e", "ff"}, retain: 3,
			removed: []string{"log.a", "snapshot.f"}},
		{name: "shared directory", shared: true,
			snaps: []string{"1", "5", "9", "d"}, logs: []string{"1", "4"}, retain: 3,
			removed: []string{"log.1", "snapshot.1"}},
	}
	for _, c := range cases {
		snapDir, logDir := t.TempDir(), t.TempDir()
		if c.shared {
			logDir = snapDir
		}
		for _, z := range c.snaps {
			var zx int64
			fmt.Sscanf(z, "%x", &zx)
			p, err := Write(snapDir, sampleHeader(zx), emitAll(sampleTree()))
			if err != nil {
				t.Fatal(err)
			}
			for _, bad := range c.corrupt {
				if bad == z {
					b, _ := os.ReadFile(p)
					os.WriteFile(p, b[:len(b)-1], 0o644)
				}
			}
		}
		for _, z := range c.logs {
			os.WriteFile(filepath.Join(logDir, "log."+z), []byte("x"), 0o644)
		}
		os.WriteFile(filepath.Join(snapDir, "tmp-snapshot-1"), nil, 0o644)
		removed, err := Purge(snapDir, logDir, c.retain)
		if err != nil {
			t.Fatalf("%s: %v", c.name, err)
		}
		var got []string
		for _, r := range removed {
			got = append(got, filepath.Base(r))
		}
		sort.Strings(got)
		if !reflect.DeepEqual(got, c.removed) {
			t.Errorf("%s: removed %v, want %v", c.name, got, c.removed)
		}
		for _, r := range removed {
			if _, err := os.Stat(r); !os.IsNotExist(err) {
				t.Errorf("%s: %s still there", c.name, r)
			}
		}
	}
	if _, err := Purge(t.TempDir(), t.TempDir(), 2); err == nil {
		t.Error("retain 2 accepted")
	}
}
